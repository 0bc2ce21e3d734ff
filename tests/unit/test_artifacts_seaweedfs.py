"""`labkit artifacts` against a real SeaweedFS (the object store KFP 2.15+ ships), started on 127.0.0.1."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from labkit.artifacts import (
    ARTIFACT_BUCKET,
    ArtifactStoreError,
    ObjectStoreConfig,
    download_run_artifacts,
    list_run_artifacts,
    make_client,
)
from tests.seaweedfs import free_ports, running_seaweedfs

ACCESS, SECRET = "labkit-test", "labkit-test-secret"
RUN_ID = "0d3c6a4e-5f1b-4c2e-9a7d-1b2c3d4e5f60"
OTHER_RUN = "99999999-0000-4000-8000-000000000000"


@pytest.fixture(scope="module")
def seaweedfs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ObjectStoreConfig]:
    with running_seaweedfs(tmp_path_factory.mktemp("seaweedfs"), ACCESS, SECRET) as cfg:
        yield cfg


@pytest.fixture(scope="module")
def run_in_store(seaweedfs: ObjectStoreConfig, tmp_path_factory: pytest.TempPathFactory) -> ObjectStoreConfig:
    """Objects laid out as the KFP launcher writes them: v2/artifacts/<pipeline>/<run id>/<task>/<output>."""
    client = make_client(seaweedfs)
    if not client.bucket_exists(ARTIFACT_BUCKET):
        client.make_bucket(ARTIFACT_BUCKET)
    src = tmp_path_factory.mktemp("src")
    layout = {
        f"v2/artifacts/training/{RUN_ID}/train/model/saved_model.keras": b"k" * 2048,
        f"v2/artifacts/training/{RUN_ID}/evaluate/metrics": b'{"accuracy": 0.97}',
        f"v2/artifacts/training/{OTHER_RUN}/evaluate/7f3a/metrics": b'{"accuracy": 0.5, "macro_f1": 0.4}',
        f"v2/artifacts/training/{RUN_ID}/ingest/dataset/data.csv": b"species,bill\nAdelie,39.1\n",
        f"v2/artifacts/training/{OTHER_RUN}/train/model/saved_model.keras": b"other",
        "unrelated/readme.txt": b"not an artifact",
    }
    for key, payload in layout.items():
        local = src / key.replace("/", "_")
        local.write_bytes(payload)
        client.fput_object(ARTIFACT_BUCKET, key, str(local))
    return seaweedfs


def test_ls_lists_only_the_runs_objects_by_task(run_in_store: ObjectStoreConfig) -> None:
    artifacts = list_run_artifacts(make_client(run_in_store), RUN_ID)
    assert [(a.task, a.name) for a in artifacts] == [
        ("evaluate", "metrics"),
        ("ingest", "dataset/data.csv"),
        ("train", "model/saved_model.keras"),
    ]
    assert {a.task: a.size for a in artifacts}["train"] == 2048


def test_get_downloads_one_tasks_artifacts_to_disk(run_in_store: ObjectStoreConfig, tmp_path: Path) -> None:
    written = download_run_artifacts(make_client(run_in_store), RUN_ID, tmp_path, task="evaluate")
    assert written == [tmp_path / "evaluate" / "metrics"]
    assert written[0].read_bytes() == b'{"accuracy": 0.97}'


def test_cli_ls_and_get_go_through_the_real_store(
    run_in_store: ObjectStoreConfig, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The CLI commands end to end; only the cluster lookup (no API server here) is replaced by the config."""
    from typer.testing import CliRunner

    from labkit.cli import app
    from labkit.cli import artifacts as cli_artifacts

    monkeypatch.setattr(cli_artifacts, "config_from_cluster", lambda context=None: run_in_store)
    runner = CliRunner()
    listed = runner.invoke(app, ["artifacts", "ls", RUN_ID, "--output", "json"])
    assert listed.exit_code == 0, listed.output
    assert '"task": "train"' in listed.output and OTHER_RUN not in listed.output
    got = runner.invoke(app, ["artifacts", "get", RUN_ID, "--dest", str(tmp_path)])
    assert got.exit_code == 0, got.output
    assert (tmp_path / RUN_ID / "ingest" / "dataset" / "data.csv").read_text().startswith("species")


def test_cluster_runner_reads_the_metrics_object_of_its_run(run_in_store: ObjectStoreConfig) -> None:
    from labkit.runners.cluster import read_metrics

    client = make_client(run_in_store)
    assert read_metrics(client, RUN_ID) == {"accuracy": 0.97}
    assert read_metrics(client, OTHER_RUN) == {"accuracy": 0.5, "macro_f1": 0.4}  # with an id segment
    assert read_metrics(client, RUN_ID, task="push") == {}


def test_wrong_credentials_are_reported_not_swallowed(run_in_store: ObjectStoreConfig) -> None:
    bad = ObjectStoreConfig(run_in_store.endpoint, ACCESS, "wrong-secret")
    with pytest.raises(ArtifactStoreError, match="refused"):
        list_run_artifacts(make_client(bad), RUN_ID)


def test_unreachable_store_says_so() -> None:
    (port,) = free_ports(1)
    with pytest.raises(ArtifactStoreError, match="not reachable"):
        list_run_artifacts(make_client(ObjectStoreConfig(f"127.0.0.1:{port}", ACCESS, SECRET)), RUN_ID)
