"""The executor entrypoint's URI mapping, as plain functions, against KFP 2.17's launcher rules.

Each rule is the one in backend/src/v2/component/launcher_v2.go (LocalPathForURI, retrieveArtifactPath,
getPlaceholders, uploadOutputArtifacts/mergeRuntimeArtifacts); the container tier runs a real TFX executor
through the entrypoint (tests/container/test_tfx_kfp_entrypoint.py).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from components.tfx_kfp import entrypoint
from components.tfx_kfp.executor_io import (
    artifact_local_path,
    fill_input_types,
    input_local_path,
    local_path_for_uri,
    localize,
    merge_driver_output,
    output_dirs,
    restore_output,
    type_title,
    uri_for_local_path,
)

EXAMPLES_SCHEMA = "title: tfx.Examples\ntype: object\n"
STATS_SCHEMA = "title: tfx.ExampleStatistics\ntype: object\n"
TASK = "minio://mlpipeline/v2/artifacts/tfx-penguin/run-1/StatisticsGen/abc"


@pytest.mark.parametrize(
    ("uri", "local"),
    [
        ("minio://mlpipeline/v2/artifacts/x/examples", "/minio/mlpipeline/v2/artifacts/x/examples"),
        ("gs://bucket/a/b", "/gcs/bucket/a/b"),
        ("s3://bucket/key", "/s3/bucket/key"),
        ("oci://registry.io/models/penguin:1", "/oci/registry.io_models_penguin:1/models"),
        ("file:///tmp/x", None),  # launcher: "unsupported storage scheme"
        ("/opt/labkit/data", None),
        ("mem://bucket/key", None),  # a bucket scheme for the object store, but no local path
    ],
)
def test_local_path_is_launcher_v2_local_path_for_uri(uri: str, local: str | None) -> None:
    assert local_path_for_uri(uri) == local


def test_object_store_paths_map_back_and_others_do_not() -> None:
    for uri in ("minio://b/k/x", "gs://b/k", "s3://b/k"):
        assert uri_for_local_path(local_path_for_uri(uri)) == uri
    assert uri_for_local_path("/tmp/x") is None
    assert uri_for_local_path("/minio") is None  # the folder itself, not a path under it


def test_custom_path_wins_over_the_uri_as_in_retrieve_artifact_path() -> None:
    assert artifact_local_path({"uri": "minio://b/k", "customPath": "/data/here"}) == "/data/here"
    assert artifact_local_path({"uri": "minio://b/k"}) == "/minio/b/k"


def test_workspace_inputs_live_under_the_workspace_mount() -> None:
    flagged = {"uri": "minio://b/k/model", "metadata": {"_kfp_workspace": True}}
    assert input_local_path(flagged) == "/kfp-workspace/.artifacts/minio/b/k/model"
    assert input_local_path({"uri": "minio://b/k/model", "metadata": {"_kfp_workspace": False}}) == "/minio/b/k/model"


def test_type_title_reads_both_schema_forms() -> None:
    assert type_title({"schemaTitle": "system.Artifact"}) == "system.Artifact"
    assert type_title({"instanceSchema": EXAMPLES_SCHEMA}) == "tfx.Examples"
    assert type_title({"instanceSchema": ""}) is None
    assert type_title(None) is None


def executor_input() -> dict[str, Any]:
    """What the 2.17 driver hands StatisticsGen: remote URIs, an input typed with an empty instanceSchema (the
    driver's ToRuntimeArtifact), and the launcher's executor-logs output (PUBLISH_LOGS=true)."""
    return {
        "inputs": {
            "artifacts": {
                "examples": {
                    "artifacts": [
                        {
                            "name": "17",
                            "uri": "minio://mlpipeline/v2/artifacts/tfx-penguin/run-1/CsvExampleGen/xyz/examples",
                            "type": {"instanceSchema": ""},
                            "metadata": {"split_names": '["train", "eval"]', "span": 0.0},
                        }
                    ]
                }
            },
            "parameterValues": {"exclude_splits": "[]"},
        },
        "outputs": {
            "artifacts": {
                "statistics": {
                    "artifacts": [
                        {"name": "statistics", "uri": f"{TASK}/statistics", "type": {"instanceSchema": STATS_SCHEMA}}
                    ]
                },
                "executor-logs": {
                    "artifacts": [
                        {
                            "name": "executor-logs",
                            "uri": f"{TASK}/executor-logs",
                            "type": {"schemaTitle": "system.Artifact"},
                        }
                    ]
                },
            },
            "outputFile": "/minio/mlpipeline/v2/artifacts/tfx-penguin/run-1/StatisticsGen/abc/output_metadata.json",
        },
    }


INPUTS_SPEC = {
    "artifacts": {"examples": {"artifactType": {"instanceSchema": EXAMPLES_SCHEMA}}},
    "parameters": {"exclude_splits": {"parameterType": "STRING"}},
}


def test_localize_gives_tfx_local_paths_and_remembers_the_remote_uris() -> None:
    original = executor_input()
    localized, remote = localize(original, INPUTS_SPEC)
    examples = localized["inputs"]["artifacts"]["examples"]["artifacts"][0]
    assert examples["uri"] == "/minio/mlpipeline/v2/artifacts/tfx-penguin/run-1/CsvExampleGen/xyz/examples"
    assert examples["type"] == {"instanceSchema": EXAMPLES_SCHEMA}
    assert examples["metadata"]["split_names"] == '["train", "eval"]'
    statistics = localized["outputs"]["artifacts"]["statistics"]["artifacts"][0]
    assert statistics["uri"] == "/minio/mlpipeline/v2/artifacts/tfx-penguin/run-1/StatisticsGen/abc/statistics"
    assert remote == {statistics["uri"]: f"{TASK}/statistics"}
    assert "executor-logs" not in localized["outputs"]["artifacts"]
    assert localized["outputs"]["outputFile"] == original["outputs"]["outputFile"]
    assert localized["inputs"]["parameterValues"] == {"exclude_splits": "[]"}
    assert original == executor_input(), "the launcher's executor input is not modified in place"


def test_an_unsupported_uri_stays_as_the_launcher_leaves_it() -> None:
    data = executor_input()
    data["inputs"]["artifacts"]["examples"]["artifacts"][0]["uri"] = "file:///somewhere"
    localized, _ = localize(data, INPUTS_SPEC)
    assert localized["inputs"]["artifacts"]["examples"]["artifacts"][0]["uri"] == "file:///somewhere"


def test_input_types_are_filled_only_where_missing() -> None:
    data = executor_input()
    data["inputs"]["artifacts"]["examples"]["artifacts"][0]["type"] = {"schemaTitle": "tfx.Examples"}
    assert fill_input_types(data, INPUTS_SPEC) == []
    data["inputs"]["artifacts"]["examples"]["artifacts"][0].pop("type")
    assert fill_input_types(data, INPUTS_SPEC) == ["examples"]
    assert fill_input_types(executor_input(), None) == []  # nothing declared, nothing to fill


def test_output_dirs_are_folders_except_for_value_artifacts() -> None:
    localized, _ = localize(executor_input(), INPUTS_SPEC)
    localized["outputs"]["artifacts"]["count"] = {
        "artifacts": [{"uri": "/minio/b/t/count", "type": {"instanceSchema": "title: tfx.Integer\n"}}]
    }
    assert sorted(output_dirs(localized)) == [
        "/minio/b/t",
        "/minio/mlpipeline/v2/artifacts/tfx-penguin/run-1/StatisticsGen/abc/statistics",
    ]


def test_restore_output_puts_remote_uris_back_and_drops_nulls() -> None:
    local = "/minio/mlpipeline/v2/artifacts/tfx-penguin/run-1/StatisticsGen/abc/statistics"
    written = {
        "artifacts": {
            "statistics": {"artifacts": [{"name": "statistics", "uri": local, "metadata": {"span": 0.0, "x": None}}]},
            "other": {"artifacts": [{"uri": "/s3/bucket/k"}]},
            "kept": {"artifacts": [{"uri": "/tmp/not-an-object-store-path"}]},
        },
        "parameterValues": {"n": 1},
    }
    restored = restore_output(written, {local: f"{TASK}/statistics"})
    assert restored["artifacts"]["statistics"]["artifacts"][0] == {
        "name": "statistics",
        "uri": f"{TASK}/statistics",
        "metadata": {"span": 0.0},
    }
    assert restored["artifacts"]["other"]["artifacts"][0]["uri"] == "s3://bucket/k"
    assert restored["artifacts"]["kept"]["artifacts"][0]["uri"] == "/tmp/not-an-object-store-path"
    assert restored["parameterValues"] == {"n": 1}


def test_driver_metadata_is_carried_onto_the_output_artifact() -> None:
    localized, _ = localize(executor_input(), INPUTS_SPEC)
    driver = {"artifacts": {"statistics": {"artifacts": [{"uri": "/x", "metadata": {"span": 3.0}}]}}}
    assert merge_driver_output(localized, driver) == ["statistics"]
    assert localized["outputs"]["artifacts"]["statistics"]["artifacts"][0]["metadata"] == {"span": 3.0}
    assert merge_driver_output(localized, {"artifacts": {"absent": {"artifacts": [{"metadata": {"a": 1}}]}}}) == []


def test_flags_are_read_and_replaced_in_both_spellings() -> None:
    argv = ["--a", "1", "--json_serialized_invocation_args={}", "--b"]
    assert entrypoint.flag_value(argv, "--json_serialized_invocation_args") == "{}"
    assert entrypoint.flag_value(argv, "--a") == "1"
    assert entrypoint.flag_value(argv, "--c") is None
    assert entrypoint.replace_flag(argv, "--json_serialized_invocation_args", "X") == [
        "--a",
        "1",
        "--json_serialized_invocation_args",
        "X",
        "--b",
    ]
    assert entrypoint.replace_flag(argv, "--a", None) == ["--json_serialized_invocation_args={}", "--b"]
    with pytest.raises(entrypoint.EntrypointError):
        entrypoint.flag_value(["--a"], "--a")


def test_entrypoint_runs_the_driver_then_tfx_and_leaves_remote_uris_for_the_launcher(tmp_path: Path) -> None:
    """The whole flow with TFX replaced by a fake: customPath (which the launcher honours) keeps it off /minio."""
    data = executor_input()
    out_dir = tmp_path / "statistics"
    data["outputs"]["artifacts"]["statistics"]["artifacts"][0]["customPath"] = str(out_dir)
    data["inputs"]["artifacts"]["examples"]["artifacts"][0]["customPath"] = str(tmp_path / "examples")
    output_file = tmp_path / "task" / "output_metadata.json"
    data["outputs"]["outputFile"] = str(output_file)
    calls: list[tuple[str, dict[str, Any]]] = []

    def fake_tfx(module: str, argv: list[str]) -> int:
        seen = json.loads(entrypoint.flag_value(argv, entrypoint.INVOCATION_FLAG))
        calls.append((module, seen))
        assert entrypoint.PRE_CACHE_CHECK_FLAG not in argv
        assert "--direct_num_workers=1" in argv
        if module == "fake.driver":
            output_file.write_text(
                json.dumps(
                    {
                        "parameterValues": {"span": 0},
                        "artifacts": {"statistics": {"artifacts": [{"uri": str(out_dir), "metadata": {"span": 0}}]}},
                    }
                )
            )
            return 0
        assert out_dir.is_dir(), "output folders exist before the executor runs"
        statistics = seen["outputs"]["artifacts"]["statistics"]["artifacts"][0]
        (out_dir / "FeatureStats.pb").write_text("x")
        output_file.write_text(
            json.dumps(
                {
                    "artifacts": {
                        "statistics": {
                            "artifacts": [
                                {
                                    "name": "statistics",
                                    "uri": statistics["uri"],
                                    "metadata": {**statistics["metadata"], "n": None},
                                }
                            ]
                        }
                    }
                }
            )
        )
        return 0

    argv = [
        "--labkit_pre_cache_check",
        "fake.driver",
        "--executor_class_path",
        "tfx.components.statistics_gen.executor.Executor",
        "--json_serialized_invocation_args",
        json.dumps(data),
        "--json_serialized_inputs_spec_args",
        json.dumps(INPUTS_SPEC),
        "--direct_num_workers=1",
    ]
    assert entrypoint.main(argv, run_module=fake_tfx) == 0
    assert [module for module, _ in calls] == ["fake.driver", entrypoint.TFX_EXECUTOR_MODULE]
    executor_view = calls[1][1]
    assert executor_view["inputs"]["artifacts"]["examples"]["artifacts"][0]["uri"] == str(tmp_path / "examples")
    assert executor_view["outputs"]["artifacts"]["statistics"]["artifacts"][0]["metadata"] == {"span": 0}
    final = json.loads(output_file.read_text())
    assert final["artifacts"]["statistics"]["artifacts"][0] == {
        "name": "statistics",
        "uri": f"{TASK}/statistics",
        "metadata": {"span": 0},
    }


def test_entrypoint_passes_on_a_failing_executor_and_needs_the_invocation(tmp_path: Path) -> None:
    data = executor_input()
    data["outputs"]["outputFile"] = str(tmp_path / "out.json")
    data["outputs"]["artifacts"]["statistics"]["artifacts"][0]["customPath"] = str(tmp_path / "s")
    argv = ["--json_serialized_invocation_args", json.dumps(data)]
    assert entrypoint.main(argv, run_module=lambda module, args: 3) == 3
    with pytest.raises(entrypoint.EntrypointError, match="required"):
        entrypoint.main(["--executor_class_path", "x"], run_module=lambda module, args: 0)
    with pytest.raises(entrypoint.EntrypointError, match="no output metadata"):
        entrypoint.main(argv, run_module=lambda module, args: 0)
