from kfp import dsl
from kfp.dsl import HTML, Dataset, Input, Metrics, Model, Output

from components.common.images import COMPONENTS_IMAGE


@dsl.component(base_image=COMPONENTS_IMAGE, install_kfp_package=False)
def lm_evaluate(
    corpus: Input[Dataset],
    model: Input[Model],
    metrics: Output[Metrics],
    report: Output[HTML],
    margin: float = 0.02,
    temperature: float = 0.7,
    max_tokens: int = 200,
    seed: int = 42,
    ngram_order: int = 3,
) -> bool:
    """Test perplexity vs a Kneser-Ney character n-gram of order ``ngram_order``, task checks and guardrails;
    write an HTML report.

    Returns whether the model passed the gate (perplexity at most (1 - margin) x the n-gram's and no guardrail
    hit): a single bool because kfp.local 2.17 cannot resolve named outputs inside dsl.If conditions.
    """
    import json
    from pathlib import Path

    from components.common.metadata import log_metrics
    from components.lm_evaluate.logic import evaluate_lm, report_html
    from components.lm_train.charlm import load_charlm
    from components.lm_train.logic import HISTORY_FILE
    from components.text_corpus.logic import load_split

    history_file = Path(model.path) / HISTORY_FILE
    texts = [load_split(Path(corpus.path), name) for name in ("train", "validation", "test")]
    result = evaluate_lm(load_charlm(Path(model.path)), *texts, margin, temperature, max_tokens, seed, ngram_order)
    log_metrics(metrics, result.metrics())
    history = json.loads(history_file.read_text()) if history_file.is_file() else None
    Path(report.path).write_text(report_html(result, history))
    verdict = "PASSED" if result.passed else "did NOT pass"
    print(
        f"perplexity {result.perplexity:.3f} vs order-{result.baseline_order} n-gram {result.baseline_perplexity:.3f} "
        f"(best n-gram: order {result.best_ngram_order}, {result.best_ngram_perplexity:.3f}), "
        f"task checks {result.task_checks_passed}/{result.task_checks_total}, "
        f"guardrail hits {result.guardrail_hits}: {verdict} the gate (margin {margin})"
    )
    return result.passed
