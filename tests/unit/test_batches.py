"""The batch stream is deterministic and drifts exactly where its knobs say."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from components.ingest.logic import load_penguins_clean
from components.validate.logic import validate_table
from labkit.data import DriftKnobs, make_batch, write_batches


def test_same_arguments_same_bytes(tmp_path: Path) -> None:
    first = write_batches(tmp_path / "a", 3, seed=5)
    second = write_batches(tmp_path / "b", 3, seed=5)
    for a, b in zip(first, second, strict=True):
        assert Path(a.path).read_bytes() == Path(b.path).read_bytes()
    manifest = json.loads((tmp_path / "a" / "batches.json").read_text())
    assert [b["level"] for b in manifest["batches"]] == [0, 1, 2]


def test_batches_are_valid_and_shift_only_the_chosen_features() -> None:
    reference = load_penguins_clean()
    knobs = DriftKnobs(numeric=("bill_length_mm",), shift_per_batch=1.0, categorical=None, start=2)
    clean = make_batch(1, reference, knobs=knobs)
    shifted = make_batch(3, reference, knobs=knobs)  # level 2
    validate_table(clean)
    validate_table(shifted)
    assert clean["bill_length_mm"].mean() == pytest.approx(reference["bill_length_mm"].mean(), rel=0.05)
    unshifted = make_batch(3, reference, knobs=DriftKnobs(start=99))
    gap = shifted["bill_length_mm"].mean() - unshifted["bill_length_mm"].mean()
    assert gap == pytest.approx(2 * reference["bill_length_mm"].std())
    assert not shifted.duplicated().any()


def test_bad_knobs_are_named() -> None:
    with pytest.raises(ValueError, match="wing_span"):
        DriftKnobs(numeric=("wing_span",))
    with pytest.raises(ValueError, match="Atlantis"):
        DriftKnobs(category="Atlantis")


def test_batches_do_not_share_random_streams() -> None:
    reference = load_penguins_clean()
    a = make_batch(1, reference, seed=0, knobs=DriftKnobs(start=99))
    b = make_batch(0, reference, seed=1, knobs=DriftKnobs(start=99))
    assert not a.equals(b)
    assert isinstance(a, pd.DataFrame)
