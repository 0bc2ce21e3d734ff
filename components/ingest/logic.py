"""Load the raw table a pipeline starts from, with no network access."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from components.common.schema import COLUMNS

PENGUINS_SOURCE = "palmerpenguins"


def load_penguins_clean() -> pd.DataFrame:
    """The penguins table shipped by the ``palmerpenguins`` package, kit columns only.

    The raw table has 11 incomplete rows (2 with no measurements, 9 with no sex). They are dropped here,
    once, so that every later step can treat a missing value as an error in the data.
    """
    import palmerpenguins

    raw = palmerpenguins.load_penguins()
    return raw[list(COLUMNS)].dropna().reset_index(drop=True)


def load_source(source: str) -> pd.DataFrame:
    """Load ``source``: the name ``palmerpenguins`` or the path of a CSV file, taken as it is."""
    if source == PENGUINS_SOURCE:
        return load_penguins_clean()
    path = Path(source)
    if not path.is_file():
        raise FileNotFoundError(
            f"Data source {source!r} is neither {PENGUINS_SOURCE!r} nor an existing CSV file. "
            "Pass --param source=palmerpenguins or the path of a CSV file."
        )
    try:
        return pd.read_csv(path)
    except pd.errors.EmptyDataError:
        return pd.DataFrame()
