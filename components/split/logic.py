"""Seeded, stratified train/test split."""

from __future__ import annotations

import numpy as np
import pandas as pd

from components.common.schema import LABEL


def stratified_split(table: pd.DataFrame, test_fraction: float, seed: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Split keeping class proportions, so a small test set still holds every species."""
    if not 0.0 < test_fraction < 1.0:
        raise ValueError(f"test_fraction must be between 0 and 1 (exclusive), got {test_fraction}")
    rng = np.random.default_rng(seed)
    test_rows: list[int] = []
    for _, group in table.groupby(LABEL, sort=True):
        positions = rng.permutation(group.index.to_numpy())
        test_rows.extend(positions[: max(1, round(len(positions) * test_fraction))])
    is_test = table.index.isin(test_rows)
    return table[~is_test].reset_index(drop=True), table[is_test].reset_index(drop=True)
