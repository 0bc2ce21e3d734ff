"""The run history's cost: listing N runs read from their folders, in process and as a fresh CLI process.

    .venv/bin/python -m benchmarks.runs_history --runs 1000

Each run folder holds a result.json the size of a real session-5 run's. Printed: the in-process ``find_runs``
time, the time of ``labkit runs list -o json`` as a new process, and, side by side in the same invocation, the
time of ``labkit --help`` (the CLI's own start-up), so that the ratio shows what the history itself adds.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchmarks.common import Recording, benchmark_parser
from labkit.runs import find_runs

RESULT = {
    "pipeline": "training",
    "runner": "subprocess",
    "succeeded": True,
    "wall_seconds": 12.9,
    "metrics": {"accuracy": 0.97, "macro_f1": 0.96, "baseline_accuracy": 0.43, "passed": True},
    "tasks": {"ingest": 0.8, "validate": 0.8, "split": 0.6, "train": 9.9, "evaluate": 0.6, "push": 0.1},
    "parameters": {"epochs": 40, "learning_rate": 0.01, "seed": 42, "accuracy_threshold": 0.9},
    "artifacts": {f"task/output{i}": f"/runs/training/x/artifacts/output{i}" for i in range(8)},
}


def _seconds(command: list[str]) -> float:
    start = time.perf_counter()
    subprocess.run(command, check=True, capture_output=True)
    return time.perf_counter() - start


def main() -> None:
    parser = benchmark_parser(__doc__)
    parser.add_argument("--runs", type=int, default=1000)
    args = parser.parse_args()
    recording = Recording(__spec__.name)
    with tempfile.TemporaryDirectory(prefix="labkit-runs-") as scratch:
        root = Path(scratch)
        for index in range(args.runs):
            folder = root / "training" / f"20261202-{index:06d}-abcd"
            folder.mkdir(parents=True)
            (folder / "result.json").write_text(json.dumps(RESULT, indent=2))
        start = time.perf_counter()
        listed = len(find_runs(root))
        in_process = time.perf_counter() - start
        cli = [sys.executable, "-m", "labkit"]
        startup = _seconds([*cli, "--help"])
        listing = _seconds([*cli, "runs", "list", "--runs-dir", str(root), "-o", "json"])
    print(f"runs listed: {listed}")
    print(f"find_runs in process: {in_process:.3f} s")
    print(f"`labkit --help` (start-up): {startup:.2f} s; `labkit runs list -o json`: {listing:.2f} s")
    print(f"ratio list / start-up: {listing / startup:.2f}")
    recording.write(
        args.json,
        {
            "runs": listed,
            "find_runs_seconds": in_process,
            "cli_start_up_seconds": startup,
            "cli_list_seconds": listing,
            "ratio_list_to_start_up": listing / startup,
        },
    )


if __name__ == "__main__":
    main()
