"""What a newcomer waits for: a fresh clone, then `make demo` (venv, install, first pipeline run with training).

    .venv/bin/python -m benchmarks.clone_to_first_metrics --python python3.11 --python python3.13

Each Python gets its own fresh clone of this checkout's HEAD and its own venv, one after the other; printed per
Python: the install (``make install``'s first half, the kit without dev extras), the run (``labkit pipeline run
training``) and the total. pip's download cache is whatever this machine has: a newcomer with an empty cache also
downloads TensorFlow (~250 MB) and the rest once. Also printed: the size of each new venv (``du`` of the folder).
``--venv PATH`` skips the install and runs the clone's pipeline with that venv's Python: a quick check of this script.
"""

from __future__ import annotations

import subprocess
import tempfile
import time
from pathlib import Path

from benchmarks.common import REPO_ROOT, Recording, benchmark_parser


def timed(command: list[str], cwd: Path) -> float:
    start = time.perf_counter()
    done = subprocess.run(command, cwd=cwd, capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(command)} failed in {cwd}:\n{done.stdout[-2000:]}{done.stderr[-2000:]}")
    return time.perf_counter() - start


def folder_mib(folder: Path) -> float:
    return sum(f.stat().st_size for f in folder.rglob("*") if f.is_file() and not f.is_symlink()) / 2**20


def main() -> None:
    parser = benchmark_parser(__doc__)
    parser.add_argument("--python", action="append", default=[], help="interpreter to try; repeatable")
    parser.add_argument("--venv", type=Path, help="an existing venv to use instead of installing (no install time)")
    args = parser.parse_args()
    recording = Recording(__spec__.name)
    print(f"{'python':>12} {'clone s':>8} {'install s':>10} {'first run s':>12} {'total s':>8} {'venv MiB':>9}")
    rows = []
    for python in args.python or ["python3"]:
        with tempfile.TemporaryDirectory(prefix="labkit-newcomer-") as scratch:
            checkout = Path(scratch) / "kit"
            clone = timed(["git", "clone", "--quiet", str(REPO_ROOT), str(checkout)], Path(scratch))
            if args.venv:
                # Not through make: its install rule would re-point that venv's editable install at this clone.
                venv, install = args.venv.resolve(), 0.0
                run = timed([f"{venv}/bin/python", "-m", "labkit", "pipeline", "run", "training"], checkout)
            else:
                venv = checkout / ".venv"
                install = timed(["make", f"PYTHON={python}", ".venv/bin/.installed"], checkout)
                run = timed(["make", f"PYTHON={python}", "demo"], checkout)
            version = subprocess.run(
                [f"{venv}/bin/python", "-c", "import platform; print(platform.python_version())"],
                capture_output=True,
                text=True,
                check=True,
            ).stdout.strip()
            size = None if args.venv else folder_mib(venv)
            rows.append(
                {
                    "python": python,
                    "version": version,
                    "clone_seconds": clone,
                    "install_seconds": install,
                    "first_run_seconds": run,
                    "total_seconds": clone + install + run,
                    "venv_mib": size,
                }
            )
            shown = "-" if size is None else f"{size:,.0f}"
            print(f"{version:>12} {clone:8.1f} {install:10.1f} {run:12.1f} {clone + install + run:8.1f} {shown:>9}")
    recording.write(args.json, {"reused_venv": str(args.venv) if args.venv else None, "pythons": rows})


if __name__ == "__main__":
    main()
