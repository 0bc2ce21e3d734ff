from kfp import dsl
from kfp.dsl import HTML, Dataset, Input, Model, Output

from components.common.images import COMPONENTS_IMAGE


@dsl.component(base_image=COMPONENTS_IMAGE, install_kfp_package=False)
def train_distributed(
    train_data: Input[Dataset],
    model: Output[Model],
    training_curve: Output[HTML],
    workers: int = 2,
    epochs: int = 40,
    learning_rate: float = 0.01,
    seed: int = 42,
    hidden_units: int = 16,
    batch_size: int = 32,
):
    """The train step with tf.distribute.MultiWorkerMirroredStrategy: ``workers`` processes inside this task.

    Drop-in for ``train`` (same outputs, same model folder). ``batch_size`` is per worker. The workers talk
    over 127.0.0.1 on free ports, so the task needs no cluster networking; on a cluster, give the pod as many
    CPUs as workers.
    """
    import json
    from pathlib import Path

    from components.train.distributed import train_multiworker
    from components.train.logic import training_curve_html

    run = train_multiworker(
        Path(train_data.path),
        Path(model.path),
        workers=workers,
        epochs=epochs,
        learning_rate=learning_rate,
        seed=seed,
        hidden_units=hidden_units,
        batch_size=batch_size,
    )
    history = json.loads((Path(model.path) / "history.json").read_text())
    Path(training_curve.path).write_text(training_curve_html(history))
    model.metadata.update({"framework": "keras", "workers": workers, "final_training_accuracy": run.final_accuracy})
    print(
        f"trained with {workers} workers in {run.fit_seconds:.1f} s: final training accuracy {run.final_accuracy:.3f}"
    )
