"""The half of labkit/tfx.py that runs inside the TFX image: run the pipeline, then summarise it as JSON.

The host cannot read TFX's binary artifacts (anomaly protos, TFMA metrics in TFRecords, the MLMD store's
client) because TFX does not install there. So the container, which has all of that, converts what the CLI
shows into ``summary.json`` in the run folder, and the host only parses JSON (labkit/tfx.py).
This module imports only the standard library at import time: the host imports nothing from it.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import traceback
from pathlib import Path
from typing import Any


def _latest(folder: Path) -> Path | None:
    """An artifact folder ``<root>/<Component>/<output>/<execution id>``: the newest execution's."""
    if not folder.is_dir():
        return None
    runs = [p for p in folder.iterdir() if p.is_dir() and p.name.isdigit()]
    return max(runs, key=lambda p: int(p.name)) if runs else None


def component_times(metadata_path: Path) -> dict[str, float]:
    """Seconds each component's execution took, from the MLMD store's own timestamps."""
    from ml_metadata.metadata_store import metadata_store
    from ml_metadata.proto import metadata_store_pb2

    config = metadata_store_pb2.ConnectionConfig()
    config.sqlite.filename_uri = str(metadata_path)
    config.sqlite.connection_mode = metadata_store_pb2.SqliteMetadataSourceConfig.READONLY
    store = metadata_store.MetadataStore(config)
    times: dict[str, float] = {}
    for context in store.get_contexts_by_type("node"):
        component = context.name.rsplit(".", 1)[-1]
        for execution in store.get_executions_by_context(context.id):
            seconds = (execution.last_update_time_since_epoch - execution.create_time_since_epoch) / 1000
            times[component] = round(times.get(component, 0.0) + seconds, 3)
    return times


def _message(message: Any) -> dict[str, Any]:
    from google.protobuf import json_format

    return json_format.MessageToDict(message)


def summarize(run_dir: Path) -> dict[str, Any]:
    root = run_dir / "pipeline_root"
    summary: dict[str, Any] = {"anomalies": {}, "metrics": [], "validation": None, "blessed": None, "pushed": None}
    if (anomalies_dir := _latest(root / "ExampleValidator" / "anomalies")) is not None:
        from tensorflow_metadata.proto.v0 import anomalies_pb2

        for split_dir in sorted(anomalies_dir.glob("Split-*")):
            for name in ("SchemaDiff.pb", "anomalies.pb"):
                if (split_dir / name).is_file():
                    anomalies = anomalies_pb2.Anomalies.FromString((split_dir / name).read_bytes())
                    found = _message(anomalies)  # drop the copy of the schema each split's file carries
                    kept = {k: found[k] for k in ("anomalyInfo", "datasetAnomalyInfo") if k in found}
                    summary["anomalies"][split_dir.name.removeprefix("Split-")] = kept
                    break
    if (evaluation := _latest(root / "Evaluator" / "evaluation")) is not None:
        import tensorflow_model_analysis as tfma

        summary["metrics"] = [_message(m) for m in tfma.load_metrics(str(evaluation))]
        summary["validation"] = _message(tfma.load_validation_result(str(evaluation)))
    if (blessing := _latest(root / "Evaluator" / "blessing")) is not None:
        summary["blessed"] = (blessing / "BLESSED").exists()
    if (pushed := _latest(root / "Pusher" / "pushed_model")) is not None and any(pushed.iterdir()):
        summary["pushed"] = str(pushed.relative_to(run_dir))
    if (run_dir / "metadata.sqlite").is_file():
        summary["component_seconds"] = component_times(run_dir / "metadata.sqlite")
    return summary


def main() -> int:
    parser = argparse.ArgumentParser(description="Run the TFX pipeline in this container and summarise it.")
    parser.add_argument("--run-dir", type=Path, required=True)
    parser.add_argument("--params-json", default="{}")
    parser.add_argument("--pipeline-file", type=Path, help="a student's pipeline.py defining create_pipeline")
    args = parser.parse_args()

    from pipelines.tfx_penguin import local_runner

    create = local_runner.create_pipeline
    if args.pipeline_file:
        import importlib.util

        spec = importlib.util.spec_from_file_location("student_pipeline", args.pipeline_file)
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        create = module.create_pipeline

    start = time.perf_counter()
    error = None
    try:
        local_runner.run(args.run_dir, json.loads(args.params_json), create)
    except Exception as exc:
        traceback.print_exc()
        error = f"{type(exc).__name__}: {exc}".splitlines()[0]
    pipeline_seconds = round(time.perf_counter() - start, 3)
    try:
        summary = summarize(args.run_dir)
    except Exception as exc:  # a half-finished run may leave half-written artifacts
        traceback.print_exc()
        summary = {"summary_error": f"{type(exc).__name__}: {exc}"}
    summary.update(error=error, pipeline_seconds=pipeline_seconds)
    (args.run_dir / "summary.json").write_text(json.dumps(summary, indent=2))
    return 1 if error else 0


if __name__ == "__main__":
    sys.exit(main())
