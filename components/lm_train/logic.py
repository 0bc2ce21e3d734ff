"""Seeded training of a small character-level GRU language model with Keras, saved for numpy inference."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import numpy as np

from components.lm_train.charlm import CharLM, build_vocab

HISTORY_FILE = "history.json"
KERAS_FILE = "model.keras"
EMBEDDING_DIM = 32


def windows(ids: np.ndarray, seq_len: int, stride: int) -> tuple[np.ndarray, np.ndarray]:
    """(inputs, targets) of shape (n, seq_len): each target row is its input row shifted by one character."""
    if len(ids) < seq_len + 1:
        raise ValueError(f"the text has {len(ids)} characters; seq_len {seq_len} needs at least {seq_len + 1}")
    starts = np.arange(0, len(ids) - seq_len, stride)
    index = starts[:, None] + np.arange(seq_len)[None, :]
    return ids[index], ids[index + 1]


def build_model(vocab_size: int, units: int, learning_rate: float) -> Any:
    import keras

    model = keras.Sequential(
        [
            keras.Input((None,), dtype="int32", name="characters"),
            keras.layers.Embedding(vocab_size, EMBEDDING_DIM, name="embedding"),
            keras.layers.GRU(units, return_sequences=True, name="gru"),
            keras.layers.Dense(vocab_size, name="next_character"),  # logits
        ]
    )
    model.compile(
        optimizer=keras.optimizers.Adam(learning_rate, clipnorm=1.0),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
    )
    return model


def _best_weights_callback() -> Any:
    """Keeps the weights of the epoch with the lowest validation loss and puts them back at the end."""
    import keras

    class KeepBest(keras.callbacks.Callback):
        def __init__(self) -> None:
            super().__init__()
            self.best_loss = float("inf")
            self.best_epoch = 0
            self.best: list[np.ndarray] | None = None

        def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
            loss = float((logs or {}).get("val_loss", float("inf")))
            if loss < self.best_loss:
                self.best_loss, self.best_epoch, self.best = loss, epoch + 1, self.model.get_weights()

        def on_train_end(self, logs: dict | None = None) -> None:
            if self.best is not None:
                self.model.set_weights(self.best)

    return KeepBest()


def charlm_from_keras(model: Any, vocab: list[str], config: dict[str, Any]) -> CharLM:
    embedding = model.get_layer("embedding").get_weights()[0]
    kernel, recurrent_kernel, bias = model.get_layer("gru").get_weights()
    dense_kernel, dense_bias = model.get_layer("next_character").get_weights()
    weights = {
        "embedding": embedding,
        "kernel": kernel,
        "recurrent_kernel": recurrent_kernel,
        "bias": bias,
        "dense_kernel": dense_kernel,
        "dense_bias": dense_bias,
    }
    return CharLM(tuple(vocab), {k: np.asarray(v, dtype=np.float64) for k, v in weights.items()}, config)


def train_char_lm(
    train_text: str,
    validation_text: str,
    epochs: int,
    seq_len: int,
    units: int,
    learning_rate: float,
    seed: int,
    batch_size: int = 32,
) -> tuple[Any, CharLM, dict[str, list[float]]]:
    """Train and return (Keras model, the same model for numpy, history). Same text and seed, same weights.

    Training windows overlap by half (stride seq_len/2); the weights kept are those of the epoch with the lowest
    validation loss, so more epochs than needed cost time but not quality.
    """
    if epochs < 1:
        raise ValueError(f"epochs must be at least 1, got {epochs}")
    if seq_len < 2 or units < 1:
        raise ValueError(f"seq_len must be at least 2 and units at least 1, got {seq_len} and {units}")
    if learning_rate <= 0:
        raise ValueError(f"learning_rate must be positive, got {learning_rate}")
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import keras
    import tensorflow as tf

    keras.utils.set_random_seed(seed)
    tf.config.experimental.enable_op_determinism()
    vocab = build_vocab(train_text)
    config = {"architecture": "embedding-gru-dense", "seq_len": seq_len, "units": units, "lowercase": True}
    encoder = CharLM(tuple(vocab), {}, config)
    train_x, train_y = windows(encoder.encode(train_text), seq_len, max(1, seq_len // 2))
    val_x, val_y = windows(encoder.encode(validation_text), seq_len, seq_len)
    model = build_model(len(vocab), units, learning_rate)
    keep_best = _best_weights_callback()
    fitted = model.fit(
        train_x,
        train_y,
        validation_data=(val_x, val_y),
        epochs=epochs,
        batch_size=batch_size,
        shuffle=True,
        callbacks=[keep_best],
        verbose=0,
    )
    history = {name: [float(v) for v in values] for name, values in fitted.history.items()}
    config.update(
        embedding_dim=EMBEDDING_DIM,
        epochs=epochs,
        best_epoch=keep_best.best_epoch,
        learning_rate=learning_rate,
        seed=seed,
        batch_size=batch_size,
        train_characters=len(train_text),
    )
    return model, charlm_from_keras(model, vocab, config), history


def save_model_dir(model: Any, charlm: CharLM, history: dict[str, list[float]], folder: Path) -> None:
    """The Model artifact: numpy weights + vocabulary + config (what serving reads), history and the Keras file."""
    charlm.save(folder)
    (folder / HISTORY_FILE).write_text(json.dumps(history))
    model.save(folder / KERAS_FILE)


def training_curve_html(history: dict[str, list[float]]) -> str:
    """Training and validation loss per epoch (in bits per character) as an inline-SVG page."""
    import io

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axis = plt.subplots(figsize=(6, 3.2))
    epochs = range(1, len(history["loss"]) + 1)
    for key, colour in (("loss", "tab:red"), ("val_loss", "tab:blue")):
        if key in history:
            axis.plot(epochs, np.asarray(history[key]) / np.log(2), color=colour, label=key, marker="o")
    axis.set(title="loss per character", xlabel="epoch", ylabel="bits per character")
    axis.legend()
    figure.tight_layout()
    buffer = io.StringIO()
    figure.savefig(buffer, format="svg")
    plt.close(figure)
    return f"<html><body><h3>Training curve</h3>{buffer.getvalue()}</body></html>"
