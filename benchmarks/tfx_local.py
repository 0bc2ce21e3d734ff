"""The kit's local TFX run (session 6) against upstream's TFX penguin example, in the same image: two comparisons.

    .venv/bin/python -m benchmarks.tfx_local --runs 3 --upstream-runs 2 --same-work-runs 3 \\
        --json benchmarks/results/tfx_local.json

Three configurations, run interleaved (kit, as shipped, same work, kit, ...) so that they share the machine's
background load, each started as a fresh process: the kit as the CLI command, upstream as a fresh `docker run`
of the same image with the same flags the kit's runner uses (labkit/tfx.py).

- kit: exactly `labkit pipeline run tfx-penguin --runner docker --output json` (a fresh run folder each time).
- A, upstream as shipped: tfx/examples/penguin/penguin_pipeline_local.py as the tfx 1.21 wheel ships it (its
  create_pipeline, module file penguin_utils_keras.py, Beam multi_processing with one worker per CPU, two
  ExampleGens, BulkInferrer, a latest-blessed-model Resolver, the Transform cache Resolver), with the two changes
  it needs to run at all here: tuning off (keras-tuner rejects tf-keras models) and its data written from
  palmerpenguins in its own format (the wheel ships no data). Answers: what does a student wait for?
- B, upstream same work: upstream's tfx.v1 components and module file, each set as its create_pipeline sets it,
  but with the kit's component set (CsvExampleGen, StatisticsGen, SchemaGen, ExampleValidator, Transform,
  Trainer, Evaluator, Pusher: no unlabelled ExampleGen, no BulkInferrer, no Resolver, no Transform input cache)
  and the kit's Beam args (imported from pipelines/tfx_penguin/local_runner.py inside the image). create_pipeline
  cannot be configured to that (see benchmarks/tfx_local_inside.py). Answers: does the kit run the same work
  faster?

What still differs in B is printed, read from the pipeline objects where it can be (one `docker run` builds all
three without running them): Trainer steps and batch sizes (kit 60 x 32 train, 4 x 32 eval; upstream 100 x 20,
5 x 10), Evaluator metrics (kit: ExampleCount and SparseCategoricalAccuracy, default metrics off, overall and
per-island slices; upstream: SparseCategoricalAccuracy, default metrics left on, overall only; each run records
the metric values it got, and upstream's defaults add none here), Transform (upstream computes its own
statistics and writes an analyzer cache; the kit does neither), SchemaGen (kit: from the train split only) and
pipeline caching (upstream on; a fresh MLMD store has nothing to hit). Fixed in the code, so stated in
FIXED_DIFFERENCES: the model, the data's format and split, tfx.v1 imports, module packaging as a wheel.

Reported per configuration (medians): wall (the whole command), the pipeline inside the container (from before
TFX is imported to the end of LocalDagRunner.run, as labkit/tfx_inside.py times the kit), and per-component seconds
from the run's MLMD store; then the ratios kit / A and kit / B for wall and pipeline. Every run's raw figures and
the load average after it go into the --json record. The machine may be shared: compare ratios from one
invocation, not absolute seconds across invocations.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from benchmarks.common import Recording, benchmark_parser, load_average
from labkit.paths import REPO_ROOT
from labkit.tfx import IMAGE_ROOT, RUN_MOUNT, _docker_base, evaluation_metrics
from labkit.versions import TFX_IMAGE

KIT_COMMAND = ["labkit", "pipeline", "run", "tfx-penguin", "--runner", "docker", "--output", "json"]
INSIDE = ["python3", "-m", "benchmarks.tfx_local_inside"]
SIDES = {"kit": "kit", "upstream_shipped": "upstream as shipped", "upstream_same_work": "upstream same work"}
FIXED_DIFFERENCES = [
    "model: kit 1 hidden Dense(16) on the 4 measurements (z-scored) plus island and sex (one-hot); upstream 2 "
    "hidden Dense(8) on the 4 measurements only, under tf.distribute.MirroredStrategy, with a TensorBoard callback",
    "data: the same 333 rows; kit: raw columns, its own seeded 222/111 train/eval files; upstream: its processed "
    "format (integer species, measurements scaled to [0, 1], no island or sex), one file hash-split 2:1 by "
    "CsvExampleGen",
    "imports: upstream's module file and components go through tfx.v1 (which also imports the Google Cloud "
    "extensions) and keras_tuner; the kit imports TFX modules directly",
    "user modules: the kit uses its module files in place (UNSUPPORTED_DO_NOT_PACKAGE_USER_MODULES=1); upstream "
    "packages its module file as a wheel into the pipeline root (user_module_wheels in each run)",
    "wall: the kit's includes the CLI's start-up and writing its data on the host; upstream's data is written "
    "before its clock starts",
]


def upstream_data(data_root: Path, unlabelled: bool) -> int:
    """penguins_processed.csv as upstream's data folder has it: integer species, four measurements scaled to
    [0, 1]; plus, for BulkInferrer, the unlabelled copy. From the same 333 clean rows the kit uses."""
    from components.common.schema import CLASSES
    from components.ingest.logic import load_penguins_clean

    table = load_penguins_clean()
    measures = {
        "culmen_length_mm": "bill_length_mm",
        "culmen_depth_mm": "bill_depth_mm",
        "flipper_length_mm": "flipper_length_mm",
        "body_mass_g": "body_mass_g",
    }
    processed = table[["species"]].assign(species=table["species"].map({name: i for i, name in enumerate(CLASSES)}))
    for upstream_name, kit_name in measures.items():
        column = table[kit_name]
        processed[upstream_name] = (column - column.min()) / (column.max() - column.min())
    folders = {"labelled": processed}
    if unlabelled:
        folders["unlabelled"] = processed.drop(columns=["species"])
    for folder, frame in folders.items():
        (data_root / folder).mkdir(parents=True, exist_ok=True)
        frame.to_csv(data_root / folder / f"penguins_{folder}.csv", index=False)
    return len(processed)


def inside_command(run_dir: Path, mode: str) -> list[str]:
    """A fresh container started exactly as the kit's runner starts one (same flags and mounts)."""
    mounts = [(REPO_ROOT, IMAGE_ROOT, True), (run_dir, RUN_MOUNT, False)]
    return [*_docker_base(mounts, TFX_IMAGE), *INSIDE, mode, "--run-dir", RUN_MOUNT]


def measured(wall: float, run_dir: Path, summary: dict[str, Any]) -> dict[str, Any]:
    metrics = evaluation_metrics(summary.get("metrics") or [])
    return {
        "wall": round(wall, 3),
        "pipeline": summary["pipeline_seconds"],
        "components": summary.get("component_seconds", {}),
        "accuracy": metrics.get("sparse_categorical_accuracy"),
        "blessed": summary.get("blessed"),
        "metrics": sorted(metrics),
        "user_module_wheels": len(list((run_dir / "pipeline_root" / "_wheels").glob("*.whl"))),
        "load_after": load_average(),
    }


def run_kit(runs_dir: Path) -> dict[str, Any]:
    command = [sys.executable, "-m", *KIT_COMMAND, "--runs-dir", str(runs_dir)]
    start = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True, cwd=REPO_ROOT)
    wall = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(f"kit run failed:\n{done.stderr[-3000:]}")
    run_dir = Path(json.loads(done.stdout)["run_dir"])
    return measured(wall, run_dir, json.loads((run_dir / "summary.json").read_text()))


def run_upstream(run_dir: Path, mode: str) -> dict[str, Any]:
    upstream_data(run_dir / "data", unlabelled=mode == "shipped")
    start = time.perf_counter()
    done = subprocess.run(inside_command(run_dir, mode), capture_output=True, text=True)
    wall = time.perf_counter() - start
    summary_path = run_dir / "summary.json"
    if done.returncode != 0 or not summary_path.is_file():
        raise SystemExit(f"upstream {mode} run failed:\n{(done.stdout + done.stderr)[-3000:]}")
    return measured(wall, run_dir, json.loads(summary_path.read_text()))


def pipeline_settings(work: Path) -> dict[str, Any]:
    """What the three pipelines' components are set to, from one container that builds them without running."""
    work.mkdir(parents=True)
    done = subprocess.run(inside_command(work, "describe"), capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"describing the pipelines failed:\n{done.stderr[-3000:]}")
    return json.loads((work / "settings.json").read_text())


def still_differs(settings: dict[str, Any]) -> dict[str, Any]:
    """Kit against upstream same work: every setting that is not equal, and the check that the rest is."""
    kit, same = settings["kit"], settings["upstream_same_work"]
    differs = {key: {"kit": kit[key], "upstream_same_work": same[key]} for key in kit if kit[key] != same[key]}
    if sorted(kit["components"]) != sorted(same["components"]) or kit["beam_args"] != same["beam_args"]:
        raise SystemExit(f"upstream same work is not the kit's component set and Beam args: {differs}")
    return differs


def medians(runs: list[dict[str, Any]]) -> dict[str, Any]:
    names = list(dict.fromkeys(name for run in runs for name in run["components"]))
    return {
        "wall": round(statistics.median(r["wall"] for r in runs), 3),
        "pipeline": round(statistics.median(r["pipeline"] for r in runs), 3),
        "components": {
            n: round(statistics.median(r["components"][n] for r in runs if n in r["components"]), 3) for n in names
        },
    }


def cell(value: float | None, width: int = 12) -> str:
    return f"{'' if value is None else f'{value:.1f}':>{width}}"


def report(results: dict[str, Any]) -> None:
    found = {side: results["medians"][side] for side in SIDES if side in results["medians"]}
    counts = ", ".join(f"{len(results['runs'][side])} {SIDES[side]}" for side in found)
    print(f"median of {counts} run(s); {results['image']}, {results['cpus']} CPUs")
    print(f"{'seconds':30}" + "".join(f"{SIDES[side]:>21}" for side in found))
    rows = [("wall (whole command)", "wall"), ("pipeline (inside container)", "pipeline")]
    for label, key in rows:
        print(f"{label:30}" + "".join(cell(found[side][key], 21) for side in found))
    names = list(dict.fromkeys(name for side in found for name in found[side]["components"]))
    for name in names:
        print(f"  {name:28}" + "".join(cell(found[side]["components"].get(name), 21) for side in found))
    for against, ratio in results["ratios"].items():
        print(f"ratio kit / {SIDES[against]}: wall {ratio['wall']:.2f}x, pipeline {ratio['pipeline']:.2f}x")
    for side, last in results["evaluation"].items():
        overall = [name for name in last["metrics"] if "[" not in name]
        accuracy = "?" if last["accuracy"] is None else f"{last['accuracy']:.3f}"
        print(
            f"{SIDES[side]} (last run): accuracy {accuracy}, blessed {last['blessed']}, "
            f"{len(last['metrics'])} metric values, overall: {', '.join(overall)}; "
            f"user module wheels {last['user_module_wheels']}"
        )
    if "still_differs" in results:
        print("kit vs upstream same work: same components and Beam args; still differs:")
        for key, values in results["still_differs"].items():
            print(f"  {key}: kit {values['kit']}, upstream {values['upstream_same_work']}")
        for line in results["fixed_differences"]:
            print(f"  {line}")
    print("runs (wall / pipeline seconds, load average after):")
    for side, runs in results["runs"].items():
        listed = "; ".join(
            f"{r['wall']:.1f} / {r['pipeline']:.1f} ({' '.join(map(str, r['load_after']))})" for r in runs
        )
        print(f"  {SIDES[side]}: {listed}")


def main() -> None:
    parser = benchmark_parser(__doc__)
    parser.add_argument("--runs", type=int, default=3, help="kit runs (median)")
    parser.add_argument("--upstream-runs", type=int, default=2, help="upstream as shipped runs (median); 0 to skip")
    parser.add_argument("--same-work-runs", type=int, default=3, help="upstream same work runs (median); 0 to skip")
    args = parser.parse_args()
    recording = Recording(__spec__.name)

    wanted = {"kit": args.runs, "upstream_shipped": args.upstream_runs, "upstream_same_work": args.same_work_runs}
    results: dict[str, Any] = {"image": TFX_IMAGE, "cpus": os.cpu_count(), "kit_command": " ".join(KIT_COMMAND)}
    runs: dict[str, list[dict[str, Any]]] = {side: [] for side, count in wanted.items() if count > 0}
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        if args.same_work_runs > 0:
            results["settings"] = pipeline_settings(work / "describe")
            results["still_differs"] = still_differs(results["settings"])
            results["fixed_differences"] = FIXED_DIFFERENCES
        for i in range(max(wanted.values())):
            for side in runs:
                if i >= wanted[side]:
                    continue
                run_dir = work / f"{side}-{i}"
                if side == "kit":
                    runs[side].append(run_kit(run_dir))
                else:
                    runs[side].append(run_upstream(run_dir, "shipped" if side == "upstream_shipped" else "same-work"))
                last = runs[side][-1]
                print(f"{SIDES[side]} run {i + 1}: {last['wall']:.1f} s (load {last['load_after']})", file=sys.stderr)
    results["runs"] = runs
    results["medians"] = {side: medians(side_runs) for side, side_runs in runs.items()}
    results["ratios"] = {
        side: {key: results["medians"]["kit"][key] / results["medians"][side][key] for key in ("wall", "pipeline")}
        for side in ("upstream_shipped", "upstream_same_work")
        if side in runs and "kit" in runs
    }
    results["evaluation"] = {
        side: {key: side_runs[-1][key] for key in ("accuracy", "blessed", "metrics", "user_module_wheels")}
        for side, side_runs in runs.items()
    }
    report(results)
    recording.write(args.json, results)


if __name__ == "__main__":
    main()
