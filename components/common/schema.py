"""The penguins table as every component sees it: column names, types and allowed values."""

from __future__ import annotations

NUMERIC_FEATURES: tuple[str, ...] = ("bill_length_mm", "bill_depth_mm", "flipper_length_mm", "body_mass_g")
CATEGORICAL_FEATURES: dict[str, tuple[str, ...]] = {
    "island": ("Biscoe", "Dream", "Torgersen"),
    "sex": ("female", "male"),
}
LABEL = "species"
CLASSES: tuple[str, ...] = ("Adelie", "Chinstrap", "Gentoo")
COLUMNS: tuple[str, ...] = (LABEL, *CATEGORICAL_FEATURES, *NUMERIC_FEATURES)
