"""The cluster runner's pure parts, on run details deserialized by kfp_server_api exactly as kfp.Client does."""

from __future__ import annotations

import socket
from pathlib import Path
from typing import Any

import pytest
import yaml
from kfp_server_api import ApiClient

from labkit.compiler import compile_pipeline
from labkit.registry import get_pipeline
from labkit.runners import RUNNERS
from labkit.runners.base import RunnerUnavailableError, TaskEvent
from labkit.runners.cluster import (
    ClusterRunner,
    TaskTracker,
    executor_task_names,
    failure_report,
    snapshot_tasks,
)

TASKS = {"ingest", "validate", "split", "train", "evaluate", "push"}


def _run(tasks: list[dict[str, Any]], state: str = "RUNNING") -> Any:
    """A V2beta1Run from the JSON shape the KFP 2.17 API returns (GET /apis/v2beta1/runs/{id})."""
    body = {"run_id": "r-1", "state": state, "run_details": {"task_details": tasks}}
    return ApiClient()._ApiClient__deserialize(body, "V2beta1Run")


def _task(name: str, state: str, start: str | None = None, end: str | None = None, **extra: Any) -> dict:
    task = {"display_name": name, "state": state, "create_time": start or "2026-11-26T10:00:00Z"}
    if start:
        task["start_time"] = start
    if end:
        task["end_time"] = end
    return {**task, **extra}


@pytest.fixture(scope="module")
def training_spec(tmp_path_factory: pytest.TempPathFactory) -> dict:
    package = compile_pipeline(get_pipeline("training"), tmp_path_factory.mktemp("ir"))
    return yaml.safe_load(package.read_text())


def test_executor_tasks_include_the_one_inside_the_gate(training_spec: dict) -> None:
    assert executor_task_names(training_spec) == TASKS


def test_run_details_map_to_task_snapshots() -> None:
    run = _run(
        [
            _task("root", "RUNNING"),
            _task("ingest", "SUCCEEDED", "2026-11-26T10:00:00Z", "2026-11-26T10:00:12.5Z"),
            _task("train", "RUNNING", "2026-11-26T10:01:00Z", child_tasks=[{"pod_name": "training-x-system-1"}]),
        ]
    )
    assert isinstance(run.run_details.task_details[0].display_name, str)
    snaps = snapshot_tasks(run, TASKS)
    assert set(snaps) == {"ingest", "train"}
    assert snaps["ingest"].seconds == 12.5 and snaps["ingest"].state == "SUCCEEDED"
    assert snaps["train"].pod_name == "training-x-system-1"


def test_a_retried_task_reports_its_latest_attempt() -> None:
    run = _run(
        [
            _task("train", "FAILED", "2026-11-26T10:00:00Z", "2026-11-26T10:00:05Z"),
            _task("train", "SUCCEEDED", "2026-11-26T10:01:00Z", "2026-11-26T10:01:30Z"),
        ]
    )
    assert snapshot_tasks(run, TASKS)["train"].state == "SUCCEEDED"


def test_tracker_emits_transitions_once_and_fills_in_missed_starts() -> None:
    events: list[TaskEvent] = []
    tracker = TaskTracker(events.append)
    tracker.update(snapshot_tasks(_run([_task("ingest", "RUNNING", "2026-11-26T10:00:00Z")]), TASKS))
    tracker.update(snapshot_tasks(_run([_task("ingest", "RUNNING", "2026-11-26T10:00:00Z")]), TASKS))
    done = _run(
        [
            _task("ingest", "SUCCEEDED", "2026-11-26T10:00:00Z", "2026-11-26T10:00:03Z"),
            _task("validate", "SUCCEEDED", "2026-11-26T10:00:04Z", "2026-11-26T10:00:06Z"),
            _task("push", "SKIPPED"),
        ]
    )
    tracker.update(snapshot_tasks(done, TASKS))
    assert [(e.task, e.state) for e in events] == [
        ("ingest", "running"),
        ("ingest", "succeeded"),
        ("validate", "running"),
        ("validate", "succeeded"),
    ]
    assert events[1].seconds == 3.0


def test_failure_names_the_task_and_how_to_read_its_logs() -> None:
    run = _run(
        [
            _task("ingest", "SUCCEEDED", "2026-11-26T10:00:00Z", "2026-11-26T10:00:03Z"),
            _task(
                "train",
                "FAILED",
                "2026-11-26T10:00:04Z",
                "2026-11-26T10:00:09Z",
                pod_name="training-abc-system-container-impl-123",
                error={"code": 9, "message": "ValueError: learning_rate must be positive"},
            ),
        ],
        state="FAILED",
    )
    task, message = failure_report(snapshot_tasks(run, TASKS), run, "kind-labkit")
    assert task == "train"
    assert "learning_rate must be positive" in message
    assert "kubectl --context kind-labkit -n kubeflow logs training-abc-system-container-impl-123" in message


def test_cluster_runner_is_registered_and_says_how_to_start_the_cluster(tmp_path: Path) -> None:
    assert RUNNERS["cluster"] is ClusterRunner
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        closed_port = sock.getsockname()[1]
    runner = ClusterRunner(host=f"http://127.0.0.1:{closed_port}")
    with pytest.raises(RunnerUnavailableError, match="labkit cluster up"):
        runner.run(get_pipeline("training"), {}, tmp_path, lambda event: None)
