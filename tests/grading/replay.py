"""A stand-in sandbox for the grader's tests: it runs no code, it lays out a recorded run's output folder.

The grader reads what a sandbox leaves behind as data, so a test can hand it exactly the files a hostile
submission could write (links, FIFOs, /proc files, garbage) without running anything, in milliseconds.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path

import numpy as np
from kfp import compiler

from components.common.features import encode_features, fit_preprocessing
from components.common.schema import CLASSES, LABEL
from grading.grader import heldout_split
from grading.ir import parse_ir
from grading.rubric import Rubric
from grading.sandbox import Limits, SandboxRun
from labkit.labs import get_lab
from labkit.registry import PipelineEntry
from tests.grading.session7 import write_dense_model

RUN = "training-2026-01-01-00-00-00-000000"
MODEL = f"artifacts/{RUN}/train/model"


def record_session5_run(folder: Path, rubric: Rubric) -> Path:
    """The ``out`` folder of a good session-5 run: the reference's IR, a task marker each, a working model."""
    folder.mkdir(parents=True)
    entry = PipelineEntry.from_file(get_lab(5).solution, "training_pipeline", session=5)
    compiler.Compiler().compile(entry.load(), package_path=str(folder / "pipeline.yaml"))
    (folder / "status.json").write_text(json.dumps({"phase": "ran"}))
    for task in parse_ir(folder / "pipeline.yaml").tasks:
        (folder / "artifacts" / RUN / task).mkdir(parents=True, exist_ok=True)
        (folder / "artifacts" / RUN / task / "executor_output.json").write_text("{}")
    visible, _ = heldout_split(rubric.heldout_fraction, rubric.heldout_seed)
    preprocessing = fit_preprocessing(visible)
    features = encode_features(visible, preprocessing).astype(np.float64)
    targets = np.eye(len(CLASSES))[visible[LABEL].map({c: i for i, c in enumerate(CLASSES)}).to_numpy()]
    solution = np.linalg.lstsq(np.hstack([features, np.ones((len(features), 1))]), targets, rcond=None)[0]
    write_dense_model(folder / MODEL, 10 * solution[:-1], 10 * solution[-1], preprocessing)
    return folder


class ReplaySandbox:
    """Copies ``recorded`` into the scratch ``out`` folder, lets ``tamper`` change it, reports a clean exit."""

    name = "replay"
    description = "replay of a recorded run (tests only)"
    engines = ("kfp",)

    def __init__(self, recorded: Path, tamper: Callable[[Path], None] = lambda out: None) -> None:
        self.recorded, self.tamper = recorded, tamper

    def run_worker(self, submission: Path, scratch: Path, worker_args: list[str], limits: Limits) -> SandboxRun:
        out = scratch / "out"
        shutil.copytree(self.recorded, out, symlinks=True)
        self.tamper(out)
        return SandboxRun(0, False, "", 0, False, 0.0, self.name)
