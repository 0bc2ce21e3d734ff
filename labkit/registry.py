"""The pipelines the kit knows, by the names students type."""

from __future__ import annotations

import importlib
import importlib.util
import inspect
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any


class UnknownPipelineError(LookupError):
    pass


class ParameterError(ValueError):
    pass


class PipelineLoadError(ImportError):
    """A pipeline file could not be imported or does not define the expected pipeline."""


def _module_from_file(path: Path) -> Any:
    name = f"labkit_user_pipeline_{abs(hash(path.resolve()))}"
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise PipelineLoadError(f"{path} is not a Python file")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except Exception as exc:
        del sys.modules[name]
        raise PipelineLoadError(f"importing {path} failed: {type(exc).__name__}: {exc}") from exc
    return module


@dataclass(frozen=True)
class PipelineEntry:
    name: str
    module: str
    function: str
    session: int
    description: str
    file: Path | None = None
    # "kfp": a @dsl.pipeline run by kfp.local or a cluster; "tfx": a TFX ``create_pipeline`` function, run by
    # labkit/tfx.py in the TFX image and compiled with KubeflowV2DagRunner.
    kind: str = "kfp"

    @classmethod
    def from_file(cls, path: Path, function: str, session: int = 0, kind: str = "kfp") -> PipelineEntry:
        """A pipeline in a student's file, e.g. a lab starter being completed."""
        name = f"session-{session:02d}" if session else path.stem
        return cls(
            name=name, module="", function=function, session=session, description=str(path), file=path, kind=kind
        )

    def load(self) -> Callable[..., Any]:
        """The @dsl.pipeline object; importing it is deferred because pipelines import kfp."""
        module = _module_from_file(self.file) if self.file else importlib.import_module(self.module)
        pipeline = getattr(module, self.function, None)
        if self.kind == "tfx" and callable(pipeline):
            return pipeline
        if pipeline is None or not hasattr(pipeline, "pipeline_func"):
            where = self.file or self.module
            raise PipelineLoadError(f"{where} defines no @dsl.pipeline named {self.function!r}")
        return pipeline

    def parameters(self) -> dict[str, inspect.Parameter]:
        """Pipeline parameters with their defaults, read from the Python signature.

        For TFX pipelines: the keyword-only parameters of ``create_pipeline`` plus ``data``, the table the
        kit prepares for the run (the other arguments are paths the runner fills in).
        """
        if self.kind == "tfx":
            signature = inspect.signature(self.load(), eval_str=True)
            tunable = {n: p for n, p in signature.parameters.items() if p.kind is inspect.Parameter.KEYWORD_ONLY}
            data = inspect.Parameter("data", inspect.Parameter.KEYWORD_ONLY, default="palmerpenguins", annotation=str)
            return {"data": data, **tunable}
        return dict(inspect.signature(self.load().pipeline_func).parameters)

    def arguments(self, given: dict[str, Any]) -> dict[str, Any]:
        """Every parameter a run of this pipeline gets: the defaults, overridden by ``given``."""
        defaults = {n: p.default for n, p in self.parameters().items() if p.default is not inspect.Parameter.empty}
        return {**defaults, **given}


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
            name="tfx-penguin",
            module="pipelines.tfx_penguin.pipeline",
            function="create_pipeline",
            session=6,
            description="TFX: ExampleGen -> statistics -> schema -> validator -> Transform -> Trainer -> "
            "Evaluator (TFMA gate) -> Pusher; runs in the TFX image (--runner docker)",
            kind="tfx",
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
        PipelineEntry(
            name="genai",
            module="pipelines.genai.pipeline",
            function="genai_pipeline",
            session=8,
            description="kit guides -> clean/split -> char GRU language model -> perplexity vs n-gram, guardrails "
            "-> register a better model with its generation settings (offline)",
        ),
    )
}


def pipeline_functions(path: Path) -> list[str]:
    """The names of the @dsl.pipeline objects a file defines (importing it)."""
    module = _module_from_file(path)
    return sorted(name for name, value in vars(module).items() if hasattr(value, "pipeline_func"))


def resolve_pipeline(target: str) -> PipelineEntry:
    """What a student may name: a registered pipeline (``training``), a lab (``session-05`` or ``5``: its starter,
    the file the student completes), or a pipeline file (a lab's starter keeps the lab's function; any other
    file must define one @dsl.pipeline)."""
    from labkit.labs import UnknownLabError, get_lab, list_labs

    if target in PIPELINES:
        return PIPELINES[target]
    session = target.removeprefix("session-")
    if session.isdigit():
        try:
            lab = get_lab(int(session))
        except UnknownLabError as exc:
            raise UnknownPipelineError(str(exc)) from None
        return PipelineEntry.from_file(lab.starter, lab.pipeline_function, session=lab.session, kind=lab.kind)
    path = Path(target)
    if path.suffix == ".py" and path.is_file():
        for lab in list_labs():
            if lab.starter.resolve() == path.resolve():
                return PipelineEntry.from_file(path, lab.pipeline_function, session=lab.session, kind=lab.kind)
        found = pipeline_functions(path)
        if len(found) != 1:
            what = f"defines {len(found)} (@dsl.pipeline: {', '.join(found)})" if found else "defines no @dsl.pipeline"
            raise UnknownPipelineError(f"{path} {what}; a file to draw or compile must define exactly one")
        return PipelineEntry.from_file(path, found[0])
    known = ", ".join(sorted(PIPELINES))
    raise UnknownPipelineError(
        f"no pipeline named {target!r}: give a kit pipeline ({known}), a lab (session-05) or a pipeline file "
        "(labs/session-05/starter/pipeline.py). See `labkit pipeline list`."
    )


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
