"""Sesión 5: completá el pipeline de entrenamiento.

Correlo con:   labkit lab run 5
Autochequeo:   labkit lab check 5

Los componentes ya existen (components/<nombre>/component.py); tu trabajo es conectarlos.
Buscá los TODO(step N) en orden.
"""

from kfp import dsl
from kfp.dsl import Metrics

from components.evaluate.component import evaluate
from components.ingest.component import ingest
from components.push.component import push  # noqa: F401  (lo usás en el step 5)
from components.split.component import split
from components.train.component import train
from components.validate.component import validate


@dsl.pipeline(name="training", description="Sesión 5: pipeline de entrenamiento de pingüinos.")
def training_pipeline(
    epochs: int = 40,
    learning_rate: float = 0.01,
    seed: int = 42,
    # TODO(step 4): agregá el parámetro accuracy_threshold (float, por defecto 0.9).
    source: str = "palmerpenguins",
) -> Metrics:
    ingest_task = ingest(source=source)
    validate_task = validate(dataset=ingest_task.outputs["dataset"])  # noqa: F841  (lo usás en el step 1)

    # TODO(step 1): partí los datos con `split`. Usá el dataset de ingest y la semilla `seed`, y hacé que corra
    # recién después de validar: split(...).after(validate_task).
    split_task = split(dataset=ingest_task.outputs["dataset"])

    # TODO(step 2): entrená con `train` sobre split_task.outputs["train_data"], pasando epochs, learning_rate
    # y seed.
    train_task = train(train_data=split_task.outputs["train_data"])

    # TODO(step 3): evaluá con `evaluate`: necesita train_data, test_data y el modelo de train_task.
    # Mirá la firma en components/evaluate/component.py.
    evaluate_task = evaluate(
        train_data=split_task.outputs["train_data"],
        test_data=split_task.outputs["train_data"],
        model=train_task.outputs["model"],
    )

    # TODO(step 4): pasale accuracy_threshold a evaluate.

    # TODO(step 5): publicá el modelo con `push` SOLO si pasó el gate:
    #   with dsl.If(evaluate_task.outputs["Output"] == True, name="passed-gate"):
    #       push(model=..., metrics=...)

    return evaluate_task.outputs["metrics"]
