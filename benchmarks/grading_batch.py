"""Batch-grade generated session-5 submissions (correct, partial, broken) and print the amortized time.

    .venv/bin/python -m benchmarks.grading_batch --sandbox docker --jobs 2 [--per-kind 10] [--keep DIR]

``--per-kind N`` submissions of each kind (at most 10): every correct one is the reference with its own epochs and
learning rate (no two alike), the partial ones are the starter with some TODO steps done, the broken ones fail in
ten different ways. Each correct or partial submission really trains its model with TensorFlow inside the sandbox.
Printed: the wall time of the whole batch, the amortized time per submission, and per kind the median and maximum
time, the mean score and how many passed; and which submissions were misgraded.
"""

from __future__ import annotations

import os
import statistics
import tempfile
import time
from collections import Counter
from pathlib import Path

from benchmarks.common import Recording, benchmark_parser
from grading.batch import grade_batch
from grading.rubric import load_rubric
from grading.sandbox import pick_sandbox
from labkit.labs import get_lab

STEP1 = (
    'split(dataset=ingest_task.outputs["dataset"])',
    'split(dataset=ingest_task.outputs["dataset"], seed=seed).after(validate_task)',
)
STEP2 = (
    'train(train_data=split_task.outputs["train_data"])',
    'train(train_data=split_task.outputs["train_data"], epochs=epochs, learning_rate=learning_rate, seed=seed)',
)
STEP3 = ('test_data=split_task.outputs["train_data"]', 'test_data=split_task.outputs["test_data"]')


# Epochs and learning rate of each correct submission: ten different trainings, none a copy of another.
CORRECT_SETTINGS = [
    (40, 0.01),
    (30, 0.01),
    (20, 0.02),
    (40, 0.005),
    (25, 0.01),
    (35, 0.015),
    (45, 0.008),
    (30, 0.02),
    (50, 0.006),
    (28, 0.012),
]


def generate(folder: Path, per_kind: int = 10) -> dict[str, str]:
    """``per_kind`` submissions of each kind: correct, partial, broken. Returns name -> kind."""
    lab = get_lab(5)
    reference, starter = lab.solution.read_text(), lab.starter.read_text()
    made: dict[str, str] = {}

    def put(name: str, kind: str, text: str) -> None:
        (folder / name).mkdir(parents=True)
        (folder / name / "pipeline.py").write_text(text)
        made[name] = kind

    for i, (epochs, rate) in enumerate(CORRECT_SETTINGS[:per_kind]):
        text = reference.replace("epochs: int = 40", f"epochs: int = {epochs}")
        put(
            f"correct_{i:02d}", "correct", text.replace("learning_rate: float = 0.01", f"learning_rate: float = {rate}")
        )
    partial_steps = [[], [STEP1], [STEP1, STEP2], [STEP1, STEP2, STEP3], [STEP2], [STEP3], [STEP1, STEP3]]
    for i in range(per_kind):
        text = starter
        for old, new in partial_steps[i % len(partial_steps)]:
            text = text.replace(old, new)
        put(f"partial_{i:02d}", "partial", text)
    broken = [
        "from kfp import dsl\n\ndef training_pipeline(:\n",
        reference.replace("def training_pipeline(", "def pipeline_de_entrenamiento("),
        "import tensorflow_extra_layers\n" + reference,
        reference.replace("epochs: int = 40", 'epochs: str = "cuarenta"'),
        reference.replace("seed=seed).after", "seed=seed, test_fraction=1.5).after"),  # fails at run time
        "import os\nos._exit(0)\n",
        reference.replace('source: str = "palmerpenguins"', 'source: str = "/no/such/file.csv"').replace(
            "ingest(source=source)", 'ingest(source="/no/such/file.csv")'
        ),
        "raise RuntimeError('todavía no terminé')\n",
        "",
        reference.replace("from components.push.component import push", "from components.push.component import pusher"),
    ]
    for i, text in enumerate(broken[:per_kind]):
        put(f"broken_{i:02d}", "broken", text)
    return made


def main() -> None:
    parser = benchmark_parser(__doc__)
    parser.add_argument("--sandbox", default="auto", help="docker, subprocess or auto")
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--per-kind", type=int, default=10, choices=range(1, 11), metavar="1-10")
    parser.add_argument("--keep", type=Path, help="keep submissions and reports here")
    args = parser.parse_args()
    recording = Recording(__spec__.name)
    root = args.keep or Path(tempfile.mkdtemp(prefix="labkit-grading-bench-"))
    kinds = generate(root / "submissions", args.per_kind)
    sandbox = pick_sandbox(args.sandbox)
    rubric = load_rubric(get_lab(5))
    start = time.monotonic()
    results = grade_batch(
        root / "submissions", rubric, sandbox, root / "grades", jobs=args.jobs, gradebook_path=root / "grades.csv"
    )
    wall = time.monotonic() - start
    print(f"sandbox: {sandbox.description}; jobs {args.jobs}; cores {os.cpu_count()}")
    print(f"graded {len(results)} submissions in {wall:.1f} s: {wall / len(results):.2f} s per submission amortized")
    per_kind = {}
    for kind in ("correct", "partial", "broken"):
        mine = [r for r in results if kinds[r.submission] == kind]
        times = [r.wall_seconds for r in mine]
        scores = Counter("pass" if r.passed else "fail" for r in mine)
        per_kind[kind] = {
            "submissions": len(mine),
            "median_seconds": statistics.median(times),
            "max_seconds": max(times),
            "mean_score_percent": statistics.mean(r.percent for r in mine),
            "passed": scores["pass"],
            "failed": scores["fail"],
        }
        print(
            f"  {kind:8s} n={len(mine):2d}  median {statistics.median(times):5.1f} s  max {max(times):5.1f} s  "
            f"mean score {per_kind[kind]['mean_score_percent']:5.1f} %  {dict(scores)}"
        )
    wrong = [
        r.submission
        for r in results
        if kinds[r.submission] in ("correct", "broken") and r.passed != (kinds[r.submission] == "correct")
    ]
    print(f"misgraded (every correct one must pass, every broken one must fail): {wrong or 'none'}")
    print(f"reports: {root / 'grades'}")
    recording.write(
        args.json,
        {
            "sandbox": sandbox.description,
            "jobs": args.jobs,
            "submissions": len(results),
            "wall_seconds": wall,
            "seconds_per_submission": wall / len(results),
            "kinds": per_kind,
            "misgraded": wrong,
            "per_submission": {r.submission: {"seconds": r.wall_seconds, "percent": r.percent} for r in results},
        },
    )
    if wrong:
        raise SystemExit(f"misgraded: {', '.join(wrong)}")


if __name__ == "__main__":
    main()
