"""The held-out rows are secret: generated from the hidden seed, never rows of the public penguins table.

A submission can import ``palmerpenguins`` in the sandbox, so these tests play the memoriser: a lookup of the
public table, and models trained on all of it (held-out rows of the old design included). On the generated
rows the lookup finds nothing and the models do no better than an honest one trained on the visible rows.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from components.common.schema import CLASSES, LABEL, NUMERIC_FEATURES
from components.ingest.logic import load_penguins_clean
from components.split.logic import stratified_split
from grading.datasets import write_data
from grading.engines import heldout_split
from grading.heldout import DESIGN, class_counts, fit, generate
from grading.rubric import load_rubric
from labkit.labs import get_lab

KEY = [*NUMERIC_FEATURES, "island", "sex"]
SEEDS = [(load_rubric(get_lab(s), include_hidden=h).heldout_seed) for s in (5, 6, 7) for h in (True, False)]


@pytest.fixture(scope="module")
def public() -> pd.DataFrame:
    return load_penguins_clean()


def lookup_model(table: pd.DataFrame):
    """The memoriser: the label of the public row with exactly these features, else the majority class."""
    known = {tuple(row[KEY]): row[LABEL] for _, row in table.iterrows()}
    majority = table[LABEL].mode()[0]
    return lambda rows: np.array([known.get(tuple(row[KEY]), majority) for _, row in rows.iterrows()])


def lda_model(table: pd.DataFrame):
    """A plain linear discriminant on the four measurements (numpy only)."""
    x, y = table[list(NUMERIC_FEATURES)].to_numpy(float), table[LABEL].to_numpy()
    means = {c: x[y == c].mean(axis=0) for c in CLASSES}
    pooled = sum(np.cov(x[y == c], rowvar=False) * ((y == c).sum() - 1) for c in CLASSES) / (len(x) - len(CLASSES))
    inverse = np.linalg.inv(pooled)

    def predict(rows: pd.DataFrame) -> np.ndarray:
        z = rows[list(NUMERIC_FEATURES)].to_numpy(float)
        scores = np.stack([z @ inverse @ means[c] - 0.5 * means[c] @ inverse @ means[c] for c in CLASSES], axis=1)
        return np.array(CLASSES)[scores.argmax(axis=1)]

    return predict


def nearest_model(table: pd.DataFrame):
    """1-nearest-neighbour over standardised measurements: a memoriser that also answers unseen rows."""
    x, y = table[list(NUMERIC_FEATURES)].to_numpy(float), table[LABEL].to_numpy()
    scale = x.std(axis=0)

    def predict(rows: pd.DataFrame) -> np.ndarray:
        z = rows[list(NUMERIC_FEATURES)].to_numpy(float)
        return y[((((z[:, None, :] - x[None]) / scale) ** 2).sum(axis=-1)).argmin(axis=1)]

    return predict


def accuracy(predict, rows: pd.DataFrame) -> float:
    return float((predict(rows) == rows[LABEL].to_numpy()).mean())


def test_the_old_held_out_rows_could_be_memorised(public: pd.DataFrame) -> None:
    """Why the design changed: public held-out rows are answered perfectly by a lookup of the public table."""
    _, withheld = stratified_split(public, test_fraction=0.25, seed=SEEDS[0])
    assert accuracy(lookup_model(public), withheld) == 1.0


@pytest.mark.parametrize("seed", SEEDS)
def test_no_generated_row_is_a_public_row(public: pd.DataFrame, seed: int) -> None:
    visible, held_out = heldout_split(0.25, seed)
    assert held_out.merge(public, on=list(NUMERIC_FEATURES)).empty, "an exact lookup would find a held-out row"
    assert visible.merge(public, on=KEY).shape[0] >= len(visible), "the visible rows stay public rows"
    majority_share = float((held_out[LABEL] == public[LABEL].mode()[0]).mean())
    assert accuracy(lookup_model(public), held_out) == pytest.approx(majority_share)


@pytest.mark.parametrize("seed", SEEDS)
def test_training_on_the_whole_public_table_does_not_beat_an_honest_model(public: pd.DataFrame, seed: int) -> None:
    visible, held_out = heldout_split(0.25, seed)
    honest = accuracy(lda_model(visible), held_out)
    assert honest >= 0.93, "the generated penguins are realistic: a plain model trained on public rows scores well"
    for memoriser in (lda_model(public), nearest_model(public), lookup_model(public)):
        assert accuracy(memoriser, held_out) <= honest + 0.025


def test_session7_drifted_held_out_rows_are_not_public_either(public: pd.DataFrame, tmp_path: Path) -> None:
    rubric = load_rubric(get_lab(7))
    visible, held_out = heldout_split(rubric.heldout_fraction, rubric.heldout_seed)
    files = write_data(rubric.data, tmp_path, visible, held_out, rubric.heldout_seed)
    for name, data in files.items():
        assert data.held_out.merge(public, on=list(NUMERIC_FEATURES)).empty, name
        assert accuracy(lda_model(data.given), data.held_out) >= 0.9, f"{name}: same drift as the given batch"


def test_generation_is_deterministic_and_follows_the_public_classes(public: pd.DataFrame) -> None:
    rows = generate(400, 11)
    assert rows.to_csv(index=False) == generate(400, 11).to_csv(index=False)
    assert rows.to_csv(index=False) != generate(400, 12).to_csv(index=False)
    assert list(rows.columns) == list(public.columns)
    assert rows[LABEL].value_counts().to_dict() == class_counts(400, fit(public).class_share)
    assert set(rows.loc[rows[LABEL] == "Gentoo", "island"]) == {"Biscoe"}
    assert set(rows.loc[rows[LABEL] == "Chinstrap", "island"]) == {"Dream"}
    for species in CLASSES:
        ours = rows[rows[LABEL] == species][list(NUMERIC_FEATURES)]
        theirs = public[public[LABEL] == species][list(NUMERIC_FEATURES)]
        assert ((ours.mean() - theirs.mean()).abs() < 0.35 * theirs.std()).all(), species
        assert (ours.min() >= theirs.min() - 0.5 * theirs.std() - 1e-9).all(), species
        assert (ours.max() <= theirs.max() + 0.5 * theirs.std() + 1e-9).all(), species
    males, females = rows[rows["sex"] == "male"], rows[rows["sex"] == "female"]
    assert males["body_mass_g"].mean() > females["body_mass_g"].mean()
    assert (rows["body_mass_g"] % 25 == 0).all() and (rows["flipper_length_mm"] % 1 == 0).all()


def test_the_grading_key_names_each_engines_held_out_design() -> None:
    from grading.engines import ENGINES
    from grading.heldout_text import DESIGN as TEXT_DESIGN

    assert {name: engine.heldout_design for name, engine in ENGINES.items()} == {
        "kfp": DESIGN,
        "tfx": DESIGN,
        "kfp-lm": TEXT_DESIGN,
    }
