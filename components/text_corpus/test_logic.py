"""Corpus collection, cleaning and the seeded paragraph split (no TensorFlow, well under a second)."""

from pathlib import Path

import pytest

from components.text_corpus.logic import (
    ALPHABET,
    KIT_ROOT,
    CorpusError,
    build_corpus,
    clean_markdown,
    load_split,
    save_corpus,
    split_paragraphs,
)

GUIDE = """# Sesión 8 — Título

Un párrafo con **negrita**, `código` y un [enlace](https://example.org) que se queda como texto.
Sigue en otra línea ─▶ con símbolos.

```bash
labkit pipeline run genai   # un bloque de código no es prosa
```

| Paso | Qué hace |
|---|---|
| `train` | entrena el modelo de caracteres |
"""


def test_cleaning_keeps_prose_and_drops_markup_and_code() -> None:
    paragraphs = clean_markdown(GUIDE)
    assert paragraphs[0].startswith("un párrafo con negrita, código y un enlace que se queda como texto. sigue en")
    assert all("labkit pipeline run" not in p and "http" not in p and "**" not in p for p in paragraphs)
    assert any("entrena el modelo de caracteres" in p for p in paragraphs)
    assert all(set(p) <= ALPHABET and "\n" not in p for p in paragraphs)


def test_split_is_deterministic_by_seed_and_loses_nothing() -> None:
    paragraphs = [f"párrafo número {i} " * (1 + i % 5) for i in range(200)]
    first = split_paragraphs(paragraphs, seed=3)
    assert split_paragraphs(paragraphs, seed=3) == first
    assert split_paragraphs(paragraphs, seed=4) != first
    train, validation, test = first
    assert sorted(train + validation + test) == sorted(paragraphs)
    total = sum(map(len, paragraphs))
    for held_out in (validation, test):
        assert 0.09 < sum(map(len, held_out)) / total < 0.13


def test_the_kit_guides_are_the_default_corpus(tmp_path: Path) -> None:
    corpus = build_corpus(seed=42)
    files = [s["file"] for s in corpus.sources]
    assert files and all(f.startswith("labs/session-0") and f.endswith(".md") for f in files)
    assert any(f.endswith("GRADING.md") for f in files) and any(f.endswith("README.md") for f in files)
    sizes = corpus.sizes()
    assert sizes["train"] > 25_000 and sizes["validation"] > 2_000 and sizes["test"] > 2_000
    save_corpus(corpus, tmp_path)
    assert load_split(tmp_path, "test") == corpus.test
    assert (KIT_ROOT / "labs").is_dir()


def test_a_folder_of_markdown_is_a_corpus_and_an_empty_one_is_named(tmp_path: Path) -> None:
    (tmp_path / "guia.md").write_text("\n\n".join(f"Este es el párrafo {i} de la guía propia." for i in range(30)))
    assert build_corpus(str(tmp_path), seed=1).sizes()["train"] > 500
    empty = tmp_path / "vacía"
    empty.mkdir()
    with pytest.raises(CorpusError, match="vacía"):
        build_corpus(str(empty))
    with pytest.raises(FileNotFoundError, match="text_corpus"):
        load_split(empty, "train")
