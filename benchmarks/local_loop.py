"""Overhead of running the session-5 pipeline through kfp.local versus a plain script.

    .venv/bin/python -m benchmarks.local_loop --repeats 3

Both sides run as fresh processes (each pays its own imports, TensorFlow included), alternating, in one
invocation, so machine noise hits both alike; both train for ``--epochs``. Printed: per-run walls, medians, the
ratio, and what a task's own start-up costs in a fresh process (importing TensorFlow; importing kfp's executor,
which every kfp.local task pays), medians of the same repeats.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchmarks.common import REPO_ROOT, Recording, benchmark_parser


def plain_script(out_dir: Path, epochs: int) -> None:
    """The pipeline's steps as direct function calls in one process: the floor kfp.local is compared to."""
    import shutil

    from components.evaluate.logic import evaluate_model_dir
    from components.ingest.logic import load_source
    from components.split.logic import stratified_split
    from components.train.logic import save_model_dir, train_mlp, training_curve_html
    from components.validate.logic import validate_table

    table = load_source("palmerpenguins")
    validate_table(table)
    train, test = stratified_split(table, test_fraction=0.2, seed=42)
    model, preprocessing, history = train_mlp(train, epochs=epochs, learning_rate=0.01, seed=42)
    save_model_dir(model, preprocessing, history, out_dir / "model")
    (out_dir / "curve.html").write_text(training_curve_html(history))
    result = evaluate_model_dir(out_dir / "model", train, test, 0.9)
    if result.passed:
        shutil.copytree(out_dir / "model", out_dir / "pushed")
    print(f"accuracy {result.accuracy:.4f} macro_f1 {result.macro_f1:.4f}")


def timed(command: list[str]) -> float:
    start = time.perf_counter()
    subprocess.run(command, check=True, cwd=REPO_ROOT, capture_output=True)
    return time.perf_counter() - start


IMPORTS = {"tensorflow": "import tensorflow", "kfp executor": "import kfp.dsl.executor_main"}


def main() -> None:
    parser = benchmark_parser(__doc__)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--epochs", type=int, default=40)
    parser.add_argument("--plain", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.plain:
        plain_script(args.plain, args.epochs)
        return
    recording = Recording(__spec__.name)
    walls: dict[str, list[float]] = {"pipeline": [], "plain": []}
    imports: dict[str, list[float]] = {name: [] for name in IMPORTS}
    python = [sys.executable, "-c", "pass"]
    start_up: list[float] = []
    with tempfile.TemporaryDirectory() as scratch:
        for i in range(args.repeats):
            plain_dir = Path(scratch) / f"plain-{i}"
            plain_dir.mkdir()
            walls["plain"].append(
                timed([sys.executable, "-m", __spec__.name, "--plain", str(plain_dir), "--epochs", str(args.epochs)])
            )
            pipeline = [sys.executable, "-m", "labkit", "pipeline", "run", "training", "--runs-dir", scratch]
            walls["pipeline"].append(timed([*pipeline, "-p", f"epochs={args.epochs}", "--output", "json"]))
            print(f"run {i + 1}: plain {walls['plain'][-1]:.2f} s, pipeline {walls['pipeline'][-1]:.2f} s", flush=True)
            start_up.append(timed(python))
            for name, statement in IMPORTS.items():
                imports[name].append(timed([sys.executable, "-c", statement]) - start_up[-1])
    plain, pipeline = statistics.median(walls["plain"]), statistics.median(walls["pipeline"])
    import_medians = {name: statistics.median(seconds) for name, seconds in imports.items()}
    print(f"median plain script : {plain:.2f} s")
    print(f"median kfp.local run: {pipeline:.2f} s")
    print(f"ratio pipeline/plain: {pipeline / plain:.2f} (goal <= 2.0)")
    print(f"python start-up: {statistics.median(start_up):.2f} s; on top of it, fresh process medians:")
    for name, seconds in import_medians.items():
        print(f"  import {name}: {seconds:.2f} s")
    recording.write(
        args.json,
        {
            "epochs": args.epochs,
            "walls": walls,
            "median_plain_seconds": plain,
            "median_pipeline_seconds": pipeline,
            "ratio_pipeline_to_plain": pipeline / plain,
            "python_start_up_seconds": statistics.median(start_up),
            "import_seconds": import_medians,
        },
    )


if __name__ == "__main__":
    main()
