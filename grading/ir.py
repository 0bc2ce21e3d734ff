"""Read a compiled pipeline (KFP IR YAML) as data: tasks, the component behind each, edges, gates, parameters.

The IR is parsed with ``yaml.safe_load`` and never executed. Tasks are identified by the component they run
(``comp-train``, ``comp-train-2`` -> ``train``), not by display names a submission can choose freely.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from grading.submission import MissingFile, RefusedFile, read_text_limited

MAX_IR_BYTES = 2 * 1024 * 1024
_COMPONENT_SUFFIX = re.compile(r"-\d+$")


class IRError(ValueError):
    pass


def type_title(artifact: dict[str, Any]) -> str | None:
    """An artifact definition's type: kfp writes ``schemaTitle``, TFX an ``instanceSchema`` with a ``title:``."""
    artifact_type = artifact.get("artifactType", {})
    if "schemaTitle" in artifact_type:
        return artifact_type["schemaTitle"]
    for line in str(artifact_type.get("instanceSchema", "")).splitlines():
        if line.startswith("title:"):
            return line.removeprefix("title:").strip()
    return None


@dataclass
class Task:
    name: str  # the task key in its DAG
    component: str  # e.g. "train"
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

    def by_component(self, component: str) -> list[Task]:
        return [task for task in self.tasks.values() if task.component == component]

    def output_type(self, task: Task, output: str) -> str | None:
        component = self.spec.get("components", {}).get(task.component_ref, {})
        return type_title(component.get("outputDefinitions", {}).get("artifacts", {}).get(output, {}))

    def artifact_outputs_of_type(self, schema_title: str) -> list[tuple[Task, str]]:
        found = []
        for task in self.tasks.values():
            component = self.spec.get("components", {}).get(task.component_ref, {})
            for name, artifact in component.get("outputDefinitions", {}).get("artifacts", {}).items():
                if type_title(artifact) == schema_title:
                    found.append((task, name))
        return found

    def consumes_type(self, task: Task, schema_title: str) -> bool:
        component = self.spec.get("components", {}).get(task.component_ref, {})
        inputs = component.get("inputDefinitions", {}).get("artifacts", {})
        return any(type_title(artifact) == schema_title for artifact in inputs.values())

    def trained_output(self, schema_title: str) -> tuple[Task, str]:
        """(task, output) of the first task producing a ``schema_title`` artifact without consuming one: the
        training step, not a pusher or evaluator that passes a model on."""
        for task, output in self.artifact_outputs_of_type(schema_title):
            if not self.consumes_type(task, schema_title):
                return task, output
        raise LookupError("el pipeline no produce ningún artefacto de tipo Model")

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


def _component_name(ref: str) -> str:
    return _COMPONENT_SUFFIX.sub("", ref.removeprefix("comp-"))


def _walk(spec: dict[str, Any], dag: dict[str, Any], parent: str | None, tasks: dict[str, Task], depth: int) -> None:
    if depth > 10:
        raise IRError("the pipeline nests more than 10 levels of sub-DAGs")
    components = spec.get("components", {})
    for name, raw in (dag.get("tasks") or {}).items():
        ref = raw.get("componentRef", {}).get("name", "")
        inputs = raw.get("inputs", {})
        task = Task(
            name=str(name),  # YAML keys can be numbers; task names become paths
            component=_component_name(ref),
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
    return PipelineIR(spec=spec, tasks=tasks, parameters=parameters)
