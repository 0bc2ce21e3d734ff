"""Session 6: the penguins model as a TFX pipeline, gated by TFMA before it is pushed.

CsvExampleGen -> StatisticsGen -> SchemaGen -> ExampleValidator -> Transform -> Trainer -> Evaluator -> Pusher.

``create_pipeline`` only wires components; the runners (local_runner.py for LocalDagRunner inside the TFX image,
kubeflow_runner.py for a KFP PipelineSpec) decide where it runs. TFX is imported inside the function so that
the kit can read the tunable parameters below on a host where TFX does not install.

Keyword-only parameters are the ones a student may change from the CLI (``--param train_steps=200``).
"""

from typing import Any

PIPELINE_NAME = "tfx-penguin"
LABEL_XF = "species_xf"  # the transformed label (an integer class index) the Evaluator compares against


def create_pipeline(
    pipeline_root: str,
    data_root: str,
    preprocessing_module: str,
    trainer_module: str,
    serving_model_dir: str,
    metadata_path: str | None = None,
    beam_pipeline_args: list[str] | None = None,
    *,
    train_steps: int = 60,
    learning_rate: float = 0.01,
    seed: int = 42,
    accuracy_threshold: float = 0.9,
    max_accuracy_drop: float = 0.01,
    baseline_model_uri: str = "",
) -> Any:
    """The session-6 TFX pipeline.

    ``data_root`` holds ``train/*.csv`` and ``eval/*.csv``: the schema is inferred from the train split only, so
    ExampleValidator checks the eval split (a new batch of data) against what training saw.

    The Evaluator blesses the model when its accuracy on the eval split is at least ``accuracy_threshold``.
    With ``baseline_model_uri`` (the folder of a model a previous run trained) an Importer brings that model
    in and the candidate must also not lose more than ``max_accuracy_drop`` against it. There is no Resolver
    on purpose: the open-source KFP backend cannot run one.
    """
    import tensorflow_model_analysis as tfma
    from tfx.components import (
        CsvExampleGen,
        Evaluator,
        ExampleValidator,
        Pusher,
        SchemaGen,
        StatisticsGen,
        Trainer,
        Transform,
    )
    from tfx.dsl.components.common.importer import Importer
    from tfx.orchestration import metadata, pipeline
    from tfx.proto import example_gen_pb2, pusher_pb2, trainer_pb2
    from tfx.types import standard_artifacts

    example_gen = CsvExampleGen(
        input_base=data_root,
        input_config=example_gen_pb2.Input(
            splits=[
                example_gen_pb2.Input.Split(name="train", pattern="train/*"),
                example_gen_pb2.Input.Split(name="eval", pattern="eval/*"),
            ]
        ),
    )
    statistics_gen = StatisticsGen(examples=example_gen.outputs["examples"])
    schema_gen = SchemaGen(
        statistics=statistics_gen.outputs["statistics"], infer_feature_shape=True, exclude_splits=["eval"]
    )
    example_validator = ExampleValidator(
        statistics=statistics_gen.outputs["statistics"], schema=schema_gen.outputs["schema"]
    )
    transform = Transform(
        examples=example_gen.outputs["examples"],
        schema=schema_gen.outputs["schema"],
        module_file=preprocessing_module,
        # StatisticsGen already described the data; Transform's own statistics would double its run time.
        disable_statistics=True,
        disable_analyzer_cache=True,  # the cache only pays off when new spans of the same data arrive
    )
    trainer = Trainer(
        module_file=trainer_module,
        examples=transform.outputs["transformed_examples"],
        transform_graph=transform.outputs["transform_graph"],
        schema=schema_gen.outputs["schema"],
        train_args=trainer_pb2.TrainArgs(num_steps=train_steps),
        eval_args=trainer_pb2.EvalArgs(num_steps=4),
        custom_config={"seed": seed, "learning_rate": learning_rate},
    )

    accuracy_gate = tfma.MetricThreshold(
        value_threshold=tfma.GenericValueThreshold(lower_bound={"value": accuracy_threshold})
    )
    baseline = None
    if baseline_model_uri:
        baseline = Importer(source_uri=baseline_model_uri, artifact_type=standard_artifacts.Model).with_id(
            "baseline_model"
        )
        accuracy_gate.change_threshold.CopyFrom(
            tfma.GenericChangeThreshold(
                direction=tfma.MetricDirection.HIGHER_IS_BETTER, absolute={"value": -max_accuracy_drop}
            )
        )
    eval_config = tfma.EvalConfig(
        model_specs=[
            tfma.ModelSpec(
                signature_name="serving_default",
                label_key=LABEL_XF,
                preprocessing_function_names=["transform_features"],
            )
        ],
        slicing_specs=[tfma.SlicingSpec(), tfma.SlicingSpec(feature_keys=["island"])],
        metrics_specs=[
            tfma.MetricsSpec(
                metrics=[
                    tfma.MetricConfig(class_name="ExampleCount"),
                    tfma.MetricConfig(class_name="SparseCategoricalAccuracy", threshold=accuracy_gate),
                ]
            )
        ],
    )
    # Only the metrics above: not also the loss and metrics compiled into the Keras model.
    eval_config.options.include_default_metrics.value = False
    evaluator = Evaluator(
        examples=example_gen.outputs["examples"],
        model=trainer.outputs["model"],
        baseline_model=baseline.outputs["result"] if baseline else None,
        eval_config=eval_config,
    )
    pusher = Pusher(
        model=trainer.outputs["model"],
        model_blessing=evaluator.outputs["blessing"],
        push_destination=pusher_pb2.PushDestination(
            filesystem=pusher_pb2.PushDestination.Filesystem(base_directory=serving_model_dir)
        ),
    )

    components = [example_gen, statistics_gen, schema_gen, example_validator, transform, trainer]
    components += [baseline] if baseline else []
    components += [evaluator, pusher]
    return pipeline.Pipeline(
        pipeline_name=PIPELINE_NAME,
        pipeline_root=pipeline_root,
        components=components,
        metadata_connection_config=(
            metadata.sqlite_metadata_connection_config(metadata_path) if metadata_path else None
        ),
        beam_pipeline_args=beam_pipeline_args or [],
    )
