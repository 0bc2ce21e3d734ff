"""What differs between kinds of lab, behind one interface, so that ``grading.grader`` is one loop over stages.

An engine knows, for its kind of pipeline: what data the worker needs besides the visible rows, where a run
leaves its artifacts, which tasks ran, where a task's model output lives, and how to have a model predict the
held-out rows. Both engines score the same way: a locked-down process gets the model and the held-out
*features* only (never the label column), prints one predicted class per row, and the grader computes the
metrics with the labels it kept.

- ``kfp`` (sessions 5 and 7): a ``@dsl.pipeline`` run with kfp.local; models are the train step's Keras files,
  read with numpy by ``score_keras.py`` (in the components image, or a limited child process in the fallback).
- ``tfx`` (session 6): a TFX pipeline run with LocalDagRunner in the TFX image; models are SavedModels, which
  only that image can run (``tfx_score.py``).
"""

from __future__ import annotations

import json
import logging
import resource
import stat
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import pandas as pd

from components.common.schema import CLASSES, LABEL, NUMERIC_FEATURES
from grading.ir import PipelineIR, Task
from grading.sandbox import DockerSandbox, Limits, Sandbox
from grading.submission import inside, plain_file
from labkit.paths import REPO_ROOT

PREDICTIONS = "LABKIT-PREDICTIONS "  # the line a scorer prints: the marker, then a JSON list of class indexes
MAX_MODEL_BYTES = 50 * 1024 * 1024
# What a report says when scoring fails: fixed lines, because the reader's own error text can carry data the
# model file pointed it at. The detail goes to the grader's log.
SCORE_ERRORS = {
    "refused": "el modelo fue rechazado: model.keras apunta a datos fuera de sí mismo (enlaces o almacenamiento "
    "externo de HDF5, datasets virtuales, o miembros del zip que son enlaces o rutas fuera del archivo)",
    "schema": "el modelo no usa las columnas y clases del esquema del kit (las features de pingüinos y las tres "
    "especies): el corrector le da solo features, nunca la especie",
    "unsupported": "el modelo no es una red de capas Dense que el corrector sepa evaluar",
    "missing": "la carpeta del modelo no tiene model.keras y preprocessing.json como los escribe el paso train",
    "invalid": "el modelo no se pudo leer: model.keras o preprocessing.json no tienen el formato del paso train",
    "predict": "el modelo no pudo predecir los datos reservados (el detalle queda en el registro del corrector)",
}
log = logging.getLogger(__name__)


class Engine(Protocol):
    name: str
    # True: the worker compiles in one sandbox and a second one runs the IR the grader read (kfp.local can run a
    # compiled pipeline). TFX's LocalDagRunner runs Python objects, so its worker compiles and runs in one go.
    runs_compiled_ir: bool

    def worker_data(self, data: Path, visible: pd.DataFrame, seed: int) -> list[str]:
        """Write what the worker reads besides the grader's arguments; the worker args that point at it."""
        ...

    def run_folder(self, out: Path, run: str) -> Path | None:
        """Where the run named ``run`` ("" for the only run) left its artifacts, if it left any."""
        ...

    def tasks_ran(self, ir: PipelineIR, folder: Path | None, evidence: dict[str, str]) -> set[str]:
        """The roles of the tasks that finished: from ``evidence`` (task -> status, which the worker signed)
        when the grader ran the compiled IR, else from what the run left in ``folder``."""
        ...

    def model_folder(self, folder: Path, task: Task, output: str) -> Path:
        """The checked folder of ``task``'s model ``output`` in a run folder; LookupError names what is wrong."""
        ...

    def predict(self, sandbox: Sandbox | None, model: Path, features: pd.DataFrame) -> np.ndarray:
        """Class indexes (into the kit's CLASSES) the model predicts for the feature rows."""
        ...


def heldout_metrics(predictions: np.ndarray, given: pd.DataFrame, held_out: pd.DataFrame) -> dict[str, Any]:
    """Accuracy and macro-F1 of class predictions for the held-out rows, with the majority-class baseline of the
    rows the pipeline was given; the labels never leave the grader."""
    from components.evaluate.logic import evaluate_predictions

    if predictions.shape != (len(held_out),) or predictions.min() < 0 or predictions.max() >= len(CLASSES):
        raise ValueError("el modelo no devolvió una clase válida por fila")
    labels = {name: index for index, name in enumerate(CLASSES)}
    y_true = held_out[LABEL].map(labels).to_numpy()
    majority = int(np.bincount(given[LABEL].map(labels).to_numpy(), minlength=len(CLASSES)).argmax())
    result = evaluate_predictions(y_true, predictions, majority, list(CLASSES), 0.0)
    return {
        "accuracy": round(result.accuracy, 4),
        "macro_f1": round(result.macro_f1, 4),
        "baseline_accuracy": round(result.baseline_accuracy, 4),
        "rows": len(held_out),
    }


def score(
    engine: Engine, sandbox: Sandbox | None, model: Path, given: pd.DataFrame, held_out: pd.DataFrame
) -> dict[str, Any]:
    """The held-out metrics of the model in ``model``: it sees the features, the grader keeps the labels.
    Without a Docker sandbox (None, or the subprocess one) a Keras model is read by a limited child process."""
    return heldout_metrics(engine.predict(sandbox, model, held_out.drop(columns=[LABEL])), given, held_out)


def _predictions(output: str, rows: int) -> np.ndarray | None:
    lines = [line for line in output.splitlines() if line.startswith(PREDICTIONS)]
    try:
        predictions = np.asarray(json.loads(lines[-1].removeprefix(PREDICTIONS)), dtype=np.int64)
    except (IndexError, ValueError, TypeError):
        return None
    return predictions if predictions.shape == (rows,) else None


def _error_code(output: str) -> str:
    """The scorer's last ``LABKIT-ERROR code`` line: the only thing about a failure a report may show."""
    codes = [line.split()[-1] for line in output.splitlines() if line.startswith("LABKIT-ERROR ")]
    return codes[-1] if codes and (codes[-1] in SCORE_ERRORS or codes[-1] == "memory") else "predict"


def _in_container(
    sandbox: DockerSandbox, script: Path, model: Path, features: pd.DataFrame, args: list[str], limits: Limits
) -> tuple[str, int | None, bool]:
    with tempfile.TemporaryDirectory(prefix="labkit-score-") as tmp:
        features.to_csv(Path(tmp) / "features.csv", index=False)
        (Path(tmp) / "features.csv").chmod(0o644)
        Path(tmp).chmod(0o755)
        command = ["--model", "/model", "--features", "/data/features.csv", *args]
        run = sandbox.run_script(script, command, [(model, "/model"), (Path(tmp), "/data")], limits)
    return run.output, run.exit_code, run.timed_out


def _failed(model: Path, output: str, code: int | None, timed_out: bool, limits: Limits) -> RuntimeError:
    log.warning("scoring %s failed (exit %s):\n%s", model, code, output[-4000:])
    if timed_out:
        return RuntimeError(f"el modelo tardó más de {limits.wall_seconds:.0f} s en predecir los datos reservados")
    error = "memory" if code is not None and code < 0 else _error_code(output)
    if error == "memory":
        return RuntimeError(f"leer el modelo superó {limits.memory_mb} MiB o {limits.wall_seconds:.0f} s")
    return RuntimeError(SCORE_ERRORS[error])


class KfpEngine:
    name = "kfp"
    runs_compiled_ir = True
    scorer = Path(__file__).resolve().parent / "score_keras.py"
    limits = Limits(wall_seconds=30, memory_mb=1536, cpus=1.0, pids=16)  # reading a model takes ~300 MiB

    def worker_data(self, data: Path, visible: pd.DataFrame, seed: int) -> list[str]:
        visible.to_csv(data / "visible.csv", index=False)
        return []

    def run_folder(self, out: Path, run: str) -> Path | None:
        root = out / "artifacts" / run if run else out / "artifacts"
        if not root.is_dir() or not inside(root, out):
            return None
        runs = [p for p in root.iterdir() if p.is_dir() and not p.is_symlink()]
        return runs[0] if len(runs) == 1 else None

    def tasks_ran(self, ir: PipelineIR, folder: Path | None, evidence: dict[str, str]) -> set[str]:
        """From kfp.local's own log of the run, not from files a task could write for another."""
        return {
            ir.tasks[task].component for task, status in evidence.items() if status == "SUCCESS" and task in ir.tasks
        }

    def model_folder(self, folder: Path, task: Task, output: str) -> Path:
        model = folder / task.name / output
        if not model.is_dir() or not inside(model, folder):
            raise LookupError(f"el paso {task.name} no dejó su modelo ({output})")
        check_model_folder(model, f"el modelo de {task.name}")
        return model

    def predict(self, sandbox: Sandbox | None, model: Path, features: pd.DataFrame) -> np.ndarray:
        limits = self.limits
        if isinstance(sandbox, DockerSandbox):
            output, code, timed_out = _in_container(sandbox, self.scorer, model, features, [], limits)
        else:
            output, code, timed_out = self._in_child(model, features)
        predictions = _predictions(output, len(features)) if code == 0 else None
        if predictions is None:
            raise _failed(model, output, code, timed_out, limits)
        return predictions

    def _in_child(self, model: Path, features: pd.DataFrame) -> tuple[str, int | None, bool]:
        """The fallback: a child of the grader with memory and CPU limits (it can still read the host's files)."""
        memory, seconds = self.limits.memory_mb * 2**20, int(self.limits.wall_seconds)

        def limit() -> None:
            resource.setrlimit(resource.RLIMIT_AS, (memory, memory))
            resource.setrlimit(resource.RLIMIT_CPU, (seconds, seconds))

        with tempfile.TemporaryDirectory(prefix="labkit-score-") as tmp:
            features.to_csv(Path(tmp) / "features.csv", index=False)
            command = [sys.executable, "-I", str(self.scorer), "--model", str(model)]
            command += ["--features", f"{tmp}/features.csv", "--kit", str(REPO_ROOT)]
            env = {"PYTHONPATH": str(REPO_ROOT), "PATH": "/usr/bin:/bin", "OMP_NUM_THREADS": "1", "LANG": "C.UTF-8"}
            try:
                done = subprocess.run(
                    command,
                    capture_output=True,
                    text=True,
                    timeout=2 * seconds,
                    env=env,
                    cwd=tmp,
                    preexec_fn=limit,
                )
            except subprocess.TimeoutExpired:
                return "", None, True
        return done.stdout + done.stderr, done.returncode, False


def check_model_folder(folder: Path, what: str) -> None:
    """A model folder the submission wrote, before anything reads it: regular files and folders only (no links,
    FIFOs or devices), no huge files or zip bombs."""
    for item in folder.iterdir():
        mode = item.lstat()
        plain = stat.S_ISDIR(mode.st_mode) or (stat.S_ISREG(mode.st_mode) and mode.st_nlink == 1)
        if not plain or not inside(item, folder) or mode.st_size > MAX_MODEL_BYTES:
            raise LookupError(f"{what} tiene archivos inválidos (enlaces, FIFOs, dispositivos) o demasiado grandes")
    for name in ("model.keras", "preprocessing.json"):
        if (folder / name).exists() and not plain_file(folder / name, folder):
            raise LookupError(f"{what}: {name} no es un archivo común")
    keras_file = folder / "model.keras"
    if keras_file.is_file():
        try:
            with zipfile.ZipFile(keras_file) as archive:
                unpacked = sum(info.file_size for info in archive.infolist())
        except zipfile.BadZipFile:
            raise LookupError(f"{what} no es un archivo .keras válido") from None
        if unpacked > MAX_MODEL_BYTES:  # a zip bomb would be inflated by the reader
            raise LookupError(f"{what} descomprime a más de {MAX_MODEL_BYTES // 2**20} MiB")


class TfxEngine:
    name = "tfx"
    runs_compiled_ir = False
    scorer = Path(__file__).resolve().parent / "tfx_score.py"
    limits = Limits(wall_seconds=120, memory_mb=2048, cpus=1.0, pids=128)
    eval_fraction = 1 / 3

    def worker_data(self, data: Path, visible: pd.DataFrame, seed: int) -> list[str]:
        """The visible rows as TFX's input: ``tfx/train/`` and ``tfx/eval/`` CSVs (a seeded stratified cut)."""
        from components.split.logic import stratified_split

        train, evaluation = stratified_split(visible, test_fraction=self.eval_fraction, seed=seed)
        root = data / "tfx"
        for split, table in (("train", train), ("eval", evaluation)):
            (root / split).mkdir(parents=True)
            table.to_csv(root / split / "penguins.csv", index=False)
        return ["--data", str(root)]

    def run_folder(self, out: Path, run: str) -> Path | None:
        """``out/artifacts``: pipeline_root/, serving/ and metadata.sqlite of the run, if it left any."""
        folder = out / "artifacts" / run if run else out / "artifacts"
        return folder if folder.is_dir() and inside(folder, out) else None

    def tasks_ran(self, ir: PipelineIR, folder: Path | None, evidence: dict[str, str]) -> set[str]:
        """Components that left an execution folder under the pipeline root (the worker runs TFX in the
        submission's own process, so there is no evidence it could not forge)."""
        root = folder / "pipeline_root" if folder else None
        if root is None or not root.is_dir():
            return set()
        return {
            task.component
            for task in ir.tasks.values()
            if (root / task.name).is_dir()
            and inside(root / task.name, root)
            and any(p.is_dir() and not p.is_symlink() for p in (root / task.name).glob("*/*"))
        }

    def model_folder(self, folder: Path, task: Task, output: str) -> Path:
        """The newest execution's SavedModel (``Format-Serving``) of ``task``'s ``output``, checked."""
        executions = folder / "pipeline_root" / task.name / output
        found = executions.glob("*") if executions.is_dir() and inside(executions, folder) else []
        runs = [p for p in found if p.name.isdigit() and inside(p, folder)]
        if not runs:
            raise LookupError(f"el paso {task.name} no dejó su modelo ({output})")
        model = max(runs, key=lambda p: int(p.name)) / "Format-Serving"
        if not (model / "saved_model.pb").is_file() or not inside(model, folder):
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

    def predict(self, sandbox: Sandbox | None, model: Path, features: pd.DataFrame) -> np.ndarray:
        if not isinstance(sandbox, DockerSandbox):
            raise RuntimeError("scoring a TFX model needs the TFX image (docker sandbox)")
        numeric = [f"--numeric={name}" for name in NUMERIC_FEATURES]
        output, code, timed_out = _in_container(sandbox, self.scorer, model, features, numeric, self.limits)
        predictions = _predictions(output, len(features)) if code == 0 else None
        if predictions is None:
            # Never the error text: a SavedModel is a graph that can read files in its container and print them.
            raise _failed(model, output, code, timed_out, self.limits)
        return predictions


ENGINES: dict[str, Engine] = {"kfp": KfpEngine(), "tfx": TfxEngine()}
