"""Session-8 model registry: versioned language models with the prompt template and generation settings.

The layout is session 7's (components/champion/logic.py), so the same habits carry over::

    <registry>/<model name>/
        v0001/ weights.npz vocab.json config.json model.keras history.json metrics.json generation.json
        champion        <- the version the server answers with by default, e.g. "v0002"
        events.jsonl    <- one line per registration

A version is registered only when it beats the champion's perplexity on this run's test text: a tie (the
same corpus, seed and settings train the same weights) keeps the champion and registers nothing.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from components.champion.logic import add_version, champion_version, list_versions, model_root
from components.lm_train.charlm import load_charlm

GENERATION_FILE = "generation.json"
METRICS_FILE = "metrics.json"
DEFAULT_MODEL_NAME = "charlm"
# A character model continues text; it has no chat format, so the prompt is the last user message as is.
PROMPT_TEMPLATE = "{user}"
DEFAULT_STOP = ("\n",)  # the corpus has one paragraph per line: a paragraph's end is a natural answer's end


@dataclass(frozen=True)
class GenerationSettings:
    prompt_template: str
    temperature: float
    max_tokens: int
    seed: int
    stop: tuple[str, ...] = DEFAULT_STOP

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "stop": list(self.stop)}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> GenerationSettings:
        return cls(
            prompt_template=str(data["prompt_template"]),
            temperature=float(data["temperature"]),
            max_tokens=int(data["max_tokens"]),
            seed=int(data["seed"]),
            stop=tuple(data.get("stop", DEFAULT_STOP)),
        )

    def render(self, messages: list[dict[str, str]]) -> str:
        """The prompt for a chat conversation: the template filled with the last user message."""
        users = [m["content"] for m in messages if m.get("role") == "user"]
        if not users:
            raise ValueError("the conversation has no user message")
        return self.prompt_template.format(user=users[-1])


@dataclass(frozen=True)
class ChampionComparison:
    challenger_perplexity: float
    champion_perplexity: float | None
    champion_version: str | None
    better: bool
    reason: str

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def compare_with_champion(
    challenger_dir: Path, test_text: str, registry: Path, name: str = DEFAULT_MODEL_NAME
) -> ChampionComparison:
    """Challenger vs champion, both scored now on the same test text (the champion may come from another run)."""
    challenger = load_charlm(challenger_dir).perplexity(test_text)
    version = champion_version(registry, name)
    if version is None:
        return ChampionComparison(challenger, None, None, True, "todavía no hay campeón: el modelo pasa a ser v0001")
    champion = load_charlm(model_root(registry, name) / version).perplexity(test_text)
    if challenger < champion:
        reason = f"el challenger ({challenger:.4f}) tiene menor perplejidad que el campeón {version} ({champion:.4f})"
        return ChampionComparison(challenger, champion, version, True, reason)
    reason = f"el challenger ({challenger:.4f}) no mejora al campeón {version} ({champion:.4f}): el campeón se queda"
    return ChampionComparison(challenger, champion, version, False, reason)


def register(
    registry: Path,
    model_dir: Path,
    metrics: dict[str, Any],
    settings: GenerationSettings,
    name: str = DEFAULT_MODEL_NAME,
) -> str:
    """Copy the model into the next version folder with its generation settings and metrics; make it champion."""
    load_charlm(model_dir)  # refuse a folder the server could not load

    def with_settings(staging: Path) -> None:
        (staging / GENERATION_FILE).write_text(json.dumps(settings.as_dict(), indent=2, ensure_ascii=False))

    return add_version(registry, model_dir, metrics, promote=True, name=name, prepare=with_settings)


def version_dir(registry: Path, name: str = DEFAULT_MODEL_NAME, version: str | None = None) -> Path:
    """A registered version's folder: ``version``, or the champion; the error names what exists."""
    versions = list_versions(registry, name)
    if not versions:
        raise FileNotFoundError(
            f"no {name!r} model in registry {registry}: run `labkit pipeline run genai` (registry={registry}) first"
        )
    chosen = version or champion_version(registry, name) or versions[-1]
    if chosen not in versions:
        raise FileNotFoundError(f"{name!r} has no version {chosen!r} in {registry}; versions: {', '.join(versions)}")
    return model_root(registry, name) / chosen


def load_settings(folder: Path) -> GenerationSettings:
    path = Path(folder) / GENERATION_FILE
    if not path.is_file():
        raise FileNotFoundError(f"{folder} has no {GENERATION_FILE}: was it registered by the lm_register step?")
    return GenerationSettings.from_dict(json.loads(path.read_text()))
