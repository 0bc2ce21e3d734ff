"""MultiWorkerMirroredStrategy: 1 worker vs 2 worker processes on 127.0.0.1, same data, same global work.

    .venv/bin/python -m benchmarks.distributed_training --rows 20000 --epochs 3

The training table is the clean penguins table resampled (seeded) to ``--rows`` rows so that a step costs
more than the all-reduce. ``--batch-size`` is the *global* batch: each of N workers takes batch/N rows per
step, so both runs do the same number of steps over the same examples. Printed per run: wall time (process
start-up and TF import included), the chief's training-loop time, and the final training accuracy.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from benchmarks.common import Recording, benchmark_parser
from components.ingest.logic import load_penguins_clean
from components.train.distributed import train_multiworker


def main() -> None:
    parser = benchmark_parser(__doc__)
    parser.add_argument("--rows", type=int, default=20_000)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--batch-size", type=int, default=256, help="global batch size")
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    args = parser.parse_args()
    recording = Recording(__spec__.name)
    table = load_penguins_clean().sample(args.rows, replace=True, random_state=0).reset_index(drop=True)
    with tempfile.TemporaryDirectory() as scratch:
        train_csv = Path(scratch) / "train.csv"
        table.to_csv(train_csv, index=False)
        print(f"rows {args.rows}, epochs {args.epochs}, global batch {args.batch_size}, cores {os.cpu_count()}")
        print(f"{'workers':>7} {'wall s':>8} {'train loop s':>13} {'accuracy':>9}")
        results = []
        for workers in args.workers:
            run = train_multiworker(
                train_csv,
                Path(scratch) / f"model-{workers}",
                workers=workers,
                epochs=args.epochs,
                batch_size=args.batch_size // workers,
            )
            results.append(run)
            print(f"{workers:>7} {run.wall_seconds:>8.1f} {run.fit_seconds:>13.1f} {run.final_accuracy:>9.3f}")
    base = results[0]
    speed_ups = {}
    for run in results[1:]:
        speed_ups[f"{base.workers}->{run.workers}"] = {
            "wall": base.wall_seconds / run.wall_seconds,
            "train_loop": base.fit_seconds / run.fit_seconds,
        }
        print(
            f"speed-up {base.workers}->{run.workers} workers: wall {base.wall_seconds / run.wall_seconds:.2f}x, "
            f"train loop {base.fit_seconds / run.fit_seconds:.2f}x"
        )
    recording.write(
        args.json,
        {
            "rows": args.rows,
            "epochs": args.epochs,
            "global_batch": args.batch_size,
            "runs": [
                {
                    "workers": run.workers,
                    "wall_seconds": run.wall_seconds,
                    "train_loop_seconds": run.fit_seconds,
                    "final_accuracy": run.final_accuracy,
                }
                for run in results
            ],
            "speed_ups": speed_ups,
        },
    )


if __name__ == "__main__":
    main()
