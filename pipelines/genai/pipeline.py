"""Session 8: the kit's guides -> clean and split -> train a character GRU -> evaluate vs an n-gram -> gate ->
register a better model with its generation settings; beside it, retrieval for RAG over the same guides.

Runs offline: the corpus is the kit's own Spanish guides and the model is trained from scratch. The registry
is a folder path (relative to where labkit runs; the docker runner mounts it if it exists); serve its champion
with ``labkit serve genai --registry build/genai-registry``. A registered model is served on 127.0.0.1 by the
last step and answers the task checks over the OpenAI chat-completions API; ``endpoint_url`` points the same
step at any real endpoint, with the key in the variable ``endpoint_api_key_env`` names (never a parameter value:
the executor logs those).
"""

from typing import NamedTuple

from kfp import dsl
from kfp.dsl import Metrics

from components.lm_evaluate.component import lm_evaluate
from components.lm_register.component import lm_compare, lm_register
from components.lm_serve.component import lm_serve_check
from components.lm_train.component import lm_train
from components.rag_retrieval.component import rag_register, rag_retrieval
from components.text_corpus.component import text_corpus


class GenaiOutputs(NamedTuple):
    language_model: Metrics
    retrieval: Metrics


@dsl.pipeline(
    name="genai",
    description="Train a character language model on the kit's guides; register it only if it beats an n-gram "
    "baseline's perplexity by a margin, trips no guardrail and beats the registry's champion.",
)
def genai_pipeline(
    epochs: int = 12,
    seq_len: int = 64,
    units: int = 128,
    learning_rate: float = 0.005,
    seed: int = 42,
    margin: float = 0.02,
    ngram_order: int = 3,
    temperature: float = 0.7,
    max_tokens: int = 200,
    registry: str = "build/genai-registry",
    model_name: str = "charlm",
    corpus: str = "kit-guides",
    endpoint_url: str = "",
    endpoint_api_key_env: str = "LABKIT_GENAI_API_KEY",
    endpoint_model: str = "",
    min_recall: float = 0.6,
) -> GenaiOutputs:
    # The retrieval index is gated and versioned like the model: registered only if it passes and beats the
    # champion index.
    retrieval_task = rag_retrieval(source=corpus, min_recall=min_recall)
    with dsl.If(retrieval_task.outputs["Output"] == True, name="index-passed"):  # noqa: E712 (KFP condition)
        rag_register(chunks=retrieval_task.outputs["chunks"], registry=registry)
    corpus_task = text_corpus(source=corpus, seed=seed)
    train_task = lm_train(
        corpus=corpus_task.outputs["corpus"],
        epochs=epochs,
        seq_len=seq_len,
        units=units,
        learning_rate=learning_rate,
        seed=seed,
    )
    evaluate_task = lm_evaluate(
        corpus=corpus_task.outputs["corpus"],
        model=train_task.outputs["model"],
        margin=margin,
        temperature=temperature,
        max_tokens=max_tokens,
        seed=seed,
        ngram_order=ngram_order,
    )
    with dsl.If(evaluate_task.outputs["Output"] == True, name="passed-gate"):  # noqa: E712 (KFP condition)
        compare_task = lm_compare(
            challenger=train_task.outputs["model"],
            corpus=corpus_task.outputs["corpus"],
            registry=registry,
            model_name=model_name,
        )
        with dsl.If(compare_task.outputs["Output"] == True, name="beats-champion"):  # noqa: E712
            register_task = lm_register(
                model=train_task.outputs["model"],
                evaluation=evaluate_task.outputs["metrics"],
                registry=registry,
                model_name=model_name,
                temperature=temperature,
                max_tokens=max_tokens,
                seed=seed,
            )
            # The served model answers the task checks as chat completions; endpoint_url sends them elsewhere.
            lm_serve_check(
                registered=register_task.outputs["registered"],
                model_name=model_name,
                endpoint_url=endpoint_url,
                endpoint_api_key_env=endpoint_api_key_env,
                endpoint_model=endpoint_model,
            )
    return GenaiOutputs(language_model=evaluate_task.outputs["metrics"], retrieval=retrieval_task.outputs["metrics"])
