"""Pick the best model of a hyperparameter sweep."""

from __future__ import annotations

from collections.abc import Sequence


def best_candidate(scores: Sequence[dict]) -> int:
    """Index of the best candidate: highest accuracy, then highest macro-F1, then the earliest (stable)."""
    if not scores:
        raise ValueError("the sweep produced no candidates")
    return max(range(len(scores)), key=lambda i: (scores[i]["accuracy"], scores[i]["macro_f1"], -i))
