"""A launcher-conformance harness: a compiled PipelineSpec run task by task under KFP 2.17's backend contract.

A test oracle, not a fourth runner. No cluster runs here, so this plays the parts of the backend that decide
what an executor sees and what survives it, each from the real source (kubeflow/pipelines@2.17.0, ``backend/src``
unless said; ``../shared/upstream`` mirrors most of it; ``v2/metadata`` is read at the tag). Rules, in run order:

- API server: only ``schemaVersion: 2.1.0``; required parameters present and of their type
  (``apiserver/template/v2_template.go``: the schema check and ``validatePipelineJobInputs``).
- Root defaults go into the runtime config (``v2/compiler/argocompiler/argo.go`` ``Compile``); the pipeline root is
  ``minio://mlpipeline/v2/artifacts`` (``v2/config/env.go``) + ``/<pipeline>/<run id>`` (``v2/metadata/client.go``
  ``GetPipeline``, ``GenerateOutputURI``).
- Tasks run in dependency order, and a task whose dependency did not succeed is omitted (``argocompiler/dag.go``
  ``depends``: enhanced depends on ``<task>.Succeeded``); a DAG task's ``triggerPolicy.condition`` is CEL over the
  DAG driver's executor input (``v2/driver/dag.go`` ``DAG``, ``v2/expression/expression.go`` ``Condition``).
- Inputs resolve as ``v2/driver/resolve.go`` ``resolveInputs`` does: ``componentInputParameter``,
  ``taskOutputParameter``, ``runtimeValue.constant`` (``constantValue`` is "not implemented"),
  ``componentInputArtifact``, ``taskOutputArtifact`` (through DAG outputs, ``resolveUpstreamArtifacts``,
  ``GetProducerTask``; ParallelFor fan-in, ``CollectInputs``), optional inputs left to the launcher, then
  ``handleParamTypeValidationAndConversion``; ParallelFor items as ``dag.go`` and ``resolveInputs`` iterate them.
- Outputs are provisioned as ``v2/driver/driver.go`` ``provisionOutputs``: ``<root>/<task>/<uuid>/<output>``,
  parameter files ``/tmp/kfp/outputs/<name>``, the metadata file ``<task root>/output_metadata.json``.
- Command and args: the driver resolves input-parameter placeholders (``v2/driver/util.go``
  ``resolveContainerArgs``); the launcher adds component defaults and substitutes ``{{$}}`` and the other
  placeholders (``v2/component/launcher_v2.go`` ``addDefaultParams``, ``compileCmdAndArgs``, ``getPlaceholders``),
  then execs ``cmd args...`` with no shell (``execute``).
- The executor pod (``argocompiler/container.go``, ``security_context.go``): emptyDirs at /minio, /gcs, /s3, /.local,
  /.cache, /.config; all capabilities dropped, no privilege escalation; the image's own user. Here: ``docker run
  --network none`` with a fresh host folder bound at /minio for each task, tmpfs for the other emptyDirs.
- Around the command (``launcher_v2.go``): input artifacts downloaded from the object store to ``LocalPathForURI``
  (``downloadArtifacts``, ``objectstore.DownloadBlob``); output folders made (``prepareOutputFolders``); then the
  output metadata file read (``getExecutorOutputFile``), missing parameters read from their files
  (``collectOutputParameters``), and each output artifact merged with the executor's (``mergeRuntimeArtifacts``),
  uploaded from its local path (``uploadOutputArtifacts``, ``objectstore.UploadBlob``; a missing path is a warning,
  not an error) and recorded as ML Metadata would keep it (``v2/metadata/converter.go`` ``toMLMDArtifact`` /
  ``toRuntimeArtifact``: booleans come back as 1/0, lists and structs wrapped, null refused).

Not played: caching, retries, executor-logs, importers, Kubernetes platform config, OneOf, artifact iterators.
Anything the kit's pipelines do not use fails loudly with ``NotEmulatedError`` rather than being guessed.
"""

from __future__ import annotations

import contextlib
import json
import math
import re
import shutil
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

import yaml

DEFAULT_PIPELINE_ROOT = "minio://mlpipeline/v2/artifacts"
SCHEMA_VERSION = "2.1.0"
MINIO_MOUNT = "/minio"
PARAMETER_OUTPUT_DIR = "/tmp/kfp/outputs"
SCRATCH_MOUNTS = ("/gcs", "/s3", "/.local", "/.cache", "/.config")
# objectstore.DefaultEndpointInMultiUserMode and config.getDefaultMinioSessionInfo: what every artifact records.
STORE_SESSION_INFO = {
    "Provider": "minio",
    "Params": {
        "accessKeyKey": "accesskey",
        "disableSSL": "true",
        "endpoint": "seaweedfs.kubeflow:9000",
        "fromEnv": "false",
        "maxRetries": "5",
        "region": "minio",
        "secretKeyKey": "secretkey",
        "secretName": "mlpipeline-minio-artifact",
    },
}
INPUT_PARAMETER = re.compile(r"\{\{\$\.inputs\.parameters\['(.+?)']}}")
CONDITION = re.compile(
    r"""^\s*inputs\.parameter_values\[(?:'([^']+)'|"([^"]+)")]\s*(==|!=)\s*"""
    r"""(true|false|'[^']*'|"[^"]*"|-?\d+(?:\.\d+)?)\s*$"""
)


class ApiServerRejectedError(ValueError):
    """The API server would refuse the pipeline or the run before anything executes."""


class DriverError(RuntimeError):
    """A driver (root DAG, DAG or container) would fail: the task never starts."""


class LauncherError(RuntimeError):
    """The launcher or the user command in the executor pod would fail."""


class NotEmulatedError(NotImplementedError):
    """The spec uses a backend feature this harness does not play; extend the harness, do not guess."""


class PipelineFailedError(RuntimeError):
    """A task failed; ``run`` holds everything up to and including it."""

    def __init__(self, message: str, run: PipelineRun) -> None:
        super().__init__(message)
        self.run = run


@dataclass
class Artifact:
    """An output artifact as ML Metadata keeps it, and where its bytes went."""

    id: int
    name: str
    uri: str
    metadata: dict[str, Any]
    uploaded: list[str] = field(default_factory=list)

    def runtime(self) -> dict[str, Any]:
        """As a consumer's driver reads it back (converter.go ``toRuntimeArtifact``, client.go
        ``OutputArtifact.ToRuntimeArtifact``: the id as name, an empty instance schema)."""
        return {"name": str(self.id), "uri": self.uri, "metadata": self.metadata, "type": {"instanceSchema": ""}}


@dataclass
class TaskRun:
    """One container task: what the driver resolved, what ran, and what the launcher kept."""

    name: str
    path: str
    state: str = "PENDING"  # COMPLETE, FAILED, NOT_TRIGGERED, OMITTED
    parameters: dict[str, Any] = field(default_factory=dict)
    artifacts: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    executor_input: dict[str, Any] = field(default_factory=dict)
    command: list[str] = field(default_factory=list)
    image: str = ""
    exit_code: int | None = None
    log: str = ""
    warnings: list[str] = field(default_factory=list)
    output_parameters: dict[str, Any] = field(default_factory=dict)
    output_artifacts: dict[str, Artifact] = field(default_factory=dict)
    seconds: float = 0.0


@dataclass
class DagRun:
    """A DAG execution (the root, a dsl.If body, a ParallelFor loop or one of its iterations)."""

    name: str
    path: str
    component: dict[str, Any]
    state: str = "PENDING"
    parameters: dict[str, Any] = field(default_factory=dict)
    artifacts: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    tasks: dict[str, TaskRun | DagRun] = field(default_factory=dict)
    iterations: list[DagRun] | None = None  # set on a ParallelFor loop: one DAG per item


@dataclass
class PipelineRun:
    pipeline: str
    run_id: str
    pipeline_root: str
    root: DagRun
    seconds: float = 0.0

    def tasks(self) -> dict[str, TaskRun]:
        """Every container task by path (``condition-1/push``, ``for-loop-2[0]/train``)."""
        found: dict[str, TaskRun] = {}

        def walk(dag: DagRun) -> None:
            for node in dag.tasks.values():
                if isinstance(node, TaskRun):
                    found[node.path] = node
                elif node.iterations is not None:
                    for iteration in node.iterations:
                        walk(iteration)
                else:
                    walk(node)

        walk(self.root)
        return found

    def executed(self) -> list[str]:
        return [path for path, task in self.tasks().items() if task.state == "COMPLETE"]

    def output_artifact(self, name: str) -> Artifact:
        """A pipeline output (root ``dag.outputs``), resolved the way a consumer's driver would."""
        spec = self.root.component["dag"]["outputs"]["artifacts"][name]
        return _follow_artifact_selectors(self.root, spec, name)[0]


@dataclass
class Harness:
    """Where tasks run and where artifacts live: a Docker engine and a real S3 store (SeaweedFS here)."""

    store: Any  # minio.Minio
    workdir: Path
    bucket: str = "mlpipeline"
    volumes: dict[str, dict[str, str]] = field(default_factory=dict)  # PVC stand-ins: host path -> bind
    pipeline_root: str = DEFAULT_PIPELINE_ROOT
    task_timeout: int = 900
    docker_client: Any = None
    on_task: Callable[[TaskRun], None] | None = None
    artifact_ids: int = field(default=0, init=False)  # ML Metadata's artifact ids, one counter per harness

    def docker(self) -> Any:
        if self.docker_client is None:
            import docker

            self.docker_client = docker.from_env(timeout=self.task_timeout)
        return self.docker_client


# --- values as Go's protojson and structpb see them ---------------------------------------------------------


def _digits(value: float) -> tuple[str, str, int]:
    """Sign, shortest round-trip digits and decimal point position of a float64 (0.DIGITS x 10^point)."""
    _, digits, exponent = Decimal(repr(abs(value))).normalize().as_tuple()
    text = "".join(map(str, digits))
    return ("-" if value < 0 else ""), text, len(text) + int(exponent)


def format_float(value: float, verb: str) -> str:
    """Go's strconv.FormatFloat(value, verb, -1, 64) for 'f', 'e' and 'g' (shortest: %e below 1e-4 or from 1e6)."""
    if math.isnan(value) or math.isinf(value):
        raise NotEmulatedError(f"non-finite number {value!r}")
    if value == 0:
        return "0" if verb != "e" else "0e+00"
    sign, digits, point = _digits(value)
    if verb == "g":
        verb = "e" if point - 1 < -4 or point - 1 >= 6 else "f"
    if verb == "e":
        exponent = point - 1
        mantissa = digits[0] + ("." + digits[1:] if len(digits) > 1 else "")
        return f"{sign}{mantissa}e{'-' if exponent < 0 else '+'}{abs(exponent):02d}"
    if point <= 0:
        return f"{sign}0.{'0' * -point}{digits}"
    if point >= len(digits):
        return sign + digits + "0" * (point - len(digits))
    return f"{sign}{digits[:point]}.{digits[point:]}"


def go_number(value: float) -> str:
    """A JSON number as protojson (and encoding/json) write a float64: 'f' in [1e-6, 1e21), else 'e', "e-07" -> "e-7".

    It matters: a lightweight component's ``epochs: int`` gets ``40`` from the backend, where Python's json would
    write ``40.0`` and hand Keras a float.
    """
    if value != 0 and not 1e-6 <= abs(value) < 1e21:
        return re.sub(r"e-0(\d)$", r"e-\1", format_float(value, "e"))
    return format_float(value, "f")


def protojson(value: Any, sort_keys: bool = False) -> str:
    """Compact JSON with Go's numbers (every JSON number is a float64 there); encoding/json sorts map keys."""
    if isinstance(value, bool) or value is None:
        return json.dumps(value)
    if isinstance(value, int | float):
        return go_number(float(value))
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, dict):
        items = sorted(value.items()) if sort_keys else value.items()
        return "{" + ",".join(f"{protojson(str(k))}:{protojson(v, sort_keys)}" for k, v in items) + "}"
    if isinstance(value, list | tuple):
        return "[" + ",".join(protojson(v, sort_keys) for v in value) + "]"
    raise TypeError(f"not a JSON value: {value!r}")


def as_value(value: Any) -> Any:
    """A Python value as structpb.NewValue keeps it: numbers become float64."""
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return value
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, dict):
        return {str(k): as_value(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [as_value(v) for v in value]
    raise TypeError(f"not a protobuf Value: {value!r}")


def value_to_text(value: Any) -> str:
    """metadata.PbValueToText: how a non-string value is passed to a STRING input."""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return format_float(value, "f")
    return protojson(value)


def text_to_value(text: str, parameter_type: str) -> Any:
    """metadata.TextToPbValue: a parameter output file read back by its declared type."""
    if parameter_type == "STRING":
        return text
    if parameter_type == "NUMBER_INTEGER":
        return float(int(text.strip()))
    if parameter_type == "NUMBER_DOUBLE":
        return float(text.strip())
    if parameter_type == "BOOLEAN":
        lowered = text.strip()
        if lowered not in {"1", "t", "T", "TRUE", "true", "True", "0", "f", "F", "FALSE", "false", "False"}:
            raise LauncherError(f"cannot parse {text!r} as a bool")
        return lowered in {"1", "t", "T", "TRUE", "true", "True"}
    if parameter_type in {"LIST", "STRUCT"}:
        return as_value(json.loads(text))
    raise NotEmulatedError(f"output parameter type {parameter_type}")


def mlmd_round_trip(metadata: dict[str, Any], name: str) -> dict[str, Any]:
    """Artifact metadata after ML Metadata (converter.go ``StructValueToMLMDValue`` then ``toRuntimeArtifact``)."""
    kept: dict[str, Any] = {}
    for key, value in metadata.items():
        if key == "_kfp_workspace":
            continue
        if isinstance(value, bool):
            kept[key] = 1.0 if value else 0.0
        elif isinstance(value, int | float):
            kept[key] = float(value)
        elif isinstance(value, str):
            kept[key] = value
        elif isinstance(value, list):
            kept[key] = {"list": as_value(value)}
        elif isinstance(value, dict):
            kept[key] = {"struct": as_value(value)}
        else:
            raise LauncherError(
                f"unable to produce MLMD artifact for output {name!r}: "
                f"failed to convert RuntimeArtifact to MLMD artifact: unknown/unsupported value type {value!r}"
            )
    return kept


def evaluate_condition(condition: str, executor_input: dict[str, Any]) -> bool:
    """``triggerPolicy.condition`` as expression.Condition evaluates it, for the one shape KFP's dsl.If emits for a
    comparison with a literal: ``inputs.parameter_values['NAME'] == LITERAL`` (or ``!=``). Anything else is CEL this
    harness does not evaluate, and says so."""
    match = CONDITION.match(condition)
    if not match:
        raise NotEmulatedError(f"CEL condition {condition!r}: only `inputs.parameter_values['x'] ==/!= literal`")
    name = match.group(1) or match.group(2)
    operator, literal_text = match.group(3), match.group(4)
    values = executor_input.get("inputs", {}).get("parameterValues", {})
    if name not in values:
        raise DriverError(f"evaluation error: no such key: {name}")
    actual = values[name]
    literal: Any
    if literal_text in {"true", "false"}:
        literal = literal_text == "true"
    elif literal_text[0] in "'\"":
        literal = literal_text[1:-1]
    else:
        literal = float(literal_text)
    if isinstance(actual, bool) != isinstance(literal, bool) or type(actual) is not type(literal):
        raise NotEmulatedError(f"CEL comparison of {actual!r} with {literal!r} (mixed types) in {condition!r}")
    return (actual == literal) if operator == "==" else (actual != literal)


# --- the API server and the root DAG driver ---------------------------------------------------------------


def load_spec(source: Path | str | dict[str, Any]) -> dict[str, Any]:
    """A PipelineSpec as a dict, checked against the real proto (unknown fields and bad shapes fail here)."""
    from google.protobuf import json_format
    from kfp.pipeline_spec import pipeline_spec_pb2

    spec = source if isinstance(source, dict) else yaml.safe_load(Path(source).read_text())
    if "pipelineSpec" in spec:
        raise ApiServerRejectedError("a PipelineJob wrapper, not a PipelineSpec: the API server takes the spec")
    json_format.ParseDict(spec, pipeline_spec_pb2.PipelineSpec())
    return spec


def runtime_config(spec: dict[str, Any], params: dict[str, Any]) -> dict[str, Any]:
    """The run's parameter values as the API server accepts them and argo.go ``Compile`` completes them."""
    if spec.get("schemaVersion") != SCHEMA_VERSION:
        raise ApiServerRejectedError(
            f"KFP only supports schema version 2.1.0, but the pipeline spec has version {spec.get('schemaVersion')}"
        )
    definitions = spec["root"].get("inputDefinitions", {}).get("parameters", {})
    unknown = set(params) - set(definitions)
    if unknown:
        raise ApiServerRejectedError(f"unknown pipeline parameter(s): {', '.join(sorted(unknown))}")
    values = {name: as_value(value) for name, value in params.items()}
    kinds = {"NUMBER_DOUBLE": (float,), "NUMBER_INTEGER": (float,), "STRING": (str,), "BOOLEAN": (bool,)}
    for name, definition in definitions.items():
        if name not in values:
            if "defaultValue" in definition:
                values[name] = as_value(definition["defaultValue"])
            elif definition.get("isOptional"):
                values[name] = None
            else:
                raise ApiServerRejectedError(
                    f"parameter {name} is not optional, yet has neither default value nor user provided value"
                )
            continue
        expected = kinds.get(definition["parameterType"])
        value = values[name]
        if expected and (not isinstance(value, expected) or (expected == (float,) and isinstance(value, bool))):
            raise ApiServerRejectedError(f"input parameter {name} requires type {definition['parameterType']}")
    return values


def run_pipeline(
    harness: Harness, spec: dict[str, Any], params: dict[str, Any], run_id: str | None = None
) -> PipelineRun:
    """Run every task of ``spec`` the way KFP 2.17 would; PipelineFailedError on the first failure."""
    values = runtime_config(spec, params)
    if spec.get("platforms"):  # a kfp-kubernetes platform spec: volumes, secrets... that the driver would apply
        raise NotEmulatedError(f"platform config {sorted(spec['platforms'])} (kfp-kubernetes)")
    name = spec["pipelineInfo"]["name"]
    run_id = run_id or str(uuid.uuid4())
    root_uri = f"{harness.pipeline_root.rstrip('/')}/{name}/{run_id}"
    root = DagRun(name="root", path="", component=spec["root"], parameters=values, state="RUNNING")
    run = PipelineRun(pipeline=name, run_id=run_id, pipeline_root=root_uri, root=root)
    start = time.perf_counter()
    try:
        _run_dag(harness, spec, run, root)
    finally:
        run.seconds = round(time.perf_counter() - start, 2)
    root.state = "COMPLETE"
    return run


# --- DAGs ---------------------------------------------------------------------------------------------------


def _order(tasks: dict[str, Any]) -> list[str]:
    """Kahn's order over ``dependentTasks``, ties by name, so runs are reproducible."""
    pending = {name: set(task.get("dependentTasks", [])) for name, task in tasks.items()}
    for name, deps in pending.items():
        if missing := deps - set(tasks):
            raise DriverError(f"task {name!r} depends on unknown task(s) {sorted(missing)}")
    order: list[str] = []
    while pending:
        ready = sorted(name for name, deps in pending.items() if not deps - set(order))
        if not ready:
            raise DriverError(f"dependency cycle among {sorted(pending)}")
        order.append(ready[0])
        del pending[ready[0]]
    return order


def _run_dag(harness: Harness, spec: dict[str, Any], run: PipelineRun, dag: DagRun) -> None:
    tasks = dag.component["dag"]["tasks"]
    for task_name in _order(tasks):
        task = tasks[task_name]
        if "artifactIterator" in task:
            raise NotEmulatedError("artifactIterator (the driver says: ArtifactIterator is not implemented)")
        strategy = task.get("triggerPolicy", {}).get("strategy", "ALL_UPSTREAM_TASKS_SUCCEEDED")
        if strategy != "ALL_UPSTREAM_TASKS_SUCCEEDED":
            raise NotEmulatedError(f"trigger strategy {strategy} (exit handlers)")
        component = spec["components"][task["componentRef"]["name"]]
        path = f"{dag.path}/{task_name}".lstrip("/")
        upstream = [dag.tasks[d].state for d in task.get("dependentTasks", [])]
        if any(state != "COMPLETE" for state in upstream):
            node: TaskRun | DagRun
            node = DagRun(task_name, path, component) if "dag" in component else TaskRun(task_name, path)
            node.state = "OMITTED"
            dag.tasks[task_name] = node
            continue
        try:
            if "dag" in component:
                _run_dag_task(harness, spec, run, dag, task_name, task, component, path)
            else:
                _run_container_task(harness, spec, run, dag, task_name, task, component, path)
        except (DriverError, LauncherError) as exc:
            dag.tasks[task_name].state = "FAILED"
            raise PipelineFailedError(f"task {path!r} failed: {exc}", run) from exc


def _run_dag_task(
    harness: Harness,
    spec: dict[str, Any],
    run: PipelineRun,
    parent: DagRun,
    name: str,
    task: dict[str, Any],
    component: dict[str, Any],
    path: str,
) -> DagRun:
    """dag.go ``DAG``: resolve the DAG's inputs, evaluate its condition, fan out a ParallelFor."""
    node = DagRun(name, path, component)
    parent.tasks[name] = node
    params, artifacts = _resolve_inputs(parent, task, component, driver="DAG")
    node.parameters, node.artifacts = params, artifacts
    condition = task.get("triggerPolicy", {}).get("condition", "")
    if condition and not evaluate_condition(condition, {"inputs": {"parameterValues": params}}):
        node.state = "NOT_TRIGGERED"
        return node
    node.state = "RUNNING"
    iterator = task.get("parameterIterator")
    if iterator is not None and condition:
        raise NotEmulatedError("a condition on a ParallelFor (the driver evaluates it per iteration)")
    if iterator is None:
        _run_dag(harness, spec, run, node)
        node.state = "COMPLETE"
        return node
    items_spec = iterator["items"]
    if "raw" in items_spec:
        items = json.loads(items_spec["raw"])
        node.parameters[iterator["itemInput"]] = as_value(items)
        items_input = iterator["itemInput"]
    else:
        items_input = items_spec["inputParameter"]
        items = node.parameters.get(items_input)
        if isinstance(items, str):
            items = json.loads(items)
    if not isinstance(items, list):
        raise DriverError(f"iterating on item input {iterator['itemInput']!r} failed: value cannot be iterated")
    node.iterations = []
    for index, item in enumerate(items):
        iteration_params = {k: v for k, v in node.parameters.items() if k != items_input}
        iteration_params[iterator["itemInput"]] = as_value(item)
        iteration = DagRun(f"{name}[{index}]", f"{path}[{index}]", component, "RUNNING", iteration_params)
        iteration.artifacts = node.artifacts
        node.iterations.append(iteration)
        _run_dag(harness, spec, run, iteration)
        iteration.state = "COMPLETE"
    node.state = "COMPLETE"
    return node


# --- input resolution (resolve.go) --------------------------------------------------------------------------


def _resolve_inputs(
    parent: DagRun, task: dict[str, Any], component: dict[str, Any], driver: str
) -> tuple[dict[str, Any], dict[str, list[dict[str, Any]]]]:
    definitions = component.get("inputDefinitions", {}).get("parameters", {})
    params: dict[str, Any] = {}
    set_nil: set[str] = set()
    task_params = task.get("inputs", {}).get("parameters", {})
    if driver == "DAG":  # a nested pipeline's omitted optional inputs, as for the root
        for name, definition in definitions.items():
            if name not in task_params and definition.get("isOptional"):
                params[name] = as_value(definition.get("defaultValue"))
                if "defaultValue" not in definition:
                    set_nil.add(name)
    for name, param_spec in task_params.items():
        if definitions.get(name, {}).get("parameterType") == "TASK_CONFIG":
            continue
        value = _resolve_parameter(parent, param_spec, name)
        if value is None and "componentInputParameter" in param_spec:
            if definitions.get(name, {}).get("isOptional"):
                continue  # ErrResolvedParameterNull on an optional input: the launcher applies its default
            raise DriverError(f"the resolved input parameter is null: {param_spec['componentInputParameter']}")
        params[name] = value
    artifacts = {
        name: _resolve_artifact(parent, artifact_spec, name)
        for name, artifact_spec in task.get("inputs", {}).get("artifacts", {}).items()
    }
    for name, selector_spec in task_params.items():
        if selector_spec.get("parameterExpressionSelector"):
            raise NotEmulatedError(f"parameterExpressionSelector on {name!r}")
    _check_parameter_types(params, definitions, task, set_nil)
    return params, artifacts


def _resolve_parameter(parent: DagRun, spec: dict[str, Any], name: str) -> Any:
    if "componentInputParameter" in spec:
        source = spec["componentInputParameter"]
        if not source:
            raise DriverError(f"resolving input parameter {name!r}: empty component input")
        if source not in parent.parameters:
            raise DriverError(f"resolving input parameter {name!r}: parent DAG does not have input parameter {source}")
        return parent.parameters[source]
    if "taskOutputParameter" in spec:
        output = spec["taskOutputParameter"]
        producer = parent.tasks.get(output.get("producerTask", ""))
        if producer is None:
            raise DriverError(f"resolving input parameter {name!r}: producer task, {output}, not in tasks")
        return _upstream_parameter(producer, output["outputParameterKey"], name)
    if "runtimeValue" in spec:
        runtime = spec["runtimeValue"]
        if "constant" in runtime:
            constant = runtime["constant"]
            if isinstance(constant, str) and "{{$." in constant:  # {{$.pipeline_job_name}} and friends
                raise NotEmulatedError(f"runtime placeholder constant {constant!r}")
            return as_value(constant)
        kind = "ConstantValue" if "constantValue" in runtime else "RuntimeParameter"
        raise DriverError(
            f"resolving input parameter with spec {json.dumps(spec)}: "
            f"param runtime value spec of type *pipelinespec.ValueOrRuntimeParameter_{kind} not implemented"
        )
    kind = next(iter(spec), "unset")
    raise DriverError(f"resolving input parameter {name!r}: parameter spec of type {kind} not implemented yet")


def _upstream_parameter(producer: TaskRun | DagRun, key: str, name: str) -> Any:
    """resolveUpstreamParameters: down through DAG outputs to the container that wrote the value."""
    if isinstance(producer, TaskRun):
        if key not in producer.output_parameters:
            raise DriverError(f"resolving input parameter {name!r}: {producer.name} has no output parameter {key}")
        return producer.output_parameters[key]
    outputs = producer.component["dag"].get("outputs", {}).get("parameters", {})
    if key not in outputs:
        raise DriverError(f"task, {producer.name}, does not have a parameter_producer_task for {key}")
    if "valueFromParameter" not in outputs[key]:
        raise NotEmulatedError(f"DAG output parameter {key!r} of kind {next(iter(outputs[key]))} (dsl.OneOf)")
    selector = outputs[key]["valueFromParameter"]
    scopes = producer.iterations if producer.iterations is not None else [producer]
    if any(selector["producerSubtask"] not in scope.tasks for scope in scopes):
        raise DriverError(f"subTaskName, {selector['producerSubtask']}, not in tasks")
    values = [
        _upstream_parameter(s.tasks[selector["producerSubtask"]], selector["outputParameterKey"], name) for s in scopes
    ]
    return values if producer.iterations is not None else values[0]


def _resolve_artifact(parent: DagRun, spec: dict[str, Any], name: str) -> list[dict[str, Any]]:
    if "componentInputArtifact" in spec:
        source = spec["componentInputArtifact"]
        if source not in parent.artifacts:
            raise DriverError(f"input artifact {name}: parent DAG does not have input artifact {source}")
        return parent.artifacts[source]
    if "taskOutputArtifact" in spec:
        output = spec["taskOutputArtifact"]
        producer = parent.tasks.get(output.get("producerTask", ""))
        if producer is None:
            raise DriverError(f"failed to resolve input artifact {name}: cannot find producer task {output}")
        return [a.runtime() for a in _upstream_artifacts(producer, output["outputArtifactKey"], name)]
    raise DriverError(f"input artifact {name}: artifact spec of type {next(iter(spec))} not implemented yet")


def _upstream_artifacts(producer: TaskRun | DagRun, key: str, name: str) -> list[Artifact]:
    """resolveUpstreamArtifacts / GetProducerTask / CollectInputs: one artifact, or one per ParallelFor iteration."""
    if isinstance(producer, TaskRun):
        if key not in producer.output_artifacts:
            raise DriverError(f"cannot find output artifact key {key!r} in producer task {producer.name!r}")
        return [producer.output_artifacts[key]]
    selectors = producer.component["dag"].get("outputs", {}).get("artifacts", {})
    if key not in selectors:
        raise DriverError(f"artifact output key {key!r} not found in parent task {producer.name!r}")
    return _follow_artifact_selectors(producer, selectors[key], name)


def _follow_artifact_selectors(producer: DagRun, spec: dict[str, Any], name: str) -> list[Artifact]:
    selectors = spec.get("artifactSelectors", [])
    if len(selectors) != 1:
        raise NotEmulatedError(f"{len(selectors)} artifact selectors for {name!r} (dsl.OneOf)")
    selector = selectors[0]
    scopes = producer.iterations if producer.iterations is not None else [producer]
    found: list[Artifact] = []
    for scope in scopes:
        sub = scope.tasks.get(selector["producerSubtask"])
        if sub is None:
            raise DriverError(f"subTaskName, {selector['producerSubtask']}, not in tasks")
        found.extend(_upstream_artifacts(sub, selector["outputArtifactKey"], name))
    return found


def _check_parameter_types(
    params: dict[str, Any], definitions: dict[str, Any], task: dict[str, Any], set_nil: set[str]
) -> None:
    """resolve.go ``handleParamTypeValidationAndConversion``."""
    iterator = task.get("parameterIterator")
    for name, definition in definitions.items():
        if iterator and iterator.get("itemInput") == name:
            continue
        if name not in params:
            if definition.get("isOptional"):
                continue
            if "defaultValue" not in definition:
                raise DriverError(f"neither value nor default value provided for non-optional parameter {name!r}")
            raise NotEmulatedError(f"non-optional input {name!r} with a default but no value")
        value, kind = params[name], definition["parameterType"]
        if value is None:
            if name in set_nil:
                continue
            raise DriverError(f"got null for input parameter {name!r}")
        if kind == "STRING":
            params[name] = value_to_text(value)
            continue
        actual = {bool: "bool", str: "string", float: "number", list: "list", dict: "struct"}[type(value)]
        allowed = {
            "NUMBER_DOUBLE": "number",
            "NUMBER_INTEGER": "number",
            "BOOLEAN": "bool",
            "LIST": "list",
            "STRUCT": "struct",
            "TASK_FINAL_STATUS": "struct",
        }.get(kind)
        if allowed != actual:
            raise DriverError(f"input parameter {name!r} type mismatch: expect {kind}, got {actual}")


# --- container tasks: driver, launcher, executor pod --------------------------------------------------------


def _run_container_task(
    harness: Harness,
    spec: dict[str, Any],
    run: PipelineRun,
    parent: DagRun,
    name: str,
    task: dict[str, Any],
    component: dict[str, Any],
    path: str,
) -> TaskRun:
    node = TaskRun(name, path)
    parent.tasks[name] = node
    executor = spec["deploymentSpec"]["executors"][component["executorLabel"]]
    if "container" not in executor:
        raise NotEmulatedError(f"executor {component['executorLabel']!r} of kind {next(iter(executor))} (importer)")
    params, artifacts = _resolve_inputs(parent, task, component, driver="CONTAINER")
    node.parameters, node.artifacts = params, artifacts
    condition = task.get("triggerPolicy", {}).get("condition", "")
    if condition and not evaluate_condition(condition, {"inputs": {"parameterValues": params}}):
        node.state = "NOT_TRIGGERED"
        return node
    start = time.perf_counter()
    node.state = "FAILED"
    try:
        _launch(harness, run, node, component, executor["container"])
        node.state = "COMPLETE"
    finally:
        node.seconds = round(time.perf_counter() - start, 2)
        if harness.on_task:
            harness.on_task(node)
    return node


def provision_outputs(task_root: str, component: dict[str, Any]) -> dict[str, Any]:
    """driver.go ``provisionOutputs`` (executor-logs left out: PUBLISH_LOGS is not set by the kit's install)."""
    definitions = component.get("outputDefinitions", {})
    outputs: dict[str, Any] = {"artifacts": {}, "parameters": {}}
    for name, artifact in definitions.get("artifacts", {}).items():
        entry = {"name": name, "type": artifact["artifactType"], "uri": f"{task_root}/{name}"}
        if artifact.get("metadata"):
            entry["metadata"] = artifact["metadata"]
        outputs["artifacts"][name] = {"artifacts": [entry]}
    for name in definitions.get("parameters", {}):
        outputs["parameters"][name] = {"outputFile": f"{PARAMETER_OUTPUT_DIR}/{name}"}
    outputs["outputFile"] = f"{local_path_for_uri(task_root)}/output_metadata.json"
    return _drop_empty_maps(outputs)


def _drop_empty_maps(message: dict[str, Any]) -> dict[str, Any]:
    """protojson omits empty map fields of a message (not empty lists or structs inside a Value)."""
    return {key: value for key, value in message.items() if value != {}}


def local_path_for_uri(uri: str) -> str:
    """launcher_v2.go ``LocalPathForURI``."""
    for scheme, mount in (("gs://", "/gcs/"), ("minio://", "/minio/"), ("s3://", "/s3/")):
        if uri.startswith(scheme):
            return mount + uri[len(scheme) :]
    raise LauncherError(f"failed to generate local path for URI {uri}: unsupported storage scheme")


def resolve_container_args(args: list[str], executor_input: dict[str, Any]) -> list[str]:
    """driver/util.go ``resolveContainerArgs``: input parameters now, outputs left for the launcher."""
    values = executor_input.get("inputs", {}).get("parameterValues", {})

    def substitute(text: str) -> str:
        def one(match: re.Match[str]) -> str:
            if match.group(1) not in values:
                raise DriverError(f"parameter {match.group(1)!r} not found in executor input")
            return _pb_value_to_string(values[match.group(1)])

        return INPUT_PARAMETER.sub(one, text)

    resolved: list[str] = []
    for arg in args:
        if "$.outputs" in arg:
            resolved.append(arg)
        elif arg.strip().startswith('{"IfPresent":'):
            clause = json.loads(arg)["IfPresent"]
            present = values.get(clause["InputName"]) is not None
            chosen = clause.get("Then") if present else clause.get("Else")
            chosen = [] if chosen is None else [chosen] if isinstance(chosen, str) else chosen
            resolved.extend(substitute(item) for item in chosen)
        else:
            resolved.append(substitute(arg))
    return resolved


def _pb_value_to_string(value: Any) -> str:
    """driver/util.go ``pbValueToString``: integral numbers as %d, others as %g, lists and structs as JSON."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return str(int(value)) if value == int(value) else format_float(value, "g")
    return value if isinstance(value, str) else protojson(value, sort_keys=True)


def compile_command(executor_input: dict[str, Any], component: dict[str, Any], cmd_args: list[str]) -> list[str]:
    """launcher_v2.go ``addDefaultParams`` + ``compileCmdAndArgs``: ``{{$}}`` everywhere, other placeholders only
    in the args (the launcher substitutes them into a copy of cmd it then drops)."""
    with_defaults = json.loads(json.dumps(executor_input))
    values = with_defaults.setdefault("inputs", {}).setdefault("parameterValues", {})
    for name, definition in component.get("inputDefinitions", {}).get("parameters", {}).items():
        if "defaultValue" in definition and name not in values:
            values[name] = as_value(definition["defaultValue"])
    with_defaults["inputs"] = _drop_empty_maps(with_defaults["inputs"])
    whole = protojson(with_defaults)
    placeholders = _placeholders(with_defaults)
    cmd, *args = cmd_args
    compiled = [cmd.replace("{{$}}", whole)]
    for arg in args:
        arg = arg.replace("{{$}}", whole)
        for key, replacement in placeholders.items():
            arg = arg.replace(key, replacement)
        compiled.append(arg)
    return compiled


def _placeholders(executor_input: dict[str, Any]) -> dict[str, str]:
    """launcher_v2.go ``getPlaceholders``."""
    found: dict[str, str] = {}
    for name, listing in executor_input.get("inputs", {}).get("artifacts", {}).items():
        if listing.get("artifacts"):
            first = listing["artifacts"][0]
            found[f"{{{{$.inputs.artifacts['{name}'].uri}}}}"] = first["uri"]
            with contextlib.suppress(LauncherError):  # no recognized storage URI: no path placeholder
                found[f"{{{{$.inputs.artifacts['{name}'].path}}}}"] = _artifact_path(first)
    for name, listing in executor_input["outputs"].get("artifacts", {}).items():
        first = listing["artifacts"][0]
        found[f"{{{{$.outputs.artifacts['{name}'].uri}}}}"] = first["uri"]
        found[f"{{{{$.outputs.artifacts['{name}'].path}}}}"] = _artifact_path(first)
    for name, value in executor_input.get("inputs", {}).get("parameterValues", {}).items():
        if value is None:
            raise LauncherError(f"failed to get placeholders: unknown PipelineSpec Value type for {name!r}")
        found[f"{{{{$.inputs.parameters['{name}']}}}}"] = value if isinstance(value, str) else value_to_text(value)
    for name, parameter in executor_input["outputs"].get("parameters", {}).items():
        found[f"{{{{$.outputs.parameters['{name}'].output_file}}}}"] = parameter["outputFile"]
    return found


def _artifact_path(artifact: dict[str, Any]) -> str:
    """``retrieveArtifactPath``: the custom path if set, else ``LocalPathForURI``."""
    return artifact.get("customPath") or local_path_for_uri(artifact["uri"])


def _object_key(harness: Harness, uri: str) -> str:
    """The S3 key of an artifact URI (objectstore ``ParseBucketConfig`` + ``KeyFromURI`` on the bucket root)."""
    prefix = f"minio://{harness.bucket}/"
    if not uri.startswith(prefix):
        raise NotEmulatedError(f"artifact URI {uri!r} outside the run's bucket {prefix!r}")
    key = uri[len(prefix) :].strip("/")
    if not key:
        raise LauncherError(f"URI {uri!r} has empty key given prefixed bucket {prefix!r}")
    return key


def _host_path(minio_dir: Path, container_path: str) -> Path:
    if container_path != MINIO_MOUNT and not container_path.startswith(MINIO_MOUNT + "/"):
        raise NotEmulatedError(f"{container_path!r} is outside {MINIO_MOUNT}: the harness only reads /minio back")
    return minio_dir / container_path[len(MINIO_MOUNT) :].lstrip("/")


def _download(harness: Harness, artifacts: dict[str, list[dict[str, Any]]], minio_dir: Path) -> None:
    """``downloadArtifacts`` + ``DownloadBlob``: every object under the key, nothing (and no error) if none."""
    for name, listing in artifacts.items():
        for artifact in listing:
            try:
                local = _host_path(minio_dir, _artifact_path(artifact))
            except LauncherError:
                continue  # "does not have a recognized storage URI": skipped, as the launcher does
            key = _object_key(harness, artifact["uri"])
            for obj in harness.store.list_objects(harness.bucket, prefix=key, recursive=True):
                if obj.is_dir or not (obj.object_name == key or obj.object_name.startswith(key + "/")):
                    continue
                if ".." in obj.object_name.split("/"):
                    raise LauncherError(f"path traversal detected: blob key {obj.object_name!r}")
                relative = obj.object_name[len(key) :].lstrip("/")
                target = local / relative if relative else local
                target.parent.mkdir(parents=True, exist_ok=True)
                try:
                    harness.store.fget_object(harness.bucket, obj.object_name, str(target))
                except Exception as exc:
                    raise LauncherError(
                        f"failed to download input artifact {name!r} from remote storage URI {artifact['uri']!r}: {exc}"
                    ) from exc


def _upload(harness: Harness, local: Path, key: str) -> list[str]:
    """``UploadBlob``: a file to the key, a folder file by file under it; FileNotFoundError if nothing is there."""
    if not local.exists() and not local.is_symlink():
        raise FileNotFoundError(local)
    if not local.is_dir():
        harness.store.fput_object(harness.bucket, key, str(local))
        return [key]
    uploaded: list[str] = []
    for entry in sorted(local.iterdir()):
        uploaded.extend(_upload(harness, entry, f"{key}/{entry.name}"))
    return uploaded


def _launch(
    harness: Harness, run: PipelineRun, node: TaskRun, component: dict[str, Any], container: dict[str, Any]
) -> None:
    task_root = f"{run.pipeline_root}/{node.name}/{uuid.uuid4()}"
    outputs = provision_outputs(task_root, component)
    inputs = {
        "parameterValues": node.parameters,
        "artifacts": {name: {"artifacts": listing} for name, listing in node.artifacts.items()},
    }
    node.executor_input = {"inputs": _drop_empty_maps(inputs), "outputs": outputs}
    cmd_args = resolve_container_args(container.get("command", []) + container.get("args", []), node.executor_input)
    if not cmd_args:
        raise LauncherError("command and arguments are empty")
    image = container["image"]
    if channel := INPUT_PARAMETER.fullmatch(image):
        image = str(node.parameters[channel.group(1)])
    node.image = image
    node.command = compile_command(node.executor_input, component, cmd_args)

    # A fresh folder per task: whatever a task leaves in /minio is gone before the next one starts.
    scratch = harness.workdir / f"{node.name}-{uuid.uuid4().hex[:8]}"
    minio_dir, params_dir = scratch / "minio", scratch / "kfp-outputs"
    for folder in (minio_dir, params_dir):
        folder.mkdir(parents=True)
    try:
        _download(harness, node.artifacts, minio_dir)
        for listing in outputs.get("artifacts", {}).values():  # prepareOutputFolders
            parent = _host_path(minio_dir, _artifact_path(listing["artifacts"][0])).parent
            parent.mkdir(parents=True, exist_ok=True)
        for folder in [minio_dir, *minio_dir.rglob("*"), params_dir]:
            if folder.is_dir():
                folder.chmod(0o777)  # an emptyDir is world-writable; the image's user need not be the host's
        node.exit_code, node.log = _run_pod(harness, run, node, container, minio_dir, params_dir)
        if node.exit_code != 0:
            tail = "\n".join(node.log.strip().splitlines()[-15:])
            raise LauncherError(f"failed to execute component: exit status {node.exit_code}\n{tail}")
        executor_output = _read_executor_output(_host_path(minio_dir, outputs["outputFile"]))
        node.output_parameters = _collect_output_parameters(outputs, executor_output, component, params_dir)
        node.output_artifacts = _upload_outputs(harness, node, outputs, executor_output, minio_dir)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def _run_pod(
    harness: Harness, run: PipelineRun, node: TaskRun, container: dict[str, Any], minio_dir: Path, params_dir: Path
) -> tuple[int, str]:
    """The executor pod's main container: the launcher execs ``cmd args...`` as the image's user, no shell."""
    client = harness.docker()
    volumes = {
        str(minio_dir): {"bind": MINIO_MOUNT, "mode": "rw"},
        # The launcher runs inside the same container and makes this folder before the command; a mount keeps it
        # readable after the container is gone.
        str(params_dir): {"bind": PARAMETER_OUTPUT_DIR, "mode": "rw"},
        **harness.volumes,
    }
    pod_name = f"{run.pipeline}-{node.name}-{uuid.uuid4().hex[:5]}"
    environment = {"KFP_POD_NAME": pod_name, "KFP_POD_UID": str(uuid.uuid4())}
    environment.update({e["name"]: e.get("value", "") for e in container.get("env", [])})
    cmd, *args = node.command
    pod = client.containers.create(
        node.image,
        entrypoint=[cmd],
        command=args,
        network_mode="none",
        cap_drop=["ALL"],
        security_opt=["no-new-privileges"],
        tmpfs={path: "mode=1777" for path in SCRATCH_MOUNTS},
        volumes=volumes,
        environment=environment,
        labels={"labkit.conformance.run": run.run_id, "labkit.conformance.task": node.path},
    )
    try:
        pod.start()
        try:
            status = pod.wait(timeout=harness.task_timeout)
        except Exception as exc:
            pod.kill()
            raise LauncherError(f"the task ran over {harness.task_timeout} s") from exc
        log = pod.logs(stdout=True, stderr=True).decode(errors="replace")
        return int(status["StatusCode"]), log
    finally:
        pod.remove(force=True)


def _read_executor_output(path: Path) -> dict[str, Any]:
    """``getExecutorOutputFile``: an absent file is an empty output; a present one must be a valid ExecutorOutput."""
    from google.protobuf import json_format
    from kfp.pipeline_spec import pipeline_spec_pb2

    if not path.exists():
        return {}
    text = path.read_text()
    try:
        json_format.Parse(text, pipeline_spec_pb2.ExecutorOutput())
    except json_format.ParseError as exc:
        raise LauncherError(f"failed to unmarshall ExecutorOutput in file {path.name!r}: {exc}") from exc
    return json.loads(text)


def _collect_output_parameters(
    outputs: dict[str, Any], executor_output: dict[str, Any], component: dict[str, Any], params_dir: Path
) -> dict[str, Any]:
    """``collectOutputParameters``: the metadata file wins; else the parameter's own file, read by its type."""
    values = {name: as_value(v) for name, v in executor_output.get("parameterValues", {}).items()}
    definitions = component.get("outputDefinitions", {}).get("parameters", {})
    for name, parameter in outputs.get("parameters", {}).items():
        if name in values:
            continue
        file = params_dir / Path(parameter["outputFile"]).name
        kind = definitions[name]["parameterType"]
        if not file.is_file():
            raise LauncherError(
                f"failed to read output parameter name={name!r} type={kind!r} path={parameter['outputFile']!r}: "
                "no such file or directory"
            )
        values[name] = text_to_value(file.read_text(), kind)
    return values


def _upload_outputs(
    harness: Harness, node: TaskRun, outputs: dict[str, Any], executor_output: dict[str, Any], minio_dir: Path
) -> dict[str, Artifact]:
    """``uploadOutputArtifacts`` then ``RecordArtifact``."""
    recorded: dict[str, Artifact] = {}
    for name, listing in outputs.get("artifacts", {}).items():
        artifact = dict(listing["artifacts"][0])
        written = executor_output.get("artifacts", {}).get(name, {}).get("artifacts", [])
        if written:  # mergeRuntimeArtifacts
            first = written[0]
            if first.get("uri"):
                artifact["uri"] = first["uri"]
            if first.get("metadata") is not None:
                artifact["metadata"] = {**(artifact.get("metadata") or {}), **first["metadata"]}
            if first.get("customPath"):
                artifact["customPath"] = first["customPath"]
        key = _object_key(harness, artifact["uri"])
        local = _host_path(minio_dir, _artifact_path(artifact))
        uploaded: list[str] = []
        try:
            uploaded = _upload(harness, local, key)
        except FileNotFoundError:
            node.warnings.append(f"Local filepath {_artifact_path(artifact)!r} does not exist")  # allowed, recorded
        metadata = mlmd_round_trip(artifact.get("metadata") or {}, name)
        metadata.setdefault("display_name", name)
        metadata.setdefault("store_session_info", json.dumps(STORE_SESSION_INFO, separators=(",", ":")))
        harness.artifact_ids += 1
        recorded[name] = Artifact(harness.artifact_ids, name, artifact["uri"], metadata, uploaded)
    return recorded
