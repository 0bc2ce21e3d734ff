"""The ``cluster`` runner: compile, submit to KFP 2.17 on the kind cluster with ``kfp.Client``, follow the tasks.

KFP's API has no watch, so the runner polls the run's details (every ``poll_seconds``) and turns task state
changes into the same TaskEvents the local runners emit. Run details name Argo *nodes*, not pods, so the runner
works out which node (and so which ParallelFor iteration and which pod) an entry is from Argo's naming rules.
Metrics come from the object store: the run's ``evaluate/metrics`` object when the component writes one (see
``metrics_from_store``).
"""

from __future__ import annotations

import contextlib
import json
import time
import urllib.error
import urllib.request
import warnings
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from labkit.cluster import API_URL, KFP_NAMESPACE, UI_URL, kube_context
from labkit.registry import PipelineEntry
from labkit.runners.base import EventSink, RunnerUnavailableError, RunResult, TaskEvent

TERMINAL_RUN_STATES = {"SUCCEEDED", "FAILED", "CANCELED", "SKIPPED"}
# KFP runtime states -> the runner protocol's three; PENDING/SKIPPED/... produce no event.
TASK_STATE_MAP = {"RUNNING": "running", "SUCCEEDED": "succeeded", "FAILED": "failed", "CANCELED": "failed"}
EXPERIMENT = "labkit"
# Argo keeps "<workflow>-<template>" pod-name prefixes under 253 - 10 - 1 characters (GeneratePodName, below).
MAX_POD_PREFIX = 242
ITERATION = None  # an ExecutorPath step standing for one iteration of a dsl.ParallelFor
UNSET_TIME = datetime(1970, 1, 1)  # KFP reports a time it never recorded as the epoch or as year 1
Instance = tuple[tuple[int, ...], str]  # (ParallelFor indexes, Argo node name) of one run of a task


@dataclass(frozen=True)
class TaskSnapshot:
    name: str
    state: str
    pod_name: str | None
    seconds: float | None
    error: str | None


@dataclass(frozen=True)
class ExecutorPath:
    """Where a task's Argo nodes sit, as KFP 2.17's argocompiler lays them out (backend/src/v2/compiler/argocompiler,
    dag.go ``task``/``iteratorTask``/``iterationItemTask``, container.go ``addContainerExecutorTemplate``,
    importer.go): the DAG task names from the root down to the task, ITERATION for each enclosing ParallelFor, then
    the template of the task's pod and the step below the task's node that runs it (None: the node is the pod)."""

    steps: tuple[str | None, ...]
    template: str = "system-container-impl"
    pod_step: str | None = "executor"


def executor_tasks(pipeline_spec: dict[str, Any]) -> dict[str, ExecutorPath]:
    """The tasks that run a container, at any depth (dsl.If bodies and ParallelFor loops are nested DAGs).

    Run details also list DAG and driver entries ("root", "condition-1"); only executor tasks are shown.
    """
    components = pipeline_spec.get("components", {})
    executors = pipeline_spec.get("deploymentSpec", {}).get("executors", {})
    found: dict[str, ExecutorPath] = {}

    def walk(dag: dict[str, Any], steps: tuple[str | None, ...]) -> None:
        for task_name, task in dag.get("tasks", {}).items():
            component = components.get(task.get("componentRef", {}).get("name", ""), {})
            here = (*steps, task_name)
            if "parameterIterator" in task or "artifactIterator" in task:
                walk(component.get("dag", {}), (*here, ITERATION, "iteration-item"))
            elif "dag" in component:
                walk(component["dag"], here)
            elif (importer := executors.get(component.get("executorLabel", ""), {}).get("importer")) is not None:
                template = "system-importer-workspace" if importer.get("downloadToWorkspace") else "system-importer"
                found[task_name] = ExecutorPath(here, template, None)
            else:  # a task retry policy swaps in the retry- templates
                retry = "retry-" if "retryPolicy" in task else ""
                found[task_name] = ExecutorPath(here, f"{retry}system-container-impl")

    walk(pipeline_spec.get("root", {}).get("dag", {}), ("root",))
    return found


def executor_task_names(pipeline_spec: dict[str, Any]) -> set[str]:
    """Names of the tasks that run a container."""
    return set(executor_tasks(pipeline_spec))


def fnv32a(text: str) -> int:
    value = 0x811C9DC5
    for byte in text.encode():
        value = ((value ^ byte) * 0x01000193) & 0xFFFFFFFF
    return value


def argo_node_id(workflow: str, node_name: str) -> str:
    """argo-workflows v4.0.5 pkg/apis/workflow/v1alpha1/workflow_types.go, ``Workflow.NodeID``."""
    return workflow if node_name == workflow else f"{workflow}-{fnv32a(node_name)}"


def argo_pod_name(workflow: str, node_name: str, template: str) -> str:
    """The pod of a node under POD_NAMES v2, Argo's default: argo-workflows v4.0.5 workflow/util/pod_name.go,
    ``GeneratePodName``. KFP's ``RetrievePodName`` (backend/src/common/util/workflow.go) and the UI's
    ``getNodeNameFromNodeId`` (frontend/src/lib/Utils.tsx) give the same name, from the node ID's hash."""
    if node_name == workflow:
        return workflow
    prefix = f"{workflow}-{template}" if template else workflow
    return f"{prefix[:MAX_POD_PREFIX]}-{fnv32a(node_name)}"


@dataclass(frozen=True)
class ArgoNodes:
    """The Argo node IDs a run's task details mention: KFP 2.17 fills ``child_tasks[].pod_name`` with the IDs of
    each node's children (api_converter.go ``toModelTask``), so together they are every node but the root."""

    workflow: str
    ids: frozenset[str]

    def has(self, node_name: str) -> bool:
        return argo_node_id(self.workflow, node_name) in self.ids

    def ran(self, node_name: str) -> str:
        """The node that did the work: the latest attempt ``name(k)`` when Argo put a retry node in front (KFP's
        install sets a default retryStrategy for every template), else the node itself."""
        attempt = 0
        while self.has(f"{node_name}({attempt})"):
            attempt += 1
        return f"{node_name}({attempt - 1})" if attempt else node_name


def argo_nodes(run: Any) -> ArgoNodes | None:
    details = getattr(getattr(run, "run_details", None), "task_details", None) or []
    ids = {child.pod_name for task in details for child in task.child_tasks or [] if child.pod_name}
    workflows = Counter(i.rsplit("-", 1)[0] for i in ids if "-" in i and i.rsplit("-", 1)[1].isdigit())
    return ArgoNodes(workflows.most_common(1)[0][0], frozenset(ids)) if workflows else None


def task_nodes(nodes: ArgoNodes, path: ExecutorPath) -> Iterator[Instance]:
    """(ParallelFor indexes, Argo node name) of each instance of a task; one per iteration that has started."""

    def walk(node: str, steps: tuple[str | None, ...], indexes: tuple[int, ...]) -> Iterator[Instance]:
        if not steps:
            yield indexes, node
            return
        parent = nodes.ran(node)
        if steps[0] is ITERATION:  # Argo names withSequence items "<task>(<index>:<item>)" and starts them in order
            index = 0
            while nodes.has(item := f"{parent}.iteration-iterations({index}:{index})"):
                yield from walk(item, steps[1:], (*indexes, index))
                index += 1
        else:
            yield from walk(f"{parent}.{steps[0]}", steps[1:], indexes)

    yield from walk(nodes.workflow, path.steps, ())


def pod_of(nodes: ArgoNodes, path: ExecutorPath, task_node: str) -> str | None:
    """The task's pod, once Argo has made its node."""
    node = nodes.ran(task_node)
    if path.pod_step:
        node = nodes.ran(f"{node}.{path.pod_step}")
    return argo_pod_name(nodes.workflow, node, path.template) if nodes.has(node) else None


def _state_name(state: Any) -> str:
    return str(getattr(state, "value", state) or "RUNTIME_STATE_UNSPECIFIED")


def _recorded(moment: datetime | None) -> datetime | None:
    return moment if moment and moment.replace(tzinfo=None) > UNSET_TIME else None


def task_seconds(task: Any) -> float | None:
    start, end = _recorded(task.start_time), _recorded(task.end_time)
    return round((end - start).total_seconds(), 3) if start and end and end >= start else None


def _started(task: Any) -> float:
    start = _recorded(task.start_time)
    return start.timestamp() if start else 0.0


def _place(
    task: Any, name: str, path: ExecutorPath, nodes: ArgoNodes | None, instances: list[Instance]
) -> tuple[str | None, str | None]:
    """(label, Argo node) of one entry: the instance whose own children (retry attempts or the pod's step) it lists."""
    children = {child.pod_name for child in task.child_tasks or [] if child.pod_name}
    looped = ITERATION in path.steps
    if nodes:
        for indexes, node in instances:
            own = [f"{node}(0)"] + ([f"{node}.{path.pod_step}"] if path.pod_step else [])
            if children & {argo_node_id(nodes.workflow, n) for n in own}:
                return (f"{name}[{','.join(map(str, indexes))}]" if looped else name), node
    if not looped:
        return name, instances[0][1] if len(instances) == 1 else None
    if children:  # an iteration laid out unlike KFP 2.17 does: still shown, by its task id
        return f"{name}[{(task.task_id or '?')[:8]}]", None
    return None, None  # nothing under it yet: not started


def snapshot_tasks(run: Any, tasks: dict[str, ExecutorPath]) -> dict[str, TaskSnapshot]:
    """The executor tasks of a ``V2beta1Run`` by name, a ParallelFor's one per iteration as ``name[index]``.

    Iterations share their display name and every task's create_time is the workflow's (KFP copies it), so an
    entry is told apart by its Argo node; should two entries still share a label, the later start wins.
    """
    details = getattr(getattr(run, "run_details", None), "task_details", None) or []
    nodes = argo_nodes(run)
    found: dict[str, tuple[Any, str | None]] = {}
    for name, path in tasks.items():
        entries = [task for task in details if task.display_name == name]
        instances = list(task_nodes(nodes, path)) if nodes and entries else []
        for task in entries:
            label, node = _place(task, name, path, nodes, instances)
            if label and (label not in found or _started(task) >= _started(found[label][0])):
                found[label] = (task, pod_of(nodes, path, node) if nodes and node else None)
    return {
        label: TaskSnapshot(
            label,
            _state_name(task.state),
            pod,
            task_seconds(task),
            task.error.message if task.error and task.error.message else None,
        )
        for label, (task, pod) in found.items()
    }


class TaskTracker:
    """Emits a TaskEvent only when a task's mapped state changes between two polls."""

    def __init__(self, on_event: EventSink) -> None:
        self._on_event = on_event
        self._seen: dict[str, str] = {}

    def update(self, snapshots: dict[str, TaskSnapshot]) -> list[TaskEvent]:
        events = []
        for name, snap in sorted(snapshots.items(), key=lambda item: item[0]):
            mapped = TASK_STATE_MAP.get(snap.state)
            if mapped is None or self._seen.get(name) == mapped:
                continue
            if mapped != "running" and name not in self._seen:  # finished between two polls: show it ran
                events.append(TaskEvent(name, "running"))
            self._seen[name] = mapped
            events.append(TaskEvent(name, mapped, snap.seconds))  # type: ignore[arg-type]
        for event in events:
            self._on_event(event)
        return events


def failure_report(snapshots: dict[str, TaskSnapshot], run: Any, context: str) -> tuple[str | None, str]:
    """(failing task, message with how to read its logs)."""
    failed = [s for s in snapshots.values() if s.state in {"FAILED", "CANCELED"}]
    run_error = getattr(getattr(run, "error", None), "message", None)
    if not failed:
        return None, run_error or f"run ended {_state_name(getattr(run, 'state', None))}"
    task = failed[0]
    kubectl, by_age = f"kubectl --context {context} -n {KFP_NAMESPACE}", "--sort-by=.metadata.creationTimestamp"
    nodes = argo_nodes(run)
    if task.pod_name:
        where = f"{kubectl} logs {task.pod_name} -c main"
    elif nodes:  # Argo labels each pod with its workflow (workflow/common/common.go, LabelKeyWorkflow)
        where = f"{kubectl} get pods -l workflows.argoproj.io/workflow={nodes.workflow} {by_age}"
    else:
        where = f"{kubectl} get pods {by_age}"
    return task.name, f"{task.error or 'task failed'}; see its logs: {where}"


def read_metrics(client: Any, run_id: str, task: str = "evaluate", output: str = "metrics") -> dict[str, Any]:
    """The Metrics artifact's JSON, when the component wrote one to ``metrics.path``; else {}.

    KFP 2.17 keeps Metrics *metadata* in ML Metadata, which is not reachable from the laptop; the object store
    is, and the launcher uploads whatever file a component wrote at an output's path.
    """
    from labkit.artifacts import ARTIFACT_BUCKET, list_run_artifacts

    for artifact in list_run_artifacts(client, run_id):
        # KFP versions differ on an id segment between task and output name; match the segment itself.
        if artifact.task == task and output in artifact.name.split("/"):
            response = client.get_object(ARTIFACT_BUCKET, artifact.key)
            try:
                payload = json.loads(response.read() or b"{}")
            except ValueError:
                return {}
            finally:
                response.close()
                response.release_conn()
            return payload if isinstance(payload, dict) else {}
    return {}


def metrics_from_store(run_id: str) -> dict[str, Any]:
    from labkit.artifacts import ArtifactStoreError, config_from_cluster, make_client

    try:
        return read_metrics(make_client(config_from_cluster(context=kube_context())), run_id)
    except ArtifactStoreError:
        return {}


def _api_message(exc: Any) -> str:
    """The server's own words from an ApiException body (KFP answers JSON with a "message")."""
    try:
        return str(json.loads(exc.body).get("message") or exc.body)
    except (TypeError, ValueError, AttributeError):
        return str(exc.body or exc)


class ClusterRunner:
    """Runs on Kubeflow Pipelines in the kind cluster made by ``labkit cluster up``."""

    name = "cluster"

    def __init__(self, host: str = API_URL, poll_seconds: float = 2.0, timeout_seconds: float = 3600) -> None:
        self.host = host
        self.poll_seconds = poll_seconds
        self.timeout_seconds = timeout_seconds

    def _check_reachable(self) -> None:
        try:
            with urllib.request.urlopen(f"{self.host}/apis/v2beta1/healthz", timeout=5) as response:
                response.read()
        except (urllib.error.URLError, OSError) as exc:
            raise RunnerUnavailableError(
                f"no Kubeflow Pipelines API at {self.host} ({getattr(exc, 'reason', exc)}); "
                "start the cluster with `labkit cluster up` (then `labkit image load` so tasks need no pulls)"
            ) from exc

    def run(self, entry: PipelineEntry, params: dict[str, Any], run_dir: Path, on_event: EventSink) -> RunResult:
        import yaml

        from labkit.compiler import compile_pipeline

        if entry.kind == "tfx" and params:
            raise RunnerUnavailableError(
                f"{entry.name}'s parameters are fixed when TFX compiles it, not passed to a cluster run "
                f"(got {', '.join(params)}); run it without -p on the cluster, or with --runner docker"
            )
        self._check_reachable()
        from kfp import Client
        from kfp_server_api import ApiException

        package = compile_pipeline(entry, run_dir)
        tasks = executor_tasks(yaml.safe_load(package.read_text()))
        log_path = run_dir / "run.log"
        tracker = TaskTracker(on_event)
        snapshots: dict[str, TaskSnapshot] = {}
        start = time.perf_counter()
        with log_path.open("w") as log:
            # kfp.Client prints links (to the API host, not the UI) and warns about old servers; keep both in
            # the run's log, since the core never prints.
            with contextlib.redirect_stdout(log), warnings.catch_warnings():
                warnings.simplefilter("ignore", FutureWarning)
                client = Client(host=self.host)
                try:
                    submitted = client.create_run_from_pipeline_package(
                        str(package),
                        arguments=params,
                        run_name=f"{entry.name}-{run_dir.name}",
                        experiment_name=EXPERIMENT,
                    )
                except ApiException as exc:  # the backend refused the pipeline (e.g. an unsupported feature)
                    log.write(f"submit failed: {exc.status} {exc.reason}\n{exc.body}\n")
                    return RunResult(
                        pipeline=entry.name,
                        runner=self.name,
                        run_dir=str(run_dir),
                        succeeded=False,
                        wall_seconds=round(time.perf_counter() - start, 3),
                        error=f"KFP refused the run ({exc.status} {exc.reason}): {_api_message(exc)}",
                        log_file=str(log_path),
                    )
            run_id = submitted.run_id
            log.write(f"run {run_id}: {UI_URL}/#/runs/details/{run_id}\n")
            while True:
                run = client.get_run(run_id)
                snapshots = snapshot_tasks(run, tasks)
                for event in tracker.update(snapshots):
                    log.write(f"{event.task}: {event.state}\n")
                log.flush()
                state = _state_name(run.state)
                if state in TERMINAL_RUN_STATES:
                    break
                if time.perf_counter() - start > self.timeout_seconds:
                    client.terminate_run(run_id)
                    state = "TIMEOUT"
                    break
                time.sleep(self.poll_seconds)  # KFP's API offers no watch
        succeeded = state == "SUCCEEDED"
        failed_task, error = (None, None) if succeeded else failure_report(snapshots, run, kube_context())
        if state == "TIMEOUT":
            error = f"run did not finish in {self.timeout_seconds:.0f} s and was terminated"
        if error:
            with log_path.open("a") as log:
                log.write(f"{failed_task or 'run'}: {error}\n")
        return RunResult(
            pipeline=entry.name,
            runner=self.name,
            run_dir=str(run_dir),
            succeeded=succeeded,
            wall_seconds=round(time.perf_counter() - start, 3),
            metrics=metrics_from_store(run_id) if succeeded else {},
            tasks={s.name: s.seconds for s in snapshots.values() if s.seconds is not None},
            artifacts={"kfp_run_id": run_id, "kfp_run_url": f"{UI_URL}/#/runs/details/{run_id}"},
            failed_task=failed_task,
            error=error,
            log_file=str(log_path),
        )
