"""The cluster runner's pure parts, on run details deserialized by kfp_server_api exactly as kfp.Client does."""

from __future__ import annotations

import functools
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
    ITERATION,
    ClusterRunner,
    ExecutorPath,
    TaskTracker,
    argo_node_id,
    argo_pod_name,
    executor_task_names,
    executor_tasks,
    failure_report,
    fnv32a,
    snapshot_tasks,
)

TASKS = {"ingest", "validate", "split", "train", "evaluate", "push"}
CREATED = "2026-11-26T09:59:58Z"  # KFP 2.17 gives every task the workflow's creation time


def reference_fnv1a_32(text: str) -> int:
    """FNV-1a, 32 bit, straight from its definition (offset basis 2166136261, prime 16777619)."""
    return functools.reduce(lambda h, byte: ((h ^ byte) * 16777619) % 2**32, text.encode(), 2166136261)


class FakeWorkflow:
    """An Argo workflow as KFP 2.17's API reports it: one task detail per node, its children as node IDs.

    Node names and the retry layer follow argo-workflows v4.0.5 (dag.go taskNodeName, operator.go executeTemplate) and
    KFP 2.17's argocompiler; ``retries`` is KFP's install default (templateDefaults.retryStrategy on every template).
    """

    def __init__(self, name: str, retries: bool = True) -> None:
        self.name, self.retries = name, retries
        self.nodes: dict[str, dict[str, Any]] = {}

    def id(self, node: str) -> str:
        return self.name if node == self.name else f"{self.name}-{reference_fnv1a_32(node)}"

    def add(self, node: str, parent: str | None, display: str, **fields: Any) -> None:
        self.nodes[node] = {"display_name": display, "state": "RUNNING", "create_time": CREATED, **fields}
        self.nodes[node]["task_id"] = f"uuid-{len(self.nodes):04d}"
        if parent:
            self.nodes[parent].setdefault("child_tasks", []).append({"pod_name": self.id(node)})

    def run(self, node: str, parent: str | None = None, **fields: Any) -> str:
        """Run a template as node ``node``; returns the node that did the work (the retry layer's attempt 0)."""
        display = node.rsplit(".", 1)[-1]
        self.add(node, parent, display, **fields)
        if not self.retries:
            return node
        self.add(f"{node}(0)", node, f"{display}(0)", **fields)
        return f"{node}(0)"

    def executor(self, dag: str, task: str, **fields: Any) -> str:
        """A container task in DAG node ``dag``; returns its pod's node name."""
        self.run(f"{dag}.{task}-driver", dag, state="SUCCEEDED")
        node = self.run(f"{dag}.{task}", dag, **fields)
        return self.run(f"{node}.executor", node, **fields)

    def root(self) -> str:
        """The entrypoint's node and KFP's "root" DAG task under it; returns the node running the root DAG."""
        top = self.run(self.name)
        return self.run(f"{top}.root", top)

    def details(self) -> list[dict[str, Any]]:
        return list(self.nodes.values())


def _run(tasks: list[dict[str, Any]], state: str = "RUNNING") -> Any:
    """A V2beta1Run from the JSON shape the KFP 2.17 API returns (GET /apis/v2beta1/runs/{id})."""
    body = {"run_id": "r-1", "state": state, "run_details": {"task_details": tasks}}
    return ApiClient()._ApiClient__deserialize(body, "V2beta1Run")


def _task(name: str, state: str, start: str | None = None, end: str | None = None, **extra: Any) -> dict:
    task = {"display_name": name, "state": state, "create_time": CREATED}
    if start:
        task["start_time"] = start
    if end:
        task["end_time"] = end
    return {**task, **extra}


@pytest.fixture(scope="module")
def training_spec(tmp_path_factory: pytest.TempPathFactory) -> dict:
    package = compile_pipeline(get_pipeline("training"), tmp_path_factory.mktemp("ir"))
    return yaml.safe_load(package.read_text())


@pytest.fixture(scope="module")
def training(training_spec: dict) -> dict[str, ExecutorPath]:
    return executor_tasks(training_spec)


@pytest.fixture(scope="module")
def sweep(tmp_path_factory: pytest.TempPathFactory) -> dict[str, ExecutorPath]:
    package = compile_pipeline(get_pipeline("sweep"), tmp_path_factory.mktemp("ir"))
    return executor_tasks(yaml.safe_load(package.read_text()))


def test_executor_tasks_include_the_one_inside_the_gate(training_spec: dict) -> None:
    assert executor_task_names(training_spec) == TASKS
    tasks = executor_tasks(training_spec)
    assert tasks["ingest"] == ExecutorPath(("root", "ingest"), "system-container-impl", "executor")
    assert tasks["push"].steps == ("root", "condition-1", "push")


def test_fnv32a_matches_published_vectors_and_argos_own_node_ids() -> None:
    assert fnv32a("") == 0x811C9DC5 and fnv32a("a") == 0xE40C292C and fnv32a("foobar") == 0xBF9CF968
    for text in ("nodename", "sweep-x7k2p(0).root(0).for-loop-2(0).iteration-iterations(3:3)", "ünïcode"):
        assert fnv32a(text) == reference_fnv1a_32(text)
    # Node IDs Argo's controller wrote into its own fixture (cmd/argo/commands/common/get_test.go, v4.0.5).
    assert argo_node_id("many-items-z26lj", "many-items-z26lj[0].sleep(9:nine)") == "many-items-z26lj-2619926859"
    assert argo_node_id("many-items-z26lj", "many-items-z26lj[0].sleep(10:ten)") == "many-items-z26lj-1052882686"
    assert argo_node_id("many-items-z26lj", "many-items-z26lj") == "many-items-z26lj"


def test_pod_names_follow_argos_generate_pod_name_v2() -> None:
    # The cases of argo-workflows v4.0.5 workflow/util/pod_name_v2_test.go.
    assert argo_pod_name("wfname", "nodename", "templatename") == "wfname-templatename-1454367246"
    assert (
        argo_pod_name("wfname", "nodename", "templatename") == f"wfname-templatename-{reference_fnv1a_32('nodename')}"
    )
    assert argo_pod_name("wfname", "stp.inline", "") == f"wfname-{reference_fnv1a_32('stp.inline')}"
    assert argo_pod_name("wfname", "wfname", "templatename") == "wfname"
    long_workflow, long_template = "w" * 150, "t" * 150
    name = argo_pod_name(long_workflow, "nodename", long_template)
    assert name == f"{(long_workflow + '-' + long_template)[:242]}-1454367246" and len(name) <= 253


@pytest.mark.parametrize("retries", [True, False], ids=["kfp-install-retry-default", "no-retry-layer"])
def test_pods_are_named_from_argo_nodes_not_from_child_node_ids(training: dict, retries: bool) -> None:
    wf = FakeWorkflow("training-x7k2p", retries)
    root = wf.root()
    wf.executor(root, "ingest", state="SUCCEEDED", start_time="2026-11-26T10:00:00Z", end_time="2026-11-26T10:00:12.5Z")
    train_pod = wf.executor(root, "train", start_time="2026-11-26T10:01:00Z")
    run = _run(wf.details())
    assert isinstance(run.run_details.task_details[0].display_name, str)

    snaps = snapshot_tasks(run, training)
    assert set(snaps) == {"ingest", "train"}
    assert snaps["ingest"].seconds == 12.5 and snaps["ingest"].state == "SUCCEEDED"
    assert snaps["train"].pod_name == f"training-x7k2p-system-container-impl-{reference_fnv1a_32(train_pod)}"
    train = next(t for t in run.run_details.task_details if t.display_name == "train")
    assert snaps["train"].pod_name not in {c.pod_name for c in train.child_tasks}  # what the runner used to print
    if retries:  # a hand-checked literal: the pod of node training-x7k2p(0).root(0).train(0).executor(0)
        assert train_pod == "training-x7k2p(0).root(0).train(0).executor(0)"
        assert snaps["train"].pod_name == "training-x7k2p-system-container-impl-2963579025"


def test_a_retried_pod_reports_its_latest_attempt(training: dict) -> None:
    wf = FakeWorkflow("training-x7k2p")
    root = wf.root()
    pod = wf.executor(root, "train", state="SUCCEEDED")
    retry = pod.removesuffix("(0)")
    wf.add(f"{retry}(1)", retry, "executor(1)", state="SUCCEEDED")  # Argo retried the pod (retryPolicy OnError)
    snaps = snapshot_tasks(_run(wf.details()), training)
    assert snaps["train"].pod_name == f"training-x7k2p-system-container-impl-{reference_fnv1a_32(retry + '(1)')}"


def test_entries_sharing_a_name_keep_the_later_start_not_the_list_order(training: dict) -> None:
    run = _run(
        [
            _task("train", "SUCCEEDED", "2026-11-26T10:01:00Z", "2026-11-26T10:01:30Z"),
            _task("train", "FAILED", "2026-11-26T10:00:00Z", "2026-11-26T10:00:05Z"),
        ]
    )
    assert snapshot_tasks(run, training)["train"].state == "SUCCEEDED"


@pytest.mark.parametrize("unset", ["1970-01-01T00:00:00Z", "0001-01-01T00:00:00Z"])
def test_durations_ignore_times_kfp_never_recorded(training: dict, unset: str) -> None:
    run = _run(
        [
            _task("ingest", "RUNNING", "2026-11-26T10:00:00Z", unset),
            _task("validate", "PENDING", unset, unset),
            _task("split", "SUCCEEDED", unset, "2026-11-26T10:00:05Z"),
            _task("train", "SUCCEEDED", "2026-11-26T10:00:00Z", "2026-11-26T10:00:04Z"),
        ]
    )
    snaps = snapshot_tasks(run, training)
    assert [snaps[name].seconds for name in ("ingest", "validate", "split", "train")] == [None, None, None, 4.0]


def test_parallel_for_iterations_are_reported_one_by_one(sweep: dict) -> None:
    assert sweep["train"].steps == ("root", "for-loop-2", ITERATION, "iteration-item", "train")
    wf = FakeWorkflow("sweep-x7k2p")
    root = wf.root()
    loop = wf.run(f"{root}.for-loop-2", root)
    wf.add(f"{loop}.iteration-iterations", loop, "iteration-iterations")
    pods = {}
    outcome = {
        0: ("SUCCEEDED", "10:02:40Z"),
        1: ("SUCCEEDED", "10:02:10Z"),
        2: ("FAILED", "10:03:05Z"),
        3: ("RUNNING", None),
    }
    for index, (state, end) in outcome.items():
        item = wf.run(f"{loop}.iteration-iterations({index}:{index})", f"{loop}.iteration-iterations")
        body = wf.run(f"{item}.iteration-item", item)
        extra = {"end_time": f"2026-11-26T{end}"} if end else {"end_time": "1970-01-01T00:00:00Z"}
        error = {"error": {"code": 2, "message": "loss is NaN"}} if state == "FAILED" else {}
        pods[index] = wf.executor(body, "train", state=state, start_time="2026-11-26T10:02:00Z", **extra, **error)
    details = wf.details()
    details.reverse()  # the API's order says nothing about the iteration
    run = _run(details, state="FAILED")

    snaps = snapshot_tasks(run, sweep)
    assert sorted(snaps) == ["train[0]", "train[1]", "train[2]", "train[3]"]
    assert [snaps[f"train[{i}]"].seconds for i in range(4)] == [40.0, 10.0, 65.0, None]
    assert snaps["train[2]"].state == "FAILED" and snaps["train[3]"].state == "RUNNING"
    for index, pod in pods.items():
        assert snaps[f"train[{index}]"].pod_name == f"sweep-x7k2p-system-container-impl-{reference_fnv1a_32(pod)}"
    assert pods[2] == (
        "sweep-x7k2p(0).root(0).for-loop-2(0).iteration-iterations(2:2)(0).iteration-item(0).train(0).executor(0)"
    )

    events: list[TaskEvent] = []
    TaskTracker(events.append).update(snaps)
    assert [(e.task, e.state) for e in events if e.state != "running"] == [
        ("train[0]", "succeeded"),
        ("train[1]", "succeeded"),
        ("train[2]", "failed"),
    ]
    task, message = failure_report(snaps, run, "kind-labkit")
    assert task == "train[2]" and "loss is NaN" in message
    assert f"logs {snaps['train[2]'].pod_name} -c main" in message


def test_an_iteration_without_a_node_yet_is_not_reported(sweep: dict) -> None:
    run = _run([_task("train", "PENDING"), _task("evaluate", "PENDING")])
    assert snapshot_tasks(run, sweep) == {}


def test_tracker_emits_transitions_once_and_fills_in_missed_starts(training: dict) -> None:
    events: list[TaskEvent] = []
    tracker = TaskTracker(events.append)
    tracker.update(snapshot_tasks(_run([_task("ingest", "RUNNING", "2026-11-26T10:00:00Z")]), training))
    tracker.update(snapshot_tasks(_run([_task("ingest", "RUNNING", "2026-11-26T10:00:00Z")]), training))
    done = _run(
        [
            _task("ingest", "SUCCEEDED", "2026-11-26T10:00:00Z", "2026-11-26T10:00:03Z"),
            _task("validate", "SUCCEEDED", "2026-11-26T10:00:04Z", "2026-11-26T10:00:06Z"),
            _task("push", "SKIPPED"),
        ]
    )
    tracker.update(snapshot_tasks(done, training))
    assert [(e.task, e.state) for e in events] == [
        ("ingest", "running"),
        ("ingest", "succeeded"),
        ("validate", "running"),
        ("validate", "succeeded"),
    ]
    assert events[1].seconds == 3.0


def test_failure_names_the_task_and_how_to_read_its_logs(training: dict) -> None:
    wf = FakeWorkflow("training-abc12")
    root = wf.root()
    wf.executor(root, "ingest", state="SUCCEEDED", start_time="2026-11-26T10:00:00Z", end_time="2026-11-26T10:00:03Z")
    error = {"code": 9, "message": "ValueError: learning_rate must be positive"}
    pod = wf.executor(root, "train", state="FAILED", start_time="2026-11-26T10:00:04Z", error=error)
    run = _run(wf.details(), state="FAILED")
    task, message = failure_report(snapshot_tasks(run, training), run, "kind-labkit")
    assert task == "train"
    assert "learning_rate must be positive" in message
    pod_name = f"training-abc12-system-container-impl-{reference_fnv1a_32(pod)}"
    assert f"kubectl --context kind-labkit -n kubeflow logs {pod_name} -c main" in message


def test_without_a_pod_the_hint_lists_the_workflows_pods(training: dict) -> None:
    wf = FakeWorkflow("training-abc12")
    root = wf.root()
    wf.run(f"{root}.train", root, state="FAILED", error={"code": 2, "message": "driver failed"})  # no executor node
    run = _run(wf.details(), state="FAILED")
    snaps = snapshot_tasks(run, training)
    assert snaps["train"].pod_name is None
    _, message = failure_report(snaps, run, "kind-labkit")
    assert "get pods -l workflows.argoproj.io/workflow=training-abc12 --sort-by=.metadata.creationTimestamp" in message


def test_cluster_runner_is_registered_and_says_how_to_start_the_cluster(tmp_path: Path) -> None:
    assert RUNNERS["cluster"] is ClusterRunner
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        closed_port = sock.getsockname()[1]
    runner = ClusterRunner(host=f"http://127.0.0.1:{closed_port}")
    with pytest.raises(RunnerUnavailableError, match="labkit cluster up"):
        runner.run(get_pipeline("training"), {}, tmp_path, lambda event: None)
