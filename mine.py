"""Session 5: ingest -> validate -> split -> train -> evaluate -> push only if the gate passes."""

from kfp import dsl
from kfp.dsl import Metrics

from components.evaluate.component import evaluate
from components.ingest.component import ingest
from components.push.component import push
from components.split.component import split
from components.train.component import train
from components.validate.component import validate


@dsl.pipeline(
    name="training",
    description="Train a Keras MLP on the penguins table and push it only if it beats the baseline and a threshold.",
)
def training_pipeline(
    epochs: int = 40,
    learning_rate: float = 0.01,
    seed: int = 42,
    accuracy_threshold: float = 0.9,
    source: str = "palmerpenguins",
) -> Metrics:
    ingest_task = ingest(source=source)
    validate_task = validate(dataset=ingest_task.outputs["dataset"])
    split_task = split(dataset=ingest_task.outputs["dataset"], seed=seed).after(validate_task)
    train_task = train(
        train_data=split_task.outputs["train_data"], epochs=epochs, learning_rate=learning_rate, seed=seed
    )
    evaluate_task = evaluate(
        train_data=split_task.outputs["train_data"],
        test_data=split_task.outputs["test_data"],
        model=train_task.outputs["model"],
        accuracy_threshold=accuracy_threshold,
    )
    with dsl.If(evaluate_task.outputs["Output"] == True, name="passed-gate"):  # noqa: E712 (KFP condition)
        push(model=train_task.outputs["model"], metrics=evaluate_task.outputs["metrics"])
    return evaluate_task.outputs["metrics"]
