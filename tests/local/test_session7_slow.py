"""Session-7 runs that take more than ~30 s on 2 cores: the sweep, 2-worker training, the monitoring loop."""

import json
from pathlib import Path

import pytest

from components.evaluate.logic import evaluate_model_dir
from components.ingest.logic import load_penguins_clean
from components.train.distributed import free_ports, tf_config, train_multiworker
from labkit.registry import get_pipeline
from labkit.runners.local import SubprocessRunner


def test_tf_config_names_every_worker_and_this_index() -> None:
    ports = free_ports(2)
    assert len(set(ports)) == 2
    config = json.loads(tf_config([f"127.0.0.1:{p}" for p in ports], 1))
    assert config["task"] == {"type": "worker", "index": 1} and len(config["cluster"]["worker"]) == 2


@pytest.mark.slow
def test_sweep_keeps_the_best_of_its_candidates(tmp_path: Path) -> None:
    result = SubprocessRunner().run(get_pipeline("sweep"), {"epochs": 5}, tmp_path, lambda _: None)
    assert result.succeeded, result.error
    assert result.metrics["candidates"] == 4
    assert 0 <= result.metrics["best_index"] < 4
    assert result.metrics["accuracy"] >= result.metrics["baseline_accuracy"]


@pytest.mark.slow
def test_two_workers_train_a_model_that_serves(tmp_path: Path) -> None:
    table = load_penguins_clean()
    table.to_csv(tmp_path / "train.csv", index=False)
    run = train_multiworker(tmp_path / "train.csv", tmp_path / "model", workers=2, epochs=10)
    assert run.workers == 2 and run.final_accuracy > 0.9
    assert evaluate_model_dir(tmp_path / "model", table, table, 0.9).accuracy > 0.9


@pytest.mark.slow
def test_distributed_train_component_is_a_drop_in_for_train(tmp_path: Path) -> None:
    from kfp import dsl, local
    from kfp.dsl import Metrics

    from components.evaluate.component import evaluate
    from components.ingest.component import ingest
    from components.split.component import split
    from components.train_distributed.component import train_distributed

    @dsl.pipeline(name="distributed-check")
    def distributed_check() -> Metrics:
        data = ingest(source="palmerpenguins")
        parts = split(dataset=data.outputs["dataset"])
        trained = train_distributed(train_data=parts.outputs["train_data"], workers=2, epochs=10)
        return evaluate(
            train_data=parts.outputs["train_data"],
            test_data=parts.outputs["test_data"],
            model=trained.outputs["model"],
            accuracy_threshold=0.9,
        ).outputs["metrics"]

    local.init(runner=local.SubprocessRunner(use_venv=False), pipeline_root=str(tmp_path), raise_on_error=True)
    metrics = distributed_check().output
    assert metrics.metadata["passed"] is True and metrics.metadata["accuracy"] >= 0.9
