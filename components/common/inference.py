"""Run a saved penguin MLP with numpy alone.

Evaluation and grading read the ``.keras`` file as data (JSON config + HDF5 weights) instead of loading it
with Keras: importing TensorFlow costs about 3 s per process, and reading plain arrays executes nothing a
submission put in its model file. Only Dense stacks are accepted, which is what the labs train.
"""

from __future__ import annotations

import io
import json
import stat
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from components.common.features import Preprocessing, encode_features

if TYPE_CHECKING:
    import h5py

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
MAX_HDF5_OBJECTS = 10_000  # a Dense stack has a few dozen; hard links can also make a group its own child


class UnsupportedModelError(ValueError):
    """The model file is not a plain Dense network this reader can run."""


class RefusedModelError(UnsupportedModelError):
    """The model file points at data outside itself, which reading it would pull in (a link in the zip, an HDF5
    external link, external storage or virtual dataset): whatever that data is, it must not reach an error message.
    """


def _check_zip_members(archive: zipfile.ZipFile) -> None:
    for info in archive.infolist():
        name = PurePosixPath(info.filename.replace("\\", "/"))
        if name.is_absolute() or ".." in name.parts or stat.S_ISLNK(info.external_attr >> 16):
            raise RefusedModelError("the .keras archive has a member that is a link or a path outside it")


def _check_self_contained(store: h5py.Group) -> None:
    """Every object of the HDF5 file is reached by a hard link and keeps its data in the file itself."""
    import h5py

    pending, visited = [store], 0
    while pending:
        group = pending.pop()
        for name in group:  # iterating yields link names without resolving them
            visited += 1
            if visited > MAX_HDF5_OBJECTS:
                raise RefusedModelError(f"the weights file has more than {MAX_HDF5_OBJECTS} objects")
            try:
                link = group.get(name, getlink=True)
            except (KeyError, TypeError, ValueError, OSError):
                link = None
            if not isinstance(link, h5py.HardLink):
                raise RefusedModelError("the weights file has a soft, external or user-defined link")
            item = group[name]
            if isinstance(item, h5py.Group):
                pending.append(item)
            elif isinstance(item, h5py.Dataset) and (item.external or item.is_virtual):
                raise RefusedModelError("the weights file has a dataset stored outside it (external or virtual)")


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
        _check_zip_members(archive)
        config = json.loads(archive.read("config.json"))
        weights = io.BytesIO(archive.read("model.weights.h5"))
    layers = []
    # Keras stores weights under the snake-cased class name plus a per-class counter, not the layer name.
    seen_per_class: dict[str, int] = {}
    with h5py.File(weights, "r") as store:
        _check_self_contained(store)
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
