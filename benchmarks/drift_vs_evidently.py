"""The kit's drift report vs evidently's DataDriftPreset on the same seeded tables (8 features, planted drift).

Run from the repository root (evidently lives in its own venv because its pins clash with the kit's; create it
once with --make-venv, which installs EVIDENTLY_REQUIREMENTS, listed below):

    .venv/bin/python -m benchmarks.drift_vs_evidently --make-venv
    .venv/bin/python -m benchmarks.drift_vs_evidently --repeats 3 --json benchmarks/results/drift_vs_evidently.json

A quick check (a few seconds plus evidently's start-up): --rows 200 --repeats 1.

For every size in --rows, both sides get the same two tables (reference and current, N rows each, passed as one
.npz) and each measurement is a fresh Python process (the kit's .venv python, evidently's venv python) running the
same prelude: start a timer, import numpy and pandas, load the tables, import its library, compute the drift, write
the HTML report. Per side and size, the medians over --repeats (kit and evidently alternate) of:

    imports + report  timer from the first line of the process to the written HTML, minus loading the tables
    report only       timer around the computation and the HTML write (lazy imports inside it count)
    process           wall time of the whole process, measured by this script

Printed per size: every per-feature figure of both sides (kit: verdict, PSI, JS distance, KS or chi-square p-value;
evidently: method, score, threshold, verdict), the timings and their ratios; then the ratios for all sizes.
Evidently picks its own tests: p-value tests (KS, chi-square) up to 1,000 reference rows, distances above.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks.common import REPO_ROOT, Recording, benchmark_parser

EVIDENTLY_REQUIREMENTS = ("evidently==0.7.23", "pandas==2.3.3")
# Beside the kit's own .venv, and ignored by git like it (.venv-*/).
DEFAULT_EVIDENTLY_PYTHON = REPO_ROOT / ".venv-evidently" / "bin" / "python"
DEFAULT_ROWS = (1_000, 100_000, 1_000_000)

NUMERIC = [f"x{i}" for i in range(6)]
CATEGORICAL = ["c0", "c1"]
# What is planted: x0 mean +0.5 sd, x1 scale x1.5, x2 mean +0.25 sd; c0 shares move. x3-x5 and c1 do not drift.
PLANTED = {"x0": True, "x1": True, "x2": True, "x3": False, "x4": False, "x5": False, "c0": True, "c1": False}

# How each test DataDriftPreset can pick for numeric/categorical columns turns a score into a verdict, copied from
# evidently 0.7.23 (legacy/calculations/stattests/: ks_stattest.py `p_value <= threshold`, chisquare_stattest.py and
# z_stattest.py `p_value < threshold`, wasserstein_distance_norm.py and jensenshannon.py `value >= threshold`).
# The snapshot does not carry the verdict: snapshot.dict() holds per ValueDrift only config.method,
# config.threshold and value (the score), and its "tests" list stays empty unless Report(include_tests=True)
# (core/report.py, metrics/column_statistics.py ValueDriftCalculation). Its DriftedColumnsCount is evidently's
# own count of drifted columns, so the verdicts read here are checked against it.
EVIDENTLY_DRIFT_RULES: dict[str, Callable[[float, float], bool]] = {
    "K-S p_value": lambda score, threshold: score <= threshold,
    "chi-square p_value": lambda score, threshold: score < threshold,
    "Z-test p_value": lambda score, threshold: score < threshold,
    "Wasserstein distance (normed)": lambda score, threshold: score >= threshold,
    "Jensen-Shannon distance": lambda score, threshold: score >= threshold,
}

# Both sides start the same way. argv: tables.npz, numeric columns (JSON), categorical columns (JSON), report path.
SIDE_PRELUDE = r"""
import time
started = time.perf_counter()
import argparse
import json
import sys
import numpy as np
import pandas as pd
loading = time.perf_counter()
data = np.load(sys.argv[1], allow_pickle=False)
numeric, categorical, out = json.loads(sys.argv[2]), json.loads(sys.argv[3]), sys.argv[4]
def frame(prefix):
    table = {c: data[f"{prefix}_{c}"] for c in numeric}
    table.update({c: data[f"{prefix}_{c}"].astype(str) for c in categorical})
    return pd.DataFrame(table)
reference, current = frame("ref"), frame("cur")
loaded = time.perf_counter()
"""

SIDE_TIMINGS = r"""
timings = {
    "imports_and_report": (finished - started) - (loaded - loading),
    "report_only": finished - computing,
    "load_tables": loaded - loading,
}
"""

KIT_SIDE = (
    SIDE_PRELUDE
    + r"""
from pathlib import Path
from components.drift.logic import detect_drift
from components.drift.report import drift_report_html
computing = time.perf_counter()
result = detect_drift(reference, current, numeric, categorical)
Path(out).write_text(drift_report_html(reference, current, result))
finished = time.perf_counter()
"""
    + SIDE_TIMINGS
    + r"""
features = {
    f.feature: {"drift": f.drifted, "psi": f.psi, "js": f.js_distance, "test": f.test, "p_value": f.p_value}
    for f in result.features
}
print(json.dumps({"timings": timings, "features": features}))
"""
)

EVIDENTLY_SIDE = (
    SIDE_PRELUDE
    + r"""
from evidently import DataDefinition, Dataset, Report
from evidently.presets import DataDriftPreset
computing = time.perf_counter()
definition = DataDefinition(numerical_columns=numeric, categorical_columns=categorical)
snapshot = Report([DataDriftPreset()]).run(
    Dataset.from_pandas(current, data_definition=definition),
    Dataset.from_pandas(reference, data_definition=definition),
)
snapshot.save_html(out)
finished = time.perf_counter()
"""
    + SIDE_TIMINGS
    + r"""
features, drifted_count = {}, None
for metric in snapshot.dict()["metrics"]:
    config = metric.get("config", {})
    if config.get("type") == "evidently:metric_v2:ValueDrift":
        features[config["column"]] = {
            "method": config["method"], "threshold": config["threshold"], "score": metric["value"]
        }
    elif config.get("type") == "evidently:metric_v2:DriftedColumnsCount":
        drifted_count = metric["value"]["count"]
print(json.dumps({"timings": timings, "features": features, "drifted_count": drifted_count}))
"""
)

TIMINGS = ("imports_and_report", "report_only", "process")


def make_tables(rows: int, seed: int) -> dict[str, np.ndarray]:
    """Reference and current columns as ``ref_<name>`` / ``cur_<name>`` arrays, ready for ``np.savez``."""
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
    return {f"ref_{c}": v for c, v in reference.items()} | {f"cur_{c}": v for c, v in current.items()}


def run_side(name: str, python: Path, code: str, data_file: Path, out: Path) -> dict[str, Any]:
    """One fresh process; returns what it printed, plus its wall time as ``timings["process"]``."""
    start = time.perf_counter()
    done = subprocess.run(
        [str(python), "-c", code, str(data_file), json.dumps(NUMERIC), json.dumps(CATEGORICAL), str(out)],
        capture_output=True,
        text=True,
        check=False,
        # The kit imports components/ from the repository; evidently runs outside it so nothing there shadows it.
        cwd=REPO_ROOT if name == "kit" else data_file.parent,
    )
    seconds = time.perf_counter() - start
    if done.returncode != 0:
        sys.exit(f"{name} side failed:\n{done.stderr[-3000:]}")
    measured = json.loads(done.stdout.strip().splitlines()[-1])
    measured["timings"]["process"] = seconds
    return measured


def evidently_verdicts(evidently: dict[str, Any]) -> dict[str, bool]:
    verdicts = {}
    for column, figures in evidently["features"].items():
        rule = EVIDENTLY_DRIFT_RULES.get(figures["method"])
        if rule is None:
            sys.exit(f"evidently picked {figures['method']!r} for {column}: add its direction to EVIDENTLY_DRIFT_RULES")
        verdicts[column] = rule(figures["score"], figures["threshold"])
    if evidently["drifted_count"] is not None and sum(verdicts.values()) != evidently["drifted_count"]:
        sys.exit(
            f"verdicts read from evidently's scores count {sum(verdicts.values())} drifted columns, "
            f"its DriftedColumnsCount says {evidently['drifted_count']:g}: EVIDENTLY_DRIFT_RULES is out of date"
        )
    return verdicts


def _same_figures(first: dict[str, dict[str, Any]], second: dict[str, dict[str, Any]]) -> bool:
    """Equal up to float rounding: evidently orders categories as a set (stattests/utils.py
    get_unique_not_nan_values_list_from_series), so the hash seed of each process changes the last bits of its JS."""

    def same(a: Any, b: Any) -> bool:
        if isinstance(a, float) and isinstance(b, float):
            return math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-15)
        return a == b

    return first.keys() == second.keys() and all(
        first[c].keys() == second[c].keys() and all(same(first[c][k], second[c][k]) for k in first[c]) for c in first
    )


def measure_size(rows: int, args: argparse.Namespace, scratch: Path) -> dict[str, Any]:
    data_file = scratch / f"tables_{rows}.npz"
    np.savez(data_file, **make_tables(rows, args.seed))
    sides = {
        "kit": (Path(sys.executable), KIT_SIDE, args.out / f"kit_drift_{rows}.html"),
        "evidently": (args.evidently_python, EVIDENTLY_SIDE, args.out / f"evidently_drift_{rows}.html"),
    }
    runs: dict[str, list[dict[str, Any]]] = {"kit": [], "evidently": []}
    for _ in range(args.repeats):
        for name, (python, code, out) in sides.items():
            runs[name].append(run_side(name, python, code, data_file, out))
    data_file.unlink()
    kit, evidently = runs["kit"][-1], runs["evidently"][-1]
    for name, side_runs in runs.items():
        if not all(_same_figures(r["features"], side_runs[-1]["features"]) for r in side_runs):
            sys.exit(f"{name} gave different per-feature figures on the same tables in different runs")
    e_verdicts = evidently_verdicts(evidently)
    features = {}
    for column in [*NUMERIC, *CATEGORICAL]:
        features[column] = {
            "planted": PLANTED[column],
            "kit": kit["features"][column],
            "evidently": evidently["features"][column] | {"drift": e_verdicts[column]},
        }
    timings = {
        name: {
            key: {
                "median": statistics.median(r["timings"][key] for r in side_runs),
                "runs": [r["timings"][key] for r in side_runs],
            }
            for key in (*TIMINGS, "load_tables")
        }
        for name, side_runs in runs.items()
    }
    ratios = {key: timings["kit"][key]["median"] / timings["evidently"][key]["median"] for key in TIMINGS}
    return {
        "rows": rows,
        "features": features,
        "evidently_drifted_count": evidently["drifted_count"],
        "agree_with_planted": {
            "kit": sum(f["kit"]["drift"] == f["planted"] for f in features.values()),
            "evidently": sum(f["evidently"]["drift"] == f["planted"] for f in features.values()),
            "of": len(features),
        },
        "seconds": timings,
        "ratio_kit_to_evidently": ratios,
    }


def _verdict(drift: bool) -> str:
    return "DRIFT" if drift else "ok"


def print_size(size: dict[str, Any], repeats: int) -> None:
    rows = size["rows"]
    print(f"\n== {rows:,} reference rows vs {rows:,} current rows x {len(size['features'])} features")
    print(
        f"{'feature':8} {'planted':8} | {'kit':5} {'PSI':>6} {'JS':>6} {'test p':>15} | "
        f"{'evidently method':30} {'score':>9} {'thresh':>6} {'verdict':7} | kit=planted ev=planted"
    )
    for column, f in size["features"].items():
        kit, ev = f["kit"], f["evidently"]
        test_p = f"{'KS' if kit['test'] == 'ks' else 'chi2'} p {kit['p_value']:.3g}"
        print(
            f"{column:8} {_verdict(f['planted']):8} | {_verdict(kit['drift']):5} {kit['psi']:6.3f} {kit['js']:6.3f} "
            f"{test_p:>15} | {ev['method']:30} {ev['score']:9.3g} {ev['threshold']:6.3g} {_verdict(ev['drift']):7} | "
            f"{'yes' if kit['drift'] == f['planted'] else 'NO':11} {'yes' if ev['drift'] == f['planted'] else 'NO'}"
        )
    agree = size["agree_with_planted"]
    print(
        f"verdicts equal to the planted drift: kit {agree['kit']} of {agree['of']}, evidently {agree['evidently']} "
        f"of {agree['of']} (evidently's DriftedColumnsCount: {size['evidently_drifted_count']:g})"
    )
    print(f"seconds, median of {repeats} fresh process(es) per side:")
    print(f"  {'':18} {'kit':>8} {'evidently':>10} {'kit/evidently':>14}")
    for key, label in zip(TIMINGS, ("imports + report", "report only", "process"), strict=True):
        kit_s, ev_s = size["seconds"]["kit"][key]["median"], size["seconds"]["evidently"][key]["median"]
        print(f"  {label:18} {kit_s:8.2f} {ev_s:10.2f} {size['ratio_kit_to_evidently'][key]:14.3f}")


def print_summary(sizes: list[dict[str, Any]]) -> None:
    print("\n== ratio kit / evidently (medians) per size, and verdicts equal to the planted drift")
    print(f"{'rows':>10} {'imports + report':>16} {'report only':>11} {'process':>8} {'kit':>5} {'evidently':>9}")
    for size in sizes:
        r, agree = size["ratio_kit_to_evidently"], size["agree_with_planted"]
        kit_agree, ev_agree = f"{agree['kit']}/{agree['of']}", f"{agree['evidently']}/{agree['of']}"
        print(
            f"{size['rows']:>10,} {r['imports_and_report']:16.3f} {r['report_only']:11.3f} {r['process']:8.3f} "
            f"{kit_agree:>5} {ev_agree:>9}"
        )


def missing_venv_message(python: Path) -> str:
    venv = python.parent.parent
    return (
        f"no evidently python at {python}; create the venv with\n"
        f"    python3 -m venv {venv}\n"
        f"    {venv}/bin/pip install {' '.join(EVIDENTLY_REQUIREMENTS)}\n"
        f"or: .venv/bin/python -m benchmarks.drift_vs_evidently --make-venv --evidently-python {python}"
    )


def make_venv(python: Path) -> None:
    """Create the evidently venv with EVIDENTLY_REQUIREMENTS; a venv that already has them is left as it is."""
    venv = python.parent.parent
    pins = dict(requirement.split("==") for requirement in EVIDENTLY_REQUIREMENTS)
    check = "import importlib.metadata as m, json, sys; print(json.dumps({p: m.version(p) for p in sys.argv[1:]}))"
    if python.exists():
        found = subprocess.run([str(python), "-c", check, *pins], capture_output=True, text=True)
        if found.returncode == 0 and json.loads(found.stdout) == pins:
            print(f"evidently venv already there: {python}")
            return
    subprocess.run(["python3", "-m", "venv", str(venv)], check=True)
    subprocess.run([str(venv / "bin" / "pip"), "install", *EVIDENTLY_REQUIREMENTS], check=True)
    print(f"evidently venv ready: {python}")


def evidently_python() -> Path:
    """The evidently venv's python: $LABKIT_EVIDENTLY_PYTHON, else .venv-evidently/ in the checkout."""
    return Path(os.environ.get("LABKIT_EVIDENTLY_PYTHON", DEFAULT_EVIDENTLY_PYTHON))


def main() -> None:
    recording = Recording(__spec__.name)
    parser = benchmark_parser(__doc__)
    parser.epilog = f"EVIDENTLY_REQUIREMENTS: {' '.join(EVIDENTLY_REQUIREMENTS)}"
    parser.add_argument(
        "--rows",
        type=int,
        nargs="+",
        default=list(DEFAULT_ROWS),
        help="rows per table; one table of results per size (default: %(default)s)",
    )
    parser.add_argument("--repeats", type=int, default=1, help="fresh processes per side and size (medians)")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument(
        "--evidently-python",
        type=Path,
        default=evidently_python(),
        help=f"python of the evidently venv (env LABKIT_EVIDENTLY_PYTHON, default {DEFAULT_EVIDENTLY_PYTHON})",
    )
    parser.add_argument("--make-venv", action="store_true", help="create the evidently venv with its pins and exit")
    parser.add_argument("--out", type=Path, default=Path("build/benchmarks"), help="where both HTML reports go")
    args = parser.parse_args()
    if args.make_venv:
        make_venv(args.evidently_python)
        return
    if not args.evidently_python.exists():
        sys.exit(missing_venv_message(args.evidently_python))
    if args.repeats < 1 or min(args.rows) < 1:
        parser.error("--repeats and --rows must be at least 1")
    args.out = args.out.resolve()
    args.out.mkdir(parents=True, exist_ok=True)
    sizes = []
    with tempfile.TemporaryDirectory() as scratch:
        for rows in args.rows:
            sizes.append(measure_size(rows, args, Path(scratch)))
            print_size(sizes[-1], args.repeats)
    print_summary(sizes)
    recording.write(
        args.json,
        {
            "seed": args.seed,
            "repeats": args.repeats,
            "evidently_requirements": list(EVIDENTLY_REQUIREMENTS),
            "planted": PLANTED,
            "sizes": sizes,
        },
    )


if __name__ == "__main__":
    main()
