"""Sesión 8: completá el pipeline de MLOps para un modelo generativo.

Correlo con:   labkit lab run 8 -p epochs=8 -p registry=build/genai-registry-mio
Servilo con:   labkit serve genai --registry build/genai-registry-mio --port 0

Los componentes ya existen (components/<nombre>/component.py); tu trabajo es conectarlos.
Buscá los TODO(step N) en orden.
"""

from typing import NamedTuple

from kfp import dsl
from kfp.dsl import Metrics

from components.lm_evaluate.component import lm_evaluate  # noqa: F401  (step 1)
from components.lm_register.component import lm_compare, lm_register  # noqa: F401  (steps 3 y 4)
from components.lm_serve.component import lm_serve_check  # noqa: F401  (step 5)
from components.lm_train.component import lm_train
from components.rag_retrieval.component import rag_register, rag_retrieval
from components.text_corpus.component import text_corpus


class GenaiOutputs(NamedTuple):
    language_model: Metrics
    retrieval: Metrics


@dsl.pipeline(name="genai", description="Sesión 8: un modelo de lenguaje con compuerta, registro y servicio.")
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
    # El índice de recuperación (RAG) ya tiene su compuerta: se registra solo si pasa y le gana al índice campeón.
    # Tu modelo de lenguaje necesita lo mismo (steps 1-4).
    retrieval_task = rag_retrieval(source=corpus, min_recall=min_recall)
    with dsl.If(retrieval_task.outputs["Output"] == True, name="index-passed"):  # noqa: E712
        rag_register(chunks=retrieval_task.outputs["chunks"], registry=registry)
    corpus_task = text_corpus(source=corpus, seed=seed)
    train_task = lm_train(  # noqa: F841  (lo usás en los steps 1, 3 y 4)
        corpus=corpus_task.outputs["corpus"],
        epochs=epochs,
        seq_len=seq_len,
        units=units,
        learning_rate=learning_rate,
        seed=seed,
    )

    # TODO(step 1): evaluá el modelo con `lm_evaluate` (corpus=..., model=train_task.outputs["model"]) pasándole
    # margin, temperature, max_tokens, seed y ngram_order. Devuelve True si la perplejidad en test es a lo sumo
    # (1 - margin) x la del n-grama y ninguna salida tocó un guardrail.

    # TODO(step 2): lo que sigue corre SOLO si pasó la compuerta:
    #   with dsl.If(evaluate_task.outputs["Output"] == True, name="passed-gate"):
    # (kfp.local 2.17 solo resuelve condiciones sobre la salida única "Output").

    # TODO(step 3): compará el modelo nuevo con el campeón del registro con `lm_compare` (challenger, corpus,
    # registry, model_name) y seguí solo si gana: un segundo dsl.If, anidado, sobre compare_task.outputs["Output"].

    # TODO(step 4): registrá el modelo con `lm_register` (model, evaluation=evaluate_task.outputs["metrics"],
    # registry, model_name) junto con su configuración de generación: temperature, max_tokens y seed.

    # TODO(step 5): serví el modelo registrado y mandale los task checks por la API de chat completions con
    # `lm_serve_check` (registered=register_task.outputs["registered"], model_name, endpoint_url,
    # endpoint_api_key_env, endpoint_model). Con endpoint_url vacío sirve tu modelo en 127.0.0.1.

    # TODO(step 1): devolvé las métricas de lm_evaluate en language_model.
    return GenaiOutputs(language_model=retrieval_task.outputs["metrics"], retrieval=retrieval_task.outputs["metrics"])
