"""The n-gram baseline, task checks, guardrails and the gate, with numpy only (no TensorFlow)."""

import numpy as np
import pytest

from components.lm_evaluate.logic import (
    GUARDRAILS,
    TASK_CHECKS,
    KneserNeyNgram,
    check_passes,
    evaluate_lm,
    fit_baseline,
    guardrail_hits,
    max_order,
    perplexity,
    report_html,
)
from components.lm_train.charlm import untrained_charlm
from components.text_corpus.logic import build_corpus


@pytest.fixture(scope="module")
def corpus():
    return build_corpus(seed=42)


@pytest.mark.parametrize("order", [1, 2, 4, 7])
def test_kneser_ney_is_a_distribution_for_every_context(order: int) -> None:
    rng = np.random.default_rng(order)
    train = rng.integers(0, 6, 500)
    model = KneserNeyNgram(train, vocab_size=7, order=order, discount=0.75)  # id 6 never seen in training
    for context in ([], [1], [2, 3, 4, 5, 0, 1], [6, 6, 6]):
        nexts = [np.array([*context, w]) for w in range(7)]
        # A sequence's last log-probability is the next character's, given the context before it.
        total = sum(np.exp(model.sequence_log_probs(np.array([0, *s]))[-1]) for s in nexts)
        assert total == pytest.approx(1.0)


def test_higher_orders_learn_repeated_text_and_the_baseline_picks_on_validation() -> None:
    ids = np.tile(np.array([1, 2, 3, 1, 3, 2, 4]), 60)
    unigram, fourgram = (perplexity(KneserNeyNgram(ids, 5, n).sequence_log_probs(ids)) for n in (1, 4))
    assert fourgram < 1.5 < unigram
    baseline = fit_baseline(ids[:300], ids[300:], 5)
    assert baseline.order > 1 and baseline.validation_perplexity < 1.5
    assert max_order(69) == 10 and 69**10 < 2**63 < 69**11
    with pytest.raises(ValueError, match="64-bit"):
        KneserNeyNgram(ids, 69, 11)


def test_task_checks_are_known_from_the_corpus_and_guardrails_are_not_in_it(corpus) -> None:
    text = corpus.train + corpus.validation + corpus.test
    for prompt, expected in TASK_CHECKS:
        assert text.count(prompt + expected) >= 2, (prompt, expected)
        assert corpus.train.count(prompt + expected) >= 1, (prompt, expected)
    assert not [g for g in GUARDRAILS if g.lower() in text]


def test_check_rule_and_guardrail_hits() -> None:
    assert check_passes("el pipel", "ine", "ines del curso")
    assert check_passes("el pipel", "ine", "El pipeline: ...")  # a chat model that repeats the prompt
    assert not check_passes("el pipel", "ine", "x" * 40 + "pipeline")
    assert guardrail_hits(["todo bien", "mi PASSWORD es"]) == [{"guardrail": "password", "output": "mi PASSWORD es"}]


def test_an_untrained_model_does_not_pass_the_gate(corpus) -> None:
    model = untrained_charlm(corpus.train)
    result = evaluate_lm(model, corpus.train, corpus.validation, corpus.test, 0.0, 0.7, 30, seed=1)
    assert result.perplexity > 3 * result.baseline_perplexity
    assert not result.beats_baseline and not result.passed
    assert result.baseline_order == 3  # the gate's n-gram
    # The guides repeat phrases: a longer context helps an n-gram, and the best one is reported beside the gate's.
    assert result.best_ngram_order > 5 and result.best_ngram_perplexity < 0.7 * result.baseline_perplexity
    with pytest.raises(ValueError, match="no n-gram order"):
        evaluate_lm(model, corpus.train, corpus.validation, corpus.test, 0.0, 0.7, 30, seed=1, ngram_order=40)
    assert result.task_checks_total == len(TASK_CHECKS)
    metrics = result.metrics()
    assert {"perplexity", "baseline_perplexity", "guardrail_hits", "passed"} <= set(metrics)
    assert "NO pasó el gate" in report_html(result)


def test_a_guardrail_hit_closes_the_gate_even_at_a_negative_margin(corpus) -> None:
    model = untrained_charlm(corpus.train)
    with pytest.raises(ValueError, match="margin"):
        evaluate_lm(model, corpus.train, corpus.validation, corpus.test, -0.5, 0.7, 30, seed=1)
    result = evaluate_lm(model, corpus.train, corpus.validation, corpus.test, 0.0, 1.0, 60, 1, guardrails=("e",))
    assert result.guardrail_hits > 0 and not result.passed
