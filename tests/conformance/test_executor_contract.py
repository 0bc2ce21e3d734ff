"""Executors that pass under kfp.local and must not pass the backend's contract, and the compiled pip shim.

kfp.local hands an artifact a local path as its URI, so code that writes to ``artifact.uri`` works there. On KFP
the URI is ``minio://...``: only ``artifact.path`` (/minio/...) is uploaded by the launcher, and the consumer finds
nothing. The harness must reproduce that failure, or it is not testing the contract.

No ``from __future__ import annotations`` here: KFP reads the components' annotations as types.
"""

from pathlib import Path
from typing import Any

import pytest
from kfp import compiler, dsl, local
from kfp.dsl import Dataset, Input, Output

from components.common.images import COMPONENTS_IMAGE
from tests.conformance.launcher import Harness, PipelineFailedError, load_spec, run_pipeline

pytestmark = pytest.mark.container


@dsl.component(base_image=COMPONENTS_IMAGE, install_kfp_package=False)
def write_to_uri(table: Output[Dataset]):
    """Writes where the URI points, as if it were a path."""
    import os

    os.makedirs(os.path.dirname(table.uri), exist_ok=True)
    with open(table.uri, "w") as handle:
        handle.write("a,b\n1,2\n")


@dsl.component(base_image=COMPONENTS_IMAGE, install_kfp_package=False)
def count_rows(table: Input[Dataset]) -> int:
    with open(table.path) as handle:
        return len(handle.read().splitlines())


@dsl.component(base_image=COMPONENTS_IMAGE)
def shout(word: str) -> str:
    """Compiled with KFP's default pip shim (install_kfp_package=True)."""
    return word.upper()


def compiled(pipeline: Any, tmp_path: Path) -> dict[str, Any]:
    package = tmp_path / "pipeline.yaml"
    compiler.Compiler().compile(pipeline, package_path=str(package))
    return load_spec(package)


def raw_uri_pipeline() -> Any:
    @dsl.pipeline(name="raw-uri")
    def pipeline() -> int:
        return count_rows(table=write_to_uri().outputs["table"]).output

    return pipeline


@pytest.mark.filterwarnings("ignore:You may be attemping to run a task:RuntimeWarning")
def test_writing_to_the_raw_uri_passes_kfp_local_but_uploads_nothing_under_the_backend(
    harness: Harness, tmp_path: Path, store_client: Any
) -> None:
    local.init(runner=local.SubprocessRunner(use_venv=False), pipeline_root=str(tmp_path / "local"))
    assert raw_uri_pipeline()().output == 2  # kfp.local: the URI is a local path, so this "works"

    with pytest.raises(PipelineFailedError, match="FileNotFoundError") as failed:
        run_pipeline(harness, compiled(raw_uri_pipeline(), tmp_path), {})
    tasks = failed.value.run.tasks()
    writer, reader = tasks["write-to-uri"], tasks["count-rows"]
    assert writer.state == "COMPLETE"  # the launcher lets a task produce no file...
    table = writer.output_artifacts["table"]
    assert table.uploaded == [] and any("does not exist" in w for w in writer.warnings)
    key = table.uri.removeprefix("minio://mlpipeline/")
    assert not list(store_client.list_objects("mlpipeline", prefix=key, recursive=True))
    assert reader.state == "FAILED"  # ...and the consumer finds nothing at the path the launcher maps
    assert f"/minio/mlpipeline/{key}" in reader.log


def test_the_compiled_pip_shim_needs_no_network_when_the_image_has_the_same_kfp(
    harness: Harness, tmp_path: Path
) -> None:
    @dsl.pipeline(name="shim")
    def pipeline(word: str = "hola") -> str:
        return shout(word=word).output

    run = run_pipeline(harness, compiled(pipeline, tmp_path), {})
    task = run.tasks()["shout"]
    assert "pip install" in task.command[2]  # sh -ec SCRIPT: the shim is in the script
    assert task.output_parameters == {"Output": "HOLA"}
