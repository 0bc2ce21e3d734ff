"""A stand-in sandbox for the grader's tests: it runs no code, it lays out a recorded run's output folder.

The grader reads what a sandbox leaves behind as data, so a test can hand it exactly the files a hostile
submission could write (links, FIFOs, /proc files, garbage) without running anything, in milliseconds.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import shutil
from collections.abc import Callable
from pathlib import Path

import pandas as pd
from kfp import compiler

from grading.champion import write_linear_model
from grading.engines import ENGINES, heldout_split
from grading.ir import parse_ir
from grading.rubric import Rubric
from grading.sandbox import Limits, SandboxRun
from grading.worker import EVIDENCE
from labkit.labs import get_lab
from labkit.registry import PipelineEntry

RUN = "training-2026-01-01-00-00-00-000000"
MAIN = f"artifacts/main/{RUN}"
MODEL = f"{MAIN}/train/model"


def score_heldout(model: Path, visible: pd.DataFrame, held_out: pd.DataFrame) -> dict:
    """Held-out metrics of a Keras model folder as the subprocess fallback scores them."""
    return ENGINES["kfp"].score(None, model, visible, held_out)


def record_session5_run(folder: Path, rubric: Rubric) -> Path:
    """The ``out`` folder of a good session-5 grading: the reference's IR, and each named run's task markers
    (the gate_closed run never reaches push), a working model in the main run."""
    folder.mkdir(parents=True)
    entry = PipelineEntry.from_file(get_lab(5).solution, "training_pipeline", session=5)
    compiler.Compiler().compile(entry.load(), package_path=str(folder / "pipeline.yaml"))
    runs = {name: {"ok": True} for name in rubric.runs}
    (folder / "status.json").write_text(json.dumps({"phase": "ran", "runs": runs}))
    for run in rubric.runs:
        for task in parse_ir(folder / "pipeline.yaml").tasks:
            if run != "main" and task == "push":
                continue
            (folder / "artifacts" / run / RUN / task).mkdir(parents=True, exist_ok=True)
            (folder / "artifacts" / run / RUN / task / "executor_output.json").write_text("{}")
    visible, _ = heldout_split(rubric.heldout_fraction, rubric.heldout_seed)
    write_linear_model(folder / MODEL, visible)
    return folder


class ReplaySandbox:
    """Copies ``recorded`` into the scratch ``out`` folder, lets ``tamper`` change it, reports a clean exit.

    The grader calls a kfp sandbox twice (compile, then run the IR it read): both get the same recorded folder.
    On the second call it also says, as the worker would (signed with the secret it is given), that each task
    with a marker in the recorded folder finished: the evidence of a clean run, whatever ``tamper`` does.
    """

    name = "replay"
    description = "replay of a recorded run (tests only)"
    engines = ("kfp",)

    def __init__(self, recorded: Path, tamper: Callable[[Path], None] = lambda out: None) -> None:
        self.recorded, self.tamper = recorded, tamper

    def run_worker(
        self, submission: Path, scratch: Path, worker_args: list[str], limits: Limits, stdin: bytes = b""
    ) -> SandboxRun:
        out = scratch / "out"
        shutil.copytree(self.recorded, out, symlinks=True)
        output = f"{EVIDENCE}{self._evidence(stdin.decode().strip())}" if stdin else ""
        self.tamper(out)
        return SandboxRun(0, False, output, len(output), False, 0.0, self.name, tail=output)

    def _evidence(self, secret: str) -> str:
        runs = {
            run.name: {marker.parent.name: "SUCCESS" for marker in run.glob("*/*/executor_output.json")}
            for run in (self.recorded / "artifacts").iterdir()
        }
        payload = json.dumps(runs, sort_keys=True, separators=(",", ":"))
        return f"{payload} {hmac.new(secret.encode(), payload.encode(), hashlib.sha256).hexdigest()}"
