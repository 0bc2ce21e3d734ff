"""Chunking, the TF-IDF index and retrieval metrics (numpy/scipy, well under a second)."""

import numpy as np
import pytest

from components.rag_retrieval.logic import (
    QUESTIONS,
    Chunk,
    TfidfIndex,
    _random_ranking_expectations,
    chunk_guides,
    evaluate_retrieval,
    guide_files,
    tokenize,
)


def test_every_answer_is_in_the_guides_and_chunks_cover_every_guide() -> None:
    chunks = chunk_guides()
    assert len({c.source for c in chunks}) == len(guide_files()) and all(len(c.text) > 0 for c in chunks)
    for question, answer in QUESTIONS:
        assert any(answer in c.text for c in chunks), question


def test_tfidf_ranks_the_chunk_that_shares_rare_terms_first() -> None:
    documents = ["el corrector corre la corrida", "el registro guarda versiones del modelo", "la corrida del pipeline"]
    index = TfidfIndex(documents)
    assert index.search("¿dónde se guardan las versiones?", 1)[0][0] == 1
    norms = np.sqrt(np.asarray(index.matrix.multiply(index.matrix).sum(axis=1)).ravel())
    np.testing.assert_allclose(norms, 1.0)
    assert tokenize("¿Qué publicó el Pusher?") == ["publico", "pusher"]  # accents folded, stopwords out
    assert index.search("palabras ausentes", 3)[0][1] == 0.0


def test_metrics_and_the_random_ranking_they_are_compared_with() -> None:
    chunks = [Chunk("a", "la semilla fija el orden"), Chunk("b", "el gate usa un umbral"), Chunk("c", "otra cosa")]
    result = evaluate_retrieval(chunks, (("¿qué fija la semilla?", "semilla"), ("¿qué usa el gate?", "umbral")), k=1)
    assert result.ranks == [1, 1] and result.recall_at_k == 1.0 and result.mrr == 1.0
    recall, mrr = _random_ranking_expectations(relevant=1, total=3, k=1)
    assert recall == pytest.approx(1 / 3) and mrr == pytest.approx((1 + 1 / 2 + 1 / 3) / 3)
    assert _random_ranking_expectations(relevant=2, total=4, k=3)[0] == pytest.approx(1.0)
    with pytest.raises(ValueError, match="no chunk contains"):
        evaluate_retrieval(chunks, (("¿y esto?", "inexistente"),))


def test_the_kit_questions_beat_a_random_ranking_by_far() -> None:
    result = evaluate_retrieval(chunk_guides(), k=3)
    assert result.recall_at_k > 5 * result.random_recall_at_k and result.mrr > 5 * result.random_mrr
    assert result.questions == len(QUESTIONS) and len(result.ranks) == len(QUESTIONS)


def test_the_index_gate_and_its_registry_keep_a_champion_that_is_not_beaten(tmp_path) -> None:
    from components.champion.logic import champion_version, list_versions
    from components.rag_retrieval.logic import CHUNKS_FILE, read_chunks, register_index, write_chunks

    chunks = chunk_guides()
    result = evaluate_retrieval(chunks, k=3)
    assert result.passes(0.5) and not result.passes(1.01)
    write_chunks(chunks, tmp_path / "chunks.jsonl")
    assert read_chunks(tmp_path / "chunks.jsonl") == chunks
    first = register_index(tmp_path / "registry", tmp_path / "chunks.jsonl", result)
    assert first.version == "v0001" and champion_version(tmp_path / "registry", "guides-index") == "v0001"
    tie = register_index(tmp_path / "registry", tmp_path / "chunks.jsonl", result)
    assert tie.version is None and "se queda" in tie.reason
    assert list_versions(tmp_path / "registry", "guides-index") == ["v0001"]
    stored = tmp_path / "registry" / "guides-index" / "v0001" / CHUNKS_FILE
    assert read_chunks(stored) == chunks
