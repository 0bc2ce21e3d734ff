"""Session 6 (`tfx-penguin`, ExampleGen through Pusher) under KFP 2.17's contract, in the TFX image.

The spec is the kit's adapted one (components/tfx_kfp/spec.py): every step's command is the kit's entrypoint, which
maps the launcher's ``minio://`` URIs to the /minio paths the launcher downloads to and uploads from. Each step is
its own container with TFX imported afresh, as on a cluster, so the run takes minutes, not seconds.
"""

from __future__ import annotations

from typing import Any

import pytest

from components.common.images import TFX_IMAGE
from tests.conformance.launcher import Harness, run_pipeline

pytestmark = [pytest.mark.container, pytest.mark.slow]
STEPS = [
    "CsvExampleGen",
    "StatisticsGen",
    "SchemaGen",
    "ExampleValidator",
    "Transform",
    "Trainer",
    "Evaluator",
    "Pusher",
]


def test_tfx_penguin_runs_from_example_gen_to_pusher_through_the_store(harness: Harness, golden: Any) -> None:
    run = run_pipeline(harness, golden("tfx-penguin"), {})
    tasks = run.tasks()
    assert run.executed() == STEPS
    assert {task.image for task in tasks.values()} == {TFX_IMAGE}
    assert run.seconds < 600, f"{run.seconds} s: {[(t.path, t.seconds) for t in tasks.values()]}"

    examples = tasks["CsvExampleGen"].output_artifacts["examples"]
    assert any("/Split-train/" in key for key in examples.uploaded)
    assert any("/Split-eval/" in key for key in examples.uploaded)
    # Downstream pods were handed the remote URIs the driver resolved, never a host or pod path.
    trainer_inputs = tasks["Trainer"].artifacts
    assert trainer_inputs["examples"][0]["uri"] == tasks["Transform"].output_artifacts["transformed_examples"].uri
    assert all(a[0]["uri"].startswith("minio://mlpipeline/") for a in trainer_inputs.values())

    blessing = tasks["Evaluator"].output_artifacts["blessing"]
    assert blessing.metadata["blessed"] == 1.0, blessing.metadata
    pushed = tasks["Pusher"].output_artifacts["pushed_model"]
    assert pushed.metadata["pushed"] == 1.0, pushed.metadata
    assert any(key.endswith("/saved_model.pb") for key in pushed.uploaded)
