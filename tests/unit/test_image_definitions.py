"""The image definitions agree with the kit's pins and names, without needing Docker."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

from labkit import images
from labkit.paths import REPO_ROOT
from labkit.runners import RUNNERS
from labkit.runners.base import RunnerUnavailableError
from labkit.runners.local import DockerRunner
from labkit.versions import PUBLIC_BASE_IMAGE

TFX_REQUIREMENTS = REPO_ROOT / "components" / "images" / "tfx" / "requirements.txt"
TFX_CONSTRAINTS = TFX_REQUIREMENTS.with_name("constraints.txt")


def _pyproject_pin(name: str) -> str:
    found = re.search(rf'^\s*"{name}==([^"]+)"', (REPO_ROOT / "pyproject.toml").read_text(), flags=re.M)
    assert found, f"pyproject.toml pins no {name}"
    return found.group(1)


@pytest.mark.parametrize("name", list(images.IMAGES))
def test_dockerfiles_start_from_the_public_base_by_default(name: str) -> None:
    dockerfile = (REPO_ROOT / images.IMAGES[name].dockerfile).read_text()
    first = next(line for line in dockerfile.splitlines() if line and not line.startswith("#"))
    assert first == f"ARG BASE_IMAGE={PUBLIC_BASE_IMAGE}", "students build the Dockerfiles unchanged"
    assert "FROM ${BASE_IMAGE}" in dockerfile


def _pins(path: Path) -> dict[str, str]:
    pins = {}
    for line in path.read_text().splitlines():
        if line and not line.startswith("#"):
            assert re.fullmatch(r"[A-Za-z0-9_.-]+==[0-9][\w.+]*", line), f"{path.name}: not an exact pin: {line}"
            name, version = line.split("==")
            pins[name.lower().replace("_", "-")] = version
    return pins


def test_tfx_requirements_are_all_pinned_and_share_the_kits_kfp() -> None:
    pins = _pins(TFX_REQUIREMENTS)
    assert pins["kfp"] == _pyproject_pin("kfp")
    assert pins["tfx"] == "1.21.0"
    assert {"tf-keras", "tensorboard"} <= pins.keys()


def test_tfx_constraints_agree_with_the_requirements() -> None:
    constraints = _pins(TFX_CONSTRAINTS)
    for name, version in _pins(TFX_REQUIREMENTS).items():
        assert constraints.get(name) == version, f"constraints.txt has {name}=={constraints.get(name)}, not {version}"


def test_tfx_dockerfile_sets_legacy_keras() -> None:
    assert "TF_USE_LEGACY_KERAS=1" in (REPO_ROOT / images.IMAGES["tfx"].dockerfile).read_text()


def test_build_context_sends_what_the_dockerfiles_copy() -> None:
    ignore = (REPO_ROOT / ".dockerignore").read_text().splitlines()
    assert ignore[ignore.index("**") + 1 :][:2] == ["!pyproject.toml", "!components"]
    for dockerfile in (REPO_ROOT / "components" / "images").glob("*/Dockerfile"):
        for source in re.findall(r"^COPY (?!--from)(\S+)", dockerfile.read_text(), flags=re.M):
            assert (REPO_ROOT / source).exists(), f"{dockerfile}: COPY {source} does not exist"


def test_build_steps_are_parsed_for_progress() -> None:
    match = images.STEP.match("Step 3/15 : RUN python3 -m venv /opt/venv")
    assert match is not None and match.groups() == ("3", "15", "RUN python3 -m venv /opt/venv")


def test_unknown_image_names_the_choices() -> None:
    with pytest.raises(images.UnknownImageError, match="components, tfx"):
        images.get_spec("spark")


def test_docker_runner_is_registered() -> None:
    assert RUNNERS["docker"] is DockerRunner


def test_docker_runner_without_an_engine_says_how_to_start_one(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    # A socket path with nothing listening: exactly what a laptop with Docker stopped looks like.
    monkeypatch.setenv("DOCKER_HOST", f"unix://{tmp_path / 'no-engine.sock'}")
    with pytest.raises(RunnerUnavailableError, match=r"Docker engine.*labkit doctor"):
        DockerRunner().check()


def test_image_cli_without_an_engine_fails_with_the_fix(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from labkit.cli import app

    monkeypatch.setenv("DOCKER_HOST", f"unix://{tmp_path / 'no-engine.sock'}")
    result = CliRunner().invoke(app, ["image", "list"])
    output = " ".join(result.output.split())
    assert result.exit_code == 1
    assert "no Docker engine is reachable" in output
    assert "`labkit doctor`" in output


def test_image_build_needs_a_name_or_all() -> None:
    from typer.testing import CliRunner

    from labkit.cli import app

    result = CliRunner().invoke(app, ["image", "build"])
    assert result.exit_code == 1
    assert "give an image NAME or --all" in result.output


def test_base_image_script_is_executable() -> None:
    assert os.access(images.BASE_IMAGE_SCRIPT, os.X_OK)
