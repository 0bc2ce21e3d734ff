"""The kit's drift report vs evidently's DataDriftPreset on the same 1M x 8 table with planted drift.

Run (evidently lives in its own venv because its pins clash with the kit's):

    python3 -m venv /work/venvs/evidently
    /work/venvs/evidently/bin/pip install evidently==0.7.23 pandas==2.3.3
    PYTHONPATH=. .venv/bin/python benchmarks/drift_vs_evidently.py --rows 1000000

Both sides get the same two tables (seeded, passed as ``.npz``), and both are timed from in-memory DataFrames
to a written HTML report. Printed: seconds per side, the ratio, and per-feature drift verdicts side by side.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

NUMERIC = [f"x{i}" for i in range(6)]
CATEGORICAL = ["c0", "c1"]
# What is planted: x0 mean +0.5 std, x1 scale x1.5, x2 mean +0.25 std; c0 shares move. x3-x5 and c1 do not drift.
PLANTED = {"x0": True, "x1": True, "x2": True, "x3": False, "x4": False, "x5": False, "c0": True, "c1": False}

EVIDENTLY_SIDE = r"""
import json, sys, time
import numpy as np, pandas as pd
from evidently import DataDefinition, Dataset, Report
from evidently.presets import DataDriftPreset

data = np.load(sys.argv[1], allow_pickle=False)
numeric, categorical = json.loads(sys.argv[2]), json.loads(sys.argv[3])
def frame(prefix):
    table = {c: data[f"{prefix}_{c}"] for c in numeric}
    table.update({c: data[f"{prefix}_{c}"].astype(str) for c in categorical})
    return pd.DataFrame(table)
reference, current = frame("ref"), frame("cur")
definition = DataDefinition(numerical_columns=numeric, categorical_columns=categorical)
start = time.perf_counter()
snapshot = Report([DataDriftPreset()]).run(
    Dataset.from_pandas(current, data_definition=definition),
    Dataset.from_pandas(reference, data_definition=definition),
)
snapshot.save_html(sys.argv[4])
seconds = time.perf_counter() - start
verdicts = {}
for result in snapshot.dict()["metrics"]:
    name = result.get("metric_name", "")
    if name.startswith("ValueDrift("):
        column = result["config"]["column"]
        method = result["config"].get("method")
        threshold = result["config"].get("threshold")
        value = result["value"]
        verdicts[column] = {"method": method, "score": value, "threshold": threshold}
print(json.dumps({"seconds": seconds, "verdicts": verdicts}))
"""


def make_tables(rows: int, seed: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    rng = np.random.default_rng(seed)
    reference = {c: rng.normal(0.0, 1.0, rows) for c in NUMERIC}
    current = {c: rng.normal(0.0, 1.0, rows) for c in NUMERIC}
    current["x0"] = current["x0"] + 0.5
    current["x1"] = current["x1"] * 1.5
    current["x2"] = current["x2"] + 0.25
    levels = np.array(["a", "b", "c"])
    reference["c0"] = levels[rng.choice(3, rows, p=[0.5, 0.3, 0.2])]
    current["c0"] = levels[rng.choice(3, rows, p=[0.25, 0.35, 0.4])]
    reference["c1"] = levels[rng.choice(3, rows, p=[0.6, 0.3, 0.1])]
    current["c1"] = levels[rng.choice(3, rows, p=[0.6, 0.3, 0.1])]
    return pd.DataFrame(reference), pd.DataFrame(current)


def run_kit(reference: pd.DataFrame, current: pd.DataFrame, out: Path) -> tuple[float, dict[str, bool], dict]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot

    from components.drift.logic import detect_drift
    from components.drift.report import drift_report_html

    start = time.perf_counter()
    result = detect_drift(reference, current, NUMERIC, CATEGORICAL)
    out.write_text(drift_report_html(reference, current, result))
    seconds = time.perf_counter() - start
    return seconds, {f.feature: f.drifted for f in result.features}, {f.feature: f for f in result.features}


def run_evidently(python: Path, data_file: Path, out: Path) -> dict:
    done = subprocess.run(
        [str(python), "-c", EVIDENTLY_SIDE, str(data_file), json.dumps(NUMERIC), json.dumps(CATEGORICAL), str(out)],
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        sys.exit(f"evidently side failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--evidently-python", type=Path, default=Path("/work/venvs/evidently/bin/python"))
    parser.add_argument("--out", type=Path, default=Path("build/benchmarks"))
    args = parser.parse_args()
    if not args.evidently_python.exists():
        sys.exit(f"no evidently venv at {args.evidently_python}: create it as shown in this script's docstring")
    args.out.mkdir(parents=True, exist_ok=True)
    reference, current = make_tables(args.rows, args.seed)
    with tempfile.TemporaryDirectory() as scratch:
        data_file = Path(scratch) / "tables.npz"
        arrays = {f"ref_{c}": reference[c].to_numpy() for c in reference.columns}
        arrays.update({f"cur_{c}": current[c].to_numpy() for c in current.columns})
        np.savez(data_file, **{k: (v.astype("U1") if v.dtype == object else v) for k, v in arrays.items()})
        # The kit is timed before and after evidently and the mean is used: on a shared machine the load can
        # change during evidently's minute-long run.
        before, kit_verdicts, kit_features = run_kit(reference, current, args.out / "kit_drift.html")
        evidently = run_evidently(args.evidently_python, data_file, args.out / "evidently_drift.html")
        after, _, _ = run_kit(reference, current, args.out / "kit_drift.html")
        kit_seconds = (before + after) / 2
    print(f"rows: {args.rows:,} x {len(NUMERIC) + len(CATEGORICAL)} features (seed {args.seed})")
    print(f"{'feature':8} {'planted':8} {'kit':22} {'evidently':34} agree")
    agree_all = True
    for column in [*NUMERIC, *CATEGORICAL]:
        f = kit_features[column]
        e = evidently["verdicts"][column]
        e_drift = e["score"] >= e["threshold"]
        agree = e_drift == kit_verdicts[column] == PLANTED[column]
        agree_all &= agree
        kit_text = f"{'DRIFT' if f.drifted else 'ok':5} psi={f.psi:.3f}"
        e_text = f"{'DRIFT' if e_drift else 'ok':5} {e['method'][:14]}={e['score']:.3f}"
        print(f"{column:8} {PLANTED[column]!s:8} {kit_text:22} {e_text:34} {'yes' if agree else 'NO'}")
    ratio = kit_seconds / evidently["seconds"]
    print(f"kit runs: {before:.2f} s before evidently, {after:.2f} s after")
    print(f"kit: {kit_seconds:.2f} s   evidently: {evidently['seconds']:.2f} s   ratio kit/evidently: {ratio:.3f}")
    print(f"all verdicts agree with each other and with the planted drift: {agree_all}")


if __name__ == "__main__":
    main()
