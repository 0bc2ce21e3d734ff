"""Session 7: ingest a new batch -> validate -> drift vs reference -> if drift: retrain -> champion/challenger -> push.

The registry is a pipeline parameter (a folder path). The subprocess runner sees host paths; labkit's docker
runner mounts every parameter that names an existing host path, so the folder must exist. On a cluster the
path must be a volume the tasks mount; every registered version is also returned as the ``registered`` Model
artifact, which KFP stores in the object store.
"""

from kfp import dsl
from kfp.dsl import Metrics

from components.champion.component import compare_models, register_model
from components.drift.component import detect_drift
from components.ingest.component import ingest
from components.split.component import split
from components.train.component import train
from components.validate.component import validate


@dsl.pipeline(
    name="continuous-training",
    description="Check a new batch for drift against the reference; on drift retrain, and push only a better model.",
)
def continuous_training_pipeline(
    batch: str,
    registry: str,
    reference: str = "palmerpenguins",
    model_name: str = "penguins",
    epochs: int = 30,
    learning_rate: float = 0.01,
    seed: int = 42,
    alpha: float = 0.05,
    psi_threshold: float = 0.2,
    js_threshold: float = 0.1,
    min_improvement: float = 0.0,
    force_retrain: bool = False,
) -> Metrics:
    reference_task = ingest(source=reference)
    batch_task = ingest(source=batch)
    validate_task = validate(dataset=batch_task.outputs["dataset"])
    drift_task = detect_drift(
        reference=reference_task.outputs["dataset"],
        current=batch_task.outputs["dataset"],
        alpha=alpha,
        psi_threshold=psi_threshold,
        js_threshold=js_threshold,
        force_retrain=force_retrain,
    ).after(validate_task)
    with dsl.If(drift_task.outputs["Output"] == True, name="drift-detected"):  # noqa: E712 (KFP condition)
        split_task = split(dataset=batch_task.outputs["dataset"], seed=seed)
        train_task = train(
            train_data=split_task.outputs["train_data"], epochs=epochs, learning_rate=learning_rate, seed=seed
        )
        compare_task = compare_models(
            challenger=train_task.outputs["model"],
            train_data=split_task.outputs["train_data"],
            test_data=split_task.outputs["test_data"],
            registry=registry,
            model_name=model_name,
            min_improvement=min_improvement,
        )
        with dsl.If(compare_task.outputs["Output"] == True, name="challenger-wins"):  # noqa: E712
            register_model(
                model=train_task.outputs["model"],
                comparison=compare_task.outputs["metrics"],
                registry=registry,
                model_name=model_name,
            )
    return drift_task.outputs["metrics"]
