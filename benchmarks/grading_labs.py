"""What grading one submission costs per lab: the reference solution and the untouched starter, as an instructor
grades them.

    .venv/bin/python -m benchmarks.grading_labs --sandbox docker     # every lab; --labs 5 7 for some

For each lab, one fresh ``labkit grade FOLDER --lab N --sandbox SANDBOX --jobs 1`` process grades a folder holding
two submissions, ``reference/`` (the lab's solution) and ``starter/`` (the starter as handed out). Printed per
submission: the seconds the gradebook records for it (its ``seconds`` column), its score and whether it passed;
and the wall time of the whole command.
"""

from __future__ import annotations

import csv
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchmarks.common import REPO_ROOT, Recording, benchmark_parser
from labkit.labs import get_lab, list_labs


def grade_lab(session: int, sandbox: str, scratch: Path) -> dict:
    lab = get_lab(session)
    folder = scratch / f"lab{session}"
    for name, source in (("reference", lab.solution), ("starter", lab.starter)):
        (folder / name).mkdir(parents=True)
        (folder / name / "pipeline.py").write_text(source.read_text())
    gradebook = scratch / f"lab{session}.csv"
    command = [sys.executable, "-m", "labkit", "grade", str(folder), "--lab", str(session), "--jobs", "1"]
    command += ["--sandbox", sandbox, "--out", str(scratch / f"grades{session}"), "--gradebook", str(gradebook)]
    start = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True, cwd=REPO_ROOT)
    wall = time.perf_counter() - start
    if not gradebook.exists():
        raise SystemExit(f"lab {session}: no gradebook (exit {done.returncode}):\n{done.stderr[-2000:]}")
    with gradebook.open() as handle:
        rows = {row["submission"]: row for row in csv.DictReader(handle)}
    return {
        "wall_seconds": wall,
        "submissions": {
            name: {
                "seconds": float(row["seconds"]),
                "score": f"{float(row['score']):g}/{float(row['max_score']):g}",
                "percent": float(row["percent"]),
                "passed": row["passed"] == "yes",
            }
            for name, row in rows.items()
        },
    }


def main() -> None:
    parser = benchmark_parser(__doc__)
    parser.add_argument("--labs", type=int, nargs="+", help="sessions to grade [default: every lab]")
    parser.add_argument("--sandbox", default="docker", help="docker, subprocess or auto")
    args = parser.parse_args()
    recording = Recording(__spec__.name)
    labs = {}
    sessions = args.labs or [lab.session for lab in list_labs()]
    with tempfile.TemporaryDirectory(prefix="labkit-grading-labs-") as scratch:
        for session in sessions:
            labs[str(session)] = result = grade_lab(session, args.sandbox, Path(scratch))
            for name, row in result["submissions"].items():
                verdict = "passed" if row["passed"] else "failed"
                print(f"lab {session} {name:10} {row['seconds']:6.1f} s  {row['score']:>9}  {verdict}", flush=True)
            print(f"lab {session} whole command: {result['wall_seconds']:.1f} s", flush=True)
    recording.write(args.json, {"sandbox": args.sandbox, "labs": labs})


if __name__ == "__main__":
    main()
