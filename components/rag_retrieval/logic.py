"""Retrieval for RAG, evaluated: chunk the kit's guides, a TF-IDF index in numpy/scipy, recall@k and MRR on a
question set the kit wrote, against the chance of a random ranking.

A chunk is relevant to a question when it contains the question's answer phrase (after the corpus cleaning),
so the labels survive a change of chunk size; test_logic.py checks that every answer is in the guides.
"""

from __future__ import annotations

import json
import re
import shutil
import tempfile
import unicodedata
from collections import Counter
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
from scipy import sparse

from components.text_corpus.logic import KIT_GUIDES, KIT_ROOT, clean_markdown, guide_files

# (question, answer phrase that a relevant chunk contains): questions as a student would ask them.
QUESTIONS: tuple[tuple[str, str], ...] = (
    ("¿Cuántos archivos y cuántos MiB puede tener como máximo una entrega?", "200 archivos y 20 mib"),
    ("¿Por qué no puedo instalar TFX con pip en mi máquina y tengo que usar una imagen?", "glibc"),
    ("¿ExampleValidator frena el pipeline cuando encuentra anomalías?", "informa, no frena"),
    ("¿Qué isla que no está en entrenamiento aparece en el lote skewed?", "anvers"),
    ("¿Cuánto tiempo puede correr mi código durante la corrección?", "180 s"),
    ("¿Por qué el backend de KFP no ejecuta el Resolver de TFX?", "resolver executors not"),
    (
        "Si el modelo nuevo saca la misma accuracy que el que ya está sirviendo, ¿se publica?",
        "un empate no reemplaza al campeón",
    ),
    ("¿Cuándo se declara drift en una variable: qué alpha y qué umbrales de PSI y JS?", "psi >= 0.2 o js >= 0.1"),
    ("¿Cómo dibujo el DAG de mi pipeline como imagen?", "labkit pipeline show session-05"),
    ("¿Cuántas neuronas tiene la red neuronal del Trainer de TFX?", "una capa oculta de 16"),
    ("¿Con qué umbral corre el corrector la corrida gate_closed de la sesión 5?", "accuracy_threshold=1.01"),
    ("¿Dónde queda el modelo publicado por el Pusher en la carpeta de la corrida?", "serving/<versión>/"),
)
_STOPWORDS_TEXT = """a al como con cual cuando de del donde el en es esta este hay la las lo los me mi mis o para pero
por que qué se si sin sobre su sus te tu tus un una uno y ya puede puedo cómo cuál cuánto cuántos cuándo dónde"""
STOPWORDS = frozenset(_STOPWORDS_TEXT.split())
CHUNK_CHARACTERS = 600
INDEX_NAME = "guides-index"
CHUNKS_FILE = "chunks.jsonl"


def _fold(text: str) -> str:
    """Lower case without accents, so "publicó" and "publico" are one term."""
    return "".join(c for c in unicodedata.normalize("NFKD", text.lower()) if not unicodedata.combining(c))


def tokenize(text: str) -> list[str]:
    return [t for t in re.findall(r"[a-z0-9_]+", _fold(text)) if len(t) > 1 and t not in STOPWORDS]


@dataclass(frozen=True)
class Chunk:
    source: str
    text: str


def chunk_guides(source: str = KIT_GUIDES, max_characters: int = CHUNK_CHARACTERS) -> list[Chunk]:
    """Consecutive paragraphs of one guide, joined up to ``max_characters`` (a longer paragraph stays whole)."""
    chunks: list[Chunk] = []
    for path in guide_files(source):
        name = str(path.relative_to(KIT_ROOT)) if path.is_relative_to(KIT_ROOT) else str(path)
        current: list[str] = []
        for paragraph in clean_markdown(path.read_text(encoding="utf-8")):
            if current and sum(len(p) + 1 for p in current) + len(paragraph) > max_characters:
                chunks.append(Chunk(name, " ".join(current)))
                current = []
            current.append(paragraph)
        if current:
            chunks.append(Chunk(name, " ".join(current)))
    return chunks


class TfidfIndex:
    """Sublinear TF x smoothed IDF, rows L2-normalised in a scipy CSR matrix: a dot product is the cosine."""

    def __init__(self, documents: list[str]) -> None:
        tokenized = [Counter(tokenize(d)) for d in documents]
        self.terms = {t: i for i, t in enumerate(sorted({t for counts in tokenized for t in counts}))}
        rows, cols, values = [], [], []
        for row, counts in enumerate(tokenized):
            for term, count in counts.items():
                rows.append(row)
                cols.append(self.terms[term])
                values.append(1.0 + np.log(count))
        shape = (len(documents), len(self.terms))
        tf = sparse.csr_matrix((values, (rows, cols)), shape=shape)
        document_frequency = np.bincount(cols, minlength=len(self.terms))
        self.idf = np.log((1 + len(documents)) / (1 + document_frequency)) + 1.0
        self.matrix = self._normalise(tf @ sparse.diags(self.idf))

    @staticmethod
    def _normalise(matrix: sparse.csr_matrix) -> sparse.csr_matrix:
        norms = np.sqrt(np.asarray(matrix.multiply(matrix).sum(axis=1)).ravel())
        return sparse.csr_matrix(sparse.diags(1.0 / np.where(norms > 0, norms, 1.0)) @ matrix)

    def vector(self, query: str) -> sparse.csr_matrix:
        counts = Counter(t for t in tokenize(query) if t in self.terms)
        cols = [self.terms[t] for t in counts]
        values = [(1.0 + np.log(c)) * self.idf[self.terms[t]] for t, c in counts.items()]
        row = sparse.csr_matrix((values, ([0] * len(cols), cols)), shape=(1, len(self.terms)))
        return self._normalise(row)

    def search(self, query: str, k: int) -> list[tuple[int, float]]:
        """The ``k`` best chunks as (index, cosine), best first; ties keep document order (stable)."""
        scores = (self.matrix @ self.vector(query).T).toarray().ravel()
        order = np.argsort(-scores, kind="stable")[:k]
        return [(int(i), float(scores[i])) for i in order]


@dataclass(frozen=True)
class RetrievalEvaluation:
    k: int
    chunks: int
    questions: int
    recall_at_k: float
    mrr: float
    random_recall_at_k: float
    random_mrr: float
    ranks: list[int | None]  # rank of the first relevant chunk per question (None: not in the whole ranking)

    def metrics(self) -> dict[str, float | int]:
        return {k: v for k, v in asdict(self).items() if isinstance(v, (int, float))}

    def passes(self, min_recall: float) -> bool:
        """The index's gate: recall@k at least ``min_recall``, and both metrics above a random ranking's."""
        return (
            self.recall_at_k >= min_recall and self.recall_at_k > self.random_recall_at_k and self.mrr > self.random_mrr
        )


def _random_ranking_expectations(relevant: int, total: int, k: int) -> tuple[float, float]:
    """Chance of a relevant chunk in the top k, and the expected reciprocal rank, for a uniformly random order."""
    miss = 1.0
    for i in range(min(k, total - relevant + 1)):
        miss *= (total - relevant - i) / (total - i)
    recall = 1.0 - (miss if k <= total - relevant else 0.0)
    # P(first relevant at rank r) = C(total - r, relevant - 1) / C(total, relevant)
    reciprocal, survive = 0.0, 1.0
    for r in range(1, total - relevant + 2):
        p_here = survive * relevant / (total - r + 1)
        reciprocal += p_here / r
        survive *= (total - r + 1 - relevant) / (total - r + 1)
    return recall, reciprocal


def evaluate_retrieval(
    chunks: list[Chunk], questions: tuple[tuple[str, str], ...] = QUESTIONS, k: int = 3
) -> RetrievalEvaluation:
    if k < 1:
        raise ValueError(f"k must be at least 1, got {k}")
    index = TfidfIndex([c.text for c in chunks])
    ranks: list[int | None] = []
    random_recall, random_mrr = [], []
    for question, answer in questions:
        relevant = {i for i, c in enumerate(chunks) if answer in c.text}
        if not relevant:
            raise ValueError(f"no chunk contains the answer {answer!r} to {question!r}")
        ranking = [i for i, _ in index.search(question, len(chunks))]
        ranks.append(next((r for r, i in enumerate(ranking, start=1) if i in relevant), None))
        chance = _random_ranking_expectations(len(relevant), len(chunks), k)
        random_recall.append(chance[0])
        random_mrr.append(chance[1])
    return RetrievalEvaluation(
        k=k,
        chunks=len(chunks),
        questions=len(questions),
        recall_at_k=float(np.mean([r is not None and r <= k for r in ranks])),
        mrr=float(np.mean([1.0 / r if r else 0.0 for r in ranks])),
        random_recall_at_k=float(np.mean(random_recall)),
        random_mrr=float(np.mean(random_mrr)),
        ranks=ranks,
    )


def write_chunks(chunks: list[Chunk], path: Path) -> None:
    Path(path).write_text("\n".join(json.dumps(asdict(c), ensure_ascii=False) for c in chunks) + "\n")


def read_chunks(path: Path) -> list[Chunk]:
    return [Chunk(**json.loads(line)) for line in Path(path).read_text().splitlines() if line.strip()]


@dataclass(frozen=True)
class IndexRegistration:
    version: str | None  # the new version, or None when the champion index stays
    reason: str


def register_index(
    registry: Path, chunks_file: Path, evaluation: RetrievalEvaluation, name: str = INDEX_NAME
) -> IndexRegistration:
    """Register the index (its chunks; the TF-IDF weights are rebuilt from them) as the next version if its MRR
    beats the champion index's, both measured now on the kit's questions; a tie keeps the champion."""
    from components.champion.logic import add_version, champion_version, model_root

    champion = champion_version(registry, name)
    if champion is not None:
        kept = evaluate_retrieval(read_chunks(model_root(registry, name) / champion / CHUNKS_FILE), k=evaluation.k)
        if evaluation.mrr <= kept.mrr:
            return IndexRegistration(
                None, f"el índice ({evaluation.mrr:.4f} MRR) no mejora al campeón {champion} ({kept.mrr:.4f}): se queda"
            )
    with tempfile.TemporaryDirectory() as staging:
        shutil.copyfile(chunks_file, Path(staging) / CHUNKS_FILE)
        version = add_version(registry, Path(staging), evaluation.metrics(), promote=True, name=name)
    return IndexRegistration(version, f"índice registrado como {version} (MRR {evaluation.mrr:.4f})")
