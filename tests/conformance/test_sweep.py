"""The `sweep` pipeline under KFP 2.17's contract: a dsl.ParallelFor over raw items, fanned in by dsl.Collected."""

from __future__ import annotations

from typing import Any

import pytest

from pipelines.sweep.pipeline import LEARNING_RATES
from tests.conformance.launcher import Harness, run_pipeline

pytestmark = [pytest.mark.container, pytest.mark.slow]


def test_each_iteration_gets_its_item_and_pick_best_gets_every_iterations_artifacts(
    harness: Harness, golden: Any
) -> None:
    run = run_pipeline(harness, golden("sweep"), {"epochs": 3})
    tasks = run.tasks()
    iterations = [f"for-loop-2[{i}]" for i in range(len(LEARNING_RATES))]
    assert run.executed() == [
        "ingest",
        "validate",
        "split",
        *[f"{it}/{step}" for it in iterations for step in ("train", "evaluate")],
        "pick-best",
    ]
    assert run.seconds < 180, f"{run.seconds} s: {[(t.path, t.seconds) for t in tasks.values()]}"
    models = []
    for iteration, rate in zip(iterations, LEARNING_RATES, strict=True):
        train, evaluate = tasks[f"{iteration}/train"], tasks[f"{iteration}/evaluate"]
        assert train.parameters["learning_rate"] == rate
        assert evaluate.artifacts["model"][0]["uri"] == train.output_artifacts["model"].uri
        assert evaluate.parameters["accuracy_threshold"] == 0.0  # runtimeValue.constant
        models.append(train.output_artifacts["model"].uri)
    pick = tasks["pick-best"]
    assert [a["uri"] for a in pick.artifacts["models"]] == models  # CollectInputs: iteration order
    assert len(pick.artifacts["scores"]) == len(LEARNING_RATES)
    summary = pick.output_artifacts["summary"]
    assert summary.metadata["candidates"] == len(LEARNING_RATES)
    assert run.output_artifact("Output").uri == summary.uri
