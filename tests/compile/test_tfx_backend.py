"""The compiled TFX spec holds nothing the open-source KFP 2.17 backend is known to reject (labkit/backend_rules.py,
plus the kit's own image rule).

Reads the golden file (no TFX needed on the host). The golden is regenerated with `make golden`, which
compiles tfx-penguin inside the TFX image; test_golden.py checks it still matches the pipeline.
"""

from pathlib import Path

import yaml

from labkit.tfx import backend_problems
from labkit.versions import TFX_IMAGE

GOLDEN = Path(__file__).resolve().parent.parent / "golden" / "tfx-penguin.yaml"


def _spec() -> dict:
    return yaml.safe_load(GOLDEN.read_text())


def test_golden_passes_every_backend_constraint() -> None:
    assert backend_problems(_spec()) == []


def test_golden_is_a_bare_pipeline_spec_with_the_whole_dag() -> None:
    spec = _spec()
    assert "pipelineSpec" not in spec and "runtimeConfig" not in spec
    tasks = set(spec["root"]["dag"]["tasks"])
    expected = {"CsvExampleGen", "StatisticsGen", "SchemaGen", "ExampleValidator", "Transform", "Trainer"}
    assert expected | {"Evaluator", "Pusher"} <= tasks, tasks
    assert not any("resolver" in task.lower() for task in tasks)


def test_every_step_runs_in_the_kit_tfx_image() -> None:
    images = {e["container"]["image"] for e in _spec()["deploymentSpec"]["executors"].values() if "container" in e}
    assert images == {TFX_IMAGE}


def test_module_files_and_data_point_inside_the_image() -> None:
    text = GOLDEN.read_text()
    assert "/opt/labkit/pipelines/tfx_penguin/trainer.py" in text
    assert "/opt/labkit/pipelines/tfx_penguin/preprocessing.py" in text
    assert "/opt/labkit/data/tfx-penguin" in text


def test_backend_problems_catches_what_the_backend_rejects() -> None:
    spec = _spec()
    job = {"pipelineSpec": spec, "runtimeConfig": {}, "displayName": "x"}
    assert any("bare PipelineSpec" in p for p in backend_problems(job))
    with_resolver = yaml.safe_load(GOLDEN.read_text())
    with_resolver["deploymentSpec"]["executors"]["exec-latest-blessed-model-resolver"] = {
        "resolver": {"outputArtifactQueries": {}}
    }
    assert any("Resolver" in p for p in backend_problems(with_resolver))
    latest = yaml.safe_load(GOLDEN.read_text())
    executor = next(e for e in latest["deploymentSpec"]["executors"].values() if "container" in e)
    executor["container"]["image"] = "labkit-tfx:latest"
    assert any("not pinned" in p for p in backend_problems(latest))


def test_an_importer_must_use_the_field_the_kfp2_importer_reads() -> None:
    spec = _spec()
    spec["deploymentSpec"]["executors"]["baseline_model_executor"] = {
        "importer": {"artifactUri": {"constantValue": {"stringValue": "minio://mlpipeline/models/penguin"}}}
    }
    assert any("constantValue" in p for p in backend_problems(spec))
    importer = spec["deploymentSpec"]["executors"]["baseline_model_executor"]["importer"]
    importer["artifactUri"] = {"constant": "minio://mlpipeline/models/penguin"}
    assert any("typeSchema" in p for p in backend_problems(spec))  # the importer launcher needs the type too
    importer["typeSchema"] = {"instanceSchema": "title: tfx.Model\ntype: object\n"}
    assert backend_problems(spec) == []


def test_every_step_runs_the_kit_entrypoint_with_its_inputs_spec() -> None:
    """components/tfx_kfp/entrypoint.py maps the launcher's URIs for TFX; ExampleGen's driver runs through it."""
    executors = _spec()["deploymentSpec"]["executors"]
    for label, executor in executors.items():
        container = executor["container"]
        assert container["command"] == ["python", "-m", "components.tfx_kfp.entrypoint"], label
        assert "--json_serialized_inputs_spec_args" in container["args"], label
        assert "lifecycle" not in container, label
    example_gen = executors["CsvExampleGen_executor"]["container"]["args"]
    assert example_gen[:2] == [
        "--labkit_pre_cache_check",
        "tfx.orchestration.kubeflow.v2.file_based_example_gen.driver",
    ]
