"""The pipelines the kit knows, by the names students type."""

from __future__ import annotations

import importlib
import inspect
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any


class UnknownPipelineError(LookupError):
    pass


class ParameterError(ValueError):
    pass


@dataclass(frozen=True)
class PipelineEntry:
    name: str
    module: str
    function: str
    session: int
    description: str

    def load(self) -> Callable[..., Any]:
        """The @dsl.pipeline object; importing it is deferred because pipelines import kfp."""
        return getattr(importlib.import_module(self.module), self.function)

    def parameters(self) -> dict[str, inspect.Parameter]:
        """Pipeline parameters with their defaults, read from the Python signature."""
        return dict(inspect.signature(self.load().pipeline_func).parameters)


PIPELINES: dict[str, PipelineEntry] = {
    entry.name: entry
    for entry in (
        PipelineEntry(
            name="training",
            module="pipelines.training.pipeline",
            function="training_pipeline",
            session=5,
            description="ingest -> validate -> split -> train (Keras) -> evaluate -> push if it passes the gate",
        ),
        PipelineEntry(
            name="continuous-training",
            module="pipelines.continuous_training.pipeline",
            function="continuous_training_pipeline",
            session=7,
            description="new batch -> validate -> drift vs reference -> if drift: retrain -> push only a better model",
        ),
        PipelineEntry(
            name="sweep",
            module="pipelines.sweep.pipeline",
            function="sweep_pipeline",
            session=7,
            description="dsl.ParallelFor hyperparameter sweep of the Keras MLP; keeps the best model",
        ),
    )
}


def get_pipeline(name: str) -> PipelineEntry:
    try:
        return PIPELINES[name]
    except KeyError:
        known = ", ".join(sorted(PIPELINES))
        raise UnknownPipelineError(
            f"no pipeline named {name!r}. Known pipelines: {known} (see `labkit pipeline list`)."
        ) from None


def _coerce(raw: str, annotation: Any, name: str) -> Any:
    if annotation is bool:
        lowered = raw.lower()
        if lowered in {"true", "1", "yes"}:
            return True
        if lowered in {"false", "0", "no"}:
            return False
        raise ParameterError(f"parameter {name!r} expects true or false, got {raw!r}")
    if annotation in (int, float):
        try:
            return annotation(raw)
        except ValueError:
            raise ParameterError(f"parameter {name!r} expects {annotation.__name__}, got {raw!r}") from None
    return raw


def parse_params(entry: PipelineEntry, assignments: list[str]) -> dict[str, Any]:
    """Turn ``["epochs=5", ...]`` into typed pipeline arguments, naming any unknown key or bad value."""
    parameters = entry.parameters()
    parsed: dict[str, Any] = {}
    for assignment in assignments:
        key, sep, raw = assignment.partition("=")
        key = key.strip().replace("-", "_")
        if not sep or not key:
            raise ParameterError(f"--param expects KEY=VALUE, got {assignment!r}")
        if key not in parameters:
            valid = ", ".join(parameters)
            raise ParameterError(f"pipeline {entry.name!r} has no parameter {key!r}. Valid: {valid}")
        parsed[key] = _coerce(raw, parameters[key].annotation, key)
    return parsed
