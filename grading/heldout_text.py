"""Held-out text for session 8: Spanish sentences about the course's pipelines that no public file contains.

A submission's language model is scored on text the sandbox never received. The guides are public (a
submission could memorise them), so the grader writes its own text instead: sentences drawn from templates in
the guides' register and vocabulary, filled from word lists with the rubric's seed (the real one is in the
hidden rubric). Every character is in the corpus alphabet (``components.text_corpus.logic.ALPHABET``).
"""

from __future__ import annotations

import numpy as np

DESIGN = "templates-v1"  # part of grading.batch's grading key: change it whenever the generated text changes
STEPS = ("ingest", "validate", "split", "train", "evaluate", "push", "text-corpus", "lm-train", "lm-evaluate")
THINGS = (
    "el modelo",
    "el pipeline",
    "el corrector",
    "el registro",
    "el campeón",
    "el baseline",
    "la corrida",
    "la semilla",
    "el lote",
    "el artefacto",
)
PLACES = ("la carpeta de la corrida", "el registro", "el clúster", "la imagen de componentes", "el almacén de objetos")
METRICS = ("la accuracy", "la perplejidad", "el macro-f1", "la distancia de jensen-shannon", "el psi")
VERBS = ("escribe", "lee", "compara", "registra", "publica", "descarta", "evalúa", "guarda")
CONDITIONS = ("si hay drift", "si el modelo gana", "cuando la compuerta se abre", "si la validación falla")
NUMBERS = ("0.9", "0.2", "0.1", "12", "42", "200", "3", "64")
TEMPLATES = (
    "el paso {step} corre después de {step2} y {verb} {thing} en {place}.",
    "{condition}, {thing} {verb} {thing2}; si no, el pipeline termina sin registrar nada.",
    "{metric} del modelo nuevo es de {number} y la del baseline es de {number2}.",
    "para ver qué pasó, abrí {place} y buscá {thing} que dejó el paso {step}.",
    "con la semilla {number} {thing} sale igual en cada corrida, así que {metric} no cambia.",
    "{thing} no {verb} {thing2} {condition}: el dsl.if lo impide.",
    "el corrector mide {metric} en datos reservados que el pipeline nunca ve.",
    "¿qué {verb} el paso {step}? {thing}, que queda en {place}.",
)


def _fill(template: str, rng: np.random.Generator) -> str:
    def pick(options: tuple[str, ...]) -> str:
        return options[int(rng.integers(len(options)))]

    return template.format(
        step=pick(STEPS),
        step2=pick(STEPS),
        thing=pick(THINGS),
        thing2=pick(THINGS),
        place=pick(PLACES),
        metric=pick(METRICS),
        verb=pick(VERBS),
        condition=pick(CONDITIONS),
        number=pick(NUMBERS),
        number2=pick(NUMBERS),
    )


def generate_text(characters: int, seed: int) -> str:
    """About ``characters`` characters of held-out text (whole sentences, one paragraph per line)."""
    rng = np.random.default_rng(seed)
    lines: list[str] = []
    size = 0
    while size < characters:
        sentences = [_fill(TEMPLATES[int(rng.integers(len(TEMPLATES)))], rng) for _ in range(int(rng.integers(2, 5)))]
        line = " ".join(sentences)
        lines.append(line)
        size += len(line) + 1
    return "\n".join(lines)
