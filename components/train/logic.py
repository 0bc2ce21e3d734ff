"""Seeded training of a small Keras MLP on the encoded penguin features."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pandas as pd

from components.common.features import Preprocessing, encode_features, encode_labels, fit_preprocessing
from components.common.inference import MODEL_FILE, PREPROCESSING_FILE

HISTORY_FILE = "history.json"


def build_model(n_inputs: int, n_classes: int, hidden_units: int, learning_rate: float) -> Any:
    import keras

    model = keras.Sequential(
        [
            keras.Input((n_inputs,), name="features"),
            keras.layers.Dense(hidden_units, activation="relu", name="hidden"),
            keras.layers.Dense(n_classes, activation="softmax", name="species"),
        ]
    )
    model.compile(
        optimizer=keras.optimizers.Adam(learning_rate),
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
    )
    return model


def train_mlp(
    train: pd.DataFrame,
    epochs: int,
    learning_rate: float,
    seed: int,
    hidden_units: int = 16,
    batch_size: int = 32,
) -> tuple[Any, Preprocessing, dict[str, list[float]]]:
    """Train and return (model, preprocessing, history). Same seed and data give the same weights."""
    if epochs < 1:
        raise ValueError(f"epochs must be at least 1, got {epochs}")
    if learning_rate <= 0:
        raise ValueError(f"learning_rate must be positive, got {learning_rate}")
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import keras
    import tensorflow as tf

    keras.utils.set_random_seed(seed)
    tf.config.experimental.enable_op_determinism()
    preprocessing = fit_preprocessing(train)
    features = encode_features(train, preprocessing)
    labels = encode_labels(train, preprocessing)
    model = build_model(features.shape[1], len(preprocessing["classes"]), hidden_units, learning_rate)
    fitted = model.fit(features, labels, epochs=epochs, batch_size=batch_size, shuffle=True, verbose=0)
    history = {name: [float(v) for v in values] for name, values in fitted.history.items()}
    return model, preprocessing, history


def save_model_dir(model: Any, preprocessing: Preprocessing, history: dict[str, list[float]], directory: Path) -> None:
    """The Model artifact: Keras file plus the feature encoding it expects, in one folder."""
    directory.mkdir(parents=True, exist_ok=True)
    model.save(directory / MODEL_FILE)
    (directory / PREPROCESSING_FILE).write_text(json.dumps(preprocessing, indent=2))
    (directory / HISTORY_FILE).write_text(json.dumps(history))


def training_curve_html(history: dict[str, list[float]]) -> str:
    """Loss and accuracy per epoch as a self-contained HTML page (inline SVG), for the KFP UI and students."""
    import io

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, (loss_axis, accuracy_axis) = plt.subplots(1, 2, figsize=(9, 3.2))
    epochs = range(1, len(history["loss"]) + 1)
    loss_axis.plot(epochs, history["loss"], color="tab:red")
    loss_axis.set(title="training loss", xlabel="epoch")
    accuracy_axis.plot(epochs, history["accuracy"], color="tab:blue")
    accuracy_axis.set(title="training accuracy", xlabel="epoch", ylim=(0, 1.02))
    figure.tight_layout()
    buffer = io.StringIO()
    figure.savefig(buffer, format="svg")
    plt.close(figure)
    return f"<html><body><h3>Training curve</h3>{buffer.getvalue()}</body></html>"
