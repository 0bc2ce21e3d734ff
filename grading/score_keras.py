"""Runs in a child process of the grader: score a Keras model folder on held-out rows and print JSON.

The numpy reader (``components.common.inference``) executes nothing from a model file, but it still parses
the JSON and HDF5 a submission wrote, and an HDF5 dataset can be tiny on disk and gigabytes once read. So
``grading.grader.score_heldout`` runs this with memory and CPU limits: a crafted file costs the submission
its metrics, never the grader its process.
"""

from __future__ import annotations

import argparse
import json
import sys
import traceback
from pathlib import Path
from typing import Any


def heldout_summary(evaluation: Any, rows: int) -> dict[str, Any]:
    """What a grade reports of a ``components.evaluate.logic.Evaluation`` on held-out rows."""
    return {
        "accuracy": round(evaluation.accuracy, 4),
        "macro_f1": round(evaluation.macro_f1, 4),
        "baseline_accuracy": round(evaluation.baseline_accuracy, 4),
        "rows": rows,
    }


def error_code(exc: BaseException) -> str:
    """The kind of failure, the only thing about it the grader may show: error text can carry whatever the model
    file made the reader read (see ``components.common.inference.RefusedModelError``)."""
    from components.common.inference import RefusedModelError, UnsupportedModelError

    kinds = ((RefusedModelError, "refused"), (UnsupportedModelError, "unsupported"), (FileNotFoundError, "missing"))
    return next((code for kind, code in (*kinds, (MemoryError, "memory")) if isinstance(exc, kind)), "invalid")


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--model", required=True, type=Path)
    parser.add_argument("--given", required=True, type=Path, help="CSV of the rows the model was trained from")
    parser.add_argument("--rows", required=True, type=Path, help="CSV of the held-out rows to score")
    ns = parser.parse_args(argv)

    import pandas as pd

    from components.evaluate.logic import evaluate_model_dir

    rows = pd.read_csv(ns.rows)
    try:
        result = evaluate_model_dir(ns.model, pd.read_csv(ns.given), rows, threshold=0.0)
    except Exception as exc:
        traceback.print_exc()  # stderr: the grader's log, never a report
        print(json.dumps({"error": error_code(exc)}))
        return 3
    print(json.dumps(heldout_summary(result, len(rows))))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
