"""labkit/tfx.py on the host: data preparation, reading a run's summary, runner choice. No TFX needed.

The summary fixture is a real summary.json written by a run in the TFX image (data=skewed, with a baseline),
trimmed to the parts the host reads.
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from labkit.registry import get_pipeline, parse_params
from labkit.runners import get_runner
from labkit.runners.base import RunnerUnavailableError
from labkit.tfx import (
    BASELINE_MOUNT,
    SKEW_NEW_ISLAND,
    TfxDockerRunner,
    prepare_data,
    resolve_baseline,
    result_from_summary,
    run_command,
)

FIXTURES = Path(__file__).resolve().parent / "fixtures"


def test_prepared_splits_are_deterministic_and_disjoint(tmp_path: Path) -> None:
    counts = prepare_data(tmp_path / "a", seed=7)
    prepare_data(tmp_path / "b", seed=7)
    assert counts == {"train": 222, "eval": 111}
    for split in ("train", "eval"):
        assert (tmp_path / "a" / split / "penguins.csv").read_bytes() == (
            tmp_path / "b" / split / "penguins.csv"
        ).read_bytes()
    train = pd.read_csv(tmp_path / "a" / "train" / "penguins.csv")
    evaluation = pd.read_csv(tmp_path / "a" / "eval" / "penguins.csv")
    assert len(pd.concat([train, evaluation]).drop_duplicates()) == 333
    assert list(train.columns) == ["species", "island", "sex", *train.columns[3:]]


def test_skewed_batch_changes_only_the_eval_split(tmp_path: Path) -> None:
    prepare_data(tmp_path / "clean")
    prepare_data(tmp_path / "skewed", "skewed")
    clean_train = (tmp_path / "clean" / "train" / "penguins.csv").read_bytes()
    assert (tmp_path / "skewed" / "train" / "penguins.csv").read_bytes() == clean_train
    skewed = pd.read_csv(tmp_path / "skewed" / "eval" / "penguins.csv")
    assert (skewed["island"] == SKEW_NEW_ISLAND).sum() == 28
    assert skewed["sex"].isin(["MALE", "FEMALE"]).sum() == 28
    assert skewed.notna().all().all()  # no missing values: the skew is in values, not in presence


def test_unknown_data_variant_is_named(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="choose one of: palmerpenguins, skewed, or a folder"):
        prepare_data(tmp_path, "penguins2")


def test_a_folder_of_splits_is_copied_as_it_is(tmp_path: Path) -> None:
    prepare_data(tmp_path / "given", seed=3)
    (tmp_path / "given" / "eval" / "more.csv").write_text("species,island\nAdelie,Dream\n")
    counts = prepare_data(tmp_path / "run", str(tmp_path / "given"))
    assert counts == {"train": 222, "eval": 112}
    for split in ("train", "eval"):
        given, copied = tmp_path / "given" / split / "penguins.csv", tmp_path / "run" / split / "penguins.csv"
        assert copied.read_bytes() == given.read_bytes()
    (tmp_path / "no-eval" / "train").mkdir(parents=True)
    (tmp_path / "no-eval" / "train" / "a.csv").write_text("x\n1\n")
    with pytest.raises(ValueError, match=r"train/\*\.csv and eval/\*\.csv"):
        prepare_data(tmp_path / "run2", str(tmp_path / "no-eval"))


def test_summary_of_a_real_run_is_read() -> None:
    parsed = result_from_summary(json.loads((FIXTURES / "tfx_summary_skewed.json").read_text()))
    metrics = parsed["metrics"]
    assert metrics["blessed"] is True
    assert 0.9 <= metrics["sparse_categorical_accuracy"] <= 1.0
    assert metrics["example_count"] == 111
    assert "sparse_categorical_accuracy[island=Anvers]" in metrics
    assert "baseline/sparse_categorical_accuracy" in metrics and "diff/sparse_categorical_accuracy" in metrics
    features = {(row["split"], row["feature"]) for row in parsed["anomalies"]}
    assert features == {("eval", "island"), ("eval", "sex")}
    island = next(row for row in parsed["anomalies"] if row["feature"] == "island")
    assert "Anvers" in island["detail"]
    assert parsed["gate_failures"] == []
    assert {"CsvExampleGen", "Transform", "Trainer", "Evaluator", "Pusher"} <= set(parsed["tasks"])


def test_failed_gate_is_explained() -> None:
    validation = {
        "metricValidationsPerSlice": [
            {
                "sliceKey": {},
                "failures": [
                    {
                        "metricKey": {"name": "sparse_categorical_accuracy"},
                        "metricThreshold": {"valueThreshold": {"lowerBound": 0.999}},
                        "metricValue": {"doubleValue": 0.97},
                    }
                ],
            }
        ]
    }
    parsed = result_from_summary({"blessed": False, "validation": validation})
    assert parsed["metrics"] == {"blessed": False}
    assert parsed["gate_failures"] == [
        'sparse_categorical_accuracy (overall) = 0.97 fails {"valueThreshold": {"lowerBound": 0.999}}'
    ]


def test_tfx_pipeline_parameters_are_the_keyword_only_ones_plus_data() -> None:
    entry = get_pipeline("tfx-penguin")
    assert entry.kind == "tfx"
    params = parse_params(entry, ["train_steps=10", "data=skewed", "accuracy_threshold=0.5"])
    assert params == {"train_steps": 10, "data": "skewed", "accuracy_threshold": 0.5}


def test_tfx_refuses_the_subprocess_runner_naming_the_fix() -> None:
    with pytest.raises(RunnerUnavailableError, match="--runner docker"):
        get_runner("subprocess", get_pipeline("tfx-penguin"))


def test_tfx_on_the_cluster_refuses_run_parameters_before_any_network(tmp_path: Path) -> None:
    runner = get_runner("cluster", get_pipeline("tfx-penguin"))
    with pytest.raises(RunnerUnavailableError, match=r"fixed when TFX compiles it.*got train_steps"):
        runner.run(get_pipeline("tfx-penguin"), {"train_steps": 5}, tmp_path, lambda event: None)


def test_tfx_docker_runner_is_chosen_for_tfx() -> None:
    assert isinstance(get_runner("docker", get_pipeline("tfx-penguin")), TfxDockerRunner)


def test_run_command_mounts_code_read_only_and_the_run_folder(tmp_path: Path) -> None:
    model = tmp_path / "model"
    (model / "Format-Serving").mkdir(parents=True)
    command = run_command(tmp_path / "run", {"seed": 1}, baseline=resolve_baseline(str(model)))
    joined = " ".join(command)
    assert "--network none" in joined
    assert ":/opt/labkit:ro" in joined and f"{tmp_path / 'run'}:/labkit/run " in joined + " "
    assert f"{model}:{BASELINE_MOUNT}:ro" in joined
    assert json.loads(command[-1]) == {"seed": 1, "baseline_model_uri": BASELINE_MOUNT}


def test_baseline_must_be_a_model_or_a_run_folder(tmp_path: Path) -> None:
    run = tmp_path / "run"
    (run / "pipeline_root" / "Trainer" / "model" / "6" / "Format-Serving").mkdir(parents=True)
    assert resolve_baseline(str(run)) == run / "pipeline_root" / "Trainer" / "model" / "6"
    with pytest.raises(ValueError, match=r"runs/session-06/<run> \(`labkit lab run 6`\)"):
        resolve_baseline(str(tmp_path / "nothing"))


def test_importer_uri_is_moved_to_the_field_kfp2_reads() -> None:
    from components.tfx_kfp.spec import importer_uris

    spec = {
        "deploymentSpec": {
            "executors": {
                "baseline_model_executor": {
                    "importer": {"artifactUri": {"constantValue": {"stringValue": "minio://b/m"}}, "typeSchema": {}}
                },
                "Trainer_executor": {"container": {"image": "labkit-tfx:0.1.0"}},
            }
        }
    }
    assert importer_uris(spec) == ["baseline_model_executor"]
    assert spec["deploymentSpec"]["executors"]["baseline_model_executor"]["importer"]["artifactUri"] == {
        "constant": "minio://b/m"
    }
    assert spec["deploymentSpec"]["executors"]["Trainer_executor"] == {"container": {"image": "labkit-tfx:0.1.0"}}


def test_lab_6_starter_is_a_tfx_pipeline_run_in_the_image() -> None:
    from labkit.labs import get_lab
    from labkit.registry import PipelineEntry

    lab = get_lab(6)
    assert lab.kind == "tfx" and lab.starter.is_file() and lab.guide.is_file()
    assert "TODO(step 1)" in lab.starter.read_text()
    entry = PipelineEntry.from_file(lab.starter, lab.pipeline_function, session=6, kind=lab.kind)
    assert set(entry.parameters()) == set(get_pipeline("tfx-penguin").parameters())
    command = run_command(Path("/tmp/run"), {}, pipeline_file=lab.starter)
    assert "--pipeline-file" in command and "/labkit/student/pipeline.py" in command
