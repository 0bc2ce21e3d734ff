"""The ``cluster`` runner: compile, submit to KFP 2.17 on the kind cluster with ``kfp.Client``, follow the tasks.

KFP's API has no watch, so the runner polls the run's details (every ``poll_seconds``) and turns task state
changes into the same TaskEvents the local runners emit. Metrics come from the object store: the run's
``evaluate/metrics`` object when the component writes one (see ``metrics_from_store``).
"""

from __future__ import annotations

import contextlib
import json
import time
import urllib.error
import urllib.request
import warnings
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from labkit.cluster import API_URL, KFP_NAMESPACE, UI_URL, kube_context
from labkit.registry import PipelineEntry
from labkit.runners.base import EventSink, RunnerUnavailableError, RunResult, TaskEvent

TERMINAL_RUN_STATES = {"SUCCEEDED", "FAILED", "CANCELED", "SKIPPED"}
# KFP runtime states -> the runner protocol's three; PENDING/SKIPPED/... produce no event.
TASK_STATE_MAP = {"RUNNING": "running", "SUCCEEDED": "succeeded", "FAILED": "failed", "CANCELED": "failed"}
EXPERIMENT = "labkit"


@dataclass(frozen=True)
class TaskSnapshot:
    name: str
    state: str
    pod_name: str | None
    seconds: float | None
    error: str | None


def executor_task_names(pipeline_spec: dict[str, Any]) -> set[str]:
    """Names of the tasks that run a container, at any depth (dsl.If bodies are nested DAGs).

    Run details also list DAG and driver entries ("root", "condition-1"); only executor tasks are shown.
    """
    components = pipeline_spec.get("components", {})
    names: set[str] = set()

    def walk(dag: dict[str, Any]) -> None:
        for task_name, task in dag.get("tasks", {}).items():
            component = components.get(task.get("componentRef", {}).get("name", ""), {})
            if "dag" in component:
                walk(component["dag"])
            else:
                names.add(task_name)

    walk(pipeline_spec.get("root", {}).get("dag", {}))
    return names


def _state_name(state: Any) -> str:
    return str(getattr(state, "value", state) or "RUNTIME_STATE_UNSPECIFIED")


def snapshot_tasks(run: Any, task_names: Iterable[str]) -> dict[str, TaskSnapshot]:
    """The executor tasks of a ``V2beta1Run``, by name; retries keep the latest entry."""
    wanted = set(task_names)
    found: dict[str, TaskSnapshot] = {}
    latest: dict[str, Any] = {}
    details = getattr(run, "run_details", None)
    for task in getattr(details, "task_details", None) or []:
        name = task.display_name
        if name not in wanted:
            continue
        seconds = None
        if task.start_time and task.end_time:
            seconds = round((task.end_time - task.start_time).total_seconds(), 3)
        pod = task.pod_name or next((c.pod_name for c in task.child_tasks or [] if c.pod_name), None)
        error = task.error.message if task.error and task.error.message else None
        created = task.create_time or task.start_time
        if name not in latest or (created and (latest[name] is None or created >= latest[name])):
            latest[name] = created
            found[name] = TaskSnapshot(name, _state_name(task.state), pod, seconds, error)
    return found


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
    where = (
        f"kubectl --context {context} -n {KFP_NAMESPACE} logs {task.pod_name} -c main"
        if task.pod_name
        else f"kubectl --context {context} -n {KFP_NAMESPACE} get pods --sort-by=.metadata.creationTimestamp"
    )
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
                "start the cluster with `labkit cluster up` (then `labkit cluster load-images` so tasks need no pulls)"
            ) from exc

    def run(self, entry: PipelineEntry, params: dict[str, Any], run_dir: Path, on_event: EventSink) -> RunResult:
        import yaml

        from labkit.compiler import compile_pipeline

        self._check_reachable()
        from kfp import Client
        from kfp_server_api import ApiException

        package = compile_pipeline(entry, run_dir)
        task_names = executor_task_names(yaml.safe_load(package.read_text()))
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
                snapshots = snapshot_tasks(run, task_names)
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
