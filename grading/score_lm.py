"""Runs apart from the grader: the perplexity of a submission's character language model on held-out text.

Executed as a script (``python -I score_lm.py --model DIR --text FILE``), never imported by the grader, in a
fresh container of the components image (or a limited child process without Docker), like ``score_keras.py``.
The model folder is data: ``weights.npz`` read without pickle, ``vocab.json`` and ``config.json``, run with the
kit's numpy network. A failure prints only a code (``LABKIT-ERROR code``), never the reader's text.
"""

from __future__ import annotations

import argparse
import sys
import traceback
from pathlib import Path

PERPLEXITY = "LABKIT-PERPLEXITY "
MAX_SEQ_LEN = 1024  # the window the network reads; a bigger one is only a way to run out of memory


def vocabulary_problem(vocab: tuple[str, ...], config: dict, alphabet: frozenset[str]) -> str | None:
    """Why a model's vocabulary or settings are not the kit's, or None."""
    if not vocab or vocab[0] != "" or any(len(c) != 1 for c in vocab[1:]) or len(set(vocab)) != len(vocab):
        return "vocab.json must be '' (unknown) followed by distinct single characters"
    if not set(vocab[1:]) <= alphabet:
        return "characters outside the corpus alphabet"
    seq_len = config.get("seq_len")
    if not isinstance(seq_len, int) or isinstance(seq_len, bool) or not 2 <= seq_len <= MAX_SEQ_LEN:
        return f"seq_len must be an integer in [2, {MAX_SEQ_LEN}]"
    return None


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--model", required=True, type=Path)
    parser.add_argument("--text", required=True, type=Path, help="held-out text, UTF-8")
    parser.add_argument("--kit", default="", help="folder holding the kit's components package")
    ns = parser.parse_args(argv)
    if ns.kit:
        sys.path.insert(0, ns.kit)

    from components.lm_evaluate.logic import open_vocabulary_perplexity
    from components.lm_train.charlm import load_charlm
    from components.text_corpus.logic import ALPHABET

    text = ns.text.read_text(encoding="utf-8")
    try:
        model = load_charlm(ns.model)
        if problem := vocabulary_problem(model.vocab, model.config, ALPHABET):
            print(f"the model's vocabulary: {problem}", file=sys.stderr)
            print("LABKIT-ERROR vocabulary")
            return 3
        value = open_vocabulary_perplexity(model.sequence_log_probs(model.encode(text)), text, model.vocab, ALPHABET)
    except Exception as exc:
        traceback.print_exc()  # the grader's log, never a report
        code = (
            "missing" if isinstance(exc, FileNotFoundError) else "memory" if isinstance(exc, MemoryError) else "invalid"
        )
        print(f"LABKIT-ERROR {code}")
        return 3
    print(f"{PERPLEXITY}{value!r}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
