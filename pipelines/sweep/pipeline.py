"""Session 7: a dsl.ParallelFor hyperparameter sweep of the Keras MLP that keeps the best model.

Each grid point trains and evaluates in its own branch; dsl.Collected gathers every branch's model and metrics
into pick_best. On a cluster the branches run as parallel pods (``parallelism`` caps how many at once);
kfp.local runs them one after another.
"""

from kfp import dsl
from kfp.dsl import Metrics

from components.evaluate.component import evaluate
from components.ingest.component import ingest
from components.split.component import split
from components.sweep.component import pick_best
from components.train.component import train
from components.validate.component import validate

# Edit the grid here: each value is one parallel branch. (A list of dicts mixing ints and floats would be
# simpler to read, but KFP 2.17 types every dict sub-field as a float, which the int `hidden_units` rejects.)
LEARNING_RATES = [0.001, 0.003, 0.01, 0.03]


@dsl.pipeline(name="sweep", description="ParallelFor over learning rates; keep the best model.")
def sweep_pipeline(epochs: int = 30, hidden_units: int = 16, seed: int = 42, source: str = "palmerpenguins") -> Metrics:
    ingest_task = ingest(source=source)
    validate_task = validate(dataset=ingest_task.outputs["dataset"])
    split_task = split(dataset=ingest_task.outputs["dataset"], seed=seed).after(validate_task)
    with dsl.ParallelFor(LEARNING_RATES, parallelism=2, name="grid") as learning_rate:
        train_task = train(
            train_data=split_task.outputs["train_data"],
            epochs=epochs,
            learning_rate=learning_rate,
            hidden_units=hidden_units,
            seed=seed,
        )
        evaluate_task = evaluate(
            train_data=split_task.outputs["train_data"],
            test_data=split_task.outputs["test_data"],
            model=train_task.outputs["model"],
            accuracy_threshold=0.0,
        )
    best_task = pick_best(
        models=dsl.Collected(train_task.outputs["model"]),
        scores=dsl.Collected(evaluate_task.outputs["metrics"]),
    )
    return best_task.outputs["summary"]
