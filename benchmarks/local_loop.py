"""Overhead of running the session-5 pipeline through kfp.local versus a plain script.

Both sides run as fresh processes (each pays its own imports, TensorFlow included), alternating, in one
invocation, so machine noise hits both alike. Prints per-run walls, medians and the ratio.

    .venv/bin/python benchmarks/local_loop.py --repeats 3
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def plain_script(out_dir: Path) -> None:
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
    model, preprocessing, history = train_mlp(train, epochs=40, learning_rate=0.01, seed=42)
    save_model_dir(model, preprocessing, history, out_dir / "model")
    (out_dir / "curve.html").write_text(training_curve_html(history))
    result = evaluate_model_dir(out_dir / "model", train, test, 0.9)
    if result.passed:
        shutil.copytree(out_dir / "model", out_dir / "pushed")
    print(f"accuracy {result.accuracy:.4f} macro_f1 {result.macro_f1:.4f}")


def timed(command: list[str]) -> float:
    start = time.perf_counter()
    subprocess.run(command, check=True, cwd=REPO, capture_output=True)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--plain", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.plain:
        plain_script(args.plain)
        return
    walls: dict[str, list[float]] = {"pipeline": [], "plain": []}
    with tempfile.TemporaryDirectory() as scratch:
        for i in range(args.repeats):
            plain_dir = Path(scratch) / f"plain-{i}"
            plain_dir.mkdir()
            walls["plain"].append(timed([sys.executable, __file__, "--plain", str(plain_dir)]))
            pipeline = [sys.executable, "-m", "labkit", "pipeline", "run", "training", "--runs-dir", scratch]
            walls["pipeline"].append(timed([*pipeline, "--output", "json"]))
            print(f"run {i + 1}: plain {walls['plain'][-1]:.2f} s, pipeline {walls['pipeline'][-1]:.2f} s")
    plain, pipeline = statistics.median(walls["plain"]), statistics.median(walls["pipeline"])
    print(f"median plain script : {plain:.2f} s")
    print(f"median kfp.local run: {pipeline:.2f} s")
    print(f"ratio pipeline/plain: {pipeline / plain:.2f} (goal <= 2.0)")


if __name__ == "__main__":
    main()
