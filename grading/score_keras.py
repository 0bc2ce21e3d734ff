"""Runs apart from the grader: predict held-out rows with a submission's Keras model and print the classes.

Executed as a script (``python -I score_keras.py --model DIR --features CSV``), never imported by the grader:
in a fresh container of the components image when grading in Docker, else as a child process with memory and
CPU limits. It gets the model and the held-out *features* only; the grader keeps the labels.

The numpy reader (``components.common.inference``) executes nothing from a model file, but it parses the JSON
and HDF5 a submission wrote: an HDF5 dataset can be tiny on disk and gigabytes once read, and a model can
declare any columns. So the model must use the kit's schema (its feature columns, its three classes), and a
failure prints only a code (``LABKIT-ERROR code``), never the reader's text, which can carry what the file
pointed at.
"""

from __future__ import annotations

import argparse
import json
import sys
import traceback
from pathlib import Path
from typing import Any

PREDICTIONS = "LABKIT-PREDICTIONS "


def schema_problem(preprocessing: dict[str, Any]) -> str | None:
    """Why a model's preprocessing is not the kit's schema, or None: only feature columns, the kit's classes."""
    from components.common.schema import CATEGORICAL_FEATURES, CLASSES, NUMERIC_FEATURES

    numeric, categorical = preprocessing.get("numeric"), preprocessing.get("categorical")
    if not isinstance(numeric, dict) or not isinstance(categorical, dict):
        return "numeric and categorical must be objects"
    if not set(numeric) <= set(NUMERIC_FEATURES) or not set(categorical) <= set(CATEGORICAL_FEATURES):
        return "columns outside the kit's features"
    if any(not isinstance(v, list) or not set(v) <= set(CATEGORICAL_FEATURES[k]) for k, v in categorical.items()):
        return "categories outside the kit's schema"
    if preprocessing.get("classes") != list(CLASSES):
        return "classes are not the kit's"
    return None


def error_code(exc: BaseException) -> str:
    from components.common.inference import RefusedModelError, UnsupportedModelError

    kinds = ((RefusedModelError, "refused"), (UnsupportedModelError, "unsupported"), (FileNotFoundError, "missing"))
    return next((code for kind, code in (*kinds, (MemoryError, "memory")) if isinstance(exc, kind)), "invalid")


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--model", required=True, type=Path)
    parser.add_argument("--features", required=True, type=Path, help="CSV of held-out features, no label column")
    parser.add_argument("--kit", default="", help="folder holding the kit's components package")
    ns = parser.parse_args(argv)
    if ns.kit:
        sys.path.insert(0, ns.kit)

    import pandas as pd

    from components.common.inference import load_dense_network

    features = pd.read_csv(ns.features)
    try:
        network = load_dense_network(ns.model)
        if problem := schema_problem(network.preprocessing):
            print(f"the model's preprocessing.json: {problem}", file=sys.stderr)
            print("LABKIT-ERROR schema")
            return 3
        predictions = network.predict(features)
    except Exception as exc:
        traceback.print_exc()  # the grader's log, never a report
        print(f"LABKIT-ERROR {error_code(exc)}")
        return 3
    print(PREDICTIONS + json.dumps([int(value) for value in predictions]), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
