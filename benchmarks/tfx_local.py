"""The kit's local TFX run (session 6) vs the upstream TFX penguin example, in the same image, side by side.

    PYTHONPATH=. .venv/bin/python benchmarks/tfx_local.py --runs 3 --upstream-runs 3

Kit side: exactly `labkit pipeline run tfx-penguin --runner docker --output json` (a fresh run folder each
time): wall time of the command, the in-container pipeline time, and per-component times from the run's MLMD
store. Upstream side: tfx/examples/penguin/penguin_pipeline_local.py as the tfx 1.21 wheel ships it (its own
create_pipeline, module file penguin_utils_keras.py, Beam multi_processing, bulk inferrer, Resolvers), run with
LocalDagRunner in the same image, with the two changes it needs to run at all here: tuning off (keras-tuner
rejects tf-keras models) and its data written from palmerpenguins in its own format (the wheel ships no data).
Printed: medians, the ratio kit/upstream, and per-component medians side by side. Load average is printed
too: the machine is shared, so compare ratios from one invocation, not absolute seconds across invocations.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from labkit.paths import REPO_ROOT
from labkit.versions import TFX_IMAGE

KIT_COMMAND = ["labkit", "pipeline", "run", "tfx-penguin", "--runner", "docker", "--output", "json"]

UPSTREAM_SIDE = r"""
import json, os, sys, time
start = time.perf_counter()
from absl import flags, logging
from tfx import v1 as tfx
from tfx.examples.penguin import penguin_pipeline_local as upstream
flags.FLAGS(["penguin_pipeline_local"])
logging.set_verbosity(logging.INFO)
home = os.environ["HOME"]
module_file = os.path.join(os.path.dirname(upstream.__file__), "penguin_utils_keras.py")
pipeline = upstream.create_pipeline(
    pipeline_name="penguin_local_keras",
    pipeline_root=os.path.join(home, "tfx", "pipelines", "penguin_local_keras"),
    data_root=os.path.join(home, "penguin", "data"),
    module_file=module_file,
    accuracy_threshold=0.6,
    serving_model_dir=os.path.join(home, "penguin", "serving_model", "penguin_local_keras"),
    metadata_path=os.path.join(home, "tfx", "metadata", "metadata.db"),
    user_provided_schema_path=None,
    enable_tuning=False,  # the one change: keras-tuner rejects tf-keras models
    enable_bulk_inferrer=True,
    examplegen_input_config=upstream._examplegen_input_config,
    examplegen_range_config_date=upstream._examplegen_range_config_date,
    resolver_range_config=upstream._resolver_range_config,
    beam_pipeline_args=upstream._beam_pipeline_args_by_runner["DirectRunner"],
    enable_transform_input_cache=True,
    enable_example_diff=False,
)
tfx.orchestration.LocalDagRunner().run(pipeline)
seconds = time.perf_counter() - start
from labkit.tfx_inside import component_times
times = component_times(os.path.join(home, "tfx", "metadata", "metadata.db"))
print("UPSTREAM_RESULT " + json.dumps({"pipeline_seconds": seconds, "component_seconds": times}))
"""


def load_average() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3]) if Path("/proc/loadavg").exists() else "?"


def upstream_data(home: Path) -> int:
    """penguins_processed.csv as upstream's data folder has it: integer species, four measurements scaled to
    [0, 1]; plus the unlabelled copy its BulkInferrer reads. From the same 333 clean rows the kit uses."""
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
    for folder, frame in (("labelled", processed), ("unlabelled", processed.drop(columns=["species"]))):
        (home / "penguin" / "data" / folder).mkdir(parents=True, exist_ok=True)
        frame.to_csv(home / "penguin" / "data" / folder / f"penguins_{folder}.csv", index=False)
    return len(processed)


def run_kit(runs_dir: Path) -> dict:
    command = [sys.executable, "-m", *KIT_COMMAND, "--runs-dir", str(runs_dir)]
    start = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True, cwd=REPO_ROOT)
    wall = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(f"kit run failed:\n{done.stderr[-3000:]}")
    result = json.loads(done.stdout)
    summary = json.loads((Path(result["run_dir"]) / "summary.json").read_text())
    return {"wall": wall, "pipeline": summary["pipeline_seconds"], "components": result["tasks"]}


def run_upstream(work: Path) -> dict:
    home = work / "home"
    upstream_data(home)
    command = ["docker", "run", "--rm", "--network", "none", "-e", "HOME=/bench", "-e", "PYTHONPATH=/opt/labkit"]
    command += ["-v", f"{home}:/bench", "-v", f"{REPO_ROOT}:/opt/labkit:ro", TFX_IMAGE, "python3", "-c", UPSTREAM_SIDE]
    start = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True)
    wall = time.perf_counter() - start
    line = next((x for x in done.stdout.splitlines() if x.startswith("UPSTREAM_RESULT ")), None)
    if done.returncode != 0 or line is None:
        raise SystemExit(f"upstream run failed:\n{(done.stdout + done.stderr)[-3000:]}")
    found = json.loads(line.removeprefix("UPSTREAM_RESULT "))
    return {"wall": wall, "pipeline": found["pipeline_seconds"], "components": found["component_seconds"]}


def medians(runs: list[dict]) -> dict:
    names = sorted({name for run in runs for name in run["components"]})
    return {
        "wall": statistics.median(r["wall"] for r in runs),
        "pipeline": statistics.median(r["pipeline"] for r in runs),
        "components": {n: statistics.median(r["components"].get(n, 0.0) for r in runs) for n in names},
        "runs": runs,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=3, help="kit runs (median)")
    parser.add_argument("--upstream-runs", type=int, default=3, help="upstream runs (median); 0 to skip")
    parser.add_argument("--json", type=Path, help="also write all timings here")
    args = parser.parse_args()

    report: dict = {"image": TFX_IMAGE, "cpus": os.cpu_count(), "load_before": load_average()}
    kit_runs, upstream_runs = [], []
    with tempfile.TemporaryDirectory() as tmp:
        # Interleaved, so both sides see the same background load.
        for i in range(max(args.runs, args.upstream_runs)):
            if i < args.runs:
                kit_runs.append(run_kit(Path(tmp) / f"kit{i}"))
                print(f"kit run {i + 1}: {kit_runs[-1]['wall']:.1f} s (load {load_average()})", file=sys.stderr)
            if i < args.upstream_runs:
                upstream_runs.append(run_upstream(Path(tmp) / f"upstream{i}"))
                print(
                    f"upstream run {i + 1}: {upstream_runs[-1]['wall']:.1f} s (load {load_average()})", file=sys.stderr
                )
    report["load_after"] = load_average()
    report["kit"] = medians(kit_runs)
    report["kit"]["command"] = " ".join(KIT_COMMAND)
    if upstream_runs:
        report["upstream"] = medians(upstream_runs)
        report["ratio_wall"] = report["kit"]["wall"] / report["upstream"]["wall"]

    print(
        f"median of {args.runs} kit run(s) / {args.upstream_runs} upstream run(s), {TFX_IMAGE}, {os.cpu_count()} CPUs"
    )
    print(f"load average before {report['load_before']}, after {report['load_after']}")
    upstream = report.get("upstream")
    nan = float("nan")
    print(f"{'':28}{'kit':>10}{'upstream':>10}")
    for label, key in (("wall (docker run, end to end)", "wall"), ("pipeline (inside container)", "pipeline")):
        print(f"{label:28}{report['kit'][key]:>10.1f}{upstream[key] if upstream else nan:>10.1f}")
    names = sorted(set(report["kit"]["components"]) | set(upstream["components"] if upstream else []))
    for name in names:
        kit_s = report["kit"]["components"].get(name)
        up_s = upstream["components"].get(name) if upstream else None
        print(f"  {name:26}{'' if kit_s is None else f'{kit_s:.1f}':>10}{'' if up_s is None else f'{up_s:.1f}':>10}")
    if upstream:
        print(f"ratio kit/upstream (wall): {report['ratio_wall']:.2f}x")
    if args.json:
        args.json.write_text(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
