"""Schema and sanity checks on a raw table, plus the statistics later steps and the lab guide show."""

from __future__ import annotations

from typing import Any

import pandas as pd

from components.common.schema import CATEGORICAL_FEATURES, CLASSES, COLUMNS, LABEL, NUMERIC_FEATURES


class DataValidationError(ValueError):
    """The data does not match the schema; the message names every offending column."""


def _rows(index: pd.Index, limit: int = 5) -> str:
    shown = ", ".join(str(i) for i in index[:limit])
    return shown + (", ..." if len(index) > limit else "")


def find_problems(table: pd.DataFrame) -> list[str]:
    """Every way ``table`` breaks the schema, one sentence each, naming the column and some rows."""
    if table.shape[1] == 0 or table.empty:
        return ["el dataset está vacío (0 filas): revisá el archivo de origen o el paso ingest"]
    problems = []
    missing_columns = [column for column in COLUMNS if column not in table.columns]
    if missing_columns:
        names = ", ".join(repr(column) for column in missing_columns)
        problems.append(f"faltan columnas: {names} (columnas esperadas: {', '.join(COLUMNS)})")
    for column in COLUMNS:
        if column not in table.columns:
            continue
        values = table[column]
        missing = values.isna()
        if missing.any():
            problems.append(
                f"la columna {column!r} tiene {int(missing.sum())} valor(es) faltante(s) "
                f"(filas {_rows(table.index[missing])})"
            )
        present = values[~missing]
        if column in NUMERIC_FEATURES:
            numbers = pd.to_numeric(present, errors="coerce")
            bad = numbers.isna()
            if bad.any():
                example = present[bad].iloc[0]
                problems.append(
                    f"la columna {column!r} tiene que ser numérica pero tiene {int(bad.sum())} valor(es) no "
                    f"numérico(s), p. ej. {example!r} (filas {_rows(present.index[bad])})"
                )
        else:
            allowed = CLASSES if column == LABEL else CATEGORICAL_FEATURES[column]
            unknown = ~present.astype(str).isin(allowed)
            if unknown.any():
                values_seen = sorted(set(present[unknown].astype(str)))[:3]
                problems.append(
                    f"la columna {column!r} tiene valor(es) desconocido(s) {values_seen} (permitidos: {list(allowed)})"
                )
    return problems


def describe(table: pd.DataFrame) -> dict[str, Any]:
    """Per-column statistics of a valid table: what a student reads before training."""
    numeric = {
        column: {
            "mean": float(table[column].mean()),
            "std": float(table[column].std()),
            "min": float(table[column].min()),
            "max": float(table[column].max()),
        }
        for column in NUMERIC_FEATURES
    }
    categorical = {
        column: {str(k): int(v) for k, v in table[column].value_counts().sort_index().items()}
        for column in (LABEL, *CATEGORICAL_FEATURES)
    }
    return {"rows": len(table), "numeric": numeric, "categorical": categorical}


def validate_table(table: pd.DataFrame) -> dict[str, Any]:
    """Statistics of ``table``, or a DataValidationError listing every problem found."""
    problems = find_problems(table)
    if problems:
        raise DataValidationError("los datos no pasan la validación: " + "; ".join(problems))
    return describe(table)
