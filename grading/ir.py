"""Read a compiled pipeline (KFP IR YAML) as data: tasks, the component behind each, edges, gates, parameters.

The IR is parsed with ``yaml.safe_load`` and never executed. Tasks are identified by what their executor runs
(``grading.identity``), not by the task or component names a submission chooses freely.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from grading.identity import OWN, role_of
from grading.submission import MissingFile, RefusedFile, read_text_limited

MAX_IR_BYTES = 2 * 1024 * 1024
_COMPONENT_SUFFIX = re.compile(r"-\d+$")


class IRError(ValueError):
    pass


@dataclass
class Task:
    name: str  # the task key in its DAG
    component: str  # its role: a kit component ("train"), a TFX class ("Trainer"), or "own:<name>"
    component_ref: str  # e.g. "comp-train"
    parent: str | None  # the condition task name when inside a dsl.If
    depends_on: set[str] = field(default_factory=set)
    artifact_inputs: dict[str, tuple[str, str]] = field(default_factory=dict)  # input -> (producer, output)
    parameter_inputs: dict[str, dict[str, Any]] = field(default_factory=dict)
    condition: str | None = None


@dataclass
class PipelineIR:
    spec: dict[str, Any]
    tasks: dict[str, Task]
    parameters: dict[str, dict[str, Any]]
    text: str = ""  # the YAML it was read from: what the grader runs is exactly what it checked

    def by_component(self, component: str) -> list[Task]:
        return [task for task in self.tasks.values() if task.component == component]

    def shipped(self, task: str, input_name: str, trained_by: str) -> tuple[Task, str]:
        """(producer, output) of the model every ``task`` (e.g. push) ships in its ``input_name``, which must be
        trained in the pipeline by a ``trained_by`` task: not imported, copied in, or produced by anything else."""
        ships = self.by_component(task)
        if not ships:
            raise LookupError(f"el pipeline no publica ningún modelo: falta el paso {task}")
        sources = {ship.artifact_inputs.get(input_name) for ship in ships}
        if None in sources:
            raise LookupError(f"{task} no recibe {input_name} de otro paso")
        if len(sources) > 1:
            raise LookupError(f"los pasos {task} publican modelos distintos")
        producer_name, output = next(source for source in sources if source is not None)
        producer = self.tasks.get(producer_name)
        if producer is None or producer.component != trained_by:
            origin = producer.component if producer else producer_name
            raise LookupError(f"el modelo que publica {task} no sale de {trained_by} (sale de {origin})")
        return producer, output

    def ancestors(self, task: Task) -> set[str]:
        seen: set[str] = set()
        stack = list(task.depends_on)
        while stack:
            name = stack.pop()
            if name in seen or name not in self.tasks:
                continue
            seen.add(name)
            stack.extend(self.tasks[name].depends_on)
        return seen


def _component_name(spec: dict[str, Any], ref: str) -> str:
    """The task's role (see ``grading.identity``); a sub-DAG (a dsl.If or ParallelFor group) keeps its name."""
    name = _COMPONENT_SUFFIX.sub("", ref.removeprefix("comp-"))
    if "executorLabel" not in spec.get("components", {}).get(ref, {}):
        return name
    return role_of(spec, ref) or f"{OWN}{name}"


def _walk(spec: dict[str, Any], dag: dict[str, Any], parent: str | None, tasks: dict[str, Task], depth: int) -> None:
    if depth > 10:
        raise IRError("the pipeline nests more than 10 levels of sub-DAGs")
    components = spec.get("components", {})
    for name, raw in (dag.get("tasks") or {}).items():
        ref = raw.get("componentRef", {}).get("name", "")
        inputs = raw.get("inputs", {})
        task = Task(
            name=str(name),  # YAML keys can be numbers; task names become paths
            component=_component_name(spec, ref),
            component_ref=ref,
            parent=parent,
            depends_on=set(raw.get("dependentTasks") or []),
            parameter_inputs=dict(inputs.get("parameters") or {}),
            condition=(raw.get("triggerPolicy") or {}).get("condition"),
        )
        for input_name, source in (inputs.get("artifacts") or {}).items():
            producer = source.get("taskOutputArtifact")
            if producer:
                task.artifact_inputs[input_name] = (producer["producerTask"], producer["outputArtifactKey"])
                task.depends_on.add(producer["producerTask"])
        if parent is not None:
            task.depends_on.add(parent)
        tasks[task.name] = task
        sub_dag = components.get(ref, {}).get("dag")
        if sub_dag:
            _walk(spec, sub_dag, name, tasks, depth + 1)


def _resolve_channels(spec: dict[str, Any], tasks: dict[str, Task]) -> None:
    """Inside a dsl.If, inputs arrive as pipelinechannel inputs of the condition task: follow them.

    Parents come before their children in ``tasks``, so nested conditions resolve from the outside in.
    """
    components = spec.get("components", {})
    for task in tasks.values():
        if task.parent is None:
            continue
        parent = tasks[task.parent]
        raw = components.get(parent.component_ref, {}).get("dag", {}).get("tasks", {}).get(task.name, {})
        for input_name, source in ((raw.get("inputs") or {}).get("artifacts") or {}).items():
            channel = source.get("componentInputArtifact")
            upstream = parent.artifact_inputs.get(channel) if channel else None
            if upstream:
                task.artifact_inputs[input_name] = upstream
        for input_name, source in list(task.parameter_inputs.items()):
            channel = source.get("componentInputParameter") if isinstance(source, dict) else None
            upstream = parent.parameter_inputs.get(channel) if isinstance(channel, str) else None
            if isinstance(upstream, dict):
                task.parameter_inputs[input_name] = upstream


class _NoAliasLoader(yaml.SafeLoader):
    """safe_load without anchors and aliases: a compiler never writes them, and a few hundred bytes of them
    (the "billion laughs") make a structure that any walk over the spec takes forever to visit."""

    def compose_node(self, parent: yaml.Node | None, index: object) -> yaml.Node | None:
        if self.check_event(yaml.AliasEvent) or getattr(self.peek_event(), "anchor", None):
            raise IRError("el pipeline compilado usa anclas o alias de YAML (&, *), que un compilador nunca escribe")
        return super().compose_node(parent, index)


def parse_ir(path: Path, root: Path | None = None) -> PipelineIR:
    """The IR at ``path``, read as a plain file under ``root`` (default: its folder) and no larger than the limit."""
    try:
        text = read_text_limited(path, root or path.parent, MAX_IR_BYTES)
    except MissingFile:
        raise IRError("no compiled pipeline was produced") from None
    except RefusedFile as exc:
        raise IRError(f"el corrector no leyó el pipeline compilado: {exc}") from None
    try:
        spec = yaml.load(text, Loader=_NoAliasLoader)
    except yaml.YAMLError as exc:
        raise IRError(f"the compiled pipeline is not valid YAML: {str(exc)[:300]}") from None
    except RecursionError:
        raise IRError("el pipeline compilado no es YAML válido: anida demasiados niveles") from None
    if not isinstance(spec, dict) or not isinstance(spec.get("root"), dict):
        raise IRError("the compiled pipeline has no root DAG")
    tasks: dict[str, Task] = {}
    try:  # YAML that is not the shape kfp writes, e.g. a task that is a number
        _walk(spec, spec["root"].get("dag", {}), None, tasks, 0)
        _resolve_channels(spec, tasks)
        parameters = spec["root"].get("inputDefinitions", {}).get("parameters", {}) or {}
    except (AttributeError, KeyError, TypeError) as exc:
        raise IRError(f"the compiled pipeline is malformed: {type(exc).__name__}: {str(exc)[:200]}") from None
    return PipelineIR(spec=spec, tasks=tasks, parameters=parameters, text=text)
