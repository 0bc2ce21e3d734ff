"""Batch-grade 30 generated session-5 submissions (correct, partial, broken) and print the amortized time.

    python benchmarks/grading_batch.py [--sandbox docker|subprocess] [--jobs 2] [--keep DIR]

Each correct or partial submission really trains its model with TensorFlow inside the sandbox.
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from collections import Counter
from pathlib import Path

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


def generate(folder: Path) -> dict[str, str]:
    """30 submissions: 10 correct, 10 partial, 10 broken. Returns name -> kind."""
    lab = get_lab(5)
    reference, starter = lab.solution.read_text(), lab.starter.read_text()
    made: dict[str, str] = {}

    def put(name: str, kind: str, text: str) -> None:
        (folder / name).mkdir(parents=True)
        (folder / name / "pipeline.py").write_text(text)
        made[name] = kind

    for i, (epochs, rate) in enumerate([(40, 0.01), (30, 0.01), (20, 0.02), (40, 0.005), (25, 0.01)] * 2):
        text = reference.replace("epochs: int = 40", f"epochs: int = {epochs}")
        put(
            f"correct_{i:02d}", "correct", text.replace("learning_rate: float = 0.01", f"learning_rate: float = {rate}")
        )
    partial_steps = [[], [STEP1], [STEP1, STEP2], [STEP1, STEP2, STEP3], [STEP2], [STEP3], [STEP1, STEP3]]
    for i in range(10):
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
    for i, text in enumerate(broken):
        put(f"broken_{i:02d}", "broken", text)
    return made


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sandbox", default="auto")
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--keep", type=Path, help="keep submissions and reports here")
    args = parser.parse_args()
    root = args.keep or Path(tempfile.mkdtemp(prefix="labkit-grading-bench-"))
    kinds = generate(root / "submissions")
    sandbox = pick_sandbox(args.sandbox)
    rubric = load_rubric(get_lab(5))
    start = time.monotonic()
    results = grade_batch(
        root / "submissions", rubric, sandbox, root / "grades", jobs=args.jobs, gradebook_path=root / "grades.csv"
    )
    wall = time.monotonic() - start
    print(f"sandbox: {sandbox.description}; jobs {args.jobs}; cores {os.cpu_count()}")
    print(f"graded {len(results)} submissions in {wall:.1f} s: {wall / len(results):.2f} s per submission amortized")
    for kind in ("correct", "partial", "broken"):
        mine = [r for r in results if kinds[r.submission] == kind]
        times = [r.wall_seconds for r in mine]
        scores = Counter("pass" if r.passed else "fail" for r in mine)
        print(
            f"  {kind:8s} n={len(mine):2d}  median {statistics.median(times):5.1f} s  max {max(times):5.1f} s  "
            f"mean score {statistics.mean(r.percent for r in mine):5.1f} %  {dict(scores)}"
        )
    wrong = [
        r.submission
        for r in results
        if kinds[r.submission] in ("correct", "broken") and r.passed != (kinds[r.submission] == "correct")
    ]
    print(f"misgraded (every correct one must pass, every broken one must fail): {wrong or 'none'}")
    print(f"reports: {root / 'grades'}")


if __name__ == "__main__":
    main()
