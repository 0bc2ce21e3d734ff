"""Wall time of the session-5 pipeline: docker runner against subprocess runner, side by side in one run.

    .venv/bin/python -m benchmarks.docker_vs_subprocess [--repeats 3] [--epochs 40] [--seed 42]

Runs alternate (subprocess, docker, subprocess, docker, ...) so that whatever else the machine does weighs
on both alike. Prints each run, the median per runner and per task, and the docker/subprocess ratios; also
checks that both runners gave the same metrics. Needs a Docker engine and `labkit image build components`.
"""

from __future__ import annotations

import platform
import statistics
import tempfile
from pathlib import Path

from benchmarks.common import Recording, benchmark_parser
from labkit.registry import get_pipeline
from labkit.runners import get_runner
from labkit.runners.base import RunResult

RUNNERS = ("subprocess", "docker")


def run_once(runner: str, params: dict[str, int], root: Path, index: int) -> RunResult:
    run_dir = root / f"{runner}-{index}"
    run_dir.mkdir(parents=True)
    result = get_runner(runner).run(get_pipeline("training"), params, run_dir, lambda event: None)
    if not result.succeeded:
        raise SystemExit(f"{runner} run {index} failed in {result.failed_task}: {result.error} ({result.log_file})")
    return result


def main() -> None:
    parser = benchmark_parser(__doc__)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--epochs", type=int, default=40)
    parser.add_argument("--seed", type=int, default=42)
    args = parser.parse_args()
    recording = Recording(__spec__.name)
    params = {"epochs": args.epochs, "seed": args.seed}

    results: dict[str, list[RunResult]] = {runner: [] for runner in RUNNERS}
    with tempfile.TemporaryDirectory(prefix="labkit-bench-") as tmp:
        for index in range(args.repeats):
            for runner in RUNNERS:
                result = run_once(runner, params, Path(tmp), index)
                results[runner].append(result)
                print(f"run {index + 1}/{args.repeats} {runner:<10} {result.wall_seconds:7.2f} s", flush=True)

    print(f"\ntraining pipeline {params}, {args.repeats} runs each, {platform.node()} ({platform.python_version()})")
    medians = {runner: statistics.median(r.wall_seconds for r in results[runner]) for runner in RUNNERS}
    print(f"{'':<12}{'subprocess':>12}{'docker':>10}{'ratio':>8}")
    print(
        f"{'pipeline':<12}{medians['subprocess']:>11.2f}s{medians['docker']:>9.2f}s"
        f"{medians['docker'] / medians['subprocess']:>7.2f}x"
    )
    tasks = list(results["subprocess"][0].tasks)
    per_task = {}
    for task in tasks:
        sub = statistics.median(r.tasks[task] for r in results["subprocess"])
        doc = statistics.median(r.tasks[task] for r in results["docker"])
        per_task[task] = {"subprocess": sub, "docker": doc}
        print(f"{task:<12}{sub:>11.2f}s{doc:>9.2f}s{doc / sub:>7.2f}x")

    same = all(r.metrics == results["subprocess"][0].metrics for runner in RUNNERS for r in results[runner])
    print(f"same metrics across runners and repeats: {same}")
    recording.write(
        args.json,
        {
            "params": params,
            "repeats": args.repeats,
            "walls": {runner: [r.wall_seconds for r in results[runner]] for runner in RUNNERS},
            "median_wall_seconds": medians,
            "ratio_docker_to_subprocess": medians["docker"] / medians["subprocess"],
            "median_task_seconds": per_task,
            "same_metrics": same,
        },
    )
    if not same:
        raise SystemExit("the runners disagree on the metrics")


if __name__ == "__main__":
    main()
