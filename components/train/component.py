from kfp import dsl
from kfp.dsl import HTML, Dataset, Input, Model, Output

from components.common.images import COMPONENTS_IMAGE


@dsl.component(base_image=COMPONENTS_IMAGE, install_kfp_package=False)
def train(
    train_data: Input[Dataset],
    model: Output[Model],
    training_curve: Output[HTML],
    epochs: int = 40,
    learning_rate: float = 0.01,
    seed: int = 42,
    hidden_units: int = 16,
):
    """Train a seeded Keras MLP; write the model folder and its training curve."""
    from pathlib import Path

    import pandas as pd

    from components.train.logic import save_model_dir, train_mlp, training_curve_html

    network, preprocessing, history = train_mlp(
        pd.read_csv(train_data.path),
        epochs=epochs,
        learning_rate=learning_rate,
        seed=seed,
        hidden_units=hidden_units,
    )
    save_model_dir(network, preprocessing, history, Path(model.path))
    Path(training_curve.path).write_text(training_curve_html(history))
    model.metadata["framework"] = "keras"
    model.metadata["final_training_accuracy"] = history["accuracy"][-1]
    print(f"trained {epochs} epochs: final training accuracy {history['accuracy'][-1]:.3f}")
