"""The cluster runner end to end against a stand-in KFP API (no KFP can run here): the real kfp.Client submits
the compiled pipeline, the runner polls the run and turns it into TaskEvents and a RunResult."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import pytest

from labkit.registry import get_pipeline
from labkit.runners import cluster as cluster_runner
from labkit.runners.base import TaskEvent
from labkit.runners.cluster import ClusterRunner


class FakeKfp:
    def __init__(self, run_states: list[dict[str, Any]]) -> None:
        self.run_states = run_states  # successive bodies of GET /apis/v2beta1/runs/{id}
        self.submitted: list[dict[str, Any]] = []
        self.experiments: list[dict[str, Any]] = []
        self.polls = 0
        self.refuse: str | None = None


def _handler(kfp: FakeKfp) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: Any) -> None:
            pass

        def _send(self, body: dict[str, Any], status: int = 200) -> None:
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self) -> None:
            path = urlparse(self.path).path
            if path == "/apis/v2beta1/healthz":
                self._send({"multi_user": False})
            elif path == "/apis/v2beta1/experiments":
                self._send({"experiments": kfp.experiments, "total_size": len(kfp.experiments)})
            elif path.startswith("/apis/v2beta1/runs/"):
                body = kfp.run_states[min(kfp.polls, len(kfp.run_states) - 1)]
                kfp.polls += 1
                self._send(body)
            else:
                self._send({"error": "not found"}, 404)

        def do_POST(self) -> None:
            path = urlparse(self.path).path
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])) or b"{}")
            if path == "/apis/v2beta1/experiments":
                experiment = {**body, "experiment_id": "exp-1"}
                kfp.experiments.append(experiment)
                self._send(experiment)
            elif path == "/apis/v2beta1/runs" and kfp.refuse:
                self._send({"code": 3, "message": kfp.refuse}, 400)
            elif path == "/apis/v2beta1/runs":
                kfp.submitted.append(body)
                self._send({**body, "run_id": "run-1", "state": "PENDING"})
            else:
                self._send({"error": "not found"}, 404)

    return Handler


@pytest.fixture
def serve() -> Iterator[Any]:
    servers: list[ThreadingHTTPServer] = []

    def start(kfp: FakeKfp) -> str:
        server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(kfp))
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
        return f"http://127.0.0.1:{server.server_port}"

    yield start
    for server in servers:
        server.shutdown()
        server.server_close()


def _task(name: str, state: str, start: str, end: str | None = None, **extra: Any) -> dict[str, Any]:
    task = {"display_name": name, "state": state, "create_time": start, "start_time": start}
    return {**task, **({"end_time": end} if end else {}), **extra}


def _child(node_name: str, fnv32a_of_name: int) -> dict[str, str]:
    """A child as KFP 2.17 lists it: the Argo node ID "<workflow>-<fnv32a(node name)>" (worked out by hand)."""
    return {"pod_name": f"training-xyz-{fnv32a_of_name}"}


def test_a_failing_run_names_the_task_and_its_logs(serve: Any, tmp_path: Path) -> None:
    kfp = FakeKfp(
        [
            {"run_id": "run-1", "state": "RUNNING", "run_details": {"task_details": [
                _task("ingest", "RUNNING", "2026-11-26T10:00:00Z")]}},
            {"run_id": "run-1", "state": "FAILED", "run_details": {"task_details": [
                _task("ingest", "SUCCEEDED", "2026-11-26T10:00:00Z", "2026-11-26T10:00:04Z"),
                _task("validate", "FAILED", "2026-11-26T10:00:05Z", "2026-11-26T10:00:06Z",
                      child_tasks=[_child("training-xyz(0).root(0).validate(0)", 1049823602)],
                      error={"code": 2, "message": "ValueError: 3 rows have a null species"}),
                # Argo's retry layer (KFP's install default) above the work: the IDs of the nodes leading to the pod.
                _task("training-xyz", "FAILED", "2026-11-26T10:00:00Z",
                      child_tasks=[_child("training-xyz(0)", 3785766840)]),
                _task("root", "FAILED", "2026-11-26T10:00:00Z",
                      child_tasks=[_child("training-xyz(0).root(0)", 2860556533)]),
                _task("executor", "FAILED", "2026-11-26T10:00:05Z",
                      child_tasks=[_child("training-xyz(0).root(0).validate(0).executor(0)", 764188480)]),
            ]}},
        ]
    )  # fmt: skip
    events: list[TaskEvent] = []
    runner = ClusterRunner(host=serve(kfp), poll_seconds=0.01)
    result = runner.run(get_pipeline("training"), {"epochs": 5}, tmp_path, events.append)

    assert kfp.experiments[0]["display_name"] == "labkit"
    submitted = kfp.submitted[0]
    assert submitted["experiment_id"] == "exp-1"
    assert submitted["runtime_config"]["parameters"]["epochs"] == 5
    assert submitted["pipeline_spec"]["pipelineInfo"]["name"] == "training"
    assert [(e.task, e.state) for e in events] == [
        ("ingest", "running"),
        ("ingest", "succeeded"),
        ("validate", "running"),
        ("validate", "failed"),
    ]
    assert not result.succeeded and result.failed_task == "validate"
    assert "3 rows have a null species" in result.error
    assert "logs training-xyz-system-container-impl-764188480 -c main" in result.error
    assert result.artifacts["kfp_run_id"] == "run-1"
    assert "validate: " in Path(result.log_file).read_text()


def test_a_successful_run_reports_durations_and_metrics(
    serve: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(cluster_runner, "metrics_from_store", lambda run_id: {"accuracy": 0.97, "run": run_id})
    kfp = FakeKfp(
        [{"run_id": "run-1", "state": "SUCCEEDED", "run_details": {"task_details": [
            _task(name, "SUCCEEDED", "2026-11-26T10:00:00Z", "2026-11-26T10:00:02Z")
            for name in ("ingest", "validate", "split", "train", "evaluate", "push")]}}]
    )  # fmt: skip
    result = ClusterRunner(host=serve(kfp), poll_seconds=0.01).run(
        get_pipeline("training"), {}, tmp_path, lambda event: None
    )
    assert result.succeeded and result.error is None
    assert result.metrics == {"accuracy": 0.97, "run": "run-1"}
    assert result.tasks == {name: 2.0 for name in ("ingest", "validate", "split", "train", "evaluate", "push")}


def test_a_refused_submission_reports_the_servers_message(serve: Any, tmp_path: Path) -> None:
    kfp = FakeKfp([])
    kfp.refuse = "Failed to compile: resolver nodes are not supported"
    result = ClusterRunner(host=serve(kfp), poll_seconds=0.01).run(
        get_pipeline("training"), {}, tmp_path, lambda event: None
    )
    assert not result.succeeded
    assert result.error == "KFP refused the run (400 Bad Request): Failed to compile: resolver nodes are not supported"
    assert "Experiment details" in Path(result.log_file).read_text()  # kfp.Client's prints went to the log
