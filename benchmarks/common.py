"""What every benchmark shares: its command line, the machine it ran on, and the results file it can write.

Each benchmark runs as a module from the repository root (``.venv/bin/python -m benchmarks.NAME ...``) and takes
``--json PATH``. The file holds the exact command, the date, the commit, the machine and its load average before and
after, and every figure the benchmark printed, so that BENCHMARKS.md can quote a file instead of a terminal.
The last recorded results live in ``benchmarks/results/``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shlex
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parent.parent
RESULTS_DIR = REPO_ROOT / "benchmarks" / "results"


def benchmark_parser(doc: str | None) -> argparse.ArgumentParser:
    prog = f"python -m benchmarks.{Path(sys.argv[0]).stem}"
    parser = argparse.ArgumentParser(prog=prog, description=doc, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument(
        "--json",
        type=Path,
        metavar="PATH",
        help="also write every figure, the command, the date and the machine's load here "
        "(benchmarks/results/NAME.json is where BENCHMARKS.md reads them from)",
    )
    return parser


def load_average() -> list[float]:
    return [round(value, 2) for value in os.getloadavg()]


def _memory_gib() -> float | None:
    try:
        kib = next(line for line in Path("/proc/meminfo").read_text().splitlines() if line.startswith("MemTotal:"))
    except (OSError, StopIteration):
        return None
    return round(int(kib.split()[1]) / 1024 / 1024, 1)


def _commit() -> str | None:
    done = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, cwd=REPO_ROOT)
    return done.stdout.strip() if done.returncode == 0 else None


class Recording:
    """Opened when a benchmark starts (date, load), closed by ``write`` with the figures it measured."""

    def __init__(self, module: str) -> None:
        self.module = module
        self.started = datetime.now(UTC)
        self.load_before = load_average()

    def command(self) -> str:
        return shlex.join(["python", "-m", self.module, *sys.argv[1:]])

    def record(self, results: dict[str, Any]) -> dict[str, Any]:
        return {
            "benchmark": self.module.rsplit(".", 1)[-1],
            "command": self.command(),
            "date": self.started.isoformat(timespec="seconds"),
            "seconds": round((datetime.now(UTC) - self.started).total_seconds(), 1),
            "commit": _commit(),
            "machine": {
                "cpus": os.cpu_count(),
                "memory_gib": _memory_gib(),
                "platform": platform.platform(),
                "python": platform.python_version(),
            },
            "load_average": {"before": self.load_before, "after": load_average()},
            "results": results,
        }

    def write(self, path: Path | None, results: dict[str, Any]) -> None:
        """Print the load the run saw; write the record when ``--json`` asked for it."""
        record = self.record(results)
        print(f"load average (1, 5, 15 min): before {record['load_average']['before']}, after {load_average()}")
        if path is None:
            return
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(record, indent=2, default=_plain) + "\n")
        print(f"results: {path}")


def _plain(value: object) -> object:
    if isinstance(value, Path):
        return str(value)
    if hasattr(value, "item"):  # numpy scalars
        return value.item()
    raise TypeError(f"not JSON serializable: {type(value).__name__}")
