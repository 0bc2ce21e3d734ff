"""Turning penguin rows into model inputs, the same way at training, evaluation, grading and serving."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from components.common.schema import CATEGORICAL_FEATURES, CLASSES, LABEL, NUMERIC_FEATURES

Preprocessing = dict[str, Any]


def fit_preprocessing(train: pd.DataFrame) -> Preprocessing:
    """Standardisation constants from the training rows only, so test rows never leak into them."""
    return {
        "numeric": {
            column: {"mean": float(train[column].mean()), "std": float(train[column].std(ddof=0) or 1.0)}
            for column in NUMERIC_FEATURES
        },
        "categorical": {column: list(values) for column, values in CATEGORICAL_FEATURES.items()},
        "classes": list(CLASSES),
    }


def encode_features(table: pd.DataFrame, preprocessing: Preprocessing) -> np.ndarray:
    """Standardised numeric columns followed by one-hot categorical columns, as float32."""
    parts = [
        ((table[column].to_numpy(dtype=np.float64) - stats["mean"]) / stats["std"])[:, None]
        for column, stats in preprocessing["numeric"].items()
    ]
    for column, values in preprocessing["categorical"].items():
        parts.append((table[column].to_numpy()[:, None] == np.asarray(values)[None, :]).astype(np.float64))
    return np.hstack(parts).astype(np.float32)


def encode_labels(table: pd.DataFrame, preprocessing: Preprocessing) -> np.ndarray:
    classes = preprocessing["classes"]
    unknown = sorted(set(table[LABEL]) - set(classes))
    if unknown:
        raise ValueError(f"column {LABEL!r} has unknown classes {unknown} (known: {classes})")
    return table[LABEL].map({name: index for index, name in enumerate(classes)}).to_numpy(dtype=np.int64)
