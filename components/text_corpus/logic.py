"""The session-8 corpus: the kit's own Spanish lab guides, cleaned and split by paragraph with a seed.

Nothing is downloaded: the text is read from the kit's files (``labs/session-0*/README.md`` and ``GRADING.md``),
so the lab runs the same on a classroom machine with no network.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

KIT_ROOT = Path(__file__).resolve().parents[2]
KIT_GUIDES = "kit-guides"
GUIDE_PATTERNS = ("labs/session-0*/README.md", "labs/session-0*/GRADING.md")
SPLITS = ("train", "validation", "test")
SOURCES_FILE = "sources.json"
# Lower-case Spanish letters, digits and the punctuation of the guides; anything else becomes a space. A small
# alphabet is what lets a character model learn from ~40 KB of text in a few minutes.
ALPHABET = frozenset("abcdefghijklmnopqrstuvwxyzáéíóúüñ0123456789 .,;:¿?¡!()-/'\"%=+<>_*#@&[]{}$|~\n")

_FENCE = re.compile(r"^\s*```.*?^\s*```\s*$", re.DOTALL | re.MULTILINE)
# Real HTML elements only: the guides' placeholders (<id>, <registry>, <versión>) are text worth keeping.
_HTML_TAG = re.compile(r"</?(?:a|img|br|p|div|span|details|summary|sup|sub|b|i|em|strong|code|pre)\b[^>]*>")
# Symbols of the guides written with the alphabet (escaped: some look like ASCII); others become spaces.
_SYMBOLS = str.maketrans(
    {
        "\u2265": ">=",
        "\u2264": "<=",
        "\u2192": "->",
        "\u25b6": ">",
        "\u00d7": "x",
        "\u2248": "~",
        "\u2013": "-",
        "\u2014": "-",
    }
)
_IMAGE = re.compile(r"!\[[^\]]*\]\([^)]*\)")
_LINK = re.compile(r"\[([^\]]+)\]\([^)]*\)")
_TABLE_RULE = re.compile(r"^\s*\|?\s*:?-{3,}.*$", re.MULTILINE)
_MARKUP = re.compile(r"(\*\*|__|`|^#+\s*|^>\s?|^\s*[-*]\s+|^\s*\d+\.\s+)", re.MULTILINE)
_SPACES = re.compile(r"[ \t]+")


class CorpusError(ValueError):
    """The corpus source has no text to learn from."""


@dataclass(frozen=True)
class CorpusSplit:
    train: str
    validation: str
    test: str
    sources: list[dict[str, str | int]]

    def sizes(self) -> dict[str, int]:
        return {name: len(getattr(self, name)) for name in SPLITS}


def guide_files(source: str = KIT_GUIDES) -> list[Path]:
    """The Markdown files of ``source``: the kit's guides, or every ``*.md`` under a folder (sorted, for a seed)."""
    if source == KIT_GUIDES:
        files = sorted({p for pattern in GUIDE_PATTERNS for p in KIT_ROOT.glob(pattern)})
        where = f"the kit's guides ({', '.join(GUIDE_PATTERNS)} under {KIT_ROOT})"
        hint = "the components image carries them (rebuild it: labkit image build components), or pass corpus=FOLDER"
    else:
        folder = Path(source)
        files = sorted(folder.rglob("*.md")) if folder.is_dir() else []
        where, hint = f"{folder}", "give a folder that holds .md files"
    if not files:
        raise CorpusError(f"no Markdown files found in {where}; {hint}")
    return files


def clean_markdown(text: str) -> list[str]:
    """Paragraphs of plain lower-case prose: no code blocks, links, tables rules or markup; one line each."""
    text = _FENCE.sub("\n", text)
    text = _IMAGE.sub(" ", text)
    text = _LINK.sub(r"\1", text)
    text = _HTML_TAG.sub(" ", text)
    text = _TABLE_RULE.sub("", text)
    text = _MARKUP.sub("", text).replace("|", " ").lower().translate(_SYMBOLS)
    text = "".join(c if c in ALPHABET else " " for c in text)
    paragraphs = []
    for block in re.split(r"\n\s*\n", text):
        paragraph = _SPACES.sub(" ", " ".join(line.strip() for line in block.splitlines())).strip()
        if len(paragraph) >= 20:  # headings alone and stray table cells teach little
            paragraphs.append(paragraph)
    return paragraphs


def split_paragraphs(
    paragraphs: list[str], seed: int, validation_fraction: float = 0.1, test_fraction: float = 0.1
) -> tuple[list[str], list[str], list[str]]:
    """Whole paragraphs to train / validation / test, shuffled by ``seed``, held-out parts by share of characters.

    Splitting by paragraph, not by character position, keeps a sentence from sitting half in train and half in
    test, which would make held-out perplexity look better than it is.
    """
    if not 0 < validation_fraction < 1 or not 0 < test_fraction < 1 or validation_fraction + test_fraction >= 1:
        raise ValueError("validation and test fractions must be in (0, 1) and leave text for training")
    if len(paragraphs) < 3:
        raise CorpusError(f"need at least 3 paragraphs to split, got {len(paragraphs)}")
    order = np.random.default_rng(seed).permutation(len(paragraphs))
    total = sum(len(p) for p in paragraphs)
    held_out: dict[str, list[str]] = {"validation": [], "test": []}
    goals = {"validation": validation_fraction * total, "test": test_fraction * total}
    train: list[str] = []
    for index in order:
        paragraph = paragraphs[index]
        target = next((name for name in ("validation", "test") if sum(map(len, held_out[name])) < goals[name]), None)
        (held_out[target] if target else train).append(paragraph)
    return train, held_out["validation"], held_out["test"]


def build_corpus(source: str = KIT_GUIDES, seed: int = 42) -> CorpusSplit:
    texts = []
    for path in guide_files(source):
        name = str(path.relative_to(KIT_ROOT)) if path.is_relative_to(KIT_ROOT) else str(path)
        texts.append((name, path.read_text(encoding="utf-8")))
    return corpus_from_texts(texts, seed)


def corpus_from_texts(texts: Sequence[tuple[str, str]], seed: int = 42) -> CorpusSplit:
    """The corpus of Markdown ``texts`` ((name, text), in the order given), cleaned and split by paragraph."""
    paragraphs: list[str] = []
    sources: list[dict[str, str | int]] = []
    for name, raw in texts:
        cleaned = clean_markdown(raw)
        paragraphs.extend(cleaned)
        sources.append({"file": name, "sha256": hashlib.sha256(raw.encode()).hexdigest(), "paragraphs": len(cleaned)})
    train, validation, test = split_paragraphs(paragraphs, seed)
    return CorpusSplit("\n".join(train) + "\n", "\n".join(validation) + "\n", "\n".join(test) + "\n", sources)


def save_corpus(corpus: CorpusSplit, folder: Path) -> None:
    """The Dataset artifact: ``train.txt``, ``validation.txt``, ``test.txt`` and where the text came from."""
    folder.mkdir(parents=True, exist_ok=True)
    for name in SPLITS:
        (folder / f"{name}.txt").write_text(getattr(corpus, name), encoding="utf-8")
    (folder / SOURCES_FILE).write_text(json.dumps({"sources": corpus.sources, "sizes": corpus.sizes()}, indent=2))


def load_split(folder: Path, name: str) -> str:
    path = Path(folder) / f"{name}.txt"
    if not path.is_file():
        raise FileNotFoundError(f"corpus folder {folder} has no {name}.txt: was it written by the text_corpus step?")
    return path.read_text(encoding="utf-8")
