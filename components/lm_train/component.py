from kfp import dsl
from kfp.dsl import HTML, Dataset, Input, Model, Output

from components.common.images import COMPONENTS_IMAGE


@dsl.component(base_image=COMPONENTS_IMAGE, install_kfp_package=False)
def lm_train(
    corpus: Input[Dataset],
    model: Output[Model],
    training_curve: Output[HTML],
    epochs: int = 12,
    seq_len: int = 64,
    units: int = 128,
    learning_rate: float = 0.005,
    seed: int = 42,
):
    """Train a seeded character-level GRU language model on the corpus; keep the best validation epoch."""
    from pathlib import Path

    from components.lm_train.logic import save_model_dir, train_char_lm, training_curve_html
    from components.text_corpus.logic import load_split

    keras_model, charlm, history = train_char_lm(
        load_split(Path(corpus.path), "train"),
        load_split(Path(corpus.path), "validation"),
        epochs=epochs,
        seq_len=seq_len,
        units=units,
        learning_rate=learning_rate,
        seed=seed,
    )
    save_model_dir(keras_model, charlm, history, Path(model.path))
    Path(training_curve.path).write_text(training_curve_html(history))
    model.metadata.update(
        {
            "framework": "keras",
            "kind": "char-gru",
            "vocab_size": len(charlm.vocab),
            "best_epoch": charlm.config["best_epoch"],
        }
    )
    best = min(history["val_loss"])
    print(f"trained {epochs} epochs: best validation loss {best:.3f} nats/char at epoch {charlm.config['best_epoch']}")
