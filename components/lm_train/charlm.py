"""A trained character language model, run with numpy alone.

The train step saves plain arrays (``weights.npz``) besides the Keras file, so evaluation, the registry and
the HTTP server generate text without importing TensorFlow (about 3 s and 500 MB per process) and without
executing anything stored in a model file. The network is Embedding -> GRU -> Dense, Keras's GRU equations with
``reset_after=True`` (its default); components/lm_train/test_logic.py checks numpy against Keras.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np

WEIGHTS_FILE = "weights.npz"
VOCAB_FILE = "vocab.json"
CONFIG_FILE = "config.json"
UNKNOWN = 0  # vocabulary index of every character the training text did not have
WEIGHT_NAMES = ("embedding", "kernel", "recurrent_kernel", "bias", "dense_kernel", "dense_bias")


def build_vocab(text: str) -> list[str]:
    """Index 0 is "unknown" (stored as ""), then the training text's characters in sorted order."""
    return ["", *sorted(set(text))]


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


def _log_softmax(logits: np.ndarray) -> np.ndarray:
    shifted = logits - logits.max(axis=-1, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=-1, keepdims=True))


@dataclass(frozen=True)
class Generation:
    text: str
    prompt_tokens: int
    completion_tokens: int
    finish_reason: str  # "stop" (a stop string was produced) or "length" (max_tokens reached)


@dataclass(frozen=True)
class CharLM:
    vocab: tuple[str, ...]
    weights: dict[str, np.ndarray]
    config: dict[str, Any]

    @property
    def units(self) -> int:
        return int(self.weights["recurrent_kernel"].shape[0])

    @cached_property
    def _index(self) -> dict[str, int]:
        return {c: i for i, c in enumerate(self.vocab) if c}

    def encode(self, text: str) -> np.ndarray:
        """Character ids; the model was trained on lower-case text, so a prompt is lower-cased the same way."""
        if self.config.get("lowercase", True):
            text = text.lower()
        return np.fromiter((self._index.get(c, UNKNOWN) for c in text), dtype=np.int64, count=len(text))

    def decode(self, ids: Sequence[int]) -> str:
        return "".join(self.vocab[i] for i in ids)

    def initial_state(self, batch: int) -> np.ndarray:
        return np.zeros((batch, self.units))

    def step(self, ids: np.ndarray, state: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """One character per row: (logits of the next character, new state)."""
        w, units = self.weights, self.units
        x = w["embedding"][ids] @ w["kernel"] + w["bias"][0]
        inner = state @ w["recurrent_kernel"] + w["bias"][1]
        z = _sigmoid(x[:, :units] + inner[:, :units])
        r = _sigmoid(x[:, units : 2 * units] + inner[:, units : 2 * units])
        candidate = np.tanh(x[:, 2 * units :] + r * inner[:, 2 * units :])
        state = z * state + (1.0 - z) * candidate
        return state @ w["dense_kernel"] + w["dense_bias"], state

    def sequence_log_probs(self, ids: np.ndarray) -> np.ndarray:
        """Natural-log probability of ``ids[t]`` given what precedes it, for t = 1..len-1.

        The text is read in windows of ``seq_len`` (the length the model was trained on) that overlap by half;
        each window scores only its second half, so every character is predicted with between seq_len/2 and
        seq_len characters of context, as in training, and exactly once.
        """
        ids = np.asarray(ids, dtype=np.int64)
        length = int(self.config["seq_len"])
        half = max(1, length // 2)
        starts = list(range(0, max(1, len(ids) - 1), half))
        out = np.full(len(ids) - 1, np.nan)
        batch_inputs = np.zeros((len(starts), length), dtype=np.int64)
        for row, start in enumerate(starts):
            chunk = ids[start : start + length]
            batch_inputs[row, : len(chunk)] = chunk
        starts_array = np.asarray(starts)
        state = self.initial_state(len(starts))
        for t in range(length):
            logits, state = self.step(batch_inputs[:, t], state)
            targets = starts_array + t + 1  # the position of ids each row predicts at this step
            scored = (targets < len(ids)) & ((starts_array == 0) | (t >= half))
            if scored.any():
                log_probs = _log_softmax(logits[scored])
                out[targets[scored] - 1] = log_probs[np.arange(scored.sum()), ids[targets[scored]]]
        if np.isnan(out).any():
            raise AssertionError("a position was not scored")  # the windows above cover every position
        return out

    def perplexity(self, text: str) -> float:
        if len(text) < 2:
            raise ValueError("perplexity needs at least two characters of text")
        return float(np.exp(-self.sequence_log_probs(self.encode(text)).mean()))

    def generate(
        self,
        prompt: str,
        max_tokens: int,
        temperature: float = 0.0,
        seed: int | None = None,
        stop: Sequence[str] = (),
    ) -> Generation:
        """Continue ``prompt`` by up to ``max_tokens`` characters; temperature 0 is greedy (deterministic)."""
        if max_tokens < 0:
            raise ValueError(f"max_tokens must be >= 0, got {max_tokens}")
        if temperature < 0:
            raise ValueError(f"temperature must be >= 0, got {temperature}")
        rng = np.random.default_rng(seed)
        ids = self.encode(prompt)
        # Paragraphs start after a newline in the training text: a prompt is the start of one.
        context = ids if prompt.startswith("\n") else np.concatenate([self.encode("\n"), ids])
        state = self.initial_state(1)
        logits = np.zeros((1, len(self.vocab)))
        for i in context:
            logits, state = self.step(np.array([i]), state)
        stops = [s for s in stop if s]
        text = ""
        for produced in range(1, max_tokens + 1):
            scores = logits[0].astype(np.float64)
            scores[UNKNOWN] = -np.inf  # never emit the placeholder for unseen characters
            if temperature == 0:
                choice = int(scores.argmax())
            else:
                probs = np.exp(_log_softmax(scores / temperature))
                choice = int(rng.choice(len(probs), p=probs / probs.sum()))
            text += self.vocab[choice]
            # Checked after every character, so a stop string can only have just been completed.
            hit = next((s for s in stops if text.endswith(s)), None)
            if hit is not None:
                return Generation(text[: -len(hit)], len(ids), produced, "stop")
            logits, state = self.step(np.array([choice]), state)
        return Generation(text, len(ids), max_tokens, "length")

    def save(self, folder: Path) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        np.savez(folder / WEIGHTS_FILE, **{name: self.weights[name] for name in WEIGHT_NAMES})
        (folder / VOCAB_FILE).write_text(json.dumps(list(self.vocab), ensure_ascii=False))
        (folder / CONFIG_FILE).write_text(json.dumps(self.config, indent=2))


def load_charlm(folder: Path) -> CharLM:
    """Read a model folder written by the lm_train step (or a registry version of one)."""
    folder = Path(folder)
    for name in (WEIGHTS_FILE, VOCAB_FILE, CONFIG_FILE):
        if not (folder / name).is_file():
            raise FileNotFoundError(f"model folder {folder} has no {name}: was it written by the lm_train step?")
    with np.load(folder / WEIGHTS_FILE, allow_pickle=False) as stored:
        missing = [name for name in WEIGHT_NAMES if name not in stored]
        if missing:
            raise ValueError(f"{folder / WEIGHTS_FILE} lacks {', '.join(missing)}")
        weights = {name: np.asarray(stored[name], dtype=np.float64) for name in WEIGHT_NAMES}
    vocab = tuple(json.loads((folder / VOCAB_FILE).read_text()))
    config = json.loads((folder / CONFIG_FILE).read_text())
    if weights["embedding"].shape[0] != len(vocab) or weights["dense_kernel"].shape[1] != len(vocab):
        raise ValueError(
            f"{folder}: the weights are for {weights['embedding'].shape[0]} characters, vocab has {len(vocab)}"
        )
    return CharLM(vocab, weights, config)


def untrained_charlm(text: str, units: int = 8, seq_len: int = 16, seed: int = 0) -> CharLM:
    """A CharLM with random weights over ``text``'s characters: the model before training, for code (and tests)
    that need any model of the right shapes."""
    vocab = build_vocab(text)
    rng = np.random.default_rng(seed)
    shapes = {
        "embedding": (len(vocab), 4),
        "kernel": (4, 3 * units),
        "recurrent_kernel": (units, 3 * units),
        "bias": (2, 3 * units),
        "dense_kernel": (units, len(vocab)),
        "dense_bias": (len(vocab),),
    }
    weights = {name: rng.normal(0, 0.3, shape) for name, shape in shapes.items()}
    return CharLM(tuple(vocab), weights, {"seq_len": seq_len, "lowercase": True})
