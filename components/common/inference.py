"""Run a saved penguin MLP with numpy alone.

Evaluation and grading read the ``.keras`` file as data (JSON config + HDF5 weights) instead of loading it
with Keras: importing TensorFlow costs about 3 s per process, and reading plain arrays executes nothing a
submission put in its model file. Only Dense stacks are accepted, which is what the labs train.
"""

from __future__ import annotations

import io
import json
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from components.common.features import Preprocessing, encode_features

MODEL_FILE = "model.keras"
PREPROCESSING_FILE = "preprocessing.json"


def _softmax(x: np.ndarray) -> np.ndarray:
    shifted = np.exp(x - x.max(axis=1, keepdims=True))
    return shifted / shifted.sum(axis=1, keepdims=True)


ACTIVATIONS: dict[str, Callable[[np.ndarray], np.ndarray]] = {
    "linear": lambda x: x,
    "relu": lambda x: np.maximum(x, 0.0),
    "tanh": np.tanh,
    "sigmoid": lambda x: 1.0 / (1.0 + np.exp(-x)),
    "softmax": _softmax,
}
PASS_THROUGH_LAYERS = {"InputLayer", "Dropout"}


class UnsupportedModelError(ValueError):
    """The model file is not a plain Dense network this reader can run."""


@dataclass(frozen=True)
class DenseLayer:
    kernel: np.ndarray
    bias: np.ndarray
    activation: str


@dataclass(frozen=True)
class DenseNetwork:
    layers: tuple[DenseLayer, ...]
    preprocessing: Preprocessing

    def predict_proba(self, table: pd.DataFrame) -> np.ndarray:
        values = encode_features(table, self.preprocessing).astype(np.float64)
        for layer in self.layers:
            values = ACTIVATIONS[layer.activation](values @ layer.kernel + layer.bias)
        return values

    def predict(self, table: pd.DataFrame) -> np.ndarray:
        return self.predict_proba(table).argmax(axis=1)


def _activation_name(config: dict) -> str:
    activation = config.get("activation", "linear")
    if isinstance(activation, dict):  # serialized activation object
        activation = activation.get("config", {}).get("name", activation.get("class_name"))
    return str(activation)


def read_dense_layers(keras_file: Path) -> tuple[DenseLayer, ...]:
    import h5py

    with zipfile.ZipFile(keras_file) as archive:
        config = json.loads(archive.read("config.json"))
        weights = io.BytesIO(archive.read("model.weights.h5"))
    layers = []
    # Keras stores weights under the snake-cased class name plus a per-class counter, not the layer name.
    seen_per_class: dict[str, int] = {}
    with h5py.File(weights, "r") as store:
        for layer in config.get("config", {}).get("layers", []):
            kind, layer_config = layer["class_name"], layer["config"]
            if kind == "InputLayer":
                continue
            count = seen_per_class.get(kind, 0)
            seen_per_class[kind] = count + 1
            if kind in PASS_THROUGH_LAYERS:
                continue
            if kind != "Dense":
                raise UnsupportedModelError(f"layer {layer_config.get('name')!r} is a {kind}; only Dense layers")
            activation = _activation_name(layer_config)
            if activation not in ACTIVATIONS:
                raise UnsupportedModelError(f"activation {activation!r} is not supported")
            variables = store[f"layers/dense{f'_{count}' if count else ''}/vars"]
            bias = variables["1"][()] if layer_config.get("use_bias", True) else 0.0
            layers.append(DenseLayer(np.asarray(variables["0"][()], np.float64), np.asarray(bias), activation))
    if not layers:
        raise UnsupportedModelError("the model has no Dense layers")
    return tuple(layers)


def load_dense_network(model_dir: Path) -> DenseNetwork:
    """Read a Model artifact folder written by the train component."""
    model_dir = Path(model_dir)
    for name in (MODEL_FILE, PREPROCESSING_FILE):
        if not (model_dir / name).is_file():
            raise FileNotFoundError(f"model folder {model_dir} has no {name}: was it written by the train step?")
    preprocessing = json.loads((model_dir / PREPROCESSING_FILE).read_text())
    return DenseNetwork(read_dense_layers(model_dir / MODEL_FILE), preprocessing)
