"""Up -> load images -> run the session-5 pipeline on KFP -> fetch its artifacts -> down (pytest -m cluster).

One module-scoped cluster; tests run in file order and each depends on the previous. `down` runs in the fixture's
teardown unless LABKIT_KEEP_CLUSTER=1 (handy when debugging a failure). With LABKIT_CLUSTER_BUNDLE=DIR the cluster
is installed from that offline bundle, and the last test checks that no pod of the install or the run pulled.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from labkit import cluster
from labkit.artifacts import config_from_cluster, download_run_artifacts, list_run_artifacts, make_client
from labkit.registry import get_pipeline
from labkit.runners.base import RunResult, TaskEvent
from labkit.runners.cluster import ClusterRunner

pytestmark = [pytest.mark.cluster, pytest.mark.slow, pytest.mark.timeout(3600)]
BUNDLE = Path(os.environ["LABKIT_CLUSTER_BUNDLE"]) if os.environ.get("LABKIT_CLUSTER_BUNDLE") else None


@pytest.fixture(scope="module")
def kfp_cluster() -> Iterator[list[cluster.ClusterEvent]]:
    events: list[cluster.ClusterEvent] = []
    url = cluster.cluster_up(events.append, bundle=BUNDLE)
    assert url == cluster.UI_URL
    yield events
    if os.environ.get("LABKIT_KEEP_CLUSTER") != "1":
        assert cluster.cluster_down()
        assert not cluster.cluster_exists()


@pytest.fixture(scope="module")
def cluster_run(kfp_cluster: list, tmp_path_factory: pytest.TempPathFactory) -> tuple[RunResult, list[TaskEvent]]:
    if BUNDLE is None:  # a bundle's install has loaded the kit's images already
        images = [image for image in cluster.kit_images() if _built(image)]
        assert images, "build the kit's images before the cluster tier (the workflow does)"
        cluster.load_images_into_kind(images, cluster.CLUSTER_NAME, lambda event: None)
    events: list[TaskEvent] = []
    run_dir = tmp_path_factory.mktemp("cluster-run")
    result = ClusterRunner().run(get_pipeline("training"), {"epochs": 20}, run_dir, events.append)
    return result, events


def _built(image: str) -> bool:
    import subprocess

    return subprocess.run(["docker", "image", "inspect", image], capture_output=True).returncode == 0


def test_up_is_idempotent(kfp_cluster: list) -> None:
    """A second `up` reuses the cluster and finds every deployment available without waiting."""
    again: list[cluster.ClusterEvent] = []
    cluster.cluster_up(again.append)
    assert any("reusing" in e.message for e in again)
    assert cluster.cluster_status().ready


def test_training_pipeline_runs_on_kfp(cluster_run: tuple[RunResult, list[TaskEvent]]) -> None:
    result, events = cluster_run
    assert result.succeeded, f"{result.failed_task}: {result.error}"
    finished = {e.task for e in events if e.state == "succeeded"}
    assert {"ingest", "validate", "split", "train", "evaluate"} <= finished


def test_artifacts_of_the_run_come_back(cluster_run: tuple[RunResult, list[TaskEvent]], tmp_path: Path) -> None:
    run_id = cluster_run[0].artifacts["kfp_run_id"]
    client = make_client(config_from_cluster(context=cluster.kube_context()))
    tasks = {a.task for a in list_run_artifacts(client, run_id)}
    assert {"ingest", "split", "train", "evaluate"} <= tasks
    written = download_run_artifacts(client, run_id, tmp_path, task="ingest")
    assert written and all(path.stat().st_size > 0 for path in written)


@pytest.mark.skipif(BUNDLE is None, reason="only an install from an offline bundle promises no pulls")
def test_nothing_was_pulled_from_a_bundle(cluster_run: tuple[RunResult, list[TaskEvent]]) -> None:
    """Kubernetes records a `Pulling` event for every pull; the driver, launcher and argoexec included."""
    from kubernetes import client, config

    core = client.CoreV1Api(config.new_client_from_config(context=cluster.kube_context()))
    pulls = [
        f"{e.involved_object.namespace}/{e.involved_object.name}: {e.message}"
        for e in core.list_event_for_all_namespaces(field_selector="reason=Pulling").items
    ]
    assert pulls == []


def test_tfx_pipeline_runs_on_kfp(kfp_cluster: list, tmp_path: Path) -> None:
    """Session 6 on the cluster: the spec compiled in the TFX image and adapted for the 2.17 backend
    (components/tfx_kfp), ExampleGen through Pusher, artifacts moved by KFP's own launcher."""
    if BUNDLE is None:
        assert _built(cluster.kit_images()[1]), "build the TFX image before the cluster tier (the workflow does)"
        cluster.load_images_into_kind([cluster.kit_images()[1]], cluster.CLUSTER_NAME, lambda event: None)
    events: list[TaskEvent] = []
    result = ClusterRunner().run(get_pipeline("tfx-penguin"), {}, tmp_path, events.append)
    assert result.succeeded, f"{result.failed_task}: {result.error}"
    finished = {e.task for e in events if e.state == "succeeded"}
    assert {"CsvExampleGen", "Transform", "Trainer", "Evaluator", "Pusher"} <= finished
