"""Sesión 7: completá el pipeline de entrenamiento continuo.

Correlo con:   labkit lab run 7 -p batch=build/batches/batch-003.csv -p registry=build/registry
Monitoreo:     labkit monitor simulate --pipeline session-07   (tu pipeline sobre 8 lotes)

Los componentes ya existen (components/<nombre>/component.py); tu trabajo es conectarlos.
Buscá los TODO(step N) en orden.
"""

from kfp import dsl
from kfp.dsl import Metrics

from components.champion.component import compare_models, register_model  # noqa: F401  (steps 3 y 4)
from components.drift.component import detect_drift  # noqa: F401  (step 1)
from components.ingest.component import ingest
from components.split.component import split
from components.train.component import train
from components.validate.component import validate


@dsl.pipeline(name="continuous-training", description="Sesión 7: entrenamiento continuo con detección de drift.")
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
    reference_task = ingest(source=reference)  # noqa: F841  (lo usás en el step 1)
    batch_task = ingest(source=batch)
    validate_task = validate(dataset=batch_task.outputs["dataset"])

    # TODO(step 1): medí el drift del lote contra la referencia con `detect_drift` (reference=..., current=...),
    # pasándole alpha, psi_threshold, js_threshold y force_retrain, y hacé que corra después de validar.
    # Devolvé sus métricas al final del pipeline (return drift_task.outputs["metrics"]).

    # TODO(step 2): todo lo que sigue tiene que correr SOLO si hubo drift:
    #   with dsl.If(drift_task.outputs["Output"] == True, name="drift-detected"):
    # (kfp.local 2.17 solo resuelve condiciones sobre la salida única "Output").
    split_task = split(dataset=batch_task.outputs["dataset"], seed=seed).after(validate_task)
    train_task = train(  # noqa: F841  (lo usás en el step 3)
        train_data=split_task.outputs["train_data"], epochs=epochs, learning_rate=learning_rate, seed=seed
    )

    # TODO(step 3): compará el challenger (el modelo recién entrenado) con el campeón del registro y con el
    # baseline usando `compare_models` (challenger, train_data, test_data, registry, model_name, min_improvement).

    # TODO(step 4): registrá el modelo con `register_model` SOLO si el challenger ganó
    # (un segundo dsl.If, anidado, sobre compare_task.outputs["Output"]).

    return validate_task.outputs["statistics"]  # TODO(step 1): devolvé las métricas de drift.
