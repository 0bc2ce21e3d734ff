"""The versioned registry of language models: champion/challenger, generation settings, lookup errors."""

import json
from pathlib import Path

import numpy as np
import pytest

from components.lm_register.logic import (
    GENERATION_FILE,
    PROMPT_TEMPLATE,
    GenerationSettings,
    compare_with_champion,
    load_settings,
    register,
    version_dir,
)
from components.lm_train.charlm import load_charlm, untrained_charlm

TEXT = "el pipeline entrena el modelo y el corrector corre la corrida.\n" * 20


def saved_charlm(folder: Path, seed: int, unigram: bool = False) -> Path:
    """The kit's model class with random weights (training is lm_train's test): enough to store and compare.

    ``unigram``: no recurrent signal, the output bias set to the text's character frequencies, which predicts
    the text better than random weights do.
    """
    model = untrained_charlm(TEXT, units=8, seed=seed)
    if unigram:
        counts = np.array([TEXT.count(c) if c else 0 for c in model.vocab], dtype=float) + 0.1
        model.weights["dense_kernel"] = np.zeros_like(model.weights["dense_kernel"])
        model.weights["dense_bias"] = np.log(counts / counts.sum())
    model.save(folder)
    return folder


SETTINGS = GenerationSettings(PROMPT_TEMPLATE, temperature=0.5, max_tokens=40, seed=7)


def test_first_model_registers_a_tie_does_not_and_a_better_one_does(tmp_path: Path) -> None:
    registry = tmp_path / "registry"
    first = saved_charlm(tmp_path / "a", seed=1)
    comparison = compare_with_champion(first, TEXT, registry)
    assert comparison.better and comparison.champion_version is None
    assert register(registry, first, {"perplexity": comparison.challenger_perplexity}, SETTINGS) == "v0001"

    tie = compare_with_champion(first, TEXT, registry)
    assert not tie.better and tie.champion_version == "v0001" and "el campeón se queda" in tie.reason

    better = saved_charlm(tmp_path / "b", seed=2, unigram=True)
    versus = compare_with_champion(better, TEXT, registry)
    assert versus.better and versus.challenger_perplexity < versus.champion_perplexity
    assert register(registry, better, {}, SETTINGS) == "v0002"
    assert version_dir(registry).name == "v0002"  # the new champion
    folder = version_dir(registry, version="v0001")
    assert load_settings(folder) == SETTINGS
    assert json.loads((folder / GENERATION_FILE).read_text())["prompt_template"] == "{user}"
    assert load_charlm(folder).vocab == load_charlm(first).vocab
    events = (registry / "charlm" / "events.jsonl").read_text().splitlines()
    assert json.loads(events[0])["version"] == "v0001"


def test_lookup_errors_name_what_exists(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="labkit pipeline run genai"):
        version_dir(tmp_path / "nothing")
    register(tmp_path, saved_charlm(tmp_path / "m", seed=1), {}, SETTINGS)
    with pytest.raises(FileNotFoundError, match="versions: v0001"):
        version_dir(tmp_path, version="v0009")
    with pytest.raises(FileNotFoundError, match="lm_train"):
        register(tmp_path, tmp_path / "empty", {}, SETTINGS)


def test_the_prompt_is_the_last_user_message() -> None:
    messages = [
        {"role": "system", "content": "sé breve"},
        {"role": "user", "content": "primero"},
        {"role": "assistant", "content": "..."},
        {"role": "user", "content": "el pipel"},
    ]
    assert SETTINGS.render(messages) == "el pipel"
    with pytest.raises(ValueError, match="no user message"):
        SETTINGS.render([{"role": "system", "content": "hola"}])
    assert GenerationSettings.from_dict(SETTINGS.as_dict()) == SETTINGS
