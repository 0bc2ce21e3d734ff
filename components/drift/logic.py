"""Data drift between a reference table and a current batch, as plain vectorized numpy/scipy.

Numeric features get three scores: the two-sample Kolmogorov-Smirnov test (statistic and asymptotic
p-value), the Population Stability Index over reference-quantile bins, and the Jensen-Shannon distance
(base 2, in [0, 1]) over the same bins. Categorical features get Pearson's chi-square test on the category
counts, PSI and the Jensen-Shannon distance over the categories.

A feature is flagged only when the change is both *significant* (test p-value below ``alpha``) and *large*
(PSI or JS distance at or above its threshold). On a few hundred rows the test guards against noise; on a
million rows every tiny difference is significant, and the effect-size thresholds keep it from crying wolf.
"""

from __future__ import annotations

from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field

import numpy as np
import pandas as pd
from scipy import special, stats

EPSILON = 1e-4  # floor for empty bins, so PSI and log ratios stay finite
PLOT_BINS = 40  # histogram bins the report draws


@dataclass(frozen=True)
class DriftThresholds:
    alpha: float = 0.05  # significance level of the KS and chi-square tests
    psi: float = 0.2  # PSI >= 0.2 is the usual "significant shift" rule of thumb
    js: float = 0.1  # Jensen-Shannon distance, base 2
    bins: int = 10  # reference-quantile bins for numeric PSI / JS

    def __post_init__(self) -> None:
        if not 0.0 < self.alpha < 1.0:
            raise ValueError(f"alpha must be between 0 and 1, got {self.alpha}")
        if self.psi <= 0 or self.js <= 0:
            raise ValueError("psi and js thresholds must be positive")
        if self.bins < 2:
            raise ValueError(f"bins must be at least 2, got {self.bins}")


@dataclass(frozen=True)
class FeatureDrift:
    feature: str
    kind: str  # "numeric" or "categorical"
    test: str  # "ks" or "chi2"
    statistic: float
    p_value: float
    psi: float
    js_distance: float
    drifted: bool
    reference_rows: int
    current_rows: int
    # What the report draws, computed here from the sorted samples so the report never rescans the raw data:
    # numeric -> histogram edges (len k+1); categorical -> category names (len k); counts per bin/category.
    plot_bins: list = field(default_factory=list)
    reference_counts: list = field(default_factory=list)
    current_counts: list = field(default_factory=list)


@dataclass(frozen=True)
class DriftResult:
    features: list[FeatureDrift]
    thresholds: DriftThresholds = field(default_factory=DriftThresholds)

    @property
    def drifted_features(self) -> list[str]:
        return [f.feature for f in self.features if f.drifted]

    @property
    def drifted(self) -> bool:
        return bool(self.drifted_features)

    @property
    def share_drifted(self) -> float:
        return len(self.drifted_features) / len(self.features) if self.features else 0.0

    def as_dict(self) -> dict:
        return {
            "drifted": self.drifted,
            "drifted_features": self.drifted_features,
            "share_drifted": self.share_drifted,
            "thresholds": asdict(self.thresholds),
            "features": [asdict(f) for f in self.features],
        }


def ks_test(reference_sorted: np.ndarray, current_sorted: np.ndarray) -> tuple[float, float]:
    """Two-sample KS statistic and asymptotic p-value from two *sorted* samples.

    D is the largest gap between the two empirical CDFs; it is reached at one of the sample points, so one
    binary search per sample over the other finds it without building the merged sample.
    """
    n, m = len(reference_sorted), len(current_sorted)
    if n == 0 or m == 0:
        raise ValueError("both samples need at least one value")
    statistic = max(_largest_gap(reference_sorted, current_sorted), _largest_gap(current_sorted, reference_sorted))
    effective = n * m / (n + m)
    # The same approximation as scipy.stats.ks_2samp(method="asymp"): one-sample Kolmogorov law at n*m/(n+m).
    p_value = float(stats.kstwo.sf(statistic, round(effective)))
    return statistic, min(max(p_value, 0.0), 1.0)


def _largest_gap(own_sorted: np.ndarray, other_sorted: np.ndarray) -> float:
    """max |F_own - F_other| over the points of ``own``. At the last copy of each value F_own is its rank / n,
    so only the other sample needs a binary search."""
    last_of_run = np.empty(len(own_sorted), dtype=bool)
    np.not_equal(own_sorted[1:], own_sorted[:-1], out=last_of_run[:-1])
    last_of_run[-1] = True
    positions = np.flatnonzero(last_of_run)
    own_cdf = (positions + 1) / len(own_sorted)
    other_cdf = np.searchsorted(other_sorted, own_sorted[positions], side="right") / len(other_sorted)
    return float(np.abs(own_cdf - other_cdf).max())


def psi(expected: np.ndarray, actual: np.ndarray) -> float:
    """Population Stability Index of two frequency vectors over the same bins."""
    p = np.maximum(expected / expected.sum(), EPSILON)
    q = np.maximum(actual / actual.sum(), EPSILON)
    return float(np.sum((q - p) * np.log(q / p)))


def js_distance(expected: np.ndarray, actual: np.ndarray) -> float:
    """Jensen-Shannon distance (square root of the divergence, base 2) of two frequency vectors."""
    p = expected / expected.sum()
    q = actual / actual.sum()
    m = 0.5 * (p + q)
    divergence = 0.5 * (special.rel_entr(p, m).sum() + special.rel_entr(q, m).sum()) / np.log(2)
    return float(np.sqrt(max(divergence, 0.0)))


def chi_square_test(expected_counts: np.ndarray, actual_counts: np.ndarray) -> tuple[float, float]:
    """Pearson chi-square homogeneity test on a 2 x k contingency table (categories seen in either)."""
    table = np.vstack([expected_counts, actual_counts]).astype(np.float64)
    table = table[:, table.sum(axis=0) > 0]
    if table.shape[1] < 2:
        return 0.0, 1.0
    expected = table.sum(axis=1, keepdims=True) * table.sum(axis=0, keepdims=True) / table.sum()
    statistic = float(((table - expected) ** 2 / expected).sum())
    p_value = float(special.chdtrc(table.shape[1] - 1, statistic))
    return statistic, p_value


def quantile_edges(reference_sorted: np.ndarray, bins: int) -> np.ndarray:
    """Inner bin edges at reference quantiles (duplicates dropped for features with few distinct values)."""
    positions = (np.arange(1, bins) * len(reference_sorted)) // bins
    return np.unique(reference_sorted[positions])


def numeric_drift(
    feature: str, reference: np.ndarray, current: np.ndarray, thresholds: DriftThresholds
) -> FeatureDrift:
    reference_sorted = np.sort(np.asarray(reference, dtype=np.float64))
    current_sorted = np.sort(np.asarray(current, dtype=np.float64))
    statistic, p_value = ks_test(reference_sorted, current_sorted)
    edges = quantile_edges(reference_sorted, thresholds.bins)
    # Counts per bin from the sorted arrays: a searchsorted of the few edges, not of every value.
    ref_counts = np.diff(np.searchsorted(reference_sorted, edges, side="right"), prepend=0, append=len(reference))
    cur_counts = np.diff(np.searchsorted(current_sorted, edges, side="right"), prepend=0, append=len(current))
    ref_counts = ref_counts.astype(np.float64)
    cur_counts = cur_counts.astype(np.float64)
    psi_value, js_value = psi(ref_counts, cur_counts), js_distance(ref_counts, cur_counts)
    drifted = p_value < thresholds.alpha and (psi_value >= thresholds.psi or js_value >= thresholds.js)
    low, high = min(reference_sorted[0], current_sorted[0]), max(reference_sorted[-1], current_sorted[-1])
    plot_edges = np.linspace(low, high if high > low else low + 1.0, PLOT_BINS + 1)
    return FeatureDrift(
        feature,
        "numeric",
        "ks",
        statistic,
        p_value,
        psi_value,
        js_value,
        bool(drifted),
        len(reference),
        len(current),
        plot_edges.tolist(),
        _histogram(reference_sorted, plot_edges),
        _histogram(current_sorted, plot_edges),
    )


def _histogram(sorted_values: np.ndarray, edges: np.ndarray) -> list[int]:
    """np.histogram's counts (last bin closed) from a sorted sample: one binary search per edge."""
    inner = np.searchsorted(sorted_values, edges[1:-1], side="left")
    return np.diff(inner, prepend=0, append=len(sorted_values)).tolist()


def categorical_drift(
    feature: str, reference: np.ndarray, current: np.ndarray, thresholds: DriftThresholds
) -> FeatureDrift:
    ref_shares, cur_shares = _category_counts(reference), _category_counts(current)
    categories = ref_shares.index.union(cur_shares.index)
    ref_counts = ref_shares.reindex(categories, fill_value=0).to_numpy(dtype=np.float64)
    cur_counts = cur_shares.reindex(categories, fill_value=0).to_numpy(dtype=np.float64)
    statistic, p_value = chi_square_test(ref_counts, cur_counts)
    psi_value, js_value = psi(ref_counts, cur_counts), js_distance(ref_counts, cur_counts)
    drifted = p_value < thresholds.alpha and (psi_value >= thresholds.psi or js_value >= thresholds.js)
    return FeatureDrift(
        feature,
        "categorical",
        "chi2",
        statistic,
        p_value,
        psi_value,
        js_value,
        bool(drifted),
        len(reference),
        len(current),
        [str(c) for c in categories],
        ref_counts.tolist(),
        cur_counts.tolist(),
    )


def _category_counts(values: np.ndarray) -> pd.Series:
    """Counts per category, by hashing (linear time on a million strings); labels compared as text."""
    counts = pd.Series(values).value_counts(sort=False)
    counts.index = counts.index.astype(str)  # a handful of labels, not a million values
    return counts.groupby(level=0).sum()


def detect_drift(
    reference: pd.DataFrame,
    current: pd.DataFrame,
    numeric: Sequence[str],
    categorical: Sequence[str] = (),
    thresholds: DriftThresholds | None = None,
    workers: int = 2,
) -> DriftResult:
    """Per-feature drift of ``current`` against ``reference``. Features run in threads (numpy sorts release the GIL)."""
    thresholds = thresholds or DriftThresholds()
    missing = [c for c in (*numeric, *categorical) if c not in reference.columns or c not in current.columns]
    if missing:
        raise KeyError(f"column(s) {missing} missing from the reference or the current table")
    if reference.empty or current.empty:
        raise ValueError("drift needs rows in both the reference and the current table")
    jobs = [(numeric_drift, c) for c in numeric] + [(categorical_drift, c) for c in categorical]

    def run(job: tuple) -> FeatureDrift:
        function, column = job
        return function(column, reference[column].to_numpy(), current[column].to_numpy(), thresholds)

    if workers > 1 and len(jobs) > 1:
        with ThreadPoolExecutor(max_workers=workers) as pool:
            features = list(pool.map(run, jobs))
    else:
        features = [run(job) for job in jobs]
    return DriftResult(features, thresholds)
