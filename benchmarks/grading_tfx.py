"""Grading one session-6 (TFX) submission vs just running the same pipeline on the same rows, side by side.

    .venv/bin/python -m benchmarks.grading_tfx --runs 3

Both sides are fresh CLI processes, alternated so that they share the machine's background load:
- grade: ``labkit grade SUBMISSION --lab 6 --sandbox docker`` of the reference solution (load and compile in a
  sandbox, LocalDagRunner in the TFX image under the grader's limits, ``--cpus 1``, then a second container scoring
  the SavedModel on the grader's held-out rows);
- run: ``labkit pipeline run tfx-penguin --runner docker`` (LocalDagRunner in the TFX image, no CPU cap) with
  ``--param data=FOLDER``: the same train/eval rows the grader gives the submission, not the full table.
Printed: every round, the medians and the ratio grade/run.
"""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd

from benchmarks.common import Recording, benchmark_parser
from grading.engines import ENGINES, heldout_split
from grading.rubric import load_rubric
from labkit.labs import get_lab
from labkit.paths import REPO_ROOT

LAB = 6


def grader_rows(folder: Path) -> Path:
    """The train/eval CSVs the grader writes for a session-6 submission's run; returns their folder."""
    rubric = load_rubric(get_lab(LAB))
    visible, _ = heldout_split(rubric.heldout_fraction, rubric.heldout_seed)
    ENGINES[rubric.engine].worker_data(folder, visible, rubric.heldout_seed)
    return folder / "tfx"


def timed(command: list[str]) -> tuple[float, str]:
    start = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True, cwd=REPO_ROOT)
    seconds = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(command)} failed:\n{(done.stdout + done.stderr)[-3000:]}")
    return seconds, done.stdout


def main() -> None:
    parser = benchmark_parser(__doc__)
    parser.add_argument("--runs", type=int, default=3, help="rounds of (grade, run); medians are compared")
    args = parser.parse_args()
    recording = Recording(__spec__.name)
    labkit = [sys.executable, "-m", "labkit"]
    rounds = []
    with tempfile.TemporaryDirectory(prefix="bench-grade-tfx-") as scratch:
        tmp = Path(scratch)
        submission = tmp / "reference"
        submission.mkdir()
        (submission / "pipeline.py").write_text(get_lab(LAB).solution.read_text())
        rows = grader_rows(tmp / "rows")
        row_counts = {split: len(pd.read_csv(rows / split / "penguins.csv")) for split in ("train", "eval")}
        for index in range(args.runs):
            out = tmp / f"grades-{index}"
            grade_command = [*labkit, "grade", str(submission), "--lab", str(LAB), "--sandbox", "docker"]
            grade_seconds, _ = timed([*grade_command, "--out", str(out), "--format", "json"])
            graded = json.loads((out / "reference" / "result.json").read_text())
            run_command = [*labkit, "pipeline", "run", "tfx-penguin", "--runner", "docker", "--output", "json"]
            run_seconds, printed = timed([*run_command, "--param", f"data={rows}", "--runs-dir", str(tmp / "runs")])
            run = json.loads(printed)
            rounds.append(
                {
                    "grade_seconds": grade_seconds,
                    "score": f"{graded['score']:g}/{graded['max_score']:g}",
                    "run_seconds": run_seconds,
                    "run_succeeded": run["succeeded"],
                }
            )
            print(
                f"round {index + 1}: grade {grade_seconds:.1f} s ({rounds[-1]['score']}), run {run_seconds:.1f} s",
                flush=True,
            )
    grade_median = statistics.median(r["grade_seconds"] for r in rounds)
    run_median = statistics.median(r["run_seconds"] for r in rounds)
    print(f"grade a session-6 submission: median {grade_median:.1f} s; plain pipeline run: median {run_median:.1f} s")
    print(f"ratio grade/run: {grade_median / run_median:.2f}x (both on the grader's rows: {row_counts})")
    recording.write(
        args.json,
        {
            "rows": row_counts,
            "rounds": rounds,
            "median_grade_seconds": grade_median,
            "median_run_seconds": run_median,
            "ratio_grade_to_run": grade_median / run_median,
        },
    )


if __name__ == "__main__":
    main()
