import pandas as pd
import pytest

from components.ingest.logic import load_penguins_clean, load_source
from components.validate.logic import DataValidationError, find_problems, validate_table


@pytest.fixture(scope="module")
def penguins() -> pd.DataFrame:
    return load_penguins_clean()


def test_clean_penguins_pass_and_are_described(penguins: pd.DataFrame) -> None:
    stats = validate_table(penguins)
    assert stats["rows"] == 333
    assert stats["categorical"]["species"] == {"Adelie": 146, "Chinstrap": 68, "Gentoo": 119}
    assert 4000 < stats["numeric"]["body_mass_g"]["mean"] < 4400


def test_missing_column_is_named(penguins: pd.DataFrame) -> None:
    with pytest.raises(DataValidationError, match=r"faltan columnas.*'body_mass_g'"):
        validate_table(penguins.drop(columns=["body_mass_g"]))


def test_nan_is_named_with_rows(penguins: pd.DataFrame) -> None:
    broken = penguins.copy()
    broken.loc[[3, 7], "flipper_length_mm"] = None
    (problem,) = find_problems(broken)
    assert problem == "la columna 'flipper_length_mm' tiene 2 valor(es) faltante(s) (filas 3, 7)"


def test_wrong_dtype_is_named_with_example(penguins: pd.DataFrame) -> None:
    broken = penguins.astype({"bill_depth_mm": object})
    broken.loc[5, "bill_depth_mm"] = "deep"
    (problem,) = find_problems(broken)
    assert "la columna 'bill_depth_mm' tiene que ser numérica" in problem and "'deep'" in problem


def test_unknown_category_is_named(penguins: pd.DataFrame) -> None:
    broken = penguins.copy()
    broken.loc[0, "island"] = "Atlantis"
    (problem,) = find_problems(broken)
    assert "la columna 'island' tiene valor(es) desconocido(s) ['Atlantis']" in problem


def test_empty_file_is_reported(tmp_path) -> None:
    empty = tmp_path / "empty.csv"
    empty.write_text("")
    with pytest.raises(DataValidationError, match="vacío"):
        validate_table(load_source(str(empty)))


def test_unknown_source_says_what_is_accepted() -> None:
    with pytest.raises(FileNotFoundError, match="palmerpenguins"):
        load_source("/no/such/file.csv")
