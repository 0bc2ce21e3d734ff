"""A deterministic stream of penguin batches whose drift grows batch after batch.

Batch ``k`` is ``rows`` penguins sampled from the clean palmerpenguins table with the random stream
``(seed, k)``, without replacement while ``rows`` fits in the table (so a batch never holds the same penguin
twice and its train/test split does not leak). Batches before ``knobs.start`` are left as sampled: batch 0
is the reference distribution. From batch ``start`` on, the drift *level* is ``k - start + 1`` and

- every feature in ``knobs.numeric`` is shifted by ``level * knobs.shift_per_batch`` reference standard deviations
  (the species label is kept, so the feature -> species relation moves and an old model loses accuracy);
- a share ``level * knobs.move_per_batch`` (capped at 1) of the rows gets ``knobs.categorical`` set to
  ``knobs.category``.

The same arguments always give the same batches, byte for byte.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from components.common.schema import CATEGORICAL_FEATURES, NUMERIC_FEATURES
from components.ingest.logic import load_penguins_clean


@dataclass(frozen=True)
class DriftKnobs:
    numeric: tuple[str, ...] = ("flipper_length_mm", "body_mass_g")
    shift_per_batch: float = 0.5  # reference standard deviations added per drift level
    categorical: str | None = "island"
    category: str = "Torgersen"
    move_per_batch: float = 0.1  # share of rows moved to `category` per drift level
    start: int = 1  # first drifted batch; batches before it are the reference distribution

    def __post_init__(self) -> None:
        unknown = [c for c in self.numeric if c not in NUMERIC_FEATURES]
        if unknown:
            raise ValueError(f"unknown numeric feature(s) {unknown}; choose from {list(NUMERIC_FEATURES)}")
        if self.categorical is not None:
            allowed = CATEGORICAL_FEATURES.get(self.categorical)
            if allowed is None:
                raise ValueError(
                    f"unknown categorical feature {self.categorical!r}; choose from {list(CATEGORICAL_FEATURES)}"
                )
            if self.category not in allowed:
                raise ValueError(f"{self.categorical!r} has no value {self.category!r}; allowed: {list(allowed)}")
        if self.start < 0 or not 0.0 <= self.move_per_batch <= 1.0:
            raise ValueError("start must be >= 0 and move_per_batch within [0, 1]")


@dataclass(frozen=True)
class BatchInfo:
    index: int
    level: int
    rows: int
    path: str
    shifts: dict[str, float] = field(default_factory=dict)
    moved_share: float = 0.0


def drift_level(index: int, knobs: DriftKnobs) -> int:
    return max(0, index - knobs.start + 1)


def make_batch(
    index: int,
    reference: pd.DataFrame,
    rows: int = 200,
    seed: int = 0,
    knobs: DriftKnobs | None = None,
    scale: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """Batch ``index`` of the stream (see the module docstring for what drifts and by how much).

    Shifts are measured in standard deviations of ``scale`` (default: ``reference``). The grader samples
    batches from its visible rows and held-out rows from the penguins it generates (``grading.heldout``),
    both scaled by the whole public table, so the two get the same drift.
    """
    knobs = knobs or DriftKnobs()
    scale = reference if scale is None else scale
    if rows < 1:
        raise ValueError(f"rows must be positive, got {rows}")
    rng = np.random.default_rng([seed, index])  # independent streams per (seed, batch)
    picked = rng.choice(len(reference), size=rows, replace=rows > len(reference))
    batch = reference.iloc[picked].reset_index(drop=True).copy()
    level = drift_level(index, knobs)
    if level:
        for column in knobs.numeric:
            batch[column] = batch[column] + level * knobs.shift_per_batch * float(scale[column].std())
        if knobs.categorical is not None:
            moved = rng.random(rows) < min(1.0, level * knobs.move_per_batch)
            batch.loc[moved, knobs.categorical] = knobs.category
    return batch


def write_batches(
    out: Path, n: int, rows: int = 200, seed: int = 0, knobs: DriftKnobs | None = None
) -> list[BatchInfo]:
    """Write ``batch-000.csv`` ... and ``batches.json`` (the knobs and what each batch got) into ``out``."""
    import json

    if n < 1:
        raise ValueError(f"n must be at least 1, got {n}")
    knobs = knobs or DriftKnobs()
    reference = load_penguins_clean()
    out.mkdir(parents=True, exist_ok=True)
    infos = []
    for index in range(n):
        batch = make_batch(index, reference, rows=rows, seed=seed, knobs=knobs)
        path = out / f"batch-{index:03d}.csv"
        batch.to_csv(path, index=False)
        level = drift_level(index, knobs)
        infos.append(
            BatchInfo(
                index=index,
                level=level,
                rows=len(batch),
                path=str(path),
                shifts={c: level * knobs.shift_per_batch for c in knobs.numeric},
                moved_share=min(1.0, level * knobs.move_per_batch) if knobs.categorical else 0.0,
            )
        )
    manifest = {"seed": seed, "rows": rows, "knobs": asdict(knobs), "batches": [asdict(i) for i in infos]}
    (out / "batches.json").write_text(json.dumps(manifest, indent=2))
    return infos
