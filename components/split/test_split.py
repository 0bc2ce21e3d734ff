import pytest

from components.common.schema import LABEL
from components.ingest.logic import load_penguins_clean
from components.split.logic import stratified_split


def test_split_is_seeded_stratified_and_disjoint() -> None:
    table = load_penguins_clean()
    train, test = stratified_split(table, test_fraction=0.2, seed=7)
    again_train, _ = stratified_split(table, test_fraction=0.2, seed=7)
    other_train, _ = stratified_split(table, test_fraction=0.2, seed=8)
    assert train.equals(again_train)
    assert not train.equals(other_train)
    assert len(train) + len(test) == len(table)
    proportions = test[LABEL].value_counts(normalize=True) - table[LABEL].value_counts(normalize=True)
    assert proportions.abs().max() < 0.02
    assert set(map(tuple, train.to_numpy())).isdisjoint(map(tuple, test.to_numpy()))


@pytest.mark.parametrize("fraction", [0.0, 1.0, -0.5])
def test_bad_fraction_is_rejected(fraction: float) -> None:
    with pytest.raises(ValueError, match="test_fraction"):
        stratified_split(load_penguins_clean(), test_fraction=fraction, seed=1)
