"""Session 8 is graded by running it and scoring the registered language model on text no public file holds.

Fast tests cover the held-out text, the scorer's guards against models that would fool a perplexity, and the
static checks; one real batch (subprocess sandbox) grades submissions that each get one thing wrong.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from components.lm_train.charlm import CONFIG_FILE, VOCAB_FILE, untrained_charlm
from components.text_corpus.logic import ALPHABET, KIT_GUIDES, clean_markdown, guide_files
from grading.engines import ENGINES
from grading.grader import GradeResult
from grading.heldout_text import generate_text
from labkit.labs import get_lab
from tests.grading.sources import grade_sources

ENGINE = ENGINES["kfp-lm"]
EVALUATE_GATE = 'with dsl.If(evaluate_task.outputs["Output"] == True, name="passed-gate"):'


@pytest.fixture(scope="module")
def heldout() -> tuple[dict[str, str], str]:
    return ENGINE.heldout(0.25, 8)


def test_heldout_text_is_seeded_in_the_corpus_alphabet_and_in_no_guide(heldout: tuple[dict[str, str], str]) -> None:
    guides, text = heldout
    assert text == generate_text(ENGINE.heldout_characters, 8) and text != generate_text(ENGINE.heldout_characters, 9)
    assert len(text) >= ENGINE.heldout_characters and set(text) <= ALPHABET
    assert set(guides) == {str(p.relative_to(p.parents[2])) for p in guide_files(KIT_GUIDES)}
    prose = "\n".join(line for path in guide_files(KIT_GUIDES) for line in clean_markdown(path.read_text()))
    sentences = {s.strip() for line in text.splitlines() for s in line.split(". ") if len(s.strip()) > 40}
    assert sentences and not [s for s in sentences if s in prose], "held-out sentences must not be in the guides"


def _save(model, folder: Path) -> Path:
    model.save(folder)
    return folder


def test_a_model_that_knows_one_character_does_not_get_a_low_perplexity(
    heldout: tuple[dict[str, str], str], tmp_path: Path
) -> None:
    """Everything it does not know is "unknown", and it always predicts "unknown": read per vocabulary id its
    perplexity would be ~1. Over the corpus alphabet each unknown character pays its share."""
    guides, text = heldout
    model = untrained_charlm("$")  # a character the held-out text does not have
    model.weights["dense_kernel"][:] = 0.0
    model.weights["dense_bias"][:] = [30.0, -30.0]  # all mass on index 0, "unknown"
    naive = float(np.exp(-model.sequence_log_probs(model.encode(text)).mean()))
    assert naive < 1.01
    result = ENGINE.score(None, _save(model, tmp_path / "one"), guides, text)
    assert result["perplexity"] > 50 and result["perplexity_ratio"] > 5
    assert result["baseline_perplexity"] < 10


@pytest.mark.parametrize(
    ("tamper", "refusal"),
    [
        (lambda folder: (folder / VOCAB_FILE).write_text(json.dumps(["", "ab", "b", "c"])), "vocabulario"),
        (lambda folder: (folder / VOCAB_FILE).write_text(json.dumps(["", "\u4e2d", "b", "c"])), "vocabulario"),
        (lambda folder: (folder / CONFIG_FILE).write_text(json.dumps({"seq_len": 10**7})), "vocabulario"),
        (lambda folder: (folder / CONFIG_FILE).write_text("{not json"), "no se pudo leer"),
        (lambda folder: (folder / "weights.npz").unlink(), "no tiene los archivos"),
    ],
    ids=["multi-character-token", "foreign-alphabet", "huge-window", "broken-config", "no-weights"],
)
def test_the_scorer_refuses_models_that_are_not_the_kits(
    tamper, refusal: str, heldout: tuple[dict[str, str], str], tmp_path: Path
) -> None:
    folder = _save(untrained_charlm("abc"), tmp_path / "model")
    tamper(folder)
    with pytest.raises(RuntimeError, match=refusal) as error:
        ENGINE.score(None, folder, *heldout)
    assert "Traceback" not in str(error.value)


def test_a_linked_file_in_the_model_folder_is_refused_before_anything_reads_it(tmp_path: Path) -> None:
    run = tmp_path / "run"
    folder = _save(untrained_charlm("abc"), run / "lm-train" / "model")
    (folder / VOCAB_FILE).unlink()
    (folder / VOCAB_FILE).symlink_to("/etc/hostname")
    task = type("Task", (), {"name": "lm-train"})()
    with pytest.raises(LookupError, match="inválidos"):
        ENGINE.model_folder(run, task, "model")


# --- one real batch -------------------------------------------------------------------------------------


def _replace(source: str, old: str, new: str) -> str:
    assert source.count(old) == 1, f"the reference changed: {old!r} not found once"
    return source.replace(old, new)


def session8_sources() -> dict[str, str]:
    reference = get_lab(8).solution.read_text()
    return {
        # The gate's shape is right (a dsl.If on lm-evaluate) and its sense is wrong: only the runs can tell.
        "inverted_gate": _replace(reference, EVALUATE_GATE, EVALUATE_GATE.replace("== True", "== False")),
        # Trains on the kit's own copy of the guides instead of the corpus the grader gives.
        "own_corpus": _replace(
            reference,
            "corpus_task = text_corpus(source=corpus, seed=seed)",
            'corpus_task = text_corpus(source="kit-guides", seed=seed)',
        ),
    }


@pytest.fixture(scope="module")
def graded(tmp_path_factory: pytest.TempPathFactory) -> dict[str, GradeResult]:
    return grade_sources(session8_sources(), 8, tmp_path_factory.mktemp("session8-batch"))


def _lost(result: GradeResult) -> set[str]:
    return {c.id for c in result.checks if not c.passed}


def test_an_inverted_gate_passes_the_shape_check_and_fails_both_runs(graded: dict[str, GradeResult]) -> None:
    result = graded["inverted_gate"]
    lost = _lost(result)
    assert "static.register_gated_by_evaluation" not in lost
    assert {"execute.closed_gate_registers_nothing", "execute.registers_and_serves", "metrics.beats_ngram"} <= lost
    assert not result.passed


def test_training_on_other_text_than_the_given_corpus_fails_a_required_check(graded: dict[str, GradeResult]) -> None:
    result = graded["own_corpus"]
    assert _lost(result) == {"static.train_on_the_given_corpus"}, _lost(result)
    assert not result.passed and "static.train_on_the_given_corpus" in " ".join(result.notes)
