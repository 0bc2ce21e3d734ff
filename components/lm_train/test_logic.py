"""Training a tiny character GRU with real TensorFlow, and numpy inference against Keras (about 15 s)."""

import itertools
from pathlib import Path

import numpy as np
import pytest

from components.lm_train.charlm import UNKNOWN, load_charlm
from components.lm_train.logic import KERAS_FILE, save_model_dir, train_char_lm, windows

TRAIN = "el pipeline entrena el modelo, el corrector corre la corrida y el registro guarda la versión.\n" * 12
VALIDATION = "el corrector corre el pipeline y guarda el modelo en el registro.\n" * 3
SMALL = {"epochs": 2, "seq_len": 16, "units": 16, "learning_rate": 0.01, "seed": 5}


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory):
    model, charlm, history = train_char_lm(TRAIN, VALIDATION, **SMALL)
    folder = tmp_path_factory.mktemp("model")
    save_model_dir(model, charlm, history, folder)
    return model, charlm, history, folder


def test_numpy_inference_matches_keras(trained) -> None:
    model, _, _, folder = trained
    loaded = load_charlm(folder)
    ids = loaded.encode(VALIDATION[:40])
    keras_logits = np.asarray(model(ids[None, :]))[0]
    state, numpy_logits = loaded.initial_state(1), []
    for i in ids:
        logits, state = loaded.step(np.array([i]), state)
        numpy_logits.append(logits[0])
    np.testing.assert_allclose(np.array(numpy_logits), keras_logits, atol=1e-4)
    assert (folder / KERAS_FILE).is_file() and loaded.config["best_epoch"] in (1, 2)


def test_windowed_scoring_equals_one_pass_on_text_shorter_than_a_window(trained) -> None:
    _, charlm, _, _ = trained
    ids = charlm.encode(VALIDATION[:12])
    state, expected = charlm.initial_state(1), []
    for current, following in itertools.pairwise(ids):
        logits, state = charlm.step(np.array([current]), state)
        shifted = logits[0] - logits[0].max()
        expected.append(shifted[following] - np.log(np.exp(shifted).sum()))
    np.testing.assert_allclose(charlm.sequence_log_probs(ids), expected, atol=1e-12)
    long = charlm.sequence_log_probs(charlm.encode(TRAIN[:200]))  # many windows: every position once
    assert long.shape == (199,) and np.isfinite(long).all()


def test_same_seed_same_weights_and_generation_is_seeded(trained) -> None:
    _, charlm, history, _ = trained
    _, again, again_history = train_char_lm(TRAIN, VALIDATION, **SMALL)
    for name, value in charlm.weights.items():
        np.testing.assert_array_equal(value, again.weights[name])
    assert history == again_history
    one = charlm.generate("el ", 30, temperature=1.0, seed=3)
    assert one == charlm.generate("el ", 30, temperature=1.0, seed=3)
    assert one.prompt_tokens == 3 and one.completion_tokens == 30 and one.finish_reason == "length"
    greedy = charlm.generate("el ", 6, temperature=0.0).text
    stopped = charlm.generate("el ", 300, temperature=0.0, stop=["never", greedy[2:5]])
    assert stopped.finish_reason == "stop" and stopped.text == greedy[: greedy.index(greedy[2:5])]
    assert charlm.vocab[UNKNOWN] == "" and "€" not in charlm.generate("€", 50, temperature=2.0, seed=1).text


def test_windows_and_bad_hyperparameters() -> None:
    inputs, targets = windows(np.arange(10), seq_len=4, stride=2)
    assert inputs.tolist()[1] == [2, 3, 4, 5] and targets.tolist()[1] == [3, 4, 5, 6]
    with pytest.raises(ValueError, match="needs at least"):
        windows(np.arange(3), seq_len=4, stride=1)
    with pytest.raises(ValueError, match="epochs"):
        train_char_lm(TRAIN, VALIDATION, **{**SMALL, "epochs": 0})
    with pytest.raises(ValueError, match="learning_rate"):
        train_char_lm(TRAIN, VALIDATION, **{**SMALL, "learning_rate": 0})


def test_a_model_folder_without_weights_is_named(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="lm_train"):
        load_charlm(tmp_path)
