import pytest

from components.sweep.logic import best_candidate


def test_best_is_highest_accuracy_then_f1_then_first() -> None:
    scores = [
        {"accuracy": 0.9, "macro_f1": 0.9},
        {"accuracy": 0.95, "macro_f1": 0.90},
        {"accuracy": 0.95, "macro_f1": 0.94},
        {"accuracy": 0.95, "macro_f1": 0.94},
    ]
    assert best_candidate(scores) == 2
    with pytest.raises(ValueError, match="no candidates"):
        best_candidate([])
