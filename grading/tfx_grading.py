"""What grading a TFX lab (session 6) adds: its data folder, where its run leaves things, scoring its model.

The submission runs in the TFX image (``DockerSandbox.for_tfx``) through the same worker as the KFP labs.
Its model is a TF SavedModel, which the host cannot read without TFX's ops, so a second, fresh container of
the same image (``tfx_score.py``) predicts the held-out rows from their features only; the grader keeps the
labels and computes the metrics.
"""

from __future__ import annotations

import json
import logging
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from components.common.schema import CLASSES, LABEL, NUMERIC_FEATURES
from grading.ir import PipelineIR
from grading.sandbox import DockerSandbox, Limits, Sandbox
from grading.submission import inside

SCORER = Path(__file__).resolve().parent / "tfx_score.py"
MODEL_TYPE = "tfx.Model"
MAX_MODEL_BYTES = 50 * 1024 * 1024
SCORE_LIMITS = Limits(wall_seconds=120, memory_mb=2048, cpus=1.0, pids=128)
EVAL_FRACTION = 1 / 3
log = logging.getLogger(__name__)


def write_tfx_data(data_dir: Path, visible: pd.DataFrame, seed: int) -> Path:
    """The visible rows as TFX's input: ``tfx/train/`` and ``tfx/eval/`` CSVs (a seeded stratified cut)."""
    from components.split.logic import stratified_split

    train, evaluation = stratified_split(visible, test_fraction=EVAL_FRACTION, seed=seed)
    root = data_dir / "tfx"
    for split, table in (("train", train), ("eval", evaluation)):
        (root / split).mkdir(parents=True)
        table.to_csv(root / split / "penguins.csv", index=False)
    return root


def run_folder(out: Path) -> Path | None:
    """``out/artifacts``: pipeline_root/, serving/ and metadata.sqlite of the run, if it left any."""
    folder = out / "artifacts"
    return folder if folder.is_dir() and inside(folder, out) else None


def tasks_ran(ir: PipelineIR, run_folder: Path | None) -> set[str]:
    """Components that left an execution folder under the pipeline root (advisory, like kfp's markers)."""
    root = run_folder / "pipeline_root" if run_folder else None
    if root is None or not root.is_dir():
        return set()
    return {
        task.component
        for task in ir.tasks.values()
        if (root / task.name).is_dir()
        and inside(root / task.name, root)
        and any(p.is_dir() and not p.is_symlink() for p in (root / task.name).glob("*/*"))
    }


def trained_model(ir: PipelineIR, run_folder: Path) -> Path:
    """The SavedModel of the task that produces a model without consuming one (the Trainer)."""
    task, output = ir.trained_output(MODEL_TYPE)
    executions = run_folder / "pipeline_root" / task.name / output
    found = executions.glob("*") if executions.is_dir() and inside(executions, run_folder) else []
    runs = [p for p in found if p.name.isdigit() and inside(p, run_folder)]
    if not runs:
        raise LookupError(f"el paso {task.name} no dejó su modelo ({output})")
    model = max(runs, key=lambda p: int(p.name)) / "Format-Serving"
    if not (model / "saved_model.pb").is_file() or not inside(model, run_folder):
        raise LookupError(f"el modelo de {task.name} no es un SavedModel (falta Format-Serving/saved_model.pb)")
    size = 0
    for item in model.rglob("*"):
        if item.is_symlink():
            raise LookupError(f"el modelo de {task.name} tiene enlaces simbólicos")
        if not (item.is_dir() or item.is_file()):
            raise LookupError(f"el modelo de {task.name} tiene archivos que no son comunes (FIFOs, dispositivos)")
        size += item.stat().st_size if item.is_file() else 0
    if size > MAX_MODEL_BYTES:
        raise LookupError(f"el modelo de {task.name} ocupa más de {MAX_MODEL_BYTES // 2**20} MiB")
    return model


def score_saved_model(
    sandbox: Sandbox, model: Path, visible: pd.DataFrame, held_out: pd.DataFrame, limits: Limits = SCORE_LIMITS
) -> dict[str, Any]:
    """Accuracy/macro-F1 on held-out rows: the container predicts from features, the grader holds the labels."""
    from components.evaluate.logic import evaluate_predictions
    from grading.score_keras import heldout_summary

    if not isinstance(sandbox, DockerSandbox):
        raise RuntimeError("scoring a TFX model needs the TFX image (docker sandbox)")
    with tempfile.TemporaryDirectory(prefix="labkit-score-") as tmp:
        features = Path(tmp) / "features.csv"
        held_out.drop(columns=[LABEL]).to_csv(features, index=False)
        features.chmod(0o644)
        Path(tmp).chmod(0o755)
        args = ["--model", "/model", "--features", "/data/features.csv"]
        args += [f"--numeric={name}" for name in NUMERIC_FEATURES]
        run = sandbox.run_script(SCORER, args, [(model, "/model"), (Path(tmp), "/data")], limits)
    lines = [line for line in run.output.splitlines() if line.startswith("LABKIT-PREDICTIONS ")]
    if run.exit_code != 0 or not lines:
        # Not the error text: a SavedModel is a graph that can read files in its container and put them in it.
        log.warning("scoring %s failed (exit %s):\n%s", model, run.exit_code, run.output[-4000:])
        if run.timed_out:
            raise RuntimeError(f"el modelo tardó más de {limits.wall_seconds:.0f} s en predecir los datos reservados")
        raise RuntimeError(
            "el modelo no pudo predecir los datos reservados (el detalle queda en el registro del corrector)"
        )
    predictions = np.asarray(json.loads(lines[-1].partition(" ")[2]), dtype=np.int64)
    if predictions.shape != (len(held_out),) or predictions.min() < 0 or predictions.max() >= len(CLASSES):
        raise ValueError("el modelo no devolvió una clase válida por fila")
    labels = {name: index for index, name in enumerate(CLASSES)}
    y_true = held_out[LABEL].map(labels).to_numpy()
    majority = int(np.bincount(visible[LABEL].map(labels).to_numpy(), minlength=len(CLASSES)).argmax())
    return heldout_summary(evaluate_predictions(y_true, predictions, majority, list(CLASSES), 0.0), len(held_out))
