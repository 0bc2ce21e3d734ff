"""components/tfx_kfp/spec.py: TFX 1.21's KubeflowV2 output -> a spec the KFP 2.17 backend accepts and runs.

Inputs are what TFX really wrote for tfx-penguin (tests/unit/fixtures/tfx121-penguin-*.yaml), in its default
schema-2.0.0 form and in its use_pipeline_spec_2_1 form (a PipelineJob, with a baseline Importer). Both must come
out with no problem labkit/backend_rules.py knows of, and in the same form.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from components.tfx_kfp import spec as adapter
from labkit.backend_rules import problems

FIXTURES = Path(__file__).resolve().parent / "fixtures"


def schema_200() -> dict[str, Any]:
    return yaml.safe_load((FIXTURES / "tfx121-penguin-schema-2.0.0.yaml").read_text())


def job_21_baseline() -> dict[str, Any]:
    return yaml.safe_load((FIXTURES / "tfx121-penguin-job-schema-2.1-baseline.yaml").read_text())


def rules(spec: dict[str, Any]) -> set[str]:
    return {problem.rule for problem in problems(spec)}


def test_tfx_default_output_is_refused_for_the_named_reasons() -> None:
    assert rules(schema_200()) == {"schema-version", "constant-only", "parameter-type", "lifecycle-ignored"}
    assert rules(job_21_baseline()) == {"bare-spec"}


@pytest.mark.parametrize("written", [schema_200, job_21_baseline])
def test_both_tfx_forms_come_out_accepted(written: Any) -> None:
    spec = adapter.for_kfp2(written())
    assert problems(spec) == []
    assert spec["schemaVersion"] == "2.1.0"


def test_both_tfx_forms_come_out_the_same() -> None:
    """The adapter alone does what TFX's schema-2.1 mode does, so a student's default-compiled spec (the grader's)
    is judged in the form the kit uploads. The baseline Importer only touches the Evaluator."""
    old, new = adapter.for_kfp2(schema_200()), adapter.for_kfp2(job_21_baseline())
    for spec in (old, new):
        spec.pop("sdkVersion")
    new_executors = new["deploymentSpec"]["executors"]
    assert new_executors.pop("baseline_model_executor")["importer"]["artifactUri"] == {
        "constant": "minio://mlpipeline/models/penguin"
    }
    for label, executor in old["deploymentSpec"]["executors"].items():
        if label != "Evaluator_executor":
            assert json.loads(json.dumps(executor)) == json.loads(json.dumps(new_executors[label])), label
    new_tasks = new["root"]["dag"]["tasks"]
    for name, task in old["root"]["dag"]["tasks"].items():
        if name != "Evaluator":
            assert json.loads(json.dumps(task)) == json.loads(json.dumps(new_tasks[name])), name
    assert old["components"]["CsvExampleGen"] == new["components"]["CsvExampleGen"]


def test_adapting_twice_changes_nothing() -> None:
    once = adapter.for_kfp2(job_21_baseline())
    assert adapter.for_kfp2(copy.deepcopy(once)) == once


def test_parameter_types_become_parameter_type() -> None:
    spec = schema_200()
    changed = adapter.parameter_types(spec)
    assert "CsvExampleGen.inputDefinitions.output_data_format" in changed
    assert spec["components"]["CsvExampleGen"]["inputDefinitions"]["parameters"]["output_data_format"] == {
        "parameterType": "NUMBER_INTEGER"
    }
    assert spec["components"]["Trainer"]["inputDefinitions"]["parameters"]["module_file"] == {"parameterType": "STRING"}
    odd = {"root": {"inputDefinitions": {"parameters": {"p": {"type": "SOMETHING"}}}}}
    assert adapter.parameter_types(odd) == []  # left for the rules to name


def test_constant_values_become_constants_of_the_right_json_type() -> None:
    spec = schema_200()
    adapter.constants(spec)
    inputs = spec["root"]["dag"]["tasks"]["CsvExampleGen"]["inputs"]["parameters"]
    assert inputs["output_data_format"] == {"runtimeValue": {"constant": 6}}
    assert inputs["input_base"] == {"runtimeValue": {"constant": "/opt/labkit/data/tfx-penguin"}}
    assert adapter.constant_from_value({"doubleValue": 0.5}) == 0.5
    with pytest.raises(ValueError):
        adapter.constant_from_value({"somethingElse": 1})


def test_importer_constant_value_becomes_constant() -> None:
    spec = {
        "deploymentSpec": {
            "executors": {"imp": {"importer": {"artifactUri": {"constantValue": {"stringValue": "minio://b/m"}}}}}
        }
    }
    assert adapter.importer_uris(spec) == ["imp"]
    assert spec["deploymentSpec"]["executors"]["imp"]["importer"]["artifactUri"] == {"constant": "minio://b/m"}


def test_runtime_config_values_become_root_defaults() -> None:
    spec = {"root": {"inputDefinitions": {"parameters": {"steps": {"parameterType": "NUMBER_INTEGER"}, "lr": {}}}}}
    config = {"parameterValues": {"steps": 60}, "parameters": {"lr": {"doubleValue": 0.01}}}
    assert sorted(adapter.runtime_defaults(spec, config)) == ["lr", "steps"]
    parameters = spec["root"]["inputDefinitions"]["parameters"]
    assert parameters["steps"]["defaultValue"] == 60 and parameters["lr"]["defaultValue"] == 0.01


def test_tfx_steps_run_the_entrypoint_with_their_pre_cache_check_and_inputs_spec() -> None:
    spec = schema_200()
    adapter.parameter_types(spec)
    assert len(adapter.executors(spec)) == 8
    example_gen = spec["deploymentSpec"]["executors"]["CsvExampleGen_executor"]["container"]
    assert example_gen["command"] == ["python", "-m", "components.tfx_kfp.entrypoint"]
    assert "lifecycle" not in example_gen
    args = example_gen["args"]
    assert args[:2] == ["--labkit_pre_cache_check", "tfx.orchestration.kubeflow.v2.file_based_example_gen.driver"]
    invocation = args.index("--json_serialized_invocation_args")
    assert args[invocation + 1] == "{{$}}"
    assert args[invocation + 2] == "--json_serialized_inputs_spec_args"
    inputs_spec = json.loads(args[invocation + 3])
    assert inputs_spec["parameters"]["output_file_format"] == {"parameterType": "NUMBER_INTEGER"}
    statistics = json.loads(spec["deploymentSpec"]["executors"]["StatisticsGen_executor"]["container"]["args"][5])
    assert "tfx.Examples" in statistics["artifacts"]["examples"]["artifactType"]["instanceSchema"]
    assert adapter.executors(spec) == [], "already adapted executors are left alone"


def test_other_containers_and_resolvers_are_left_for_the_rules() -> None:
    spec = adapter.for_kfp2(schema_200())
    spec["deploymentSpec"]["executors"]["plain"] = {"container": {"image": "x:1", "command": ["python", "-m", "other"]}}
    spec["deploymentSpec"]["executors"]["latest_blessed_model_resolver"] = {"resolver": {"outputArtifactQueries": {}}}
    adapted = adapter.for_kfp2(spec)
    assert adapted["deploymentSpec"]["executors"]["plain"]["container"]["command"] == ["python", "-m", "other"]
    assert "resolver" in adapted["deploymentSpec"]["executors"]["latest_blessed_model_resolver"]
    assert rules(adapted) == {"resolver"}
