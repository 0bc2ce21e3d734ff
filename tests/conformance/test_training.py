"""Session 5 (`training`) under KFP 2.17's contract: each task in its image, every artifact through SeaweedFS."""

from __future__ import annotations

import json
from typing import Any

import pytest

from components.common.images import COMPONENTS_IMAGE
from tests.conformance.launcher import Harness, run_pipeline

pytestmark = pytest.mark.container
TASKS = ["ingest", "validate", "split", "train", "evaluate", "condition-1/push"]


def objects(store: Any, prefix: str) -> dict[str, bytes]:
    return {
        o.object_name: store.get_object("mlpipeline", o.object_name).read()
        for o in store.list_objects("mlpipeline", prefix=prefix, recursive=True)
    }


def test_training_runs_to_push_with_every_artifact_moving_through_the_store(
    harness: Harness, golden: Any, store_client: Any
) -> None:
    run = run_pipeline(harness, golden("training"), {"epochs": 10})
    tasks = run.tasks()
    assert run.executed() == TASKS
    assert {task.image for task in tasks.values()} == {COMPONENTS_IMAGE}
    assert run.seconds < 120, f"{run.seconds} s: {[(t.path, t.seconds) for t in tasks.values()]}"

    train, evaluate, push = tasks["train"], tasks["evaluate"], tasks["condition-1/push"]
    root = f"minio://mlpipeline/v2/artifacts/training/{run.run_id}"
    model = train.output_artifacts["model"]
    assert model.uri.startswith(f"{root}/train/") and model.uri.endswith("/model")
    # The executor got the backend's numbers (`"epochs":10`, never 10.0) and defaults the launcher added.
    assert '"parameterValues":{"epochs":10,' in train.command[-3]
    assert '"hidden_units":16' in train.command[-3]

    # The gate: evaluate's bool output, read from its output metadata file, decided the dsl.If.
    assert evaluate.output_parameters == {"Output": True}
    assert run.root.tasks["condition-1"].parameters["pipelinechannel--evaluate-Output"] is True
    metrics = json.loads(objects(store_client, evaluate.output_artifacts["metrics"].uploaded[0]).popitem()[1])
    assert metrics["accuracy"] >= 0.9 and metrics["accuracy"] > metrics["baseline_accuracy"]
    # A metadata-only artifact has no file: the launcher warns and records it all the same.
    assert evaluate.output_artifacts["confusion"].uploaded == []
    assert any("confusion" in warning for warning in evaluate.warnings)

    # push read the model the train pod uploaded, downloaded at the path the launcher maps its URI to.
    assert push.artifacts["model"][0]["uri"] == model.uri
    assert f"pushed model to {root}/push/" in push.log
    pushed = objects(store_client, push.output_artifacts["pushed_model"].uploaded[0].rsplit("/", 1)[0])
    trained = objects(store_client, model.uploaded[0].rsplit("/", 1)[0])
    assert sorted(k.rsplit("/", 1)[1] for k in pushed) == ["history.json", "model.keras", "preprocessing.json"]
    assert {k.rsplit("/", 1)[1]: v for k, v in pushed.items()} == {k.rsplit("/", 1)[1]: v for k, v in trained.items()}
    # What ML Metadata hands a consumer (or the UI): booleans as 1/0.
    assert push.output_artifacts["pushed_model"].metadata["blessed"] == 1.0
    # The metrics travel with it, but not the metrics artifact's own name: the copy stays "pushed_model".
    assert push.output_artifacts["pushed_model"].metadata["display_name"] == "pushed_model"
    assert push.output_artifacts["pushed_model"].metadata["accuracy"] == metrics["accuracy"]
    assert run.output_artifact("Output").uri == evaluate.output_artifacts["metrics"].uri


def test_a_closed_gate_skips_push(harness: Harness, golden: Any, store_client: Any) -> None:
    run = run_pipeline(harness, golden("training"), {"epochs": 3, "accuracy_threshold": 1.01})
    assert run.tasks()["evaluate"].output_parameters == {"Output": False}
    assert run.root.tasks["condition-1"].state == "NOT_TRIGGERED"
    assert run.executed() == TASKS[:-1]
    assert not objects(store_client, f"v2/artifacts/training/{run.run_id}/push/")
