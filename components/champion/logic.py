"""Champion/challenger: compare a new model with the serving one and the baseline; a versioned model registry.

Registry layout (a plain folder; on a cluster, a folder the task mounts or an object-store prefix)::

    <registry>/<model name>/
        v0001/ model.keras  preprocessing.json  history.json  metrics.json  saved_model/ (TF Serving export)
        v0002/ ...
        champion        <- text file holding the serving version, e.g. "v0002"
        events.jsonl    <- one line per registration: version, metrics, promoted or not

Versions are never overwritten; promoting a model only rewrites the ``champion`` pointer (atomically).
TF Serving loads ``saved_model`` of the champion; its folder name is a number, as TF Serving expects.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from components.common.features import encode_labels
from components.common.inference import MODEL_FILE, load_dense_network
from components.evaluate.logic import accuracy, confusion_matrix, evaluate_model_dir, macro_f1

DEFAULT_MODEL_NAME = "penguins"
CHAMPION_FILE = "champion"
EVENTS_FILE = "events.jsonl"
SAVED_MODEL_DIR = "saved_model"


@dataclass(frozen=True)
class Comparison:
    challenger_accuracy: float
    challenger_macro_f1: float
    champion_accuracy: float | None
    champion_version: str | None
    baseline_accuracy: float
    min_improvement: float
    better: bool
    reason: str

    def as_dict(self) -> dict:
        return asdict(self)


def score_model(model_dir: Path, test: pd.DataFrame) -> tuple[float, float]:
    network = load_dense_network(model_dir)
    matrix = confusion_matrix(
        encode_labels(test, network.preprocessing), network.predict(test), len(network.preprocessing["classes"])
    )
    return accuracy(matrix), macro_f1(matrix)


def compare(
    challenger_dir: Path,
    champion_dir: Path | None,
    champion_version: str | None,
    train: pd.DataFrame,
    test: pd.DataFrame,
    min_improvement: float = 0.0,
) -> Comparison:
    """The challenger wins only if it beats the majority-class baseline and the champion by more than
    ``min_improvement`` accuracy on the same test rows. A tie keeps the champion: replacing a serving model
    has a cost, so it needs evidence."""
    challenger = evaluate_model_dir(challenger_dir, train, test, threshold=0.0)
    challenger_accuracy, challenger_f1 = challenger.accuracy, challenger.macro_f1
    baseline_accuracy = challenger.baseline_accuracy
    champion_accuracy = score_model(champion_dir, test)[0] if champion_dir is not None else None
    if challenger_accuracy <= baseline_accuracy:
        better, reason = (
            False,
            f"el challenger ({challenger_accuracy:.3f}) no le gana al baseline ({baseline_accuracy:.3f})",
        )
    elif champion_accuracy is None:
        better, reason = (
            True,
            "todavía no hay campeón: el challenger le gana al baseline y pasa a ser el primer campeón",
        )
    elif challenger_accuracy > champion_accuracy + min_improvement:
        better, reason = (
            True,
            (
                f"el challenger ({challenger_accuracy:.3f}) le gana al campeón {champion_version} "
                f"({champion_accuracy:.3f}) por más de {min_improvement}"
            ),
        )
    else:
        better, reason = (
            False,
            (
                f"el challenger ({challenger_accuracy:.3f}) no le gana al campeón {champion_version} "
                f"({champion_accuracy:.3f}) por más de {min_improvement}: el campeón se queda"
            ),
        )
    return Comparison(
        challenger_accuracy=challenger_accuracy,
        challenger_macro_f1=challenger_f1,
        champion_accuracy=champion_accuracy,
        champion_version=champion_version,
        baseline_accuracy=baseline_accuracy,
        min_improvement=min_improvement,
        better=better,
        reason=reason,
    )


def model_root(registry: Path, name: str = DEFAULT_MODEL_NAME) -> Path:
    return Path(registry) / name


def list_versions(registry: Path, name: str = DEFAULT_MODEL_NAME) -> list[str]:
    root = model_root(registry, name)
    if not root.is_dir():
        return []
    return sorted(p.name for p in root.iterdir() if p.is_dir() and p.name.startswith("v") and p.name[1:].isdigit())


def champion_version(registry: Path, name: str = DEFAULT_MODEL_NAME) -> str | None:
    pointer = model_root(registry, name) / CHAMPION_FILE
    return pointer.read_text().strip() or None if pointer.is_file() else None


def champion_dir(registry: Path, name: str = DEFAULT_MODEL_NAME) -> Path | None:
    version = champion_version(registry, name)
    return model_root(registry, name) / version if version else None


def _write_atomically(path: Path, text: str) -> None:
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    with os.fdopen(handle, "w") as stream:
        stream.write(text)
    os.replace(temporary, path)


def export_saved_model(model_dir: Path, target: Path) -> Path:
    """Export the Keras model as a TF SavedModel with a ``serve`` signature, under ``target/1`` for TF Serving."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import keras

    model = keras.models.load_model(Path(model_dir) / MODEL_FILE)
    export_path = target / "1"
    model.export(str(export_path), format="tf_saved_model", verbose=False)
    return export_path


def add_version(
    registry: Path,
    model_dir: Path,
    metrics: dict[str, Any],
    promote: bool,
    name: str = DEFAULT_MODEL_NAME,
    prepare: Callable[[Path], None] = lambda staging: None,
) -> str:
    """Copy ``model_dir`` into the registry's next version folder, which ``prepare`` may add files to before it
    appears; log the event, and make the version champion if ``promote``. Returns the version (``v0001``...)."""
    root = model_root(registry, name)
    root.mkdir(parents=True, exist_ok=True)
    existing = list_versions(registry, name)
    version = f"v{(int(existing[-1][1:]) + 1) if existing else 1:04d}"
    staging = Path(tempfile.mkdtemp(dir=root, prefix=f".{version}."))
    shutil.copytree(model_dir, staging, dirs_exist_ok=True)
    prepare(staging)
    (staging / "metrics.json").write_text(json.dumps(metrics, indent=2, default=str))
    os.replace(staging, root / version)  # a version appears complete or not at all
    if promote:
        _write_atomically(root / CHAMPION_FILE, version + "\n")
    event = {
        "version": version,
        "promoted": promote,
        "time": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "metrics": metrics,
    }
    with (root / EVENTS_FILE).open("a") as stream:
        stream.write(json.dumps(event, default=str) + "\n")
    return version


def register(
    registry: Path,
    model_dir: Path,
    metrics: dict,
    promote: bool,
    name: str = DEFAULT_MODEL_NAME,
    export: bool = True,
) -> str:
    """Copy ``model_dir`` into the next version folder (with a SavedModel export); promote it if asked."""

    def with_export(staging: Path) -> None:
        if export:
            export_saved_model(staging, staging / SAVED_MODEL_DIR)

    return add_version(registry, model_dir, metrics, promote, name, with_export)


def predict_saved_model(saved_model_dir: Path, features: np.ndarray) -> np.ndarray:
    """Serving smoke test: class probabilities from the exported SavedModel's ``serve`` signature."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import tensorflow as tf

    loaded = tf.saved_model.load(str(saved_model_dir))
    return np.asarray(loaded.serve(tf.constant(features, dtype=tf.float32)))
