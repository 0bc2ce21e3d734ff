"""Session 6 end to end: the TFX pipeline with LocalDagRunner in the TFX image, driven through the CLI.

Needs a Docker engine and labkit-tfx:<kit version> (`labkit image build tfx`); skips with the reason otherwise.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from labkit.labs import get_lab
from labkit.registry import get_pipeline
from labkit.tfx import backend_problems, compile_tfx, docker_problem

REPO_ROOT = Path(__file__).resolve().parents[2]
COMPONENTS = (
    "CsvExampleGen",
    "StatisticsGen",
    "SchemaGen",
    "ExampleValidator",
    "Transform",
    "Trainer",
    "Evaluator",
    "Pusher",
)

pytestmark = [pytest.mark.container, pytest.mark.slow]


@pytest.fixture(scope="module", autouse=True)
def _tfx_image() -> None:
    if problem := docker_problem():
        pytest.skip(problem)


def labkit_run(runs_dir: Path, *args: str) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "labkit", "pipeline", "run", "tfx-penguin", "--runner", "docker"]
    env = {**os.environ, "COLUMNS": "220", "PYTHONPATH": str(REPO_ROOT)}
    return subprocess.run(
        [*command, "--runs-dir", str(runs_dir), *args], capture_output=True, text=True, cwd=REPO_ROOT, env=env
    )


@pytest.fixture(scope="module")
def blessed_run(tmp_path_factory: pytest.TempPathFactory) -> dict:
    done = labkit_run(tmp_path_factory.mktemp("runs"), "--output", "json")
    assert done.returncode == 0, done.stderr[-4000:]
    return json.loads(done.stdout)


def test_full_local_run_blesses_and_pushes_a_model(blessed_run: dict) -> None:
    metrics = blessed_run["metrics"]
    assert metrics["blessed"] is True
    assert metrics["sparse_categorical_accuracy"] >= 0.9
    assert metrics["example_count"] == 111  # the eval split: a third of the 333 clean rows
    assert {"island=Biscoe", "island=Dream", "island=Torgersen"} <= {
        key.split("[", 1)[1].rstrip("]") for key in metrics if "[" in key
    }
    assert blessed_run["anomalies"] == []
    assert set(COMPONENTS) <= set(blessed_run["tasks"])
    run_dir = Path(blessed_run["run_dir"])
    assert (Path(blessed_run["artifacts"]["pushed_model"]) / "saved_model.pb").is_file()
    assert list((run_dir / "serving").glob("*/saved_model.pb")), "the Pusher wrote no model to serving/"
    assert (run_dir / "metadata.sqlite").is_file()


def test_skewed_batch_anomalies_and_a_failed_gate_are_shown_by_the_cli(tmp_path: Path) -> None:
    # One run for two behaviours: a bad eval batch, and a threshold no model can reach.
    done = labkit_run(tmp_path, "--param", "data=skewed", "--param", "accuracy_threshold=0.9999")
    out = done.stdout
    assert done.returncode == 0, done.stderr[-3000:]  # the pipeline ran; the gate said no
    assert "ExampleValidator found 2 anomalies" in out, out + done.stderr[-3000:]
    assert "Anvers" in out  # the island training never saw, named in the table
    for word in ("island", "sex", "eval", "Unexpected string values"):
        assert word in out
    assert "model NOT BLESSED" in out
    assert "sparse_categorical_accuracy (overall)" in out and "0.9999" in out
    run_dir = next(tmp_path.glob("tfx-penguin/*"))
    result = json.loads((run_dir / "result.json").read_text())
    assert {(row["split"], row["feature"]) for row in result["anomalies"]} == {("eval", "island"), ("eval", "sex")}
    assert result["metrics"]["blessed"] is False
    assert not list((run_dir / "serving").glob("*")), "an unblessed model must not be pushed"
    page = (run_dir / "run.html").read_text()
    assert "Data anomalies (2)" in page and "Anvers" in page
    assert "Evaluation gate: not blessed" in page and "0.9999" in page
    graph = (run_dir / "dag.svg").read_text()  # the graph TFX ran, saved by the run, coloured by task state
    for component in ("CsvExampleGen", "ExampleValidator", "Transform", "Evaluator", "Pusher"):
        assert component in graph


def test_baseline_from_an_earlier_run_goes_through_an_importer(blessed_run: dict, tmp_path: Path) -> None:
    done = labkit_run(tmp_path, "--param", f"baseline_model_uri={blessed_run['run_dir']}", "--output", "json")
    assert done.returncode == 0, done.stderr[-4000:]
    metrics = json.loads(done.stdout)["metrics"]
    assert "baseline/sparse_categorical_accuracy" in metrics
    assert "diff/sparse_categorical_accuracy" in metrics
    assert metrics["blessed"] is True  # same seed, same model: no accuracy lost against the baseline


def test_subprocess_runner_is_refused_with_the_fix() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "labkit", "pipeline", "run", "tfx-penguin", "--runner", "subprocess"],
        capture_output=True,
        text=True,
        cwd=REPO_ROOT,
        env={**os.environ, "COLUMNS": "220", "PYTHONPATH": str(REPO_ROOT)},
    )
    assert done.returncode == 1
    assert "--runner docker" in done.stderr


def test_compiled_with_a_baseline_importer_still_fits_the_backend(tmp_path: Path) -> None:
    package = compile_tfx(
        get_pipeline("tfx-penguin"), tmp_path, params={"baseline_model_uri": "minio://mlpipeline/models/penguin"}
    )
    spec = yaml.safe_load(package.read_text())
    assert backend_problems(spec) == []
    importers = [e["importer"] for e in spec["deploymentSpec"]["executors"].values() if "importer" in e]
    assert importers == [
        {
            "artifactUri": {"constant": "minio://mlpipeline/models/penguin"},
            "typeSchema": {"instanceSchema": "title: tfx.Model\ntype: object\n"},
        }
    ]


def test_a_lab_6_pipeline_that_breaks_before_any_component_runs_is_named(tmp_path: Path) -> None:
    """The starter runs from step 0 (tests/walkthrough); without its step-0 guard it reads Transform's None."""
    starter = get_lab(6).starter.read_text()
    broken = tmp_path / "pipeline.py"
    broken.write_text(starter.replace("    if transform is None:\n", "    if False:\n"))
    done = subprocess.run(
        [sys.executable, "-m", "labkit", "lab", "run", "6", "--file", str(broken), "--runs-dir", str(tmp_path)],
        capture_output=True,
        text=True,
        cwd=REPO_ROOT,
        env={**os.environ, "COLUMNS": "220", "PYTHONPATH": str(REPO_ROOT)},
    )
    assert done.returncode == 1
    assert "failed before any component ran" in done.stderr and str(broken) in done.stderr.replace("\n", "")
