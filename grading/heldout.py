"""Held-out rows no submission can have: penguins the grader generates from the hidden seed.

The public penguins table (the ``palmerpenguins`` package) is importable in the sandbox, so any of its rows
can be memorised: a lookup model, or a train step that reads all of it. The grader therefore never scores
on public rows. It fits, on the clean public table, per-class distributions and draws new penguins from them:

- species in the table's proportions (every species gets its share of the ``rows``, as in a stratified split);
- sex given species, and island given species, with the table's frequencies (so Gentoo stay on Biscoe and
  Chinstrap on Dream);
- the four measurements from a multivariate normal per (species, sex) — the table's means and covariances,
  so males stay heavier and the features keep their correlations — clipped to the species' observed range
  widened by half a standard deviation, and rounded to the table's precision (0.1 mm bills, whole-mm
  flippers, body mass in steps of 25 g);
- any row whose four measurements equal those of a public row is drawn again, so an exact-match lookup over
  the public table finds none of them.

Only the grader (the host) reads the public table to fit; the sandbox and the scorers get the generated rows
as a CSV. The same ``(rows, seed)`` always give the same rows, byte for byte.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import pandas as pd

from components.common.schema import CATEGORICAL_FEATURES, CLASSES, COLUMNS, LABEL, NUMERIC_FEATURES

DESIGN = "generated-v1"  # part of grading.batch's grading key: change it whenever the generated rows change
STREAM = 2_000_029  # the generator's random stream is (seed, STREAM): apart from the split's and batches'
STEPS = {"bill_length_mm": 0.1, "bill_depth_mm": 0.1, "flipper_length_mm": 1.0, "body_mass_g": 25.0}
MARGIN = 0.5  # clip range: the species' observed [min, max] widened by this many standard deviations
MAX_REDRAWS = 100


@dataclass(frozen=True)
class Group:
    mean: np.ndarray
    cov: np.ndarray


@dataclass(frozen=True)
class Fitted:
    class_share: dict[str, float]
    sex: dict[str, dict[str, float]]  # species -> sex -> frequency
    island: dict[str, dict[str, float]]  # species -> island -> frequency
    groups: dict[tuple[str, str], Group]  # (species, sex) -> measurements' normal
    low: dict[str, np.ndarray]  # species -> clip floor per numeric feature
    high: dict[str, np.ndarray]
    public: frozenset[tuple[float, ...]]  # the public rows' measurements, rounded like generated ones


def _round(values: np.ndarray) -> np.ndarray:
    steps = np.array([STEPS[c] for c in NUMERIC_FEATURES])
    return np.round(np.round(values / steps) * steps, 1)


def _frequencies(column: pd.Series, allowed: tuple[str, ...]) -> dict[str, float]:
    counts = column.value_counts()
    return {value: float(counts.get(value, 0)) / len(column) for value in allowed}


def fit(table: pd.DataFrame) -> Fitted:
    """The per-class distributions of ``table`` (the clean public penguins)."""
    numeric = list(NUMERIC_FEATURES)
    groups, low, high, sex, island = {}, {}, {}, {}, {}
    for species in CLASSES:
        rows = table[table[LABEL] == species]
        sex[species] = _frequencies(rows["sex"], CATEGORICAL_FEATURES["sex"])
        island[species] = _frequencies(rows["island"], CATEGORICAL_FEATURES["island"])
        values = rows[numeric].to_numpy(dtype=float)
        spread = values.std(axis=0, ddof=1)
        steps = np.array([STEPS[c] for c in NUMERIC_FEATURES])  # bounds on the grid: rounding stays inside
        low[species] = np.round(np.ceil(np.maximum(values.min(axis=0) - MARGIN * spread, 0.0) / steps) * steps, 1)
        high[species] = np.round(np.floor((values.max(axis=0) + MARGIN * spread) / steps) * steps, 1)
        for name in CATEGORICAL_FEATURES["sex"]:
            part = rows.loc[rows["sex"] == name, numeric].to_numpy(dtype=float)
            groups[(species, name)] = Group(part.mean(axis=0), np.cov(part, rowvar=False))
    share = _frequencies(table[LABEL], CLASSES)
    public = frozenset(map(tuple, _round(table[numeric].to_numpy(dtype=float))))
    return Fitted(share, sex, island, groups, low, high, public)


@lru_cache(maxsize=1)
def fitted_public() -> Fitted:
    from components.ingest.logic import load_penguins_clean

    return fit(load_penguins_clean())


def class_counts(rows: int, share: dict[str, float]) -> dict[str, int]:
    """``rows`` split between the classes in proportion to ``share`` (largest remainders), each at least 1."""
    exact = {c: rows * share[c] for c in CLASSES}
    counts = {c: max(1, int(exact[c])) for c in CLASSES}
    by_remainder = sorted(CLASSES, key=lambda c: exact[c] - int(exact[c]), reverse=True)
    for species in by_remainder[: max(0, rows - sum(counts.values()))]:
        counts[species] += 1
    return counts


def generate(rows: int, seed: int, fitted: Fitted | None = None) -> pd.DataFrame:
    """``rows`` new penguins (kit columns, shuffled), deterministic from ``seed``."""
    if rows < len(CLASSES):
        raise ValueError(f"need at least {len(CLASSES)} held-out rows (one per species), got {rows}")
    fitted = fitted or fitted_public()
    rng = np.random.default_rng([seed, STREAM])
    parts = []
    for species, count in class_counts(rows, fitted.class_share).items():
        sexes = CATEGORICAL_FEATURES["sex"]
        islands = CATEGORICAL_FEATURES["island"]
        sex = rng.choice(sexes, size=count, p=[fitted.sex[species][s] for s in sexes])
        island = rng.choice(islands, size=count, p=[fitted.island[species][i] for i in islands])
        values = np.empty((count, len(NUMERIC_FEATURES)))
        for name in sexes:
            mine = np.flatnonzero(sex == name)
            values[mine] = _draw(rng, fitted, species, name, len(mine))
        parts.append(
            pd.DataFrame(
                {LABEL: species, "island": island, "sex": sex, **dict(zip(NUMERIC_FEATURES, values.T, strict=True))}
            )
        )
    table = pd.concat(parts, ignore_index=True)[list(COLUMNS)]
    return table.iloc[rng.permutation(len(table))].reset_index(drop=True)


def _draw(rng: np.random.Generator, fitted: Fitted, species: str, sex: str, count: int) -> np.ndarray:
    group = fitted.groups[(species, sex)]
    out = np.empty((count, len(NUMERIC_FEATURES)))
    todo = np.arange(count)
    for _ in range(MAX_REDRAWS):
        if not len(todo):
            return out
        drawn = rng.multivariate_normal(group.mean, group.cov, size=len(todo), method="cholesky")
        out[todo] = _round(np.clip(drawn, fitted.low[species], fitted.high[species]))
        todo = np.array([i for i in todo if tuple(out[i]) in fitted.public], dtype=int)
    raise RuntimeError(f"could not draw {species}/{sex} penguins unlike the public ones")  # pragma: no cover
