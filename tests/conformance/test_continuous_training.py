"""Session 7 (`continuous-training`) under KFP 2.17's contract.

Its ``batch`` and ``registry`` parameters are paths. On a cluster they only mean something on a volume the task
pods mount (the lab guide asks for a PVC), so here one host folder stands in for that volume at /mnt/labkit, a
path that does not exist on the host: a task that reached for a host path would fail. The compiled spec itself
carries no volume (no kfp-kubernetes ``mount_pvc``); the last test shows what the backend does with it as it is.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from components.champion.logic import champion_version, list_versions
from labkit.data import write_batches
from tests.conformance.launcher import Harness, run_pipeline

pytestmark = pytest.mark.container
VOLUME = "/mnt/labkit"
FAST = {"epochs": 10}
STABLE, DRIFTED = "batch-000.csv", "batch-003.csv"


@pytest.fixture
def volume(tmp_path: Path) -> Path:
    """The PVC stand-in: the batches a monitoring job would drop there, and an empty registry."""
    root = tmp_path / "pvc"
    write_batches(root / "batches", 4)
    (root / "registry").mkdir()
    for folder in (root, root / "batches", root / "registry"):
        folder.chmod(0o777)  # a PVC with an fsGroup: writable by whatever user the image runs as
    assert not Path(VOLUME).exists(), f"{VOLUME} exists on this host: the test could not tell host from pod paths"
    return root


def params(batch: str) -> dict[str, Any]:
    return {"batch": f"{VOLUME}/batches/{batch}", "registry": f"{VOLUME}/registry", **FAST}


def test_drift_retrains_and_registers_a_champion_on_the_volume(
    harness: Harness, golden: Any, volume: Path, store_client: Any
) -> None:
    harness.volumes = {str(volume): {"bind": VOLUME, "mode": "rw"}}
    run = run_pipeline(harness, golden("continuous-training"), params(DRIFTED))
    tasks = run.tasks()
    assert tasks["detect-drift"].output_parameters == {"Output": True}
    assert run.executed() == [  # in the order they ran
        "ingest",
        "ingest-2",
        "validate",
        "detect-drift",
        "condition-1/split",
        "condition-1/train",
        "condition-1/compare-models",
        "condition-1/condition-2/register-model",
    ]
    assert run.seconds < 120, f"{run.seconds} s: {[(t.path, t.seconds) for t in tasks.values()]}"
    # split inside the dsl.If read ingest-2's dataset through the condition DAG's input artifact.
    batch_dataset = tasks["ingest-2"].output_artifacts["dataset"]
    assert tasks["condition-1/split"].artifacts["dataset"][0]["uri"] == batch_dataset.uri
    assert list_versions(volume / "registry") == ["v0001"]
    assert champion_version(volume / "registry") == "v0001"
    registered = tasks["condition-1/condition-2/register-model"].output_artifacts["registered"]
    assert registered.metadata["version"] == "v0001"
    assert any(key.endswith("/saved_model/1/saved_model.pb") for key in registered.uploaded)
    assert run.output_artifact("Output").uri == tasks["detect-drift"].output_artifacts["metrics"].uri


def test_a_stable_batch_stops_after_drift_detection(harness: Harness, golden: Any, volume: Path) -> None:
    harness.volumes = {str(volume): {"bind": VOLUME, "mode": "rw"}}
    run = run_pipeline(harness, golden("continuous-training"), params(STABLE))
    assert run.tasks()["detect-drift"].output_parameters == {"Output": False}
    assert run.root.tasks["condition-1"].state == "NOT_TRIGGERED"
    assert run.executed() == ["ingest", "ingest-2", "validate", "detect-drift"]
    assert list_versions(volume / "registry") == []


def test_without_a_registry_volume_the_champion_lives_only_in_the_object_store(
    harness: Harness, golden: Any, volume: Path
) -> None:
    """What the spec as compiled gets on KFP: the registry is a folder of the register-model pod, gone with it."""
    harness.volumes = {str(volume / "batches"): {"bind": f"{VOLUME}/batches", "mode": "ro"}}
    run = run_pipeline(harness, golden("continuous-training"), params(DRIFTED))
    registered = run.tasks()["condition-1/condition-2/register-model"].output_artifacts["registered"]
    assert registered.metadata["version"] == "v0001" and registered.uploaded
    assert list_versions(volume / "registry") == []  # nothing a next run's compare-models could find
