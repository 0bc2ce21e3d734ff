"""The continuous-training pipeline on kfp.local's subprocess runner, with real training and a real registry.

The tests run in order and share one registry, like the monitoring loop: no drift -> nothing happens; drift ->
retrain and the first champion; the same challenger again -> a tie keeps the champion; a reference-trained
champion on a strongly drifted batch -> replaced by the better challenger.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from components.champion.logic import SAVED_MODEL_DIR, champion_dir, champion_version, list_versions
from components.common.features import encode_features
from components.common.inference import load_dense_network
from labkit.data import write_batches
from labkit.registry import get_pipeline
from labkit.runners.base import RunResult
from labkit.runners.local import SubprocessRunner

FAST = {"epochs": 10}


@pytest.fixture(scope="module")
def batches(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    return [Path(b.path) for b in write_batches(tmp_path_factory.mktemp("batches"), 8)]


@pytest.fixture(scope="module")
def registry(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One registry for the whole module: the tests below are consecutive steps of one monitoring loop."""
    return tmp_path_factory.mktemp("registry")


def run(tmp: Path, batch: Path, registry: Path, **params) -> RunResult:
    entry = get_pipeline("continuous-training")
    result = SubprocessRunner().run(
        entry, {"batch": str(batch), "registry": str(registry), **FAST, **params}, tmp, lambda _: None
    )
    assert result.succeeded, (result.failed_task, result.error)
    return result


def test_no_drift_on_the_reference_batch_means_no_retraining(
    tmp_path: Path, batches: list[Path], registry: Path
) -> None:
    result = run(tmp_path, batches[0], registry)
    assert result.metrics["drifted"] is False
    assert "train" not in result.tasks and "register-model" not in result.tasks
    assert list_versions(registry) == []


def test_drift_retrains_and_the_first_challenger_becomes_champion_and_serves(
    tmp_path: Path, batches: list[Path], registry: Path
) -> None:
    result = run(tmp_path, batches[3], registry)
    assert result.metrics["drifted"] is True
    assert {"train", "compare-models", "register-model"} <= set(result.tasks)
    assert champion_version(registry) == "v0001"
    # The guide asks what `reason` says: it is in the comparison's metrics file, which a student can open.
    comparison = json.loads(Path(result.artifacts["compare-models/metrics"]).read_text())
    assert comparison["better"] is True and comparison["reason"].startswith("todavía no hay campeón")

    # Serving smoke test: the exported SavedModel answers like the Keras model it came from.
    import tensorflow as tf

    model_dir = champion_dir(registry)
    network = load_dense_network(model_dir)
    rows = pd.read_csv(batches[3]).head(5)
    loaded = tf.saved_model.load(str(model_dir / SAVED_MODEL_DIR / "1"))
    served = np.asarray(loaded.serve(tf.constant(encode_features(rows, network.preprocessing))))
    np.testing.assert_allclose(served, network.predict_proba(rows), atol=1e-4)


def test_a_challenger_that_only_ties_does_not_replace_the_champion(
    tmp_path: Path, batches: list[Path], registry: Path
) -> None:
    # Same batch and seed: the challenger equals the champion, and a tie must not replace it.
    result = run(tmp_path, batches[3], registry)
    assert "train" in result.tasks and "register-model" not in result.tasks
    assert list_versions(registry) == ["v0001"]
    assert champion_version(registry) == "v0001"


def test_a_better_challenger_replaces_the_stale_champion(tmp_path: Path, batches: list[Path], registry: Path) -> None:
    result = run(tmp_path, batches[7], registry)  # far-drifted: the batch-3 champion loses accuracy here
    assert result.metrics["drifted"] is True
    assert champion_version(registry) == "v0002"
    metrics = json.loads((registry / "penguins" / "v0002" / "metrics.json").read_text())
    assert metrics["challenger_accuracy"] > metrics["champion_accuracy"]
    assert list_versions(registry) == ["v0001", "v0002"]  # the old version is kept, only the pointer moved
