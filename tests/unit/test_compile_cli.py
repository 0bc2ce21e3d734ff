from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from labkit.cli import app
from labkit.registry import PIPELINES


def test_compile_all_goes_on_past_a_pipeline_that_cannot_compile(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DOCKER_HOST", f"unix://{tmp_path}/no-engine.sock")  # TFX compiles in its image
    result = CliRunner().invoke(app, ["pipeline", "compile", "--all", "--out", str(tmp_path)])
    assert result.exit_code == 1
    assert "did not compile: tfx-penguin" in result.output
    kfp_pipelines = [name for name, entry in PIPELINES.items() if entry.kind == "kfp"]
    for name in kfp_pipelines:
        ir = yaml.safe_load((tmp_path / f"{name}.yaml").read_text())
        assert ir["pipelineInfo"]["name"], name
