import numpy as np
import pytest

from components.evaluate.logic import confusion_matrix, evaluate_predictions, macro_f1


def test_macro_f1_matches_hand_computation() -> None:
    y_true = np.array([0, 0, 1, 1, 2, 2])
    y_pred = np.array([0, 1, 1, 1, 2, 0])
    matrix = confusion_matrix(y_true, y_pred, 3)
    # per-class F1: class0 2*1/(2+2)=0.5, class1 2*2/(3+2)=0.8, class2 2*1/(1+2)=0.667
    assert macro_f1(matrix) == pytest.approx((0.5 + 0.8 + 2 / 3) / 3)


def test_gate_needs_both_baseline_and_threshold() -> None:
    y_true = np.array([0, 0, 0, 1, 2])
    perfect = evaluate_predictions(y_true, y_true.copy(), 0, ["a", "b", "c"], threshold=0.9)
    assert perfect.passed and perfect.beats_baseline and perfect.baseline_accuracy == pytest.approx(0.6)
    as_good_as_baseline = evaluate_predictions(y_true, np.zeros(5, int), 0, ["a", "b", "c"], threshold=0.5)
    assert not as_good_as_baseline.beats_baseline and not as_good_as_baseline.passed
    below_threshold = evaluate_predictions(y_true, np.array([0, 0, 0, 1, 0]), 0, ["a", "b", "c"], threshold=0.9)
    assert below_threshold.beats_baseline and not below_threshold.passed
