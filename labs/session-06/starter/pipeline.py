"""Sesión 6: completá el pipeline de TFX.

Correlo con:   labkit lab run 6                      (corre en la imagen de TFX: hace falta Docker)
Con datos malos: labkit lab run 6 --param data=skewed

Los module files ya existen: pipelines/tfx_penguin/preprocessing.py (Transform) y trainer.py (Trainer).
Tu trabajo es conectar los componentes y poner el gate de evaluación. Buscá los TODO(step N) en orden.
El runner llama a create_pipeline con las rutas; no cambies la firma.
"""

from typing import Any

PIPELINE_NAME = "tfx-penguin"
LABEL_XF = "species_xf"


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
    import tensorflow_model_analysis as tfma

    # Todo lo que vas a usar ya está importado (noqa: lo usás en los steps 1-6).
    from tfx.components import (  # noqa: F401
        CsvExampleGen,
        Evaluator,
        ExampleValidator,
        Pusher,
        SchemaGen,
        StatisticsGen,
        Trainer,
        Transform,
    )
    from tfx.dsl.components.common.importer import Importer  # noqa: F401
    from tfx.proto import example_gen_pb2, pusher_pb2, trainer_pb2  # noqa: F401
    from tfx.types import standard_artifacts  # noqa: F401

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

    # TODO(step 1): inferí el schema con SchemaGen a partir de statistics_gen.outputs["statistics"],
    # con infer_feature_shape=True y exclude_splits=["eval"] (el schema se aprende SOLO de train).
    schema_gen = None

    # TODO(step 2): validá las estadísticas de cada split contra ese schema con ExampleValidator
    # (statistics=..., schema=schema_gen.outputs["schema"]).
    example_validator = None

    # TODO(step 3): Transform con examples de example_gen, el schema y module_file=preprocessing_module.
    # Pasá disable_statistics=True (StatisticsGen ya describió los datos) y disable_analyzer_cache=True.
    transform = None

    # Hasta el step 3 no hay Transform, y sin Transform no hay con qué entrenar: el pipeline termina acá, en las
    # estadísticas (y en el schema y las anomalías desde los steps 1 y 2). Así `labkit lab run 6` corre desde
    # el primer paso y te muestra qué produjo cada componente. Cuando `transform` existe, esto no hace nada.
    if transform is None:
        return _assemble(
            [example_gen, statistics_gen, schema_gen, example_validator],
            pipeline_root,
            metadata_path,
            beam_pipeline_args,
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

    # TODO(step 4): el gate. Armá un tfma.MetricThreshold con value_threshold
    # tfma.GenericValueThreshold(lower_bound={"value": accuracy_threshold}) y usalo como threshold de la
    # métrica SparseCategoricalAccuracy de abajo.
    accuracy_gate = None

    baseline = None
    if baseline_model_uri:
        # TODO(step 6, opcional): traé el modelo base con
        #   baseline = Importer(source_uri=baseline_model_uri, artifact_type=standard_artifacts.Model)
        #   baseline = baseline.with_id("baseline_model")
        # y agregá al gate la comparación con ese modelo (perder más de max_accuracy_drop lo rechaza):
        #   accuracy_gate.change_threshold.CopyFrom(tfma.GenericChangeThreshold(
        #       direction=tfma.MetricDirection.HIGHER_IS_BETTER, absolute={"value": -max_accuracy_drop}))
        # (sin el step 4, accuracy_gate es None: creá antes un tfma.MetricThreshold()).
        pass
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
    # Solo las métricas de arriba: no también la pérdida y las métricas compiladas en el modelo de Keras.
    eval_config.options.include_default_metrics.value = False
    evaluator = Evaluator(
        examples=example_gen.outputs["examples"],
        model=trainer.outputs["model"],
        baseline_model=baseline.outputs["result"] if baseline else None,
        eval_config=eval_config,
    )

    # TODO(step 5): publicá con Pusher: model del trainer, model_blessing=evaluator.outputs["blessing"]
    # y push_destination=pusher_pb2.PushDestination(filesystem=pusher_pb2.PushDestination.Filesystem(
    # base_directory=serving_model_dir)).
    pusher = None

    components = [example_gen, statistics_gen, schema_gen, example_validator, transform, trainer]
    components += [baseline] if baseline else []
    components += [evaluator, pusher]
    return _assemble(components, pipeline_root, metadata_path, beam_pipeline_args)


def _assemble(
    components: list[Any], pipeline_root: str, metadata_path: str | None, beam_pipeline_args: list[str] | None
) -> Any:
    """El objeto Pipeline de TFX con los componentes que ya existen (los que todavía son None quedan afuera)."""
    from tfx.orchestration import metadata, pipeline

    return pipeline.Pipeline(
        pipeline_name=PIPELINE_NAME,
        pipeline_root=pipeline_root,
        components=[c for c in components if c is not None],
        metadata_connection_config=(
            metadata.sqlite_metadata_connection_config(metadata_path) if metadata_path else None
        ),
        beam_pipeline_args=beam_pipeline_args or [],
    )
