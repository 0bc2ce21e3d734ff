"""Every registered pipeline compiles to exactly its golden IR.

A changed pipeline fails here until the golden file is regenerated on purpose with `make golden`
(which runs `labkit pipeline compile --all --out tests/golden`) and the diff is reviewed.
"""

from pathlib import Path

import pytest
import yaml

from labkit.compiler import compile_pipeline
from labkit.registry import PIPELINES
from labkit.tfx import docker_problem, tfx_importable

GOLDEN = Path(__file__).resolve().parent.parent / "golden"


# TFX pipelines compile inside the TFX image (TFX does not install on the host): that case is container tier.
COMPILE_CASES = [
    pytest.param(name, marks=pytest.mark.container) if PIPELINES[name].kind == "tfx" else name
    for name in sorted(PIPELINES)
]


@pytest.mark.parametrize("name", COMPILE_CASES)
def test_compiled_ir_matches_golden(name: str, tmp_path: Path) -> None:
    golden = GOLDEN / f"{name}.yaml"
    assert golden.is_file(), f"no golden IR for {name!r}: run `make golden` and commit tests/golden/{name}.yaml"
    if PIPELINES[name].kind == "tfx" and not tfx_importable() and (problem := docker_problem()):
        pytest.skip(f"{name} compiles with TFX, which is not importable here, and {problem}")
    compiled = compile_pipeline(PIPELINES[name], tmp_path)
    assert yaml.safe_load(compiled.read_text()) == yaml.safe_load(golden.read_text()), (
        f"{name!r} no longer compiles to its golden IR. If the change is intended, run `make golden` "
        "and review the diff of tests/golden/."
    )


@pytest.mark.parametrize("name", sorted(PIPELINES))
def test_golden_is_valid_ir(name: str) -> None:
    ir = yaml.safe_load((GOLDEN / f"{name}.yaml").read_text())
    assert ir["pipelineInfo"]["name"]
    assert ir["schemaVersion"] == "2.1.0"  # TFX's too: components/tfx_kfp/spec.py; the only one KFP 2.17 takes
    assert ir["root"]["dag"]["tasks"]
    for executor in ir["deploymentSpec"]["executors"].values():
        image = executor["container"]["image"]
        assert ":" in image and not image.endswith(":latest"), image
