"""Training and numpy inference against real TensorFlow (about 10 s)."""

import numpy as np
import pytest

from components.common.inference import UnsupportedModelError, load_dense_network, read_dense_layers
from components.ingest.logic import load_penguins_clean
from components.train.logic import save_model_dir, train_mlp


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    table = load_penguins_clean()
    model, preprocessing, history = train_mlp(table, epochs=5, learning_rate=0.01, seed=3)
    folder = tmp_path_factory.mktemp("model")
    save_model_dir(model, preprocessing, history, folder)
    return table, model, folder, history


def test_numpy_inference_matches_keras(trained) -> None:
    from components.common.features import encode_features

    table, model, folder, _ = trained
    network = load_dense_network(folder)
    keras_probabilities = model.predict(encode_features(table, network.preprocessing), verbose=0)
    np.testing.assert_allclose(network.predict_proba(table), keras_probabilities, atol=1e-5)


def test_same_seed_gives_same_weights(trained) -> None:
    table, model, _, history = trained
    again, _, again_history = train_mlp(table, epochs=5, learning_rate=0.01, seed=3)
    for ours, theirs in zip(model.get_weights(), again.get_weights(), strict=True):
        np.testing.assert_array_equal(ours, theirs)
    assert history == again_history


def test_non_dense_models_are_refused(tmp_path) -> None:
    import keras

    model = keras.Sequential([keras.Input((4,)), keras.layers.Lambda(lambda x: x * 2), keras.layers.Dense(3)])
    model.save(tmp_path / "model.keras")
    with pytest.raises(UnsupportedModelError, match="Lambda"):
        read_dense_layers(tmp_path / "model.keras")


def test_bad_hyperparameters_are_rejected() -> None:
    with pytest.raises(ValueError, match="epochs"):
        train_mlp(load_penguins_clean(), epochs=0, learning_rate=0.01, seed=1)
