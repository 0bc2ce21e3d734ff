"""The grader's own champion: a model it registers before a continuous-training lab runs, so that replacing a
champion is exercised (an empty registry accepts any challenger).

The champion is a linear softmax classifier fitted by least squares on rows the grader gives the pipeline,
written as a one-layer ``.keras`` file that the kit's numpy reader (``components.common.inference``) and so the
kit's ``compare_models`` read like any trained model. It is strong on those rows: a challenger has to earn its
replacement.
"""

from __future__ import annotations

import io
import json
import tempfile
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd

from components.common.features import encode_features, fit_preprocessing
from components.common.schema import CLASSES, LABEL

SHARPNESS = 10.0  # least-squares scores are near 0..1; scaled, the softmax is confident like a trained network


def write_dense_model(folder: Path, kernel: np.ndarray, bias: np.ndarray, preprocessing: dict) -> Path:
    """A one-layer softmax network in the ``.keras`` layout the kit's numpy reader reads (no TensorFlow)."""
    import h5py

    folder.mkdir(parents=True, exist_ok=True)
    weights = io.BytesIO()
    with h5py.File(weights, "w") as store:
        store.create_dataset("layers/dense/vars/0", data=kernel)
        store.create_dataset("layers/dense/vars/1", data=bias)
    config = {"config": {"layers": [{"class_name": "Dense", "config": {"name": "out", "activation": "softmax"}}]}}
    with zipfile.ZipFile(folder / "model.keras", "w") as archive:
        archive.writestr("config.json", json.dumps(config))
        archive.writestr("model.weights.h5", weights.getvalue())
    (folder / "preprocessing.json").write_text(json.dumps(preprocessing))
    return folder


def write_linear_model(folder: Path, rows: pd.DataFrame) -> Path:
    """A least-squares linear classifier of ``rows``, as a kit model folder."""
    preprocessing = fit_preprocessing(rows)
    features = encode_features(rows, preprocessing).astype(np.float64)
    targets = np.eye(len(CLASSES))[rows[LABEL].map({c: i for i, c in enumerate(CLASSES)}).to_numpy()]
    solution = np.linalg.lstsq(np.hstack([features, np.ones((len(features), 1))]), targets, rcond=None)[0]
    return write_dense_model(folder, SHARPNESS * solution[:-1], SHARPNESS * solution[-1], preprocessing)


def seed_registry(registry: Path, name: str, rows: pd.DataFrame) -> str:
    """Register and promote the grader's champion fitted on ``rows``; its version. The registry stays writable by
    the sandbox user, which registers the pipeline's own models next to it."""
    from components.champion.logic import register

    with tempfile.TemporaryDirectory(prefix="labkit-champion-") as tmp:
        model = write_linear_model(Path(tmp) / "model", rows)
        version = register(registry, model, {"seeded_by": "grader"}, promote=True, name=name, export=False)
    for path in [registry, *registry.rglob("*")]:
        path.chmod(0o777 if path.is_dir() else 0o666)
    return version
