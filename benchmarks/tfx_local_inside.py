"""The half of benchmarks/tfx_local.py that runs inside labkit-tfx: upstream's TFX penguin example, two ways.

    python3 -m benchmarks.tfx_local_inside {shipped,same-work,describe} --run-dir /labkit/run

- ``shipped``: ``penguin_pipeline_local.create_pipeline`` called as that file's ``__main__`` calls it, tuning off.
- ``same-work``: the kit's component set, built from upstream's ``tfx.v1`` components, its module file
  ``penguin_utils_keras.py`` and the settings its own ``create_pipeline`` gives each component, run with the kit's
  Beam args (imported from pipelines/tfx_penguin/local_runner.py).
- ``describe``: build (not run) the kit's pipeline and both of the above, and write what their components are set to
  (``settings.json`` in the run folder).

As in labkit/tfx_inside.py, the clock starts before TFX is imported and the run ends by writing ``summary.json``
into the run folder, so both sides pay the same import and summary costs. Only the standard library is imported at
import time.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any

PIPELINE_ROOT = "pipeline_root"
METADATA = "metadata.sqlite"


def upstream_arguments(run_dir: Path) -> dict[str, Any]:
    """create_pipeline's arguments as penguin_pipeline_local.py's ``__main__`` passes them, in the kit's run folder
    layout, with tuning off: keras-tuner rejects the tf-keras models of this image."""
    from tfx.examples.penguin import penguin_pipeline_local as upstream

    return {
        "pipeline_name": "penguin_local_keras",
        "pipeline_root": str(run_dir / PIPELINE_ROOT),
        "data_root": str(run_dir / "data"),
        "module_file": str(Path(upstream.__file__).with_name("penguin_utils_keras.py")),
        "accuracy_threshold": 0.6,
        "serving_model_dir": str(run_dir / "serving"),
        "metadata_path": str(run_dir / METADATA),
        "user_provided_schema_path": None,
        "enable_tuning": False,
        "enable_bulk_inferrer": True,
        "enable_example_diff": False,
        "examplegen_input_config": upstream._examplegen_input_config,
        "examplegen_range_config_date": upstream._examplegen_range_config_date,
        "resolver_range_config": upstream._resolver_range_config,
        "beam_pipeline_args": upstream._beam_pipeline_args_by_runner["DirectRunner"],
        "enable_transform_input_cache": True,
    }


def shipped_pipeline(run_dir: Path) -> Any:
    from tfx.examples.penguin import penguin_pipeline_local as upstream

    return upstream.create_pipeline(**upstream_arguments(run_dir))


def same_work_pipeline(run_dir: Path) -> Any:
    """Upstream's pipeline cut to the kit's eight components and run with the kit's Beam args.

    create_pipeline cannot be configured to that: it always adds a latest-blessed-model Resolver as the
    Evaluator's baseline, and adds ExampleValidator only with a user-provided schema (ImportSchemaGen instead of
    SchemaGen). So the components are built here, each with the settings upstream's create_pipeline gives it,
    read from a pipeline it builds (never run) without BulkInferrer and without the Transform cache Resolver.
    """
    import tensorflow_model_analysis as tfma
    from google.protobuf import json_format
    from tfx import v1 as tfx
    from tfx.examples.penguin import penguin_pipeline_local as upstream

    from pipelines.tfx_penguin.local_runner import BEAM_ARGS

    arguments = {**upstream_arguments(run_dir), "enable_bulk_inferrer": False, "enable_transform_input_cache": False}
    reference = upstream.create_pipeline(**arguments)
    settings = {node.id: node.exec_properties for node in reference.components}

    def proto(node_id: str, key: str, message: Any) -> Any:
        return json_format.Parse(settings[node_id][key], message)

    example_gen = tfx.components.CsvExampleGen(input_base=settings["CsvExampleGen"]["input_base"])
    statistics_gen = tfx.components.StatisticsGen(examples=example_gen.outputs["examples"])
    schema_gen = tfx.components.SchemaGen(
        statistics=statistics_gen.outputs["statistics"],
        infer_feature_shape=bool(settings["SchemaGen"]["infer_feature_shape"]),
    )
    example_validator = tfx.components.ExampleValidator(
        statistics=statistics_gen.outputs["statistics"], schema=schema_gen.outputs["schema"]
    )
    transform = tfx.components.Transform(
        examples=example_gen.outputs["examples"],
        schema=schema_gen.outputs["schema"],
        module_file=settings["Transform"]["module_file"],
    )
    trainer = tfx.components.Trainer(
        module_file=settings["Trainer"]["module_file"],
        examples=transform.outputs["transformed_examples"],
        transform_graph=transform.outputs["transform_graph"],
        schema=schema_gen.outputs["schema"],
        train_args=proto("Trainer", "train_args", tfx.proto.TrainArgs()),
        eval_args=proto("Trainer", "eval_args", tfx.proto.EvalArgs()),
    )
    evaluator = tfx.components.Evaluator(
        examples=example_gen.outputs["examples"],
        model=trainer.outputs["model"],
        eval_config=proto("Evaluator", "eval_config", tfma.EvalConfig()),
    )
    # The kit's gate (model_blessing) in place of upstream's tfx.dsl.Cond: both push only a blessed model.
    pusher = tfx.components.Pusher(
        model=trainer.outputs["model"],
        model_blessing=evaluator.outputs["blessing"],
        push_destination=proto("Pusher", "push_destination", tfx.proto.PushDestination()),
    )
    components = [example_gen, statistics_gen, schema_gen, example_validator, transform, trainer, evaluator, pusher]
    return tfx.dsl.Pipeline(
        pipeline_name=arguments["pipeline_name"],
        pipeline_root=arguments["pipeline_root"],
        components=components,
        enable_cache=reference.enable_cache,
        metadata_connection_config=reference.metadata_connection_config,
        beam_pipeline_args=BEAM_ARGS,
    )


def kit_pipeline(run_dir: Path) -> Any:
    """The kit's pipeline as local_runner.run builds it (default parameters)."""
    from pipelines.tfx_penguin import local_runner

    return local_runner.create_pipeline(
        pipeline_root=str(run_dir / PIPELINE_ROOT),
        data_root=str(run_dir / "data"),
        preprocessing_module=str(local_runner.HERE / "preprocessing.py"),
        trainer_module=str(local_runner.HERE / "trainer.py"),
        serving_model_dir=str(run_dir / "serving"),
        metadata_path=str(run_dir / METADATA),
        beam_pipeline_args=local_runner.BEAM_ARGS,
    )


def settings(pipeline: Any, batch_sizes: tuple[int, int]) -> dict[str, Any]:
    """What a pipeline's components are set to, read from the pipeline object."""
    nodes = {node.id: node for node in pipeline.components}
    trainer = nodes["Trainer"].exec_properties
    transform = nodes["Transform"]
    eval_config = json.loads(nodes["Evaluator"].exec_properties["eval_config"])
    return {
        "components": [node.id for node in pipeline.components],
        "beam_args": list(pipeline.beam_pipeline_args),
        "enable_cache": bool(pipeline.enable_cache),
        "train_steps": json.loads(trainer["train_args"]).get("num_steps"),
        "train_batch": batch_sizes[0],
        "eval_steps": json.loads(trainer["eval_args"]).get("num_steps"),
        "eval_batch": batch_sizes[1],
        "schema_exclude_splits": json.loads(nodes["SchemaGen"].exec_properties["exclude_splits"]),
        "transform_statistics": not transform.exec_properties["disable_statistics"],
        "transform_analyzer_cache": "updated_analyzer_cache" in transform.outputs,
        "transform_input_cache": transform.inputs.get("analyzer_cache") is not None,
        "evaluator_metrics": [
            metric["class_name"] for spec in eval_config.get("metrics_specs", []) for metric in spec.get("metrics", [])
        ],
        "evaluator_default_metrics": eval_config.get("options", {}).get("include_default_metrics", True),
        "evaluator_slices": [
            "+".join(spec.get("feature_keys", [])) or "overall" for spec in eval_config.get("slicing_specs", [])
        ],
        "evaluator_baseline": nodes["Evaluator"].inputs.get("baseline_model") is not None,
    }


def describe(run_dir: Path) -> dict[str, Any]:
    from tfx.examples.penguin import penguin_utils_base as upstream_base

    from pipelines.tfx_penguin import trainer

    upstream_batches = (upstream_base.TRAIN_BATCH_SIZE, upstream_base.EVAL_BATCH_SIZE)
    return {
        "kit": settings(kit_pipeline(run_dir / "kit"), (trainer.BATCH_SIZE, trainer.BATCH_SIZE)),
        "upstream_shipped": settings(shipped_pipeline(run_dir / "shipped"), upstream_batches),
        "upstream_same_work": settings(same_work_pipeline(run_dir / "same-work"), upstream_batches),
    }


def run(run_dir: Path, same_work: bool) -> None:
    """Build and run one pipeline; write summary.json as labkit/tfx_inside.py does for the kit."""
    start = time.perf_counter()
    from absl import logging
    from tfx.orchestration.local.local_dag_runner import LocalDagRunner

    from labkit.tfx_inside import summarize

    logging.set_verbosity(logging.INFO)  # as the kit's run: the same log volume
    pipeline = same_work_pipeline(run_dir) if same_work else shipped_pipeline(run_dir)
    LocalDagRunner().run(pipeline)
    pipeline_seconds = round(time.perf_counter() - start, 3)
    summary = summarize(run_dir)
    summary["pipeline_seconds"] = pipeline_seconds
    (run_dir / "summary.json").write_text(json.dumps(summary, indent=2))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("mode", choices=["shipped", "same-work", "describe"])
    parser.add_argument("--run-dir", type=Path, required=True)
    args = parser.parse_args()
    if args.mode == "describe":
        (args.run_dir / "settings.json").write_text(json.dumps(describe(args.run_dir), indent=2))
    else:
        run(args.run_dir, same_work=args.mode == "same-work")


if __name__ == "__main__":
    main()
