"""Drift statistics against scipy, and the verdicts on the kit's batch stream."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats
from scipy.spatial import distance

from components.common.schema import CATEGORICAL_FEATURES, NUMERIC_FEATURES
from components.drift.logic import (
    DriftThresholds,
    categorical_drift,
    chi_square_test,
    detect_drift,
    js_distance,
    ks_test,
    numeric_drift,
    psi,
)
from components.drift.report import drift_report_html
from components.ingest.logic import load_penguins_clean
from labkit.data import DriftKnobs, make_batch

CATEGORICAL = list(CATEGORICAL_FEATURES)


@pytest.fixture(scope="module")
def penguins() -> pd.DataFrame:
    return load_penguins_clean()


@pytest.mark.parametrize(
    ("a", "b"),
    [
        (np.random.default_rng(0).normal(size=300), np.random.default_rng(1).normal(0.3, 1, size=250)),
        (np.random.default_rng(2).integers(0, 5, 400).astype(float), np.random.default_rng(3).integers(0, 6, 90)),
        (np.random.default_rng(4).normal(size=5000), np.random.default_rng(5).normal(size=4000)),
    ],
)
def test_ks_matches_scipy_including_ties(a: np.ndarray, b: np.ndarray) -> None:
    statistic, p_value = ks_test(np.sort(a.astype(float)), np.sort(b.astype(float)))
    expected = stats.ks_2samp(a, b, method="asymp")
    assert statistic == pytest.approx(expected.statistic, abs=1e-12)
    assert p_value == pytest.approx(expected.pvalue, rel=1e-9)


def test_chi_square_matches_scipy() -> None:
    ref, cur = np.array([50.0, 30.0, 20.0]), np.array([20.0, 30.0, 50.0])
    statistic, p_value = chi_square_test(ref, cur)
    expected = stats.chi2_contingency(np.vstack([ref, cur]), correction=False)
    assert statistic == pytest.approx(expected.statistic)
    assert p_value == pytest.approx(expected.pvalue)


def test_psi_and_js_are_zero_for_equal_and_grow_with_the_shift() -> None:
    equal = np.array([10.0, 20.0, 30.0])
    assert psi(equal, equal) == pytest.approx(0.0)
    assert js_distance(equal, equal) == pytest.approx(0.0, abs=1e-7)
    small, large = np.array([12.0, 20.0, 28.0]), np.array([30.0, 20.0, 10.0])
    assert psi(equal, small) < psi(equal, large)
    assert js_distance(equal, large) == pytest.approx(distance.jensenshannon(equal, large, base=2))


def test_constant_feature_does_not_crash_and_does_not_drift() -> None:
    values = np.full(500, 3.0)
    result = numeric_drift("constant", values, values.copy(), DriftThresholds())
    assert result.statistic == 0.0
    assert not result.drifted


def test_unseen_category_is_drift() -> None:
    ref = np.array(["a"] * 300 + ["b"] * 300)
    cur = np.array(["a"] * 150 + ["b"] * 150 + ["c"] * 300)
    assert categorical_drift("letter", ref, cur, DriftThresholds()).drifted


def test_batch_zero_of_the_stream_has_no_drift(penguins: pd.DataFrame) -> None:
    for seed in range(5):
        result = detect_drift(penguins, make_batch(0, penguins, seed=seed), NUMERIC_FEATURES, CATEGORICAL)
        assert not result.drifted, (seed, result.drifted_features)


@pytest.mark.parametrize("index", range(1, 8))
def test_drifted_batches_are_flagged_on_the_shifted_features_only(penguins: pd.DataFrame, index: int) -> None:
    knobs = DriftKnobs()
    result = detect_drift(penguins, make_batch(index, penguins, knobs=knobs), NUMERIC_FEATURES, CATEGORICAL)
    assert set(knobs.numeric) <= set(result.drifted_features)
    untouched = set(NUMERIC_FEATURES) - set(knobs.numeric) | {"sex"}
    assert not untouched & set(result.drifted_features)


def test_drift_scores_grow_along_the_stream(penguins: pd.DataFrame) -> None:
    scores = [
        detect_drift(penguins, make_batch(i, penguins), ["flipper_length_mm"]).features[0].js_distance for i in range(8)
    ]
    assert scores == sorted(scores)


def test_large_samples_ignore_trivial_but_significant_differences() -> None:
    rng = np.random.default_rng(0)
    ref = pd.DataFrame({"x": rng.normal(size=400_000)})
    cur = pd.DataFrame({"x": rng.normal(0.02, 1, size=400_000)})  # significant at this n, far below any threshold
    feature = detect_drift(ref, cur, ["x"]).features[0]
    assert feature.p_value < 0.05
    assert not feature.drifted


def test_missing_column_is_named() -> None:
    frame = pd.DataFrame({"x": [1.0, 2.0]})
    with pytest.raises(KeyError, match="body_mass_g"):
        detect_drift(frame, frame, ["x", "body_mass_g"])


def test_report_names_the_drifted_features(penguins: pd.DataFrame) -> None:
    batch = make_batch(3, penguins)
    result = detect_drift(penguins, batch, NUMERIC_FEATURES, CATEGORICAL)
    page = drift_report_html(penguins, batch, result)
    assert "Drift in" in page and "flipper_length_mm" in page
    assert page.count("data:image/png;base64,") == 2
    assert "No drift detected" in drift_report_html(penguins, penguins, detect_drift(penguins, penguins, [], ["sex"]))
