"""What a newcomer waits for: a fresh clone, then `make demo` (venv, install, first pipeline run with training).

    python benchmarks/clone_to_first_metrics.py --python python3.11 --python python3.13

Each Python gets its own fresh clone of this checkout's HEAD and its own venv, one after the other; printed per
Python: the install (``make install``'s first half, the kit without dev extras), the run (``labkit pipeline run
training``) and the total. pip's download cache is whatever this machine has: a newcomer with an empty cache also
downloads TensorFlow (~250 MB) and the rest once.
"""

from __future__ import annotations

import argparse
import subprocess
import tempfile
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent


def timed(command: list[str], cwd: Path) -> float:
    start = time.perf_counter()
    done = subprocess.run(command, cwd=cwd, capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(command)} failed in {cwd}:\n{done.stdout[-2000:]}{done.stderr[-2000:]}")
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--python", action="append", default=[], help="interpreter to try; repeatable")
    args = parser.parse_args()
    print(f"{'python':>12} {'clone s':>8} {'install s':>10} {'first run s':>12} {'total s':>8}")
    for python in args.python or ["python3"]:
        with tempfile.TemporaryDirectory(prefix="labkit-newcomer-") as scratch:
            checkout = Path(scratch) / "kit"
            clone = timed(["git", "clone", "--quiet", str(REPO_ROOT), str(checkout)], Path(scratch))
            install = timed(["make", f"PYTHON={python}", ".venv/bin/.installed"], checkout)
            run = timed(["make", f"PYTHON={python}", "demo"], checkout)
            print(f"{python:>12} {clone:8.1f} {install:10.1f} {run:12.1f} {clone + install + run:8.1f}")


if __name__ == "__main__":
    main()
