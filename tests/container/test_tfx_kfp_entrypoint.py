"""Real TFX executors through the kit's KFP entrypoint in the TFX image, fed the way KFP 2.17's launcher feeds them.

For CsvExampleGen and then StatisticsGen, the command and arguments come from the compiled golden spec, with
``{{$}}`` replaced by an executor input built as the 2.17 driver and launcher build it (driver/driver.go
provisionOutputs: remote ``minio://`` URIs, the launcher's ``executor-logs`` output, ``outputFile`` under the local
task root; driver/resolve.go: ``parameterValues`` from the task's constants; metadata/client.go: inputs typed with an
empty instanceSchema). A host folder is mounted at /minio, where the launcher keeps its local copies
(launcher_v2.go LocalPathForURI); what the launcher does around the command (download, upload, MLMD) is not run.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml
from google.protobuf import json_format
from kfp.pipeline_spec import pipeline_spec_pb2

from labkit.paths import REPO_ROOT
from labkit.tfx import docker_problem

pytestmark = [pytest.mark.container, pytest.mark.slow]

GOLDEN = REPO_ROOT / "tests" / "golden" / "tfx-penguin.yaml"
RUN_ROOT = "mlpipeline/v2/artifacts/tfx-penguin/run-1"


@pytest.fixture(scope="module")
def spec(tfx_image: str) -> dict[str, Any]:
    if problem := docker_problem(tfx_image):
        pytest.skip(problem)
    for name in ("entrypoint.py", "executor_io.py"):
        inside = subprocess.run(
            ["docker", "run", "--rm", "--network", "none", tfx_image, "cat", f"/opt/labkit/components/tfx_kfp/{name}"],
            capture_output=True,
            text=True,
        )
        if inside.stdout != (REPO_ROOT / "components" / "tfx_kfp" / name).read_text():
            pytest.fail(f"{tfx_image} holds another components/tfx_kfp/{name}: rebuild it (`labkit image build tfx`)")
    return yaml.safe_load(GOLDEN.read_text())


def executor_input(spec: dict[str, Any], task_name: str, inputs: dict[str, Any]) -> dict[str, Any]:
    task = spec["root"]["dag"]["tasks"][task_name]
    component = spec["components"][task["componentRef"]["name"]]
    task_root = f"minio://{RUN_ROOT}/{task_name}/salt-1"
    outputs = {
        name: {"artifacts": [{"name": name, "uri": f"{task_root}/{name}", "type": definition["artifactType"]}]}
        for name, definition in component["outputDefinitions"]["artifacts"].items()
    }
    outputs["executor-logs"] = {  # PUBLISH_LOGS=true, the upstream default
        "artifacts": [
            {"name": "executor-logs", "uri": f"{task_root}/executor-logs", "type": {"schemaTitle": "system.Artifact"}}
        ]
    }
    return {
        "inputs": {
            "parameterValues": {
                name: value["runtimeValue"]["constant"] for name, value in task["inputs"]["parameters"].items()
            },
            "artifacts": inputs,
        },
        "outputs": {
            "artifacts": outputs,
            "outputFile": f"/minio/{RUN_ROOT}/{task_name}/salt-1/output_metadata.json",
        },
    }


def run_step(spec: dict[str, Any], image: str, minio: Path, task_name: str, inputs: dict[str, Any]) -> dict[str, Any]:
    """The executor's command as launcher_v2.go compileCmdAndArgs makes it, run with the host folder at /minio."""
    data = executor_input(spec, task_name, inputs)
    label = spec["components"][task_name]["executorLabel"]
    container = spec["deploymentSpec"]["executors"][label]["container"]
    invocation = json.dumps(data)
    command = [arg.replace("{{$}}", invocation) for arg in [*container["command"], *container["args"]]]
    docker = ["docker", "run", "--rm", "--network", "none", "-e", "HOME=/tmp", "-v", f"{minio}:/minio"]
    if hasattr(os, "getuid"):
        docker += ["--user", f"{os.getuid()}:{os.getgid()}"]
    done = subprocess.run([*docker, image, *command], capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-5000:]
    output_file = minio / data["outputs"]["outputFile"].removeprefix("/minio/")
    assert output_file.is_file(), f"no output metadata at {output_file}"
    written = json.loads(output_file.read_text())
    # The launcher reads it with protojson.Unmarshal: no unknown field (launcher_v2.go getExecutorOutputFile).
    json_format.ParseDict(written, pipeline_spec_pb2.ExecutorOutput(), ignore_unknown_fields=False)
    return {"output": written, "stderr": done.stderr, "input": data}


def as_downstream_input(artifact: dict[str, Any], artifact_id: str) -> dict[str, Any]:
    """An output artifact as the next task's driver hands it on: MLMD id as name, empty instanceSchema
    (metadata client GetOutputArtifactsByExecutionId + ToRuntimeArtifact), metadata plus what RecordArtifact adds."""
    metadata = {**artifact["metadata"], "display_name": artifact["name"], "store_session_info": "{}"}
    return {
        "artifacts": [
            {"name": artifact_id, "uri": artifact["uri"], "type": {"instanceSchema": ""}, "metadata": metadata}
        ]
    }


def test_example_gen_then_statistics_gen_through_the_entrypoint(
    spec: dict[str, Any], tfx_image: str, tmp_path: Path
) -> None:
    minio = tmp_path / "minio"
    minio.mkdir()

    example_gen = run_step(spec, tfx_image, minio, "CsvExampleGen", {})
    [examples] = example_gen["output"]["artifacts"]["examples"]["artifacts"]
    assert set(example_gen["output"]["artifacts"]) == {"examples"}, "no executor-logs: the launcher owns it"
    assert examples["uri"] == f"minio://{RUN_ROOT}/CsvExampleGen/salt-1/examples", "a remote URI for the launcher"
    local = minio / RUN_ROOT / "CsvExampleGen" / "salt-1" / "examples"
    assert list((local / "Split-train").glob("*.gz")) and list((local / "Split-eval").glob("*.gz"))
    assert json.loads(examples["metadata"]["split_names"]) == ["train", "eval"]
    # ExampleGen's span/fingerprint driver ran (KFP never runs lifecycle.preCacheCheck) and its metadata stuck.
    assert "file_based_example_gen.driver set metadata of ['examples']" in example_gen["stderr"]
    # TFX names a custom property that shadows a type property "custom:<name>" (entrypoint_utils, both ways).
    assert examples["metadata"]["custom:span"] == 0 and "num_files:1" in examples["metadata"]["input_fingerprint"]

    statistics_gen = run_step(
        spec, tfx_image, minio, "StatisticsGen", {"examples": as_downstream_input(examples, "17")}
    )
    [statistics] = statistics_gen["output"]["artifacts"]["statistics"]["artifacts"]
    assert statistics["uri"] == f"minio://{RUN_ROOT}/StatisticsGen/salt-1/statistics"
    stats_dir = minio / RUN_ROOT / "StatisticsGen" / "salt-1" / "statistics"
    for split in ("train", "eval"):
        assert (stats_dir / f"Split-{split}" / "FeatureStats.pb").stat().st_size > 0, split
    assert json.loads(statistics["metadata"]["split_names"]) == ["train", "eval"]
    leftovers = [p for p in minio.rglob("*") if p.is_file() and "salt-1" not in str(p)]
    assert leftovers == [], "every file lands under a task root in /minio"
