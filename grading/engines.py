"""What differs between kinds of lab, behind one interface, so that ``grading.grader`` is one loop over stages.

An engine knows, for its kind of pipeline: what the sandbox may read and what the grader keeps for itself, where
a run leaves its artifacts, which tasks ran, where a task's model output lives, and how to score a model on the
held-out data. Scoring always happens apart from the grader: a locked-down process (a fresh container, or a
limited child without Docker) gets the model as data and prints one line, and the grader computes the metrics.

- ``kfp`` (sessions 5 and 7): a ``@dsl.pipeline`` run with kfp.local; models are the train step's Keras files,
  read with numpy by ``score_keras.py``, which gets the held-out *features* only (the grader keeps the labels).
- ``tfx`` (session 6): a TFX pipeline run with LocalDagRunner in the TFX image; models are SavedModels, which
  only that image can run (``tfx_score.py``).
- ``kfp-lm`` (session 8): a ``@dsl.pipeline`` like ``kfp`` whose model is a character language model;
  ``score_lm.py`` prints its perplexity on text the grader writes (``LanguageModelEngine``).
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
from functools import lru_cache
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import pandas as pd

from components.common.schema import CLASSES, LABEL, NUMERIC_FEATURES
from grading.heldout import DESIGN as HELDOUT_DESIGN
from grading.heldout_text import DESIGN as TEXT_DESIGN
from grading.ir import PipelineIR, Task
from grading.sandbox import DockerSandbox, Limits, Sandbox
from grading.submission import inside, plain_file
from labkit.paths import REPO_ROOT

PREDICTIONS = "LABKIT-PREDICTIONS "  # the line a scorer prints: the marker, then a JSON list of class indexes
PERPLEXITY = "LABKIT-PERPLEXITY "  # score_lm.py's line: the marker, then a float
MAX_MODEL_BYTES = 50 * 1024 * 1024
# What a report says when scoring fails: fixed lines, because the reader's own error text can carry data the
# model file pointed it at. The detail goes to the grader's log.
SCORE_ERRORS = {
    "refused": "el modelo fue rechazado: model.keras apunta a datos fuera de sí mismo (enlaces o almacenamiento "
    "externo de HDF5, datasets virtuales, o miembros del zip que son enlaces o rutas fuera del archivo)",
    "schema": "el modelo no usa las columnas y clases del esquema del kit (las features de pingüinos y las tres "
    "especies): el corrector le da solo features, nunca la especie",
    "vocabulary": "el vocabulario o la configuración del modelo de lenguaje no son los del corpus del kit "
    "(vocab.json: '' y luego caracteres distintos del alfabeto del corpus; seq_len entre 2 y 1024)",
    "unsupported": "el modelo no es una red de capas Dense que el corrector sepa evaluar",
    "missing": "la carpeta del modelo no tiene los archivos que escribe el paso de entrenamiento",
    "invalid": "el modelo no se pudo leer: sus archivos no tienen el formato que escribe el paso de entrenamiento",
    "predict": "el modelo no pudo predecir los datos reservados (el detalle queda en el registro del corrector)",
}
log = logging.getLogger(__name__)


class Engine(Protocol):
    name: str
    worker: str  # which sandboxes can run it: "kfp" (a @dsl.pipeline, kfp.local) or "tfx" (the TFX image)
    # True: the worker compiles in one sandbox and a second one runs the IR the grader read (kfp.local can run a
    # compiled pipeline). TFX's LocalDagRunner runs Python objects, so its worker compiles and runs in one go.
    runs_compiled_ir: bool
    heldout_design: str  # how the held-out data is made: part of grading.batch's grading key

    def heldout(self, fraction: float, seed: int) -> tuple[Any, Any]:
        """(visible, held out): what the sandbox may read, and the grader's own data to score its model on."""
        ...

    def worker_data(self, data: Path, visible: Any, seed: int) -> list[str]:
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

    def score(self, sandbox: Sandbox | None, model: Path, visible: Any, held_out: Any) -> dict[str, Any]:
        """The metrics of the model in ``model`` on the held-out data, with the baseline's."""
        ...


@lru_cache(maxsize=4)
def heldout_split(fraction: float, seed: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(visible, held_out): the rows the sandbox gets, and the grader's own rows to score its model on.

    The visible rows are a seeded stratified share ``1 - fraction`` of the clean public penguins table. The
    held-out rows are NOT public rows (the sandbox can import the public table and memorise it): they are as
    many penguins as the rest of the split, generated from the seed by ``grading.heldout``.
    """
    from components.evaluate.logic import evaluate_predictions  # noqa: F401  (fail early if the kit is broken)
    from components.ingest.logic import load_penguins_clean
    from components.split.logic import stratified_split
    from grading.heldout import generate

    visible, withheld = stratified_split(load_penguins_clean(), test_fraction=fraction, seed=seed)
    return visible, generate(len(withheld), seed)


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


def _run_scorer(
    sandbox: Sandbox | None,
    script: Path,
    model: Path,
    inputs: dict[str, tuple[str, str]],
    args: list[str],
    limits: Limits,
) -> tuple[str, int | None, bool]:
    """(output, exit code, timed out) of a scorer script given the model and ``inputs`` (option -> (file name,
    text)): in a fresh container when ``sandbox`` is Docker, else in a child of the grader with memory and CPU
    limits (which can still read the host's files)."""
    with tempfile.TemporaryDirectory(prefix="labkit-score-") as tmp:
        for name, text in inputs.values():
            (Path(tmp) / name).write_text(text, encoding="utf-8")
            (Path(tmp) / name).chmod(0o644)
        if isinstance(sandbox, DockerSandbox):
            Path(tmp).chmod(0o755)
            given = [item for option, (name, _) in inputs.items() for item in (f"--{option}", f"/data/{name}")]
            run = sandbox.run_script(
                script, ["--model", "/model", *given, *args], [(model, "/model"), (Path(tmp), "/data")], limits
            )
            return run.output, run.exit_code, run.timed_out
        given = [item for option, (name, _) in inputs.items() for item in (f"--{option}", f"{tmp}/{name}")]
        command = [sys.executable, "-I", str(script), "--model", str(model), *given, *args, "--kit", str(REPO_ROOT)]
        return _limited_child(command, Path(tmp), limits)


def _limited_child(command: list[str], cwd: Path, limits: Limits) -> tuple[str, int | None, bool]:
    memory, seconds = limits.memory_mb * 2**20, int(limits.wall_seconds)

    def limit() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (memory, memory))
        resource.setrlimit(resource.RLIMIT_CPU, (seconds, seconds))

    env = {"PYTHONPATH": str(REPO_ROOT), "PATH": "/usr/bin:/bin", "OMP_NUM_THREADS": "1", "LANG": "C.UTF-8"}
    try:
        done = subprocess.run(
            command, capture_output=True, text=True, timeout=2 * seconds, env=env, cwd=cwd, preexec_fn=limit
        )
    except subprocess.TimeoutExpired:
        return "", None, True
    return done.stdout + done.stderr, done.returncode, False


def _failed(model: Path, output: str, code: int | None, timed_out: bool, limits: Limits) -> RuntimeError:
    log.warning("scoring %s failed (exit %s):\n%s", model, code, output[-4000:])
    if timed_out:
        return RuntimeError(f"el modelo tardó más de {limits.wall_seconds:.0f} s en predecir los datos reservados")
    error = "memory" if code is not None and code < 0 else _error_code(output)
    if error == "memory":
        return RuntimeError(f"leer el modelo superó {limits.memory_mb} MiB o {limits.wall_seconds:.0f} s")
    return RuntimeError(SCORE_ERRORS[error])


class ClassifierScoring:
    """Scoring for the penguin labs: the model predicts classes of held-out rows from their features only; the
    grader keeps the labels and computes the metrics (see ``heldout_metrics``)."""

    heldout_design = HELDOUT_DESIGN

    def heldout(self, fraction: float, seed: int) -> tuple[pd.DataFrame, pd.DataFrame]:
        return heldout_split(fraction, seed)

    def predict(self, sandbox: Sandbox | None, model: Path, features: pd.DataFrame) -> np.ndarray:
        raise NotImplementedError

    def score(
        self, sandbox: Sandbox | None, model: Path, visible: pd.DataFrame, held_out: pd.DataFrame
    ) -> dict[str, Any]:
        return heldout_metrics(self.predict(sandbox, model, held_out.drop(columns=[LABEL])), visible, held_out)


class KfpEngine(ClassifierScoring):
    name = "kfp"
    worker = "kfp"
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
        inputs = {"features": ("features.csv", features.to_csv(index=False))}
        output, code, timed_out = _run_scorer(sandbox, self.scorer, model, inputs, [], self.limits)
        predictions = _predictions(output, len(features)) if code == 0 else None
        if predictions is None:
            raise _failed(model, output, code, timed_out, self.limits)
        return predictions


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


class TfxEngine(ClassifierScoring):
    name = "tfx"
    worker = "tfx"
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
        inputs = {"features": ("features.csv", features.to_csv(index=False))}
        output, code, timed_out = _run_scorer(sandbox, self.scorer, model, inputs, numeric, self.limits)
        predictions = _predictions(output, len(features)) if code == 0 else None
        if predictions is None:
            # Never the error text: a SavedModel is a graph that can read files in its container and print them.
            raise _failed(model, output, code, timed_out, self.limits)
        return predictions


class LanguageModelEngine(KfpEngine):
    """Session 8: a ``@dsl.pipeline`` like ``kfp``, whose model is a character language model (the lm_train
    step's folder: ``weights.npz``, ``vocab.json``, ``config.json``).

    The sandbox gets the grader's own copy of the kit's guides as files (whatever the image or the submission
    holds); the held-out data is text the grader writes from templates with the rubric's seed
    (``grading.heldout_text``). ``score_lm.py``
    reads the model as data and prints its perplexity on that text; the grader fits the gate's n-gram baseline
    on the guides itself. Both perplexities are over the corpus alphabet (``open_vocabulary_perplexity``), so a model
    cannot look good by knowing fewer characters.
    """

    name = "kfp-lm"
    heldout_design = TEXT_DESIGN
    scorer = Path(__file__).resolve().parent / "score_lm.py"
    limits = Limits(wall_seconds=60, memory_mb=1024, cpus=1.0, pids=16)
    heldout_characters = 6000
    baseline_order = 3  # the n-gram the pipeline's gate uses (lm_evaluate's ngram_order default)
    files = ("weights.npz", "vocab.json", "config.json")

    def heldout(self, fraction: float, seed: int) -> tuple[dict[str, str], str]:
        from components.text_corpus.logic import KIT_GUIDES, KIT_ROOT, guide_files
        from grading.heldout_text import generate_text

        guides = {str(path.relative_to(KIT_ROOT)): path.read_text(encoding="utf-8") for path in guide_files(KIT_GUIDES)}
        return guides, generate_text(self.heldout_characters, seed)

    def worker_data(self, data: Path, visible: dict[str, str], seed: int) -> list[str]:
        for name, text in visible.items():
            (data / "guides" / name).parent.mkdir(parents=True, exist_ok=True)
            (data / "guides" / name).write_text(text, encoding="utf-8")
        return []

    def model_folder(self, folder: Path, task: Task, output: str) -> Path:
        model = folder / task.name / output
        if not model.is_dir() or not inside(model, folder):
            raise LookupError(f"el paso {task.name} no dejó su modelo ({output})")
        check_model_folder(model, f"el modelo de {task.name}")
        if not all(plain_file(model / name, model) for name in self.files):
            raise LookupError(f"el modelo de {task.name} no tiene {', '.join(self.files)} como los escribe lm_train")
        return model

    def score(self, sandbox: Sandbox | None, model: Path, visible: dict[str, str], held_out: str) -> dict[str, Any]:
        output, code, timed_out = _run_scorer(
            sandbox, self.scorer, model, {"text": ("heldout.txt", held_out)}, [], self.limits
        )
        values = [line.removeprefix(PERPLEXITY) for line in output.splitlines() if line.startswith(PERPLEXITY)]
        try:
            value = float(values[-1]) if code == 0 and values else float("nan")
        except ValueError:
            value = float("nan")
        if not np.isfinite(value) or value < 1.0:
            raise _failed(model, output, code, timed_out, self.limits)
        baseline = _guides_baseline(tuple(sorted(visible.items())), held_out, self.baseline_order)
        return {
            "perplexity": round(value, 4),
            "baseline_perplexity": round(baseline, 4),
            "perplexity_ratio": round(value / baseline, 4),
            "characters": len(held_out),
        }


@lru_cache(maxsize=4)
def _guides_baseline(guides: tuple[tuple[str, str], ...], held_out: str, order: int) -> float:
    """The held-out perplexity of a character n-gram of ``order`` fitted on the guides' training text (the
    pipeline's own cleaning and split; discount chosen on validation), over the corpus alphabet like the
    model's."""
    from components.lm_evaluate.logic import fit_baseline, open_vocabulary_perplexity
    from components.lm_train.charlm import build_vocab
    from components.text_corpus.logic import ALPHABET, corpus_from_texts

    corpus = corpus_from_texts(guides)  # sorted by name: the order text_corpus reads the guides folder in
    vocab = build_vocab(corpus.train)
    index = {c: i for i, c in enumerate(vocab) if c}

    def encode(text: str) -> np.ndarray:
        return np.fromiter((index.get(c, 0) for c in text), dtype=np.int64, count=len(text))

    best = fit_baseline(encode(corpus.train), encode(corpus.validation), len(vocab), orders=(order,))
    return open_vocabulary_perplexity(best.model.sequence_log_probs(encode(held_out)), held_out, vocab, ALPHABET)


ENGINES: dict[str, Engine] = {"kfp": KfpEngine(), "tfx": TfxEngine(), "kfp-lm": LanguageModelEngine()}
