"""The harness's own rules, without a container: what the backend refuses, and how it writes values."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest

from tests.conformance.launcher import (
    ApiServerRejectedError,
    Harness,
    NotEmulatedError,
    PipelineFailedError,
    evaluate_condition,
    go_number,
    load_spec,
    mlmd_round_trip,
    protojson,
    provision_outputs,
    resolve_container_args,
    run_pipeline,
    runtime_config,
)

RAW_TFX = Path(__file__).resolve().parent.parent / "unit" / "fixtures" / "tfx121-penguin-schema-2.0.0.yaml"


def raw_tfx_spec() -> dict[str, Any]:
    """What TFX 1.21's KubeflowV2DagRunner wrote for tfx-penguin before the kit adapted it."""
    return load_spec(RAW_TFX)


def offline_harness(tmp_path: Path) -> Harness:
    """No store and no engine: only for runs a driver must stop before any executor starts."""
    return Harness(store=None, workdir=tmp_path)


def test_numbers_are_written_the_way_go_writes_them() -> None:
    # protojson: an int parameter reaches `epochs: int` as 40, never 40.0
    assert [go_number(v) for v in (40.0, 0.01, 1e-7, 1e21, 123456789.0, -2.5)] == [
        "40",
        "0.01",
        "1e-7",
        "1e+21",
        "123456789",
        "-2.5",
    ]
    assert protojson({"epochs": 40.0, "ok": True, "xs": [1.0, 0.5]}) == '{"epochs":40,"ok":true,"xs":[1,0.5]}'
    # the driver's placeholder text: integral numbers as %d, the rest as %g
    executor_input = {"inputs": {"parameterValues": {"e": 40.0, "lr": 1e-5, "big": 1234567.5}}}
    args = ["{{$.inputs.parameters['e']}}", "lr={{$.inputs.parameters['lr']}}", "{{$.inputs.parameters['big']}}"]
    assert resolve_container_args(args, executor_input) == ["40", "lr=1e-05", "1.2345675e+06"]


def test_artifact_metadata_comes_back_from_ml_metadata_changed() -> None:
    kept = mlmd_round_trip({"passed": True, "rows": 3, "tags": ["a"], "cfg": {"k": 1}}, "metrics")
    assert kept == {"passed": 1.0, "rows": 3.0, "tags": {"list": ["a"]}, "cfg": {"struct": {"k": 1.0}}}
    with pytest.raises(Exception, match="unknown/unsupported value type"):
        mlmd_round_trip({"missing": None}, "metrics")


def test_outputs_are_provisioned_under_the_task_root_with_a_salt() -> None:
    component = {
        "outputDefinitions": {
            "artifacts": {"model": {"artifactType": {"schemaTitle": "system.Model", "schemaVersion": "0.0.1"}}},
            "parameters": {"Output": {"parameterType": "BOOLEAN"}},
        }
    }
    root = "minio://mlpipeline/v2/artifacts/training/RUN/train/SALT"
    outputs = provision_outputs(root, component)
    assert outputs["artifacts"]["model"]["artifacts"][0]["uri"] == f"{root}/model"
    assert outputs["parameters"]["Output"] == {"outputFile": "/tmp/kfp/outputs/Output"}
    assert outputs["outputFile"] == "/minio/mlpipeline/v2/artifacts/training/RUN/train/SALT/output_metadata.json"


def test_conditions_are_evaluated_like_the_driver_and_other_cel_fails_loudly() -> None:
    given = {"inputs": {"parameterValues": {"pipelinechannel--evaluate-Output": True, "n": 3.0}}}
    assert evaluate_condition("inputs.parameter_values['pipelinechannel--evaluate-Output'] == true", given)
    assert not evaluate_condition("inputs.parameter_values['pipelinechannel--evaluate-Output'] != true", given)
    with pytest.raises(NotEmulatedError, match="CEL"):
        evaluate_condition("int(inputs.parameter_values['n']) > 2", given)


def test_the_api_server_takes_only_schema_2_1_0_and_typed_parameters(golden: Any) -> None:
    with pytest.raises(ApiServerRejectedError, match=r"only supports schema version 2\.1\.0"):
        runtime_config(raw_tfx_spec(), {})
    training = golden("training")
    assert runtime_config(training, {"epochs": 5})["epochs"] == 5.0  # defaults filled, numbers as float64
    with pytest.raises(ApiServerRejectedError, match="requires type NUMBER_INTEGER"):
        runtime_config(training, {"epochs": "5"})
    with pytest.raises(ApiServerRejectedError, match="batch is not optional"):
        runtime_config(golden("continuous-training"), {"registry": "/r"})


def test_a_constant_value_parameter_fails_in_the_driver_as_not_implemented(golden: Any, tmp_path: Path) -> None:
    """TFX 1.21's compiler writes ``runtimeValue.constantValue``; KFP 2.17's driver resolves only ``constant``."""
    spec = copy.deepcopy(golden("training"))
    spec["root"]["dag"]["tasks"]["ingest"]["inputs"]["parameters"]["source"] = {
        "runtimeValue": {"constantValue": {"stringValue": "palmerpenguins"}}
    }
    with pytest.raises(PipelineFailedError, match="ValueOrRuntimeParameter_ConstantValue not implemented") as failed:
        run_pipeline(offline_harness(tmp_path), spec, {})
    assert failed.value.run.tasks()["ingest"].state == "FAILED"
    assert failed.value.run.tasks()["ingest"].command == []  # the driver failed: no pod was made


def test_tfx_as_tfx_compiles_it_stops_where_the_backend_would(golden: Any, tmp_path: Path) -> None:
    """Raw KubeflowV2DagRunner output is refused twice over (schema, then the first constantValue); the kit's
    adapted golden passes both (it then runs end to end in tests/conformance/test_tfx_penguin.py)."""
    spec = raw_tfx_spec()
    with pytest.raises(ApiServerRejectedError):
        run_pipeline(offline_harness(tmp_path), spec, {})
    spec["schemaVersion"] = "2.1.0"
    with pytest.raises(PipelineFailedError, match=r"CsvExampleGen.*ConstantValue not implemented"):
        run_pipeline(offline_harness(tmp_path), spec, {})
    assert runtime_config(golden("tfx-penguin"), {}) == {}
