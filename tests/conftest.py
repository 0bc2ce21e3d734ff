"""Test tiers: the default tier runs anywhere; `container` needs a Docker engine; `cluster` a kind cluster.

A tier that cannot run here skips with the reason. CI sets LABKIT_REQUIRE_CONTAINERS=1 so that a missing
Docker engine fails the container tier instead of skipping it.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parent.parent


def docker_unavailable_reason() -> str | None:
    if not shutil.which("docker"):
        return "no docker CLI on PATH (install Docker to run the container tier)"
    done = subprocess.run(["docker", "info", "--format", "{{.ServerVersion}}"], capture_output=True, text=True)
    if done.returncode != 0:
        return "no Docker engine reachable (start Docker, or run .ci/run which starts dockerd)"
    return None


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if not any(item.get_closest_marker("container") for item in items):
        return
    reason = docker_unavailable_reason()
    if reason is None:
        return
    if os.environ.get("LABKIT_REQUIRE_CONTAINERS") == "1":
        raise pytest.UsageError(f"LABKIT_REQUIRE_CONTAINERS=1 but the container tier cannot run: {reason}")
    skip = pytest.mark.skip(reason=reason)
    for item in items:
        if item.get_closest_marker("container"):
            item.add_marker(skip)


@pytest.fixture
def runs_dir(tmp_path: Path) -> Path:
    path = tmp_path / "runs"
    path.mkdir()
    return path
