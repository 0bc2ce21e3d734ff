"""Classification metrics for a trained model against a majority-class baseline."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from components.common.features import encode_labels
from components.common.inference import load_dense_network


def confusion_matrix(y_true: np.ndarray, y_pred: np.ndarray, n_classes: int) -> np.ndarray:
    matrix = np.zeros((n_classes, n_classes), dtype=np.int64)
    np.add.at(matrix, (y_true, y_pred), 1)
    return matrix


def macro_f1(matrix: np.ndarray) -> float:
    """Unweighted mean of per-class F1; a class never predicted and never present is skipped."""
    true_positive = np.diag(matrix).astype(np.float64)
    predicted = matrix.sum(axis=0)
    actual = matrix.sum(axis=1)
    present = (predicted + actual) > 0
    f1 = np.divide(2 * true_positive, predicted + actual, out=np.zeros_like(true_positive), where=present)
    return float(f1[present].mean()) if present.any() else 0.0


def accuracy(matrix: np.ndarray) -> float:
    total = matrix.sum()
    return float(np.trace(matrix) / total) if total else 0.0


@dataclass(frozen=True)
class Evaluation:
    accuracy: float
    macro_f1: float
    baseline_accuracy: float
    baseline_macro_f1: float
    beats_baseline: bool
    passed: bool
    threshold: float
    classes: list[str]
    confusion_matrix: list[list[int]]

    def as_dict(self) -> dict:
        return asdict(self)


def evaluate_predictions(
    y_true: np.ndarray, y_pred: np.ndarray, majority_class: int, classes: list[str], threshold: float
) -> Evaluation:
    """Compare the model with always answering the training set's most common class."""
    n_classes = len(classes)
    matrix = confusion_matrix(y_true, y_pred, n_classes)
    baseline = confusion_matrix(y_true, np.full_like(y_true, majority_class), n_classes)
    model_accuracy, baseline_accuracy = accuracy(matrix), accuracy(baseline)
    beats = model_accuracy > baseline_accuracy
    return Evaluation(
        accuracy=model_accuracy,
        macro_f1=macro_f1(matrix),
        baseline_accuracy=baseline_accuracy,
        baseline_macro_f1=macro_f1(baseline),
        beats_baseline=bool(beats),
        passed=bool(beats and model_accuracy >= threshold),
        threshold=threshold,
        classes=list(classes),
        confusion_matrix=matrix.tolist(),
    )


def evaluate_model_dir(model_dir: Path, train: pd.DataFrame, test: pd.DataFrame, threshold: float) -> Evaluation:
    network = load_dense_network(model_dir)
    classes = network.preprocessing["classes"]
    majority = int(np.bincount(encode_labels(train, network.preprocessing), minlength=len(classes)).argmax())
    y_true = encode_labels(test, network.preprocessing)
    predictions = network.predict(test)
    if predictions.shape != y_true.shape or (predictions.size and predictions.max() >= len(classes)):
        raise ValueError(f"the model does not answer one of the {len(classes)} classes for each row")
    return evaluate_predictions(y_true, predictions, majority, classes, threshold)
