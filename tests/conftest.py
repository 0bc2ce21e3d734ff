"""Test tiers: the default tier runs anywhere; `container` needs a Docker engine; `cluster` a kind cluster.

A tier that cannot run here skips with the reason. CI sets LABKIT_REQUIRE_CONTAINERS=1 so that a missing
Docker engine fails the container tier instead of skipping it, and LABKIT_REQUIRE_MANIFESTS=1 so that a missing
kubectl or upstream mirror (../shared/upstream beside the checkout, or $LABKIT_UPSTREAM_MIRROR) fails too.
"""

from __future__ import annotations

import os
import shutil
import stat
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


@pytest.fixture(scope="session")
def kubectl() -> str:
    from labkit.cluster import kubectl_install_command

    found = shutil.which("kubectl")
    if not found:
        _unavailable(f"kubectl not on PATH (renders the kustomizations offline): {kubectl_install_command()}")
    return str(found)


@pytest.fixture(scope="session")
def mirror() -> Path:
    """The real upstream files the kit references, laid out by URL (github.com/ORG/REPO@REF/PATH)."""
    from labkit.manifests import MIRROR_ENV, default_mirror

    found = default_mirror()
    if found is None or not (found / "github.com").is_dir():
        _unavailable(f"no upstream mirror: set {MIRROR_ENV} to one (`labkit cluster mirror --out DIR` makes one)")
    return found


def _unavailable(reason: str) -> None:
    if os.environ.get("LABKIT_REQUIRE_MANIFESTS") == "1":
        pytest.fail(f"LABKIT_REQUIRE_MANIFESTS=1 but the manifest tier cannot run: {reason}")
    pytest.skip(reason)


@pytest.fixture
def runs_dir(tmp_path: Path) -> Path:
    path = tmp_path / "runs"
    path.mkdir()
    return path


# kind cannot run on these machines: for the order and idempotence of `labkit cluster up/down`, two small shell
# scripts play kind and kubectl. They log every call and keep the "cluster exists" state in a file; the waits on
# real objects (CRDs, deployments) are replaced by recorders.
FAKE_KIND = """#!/bin/sh
echo "kind $*" >> "$FAKE_LOG"
case "$1 $2" in
  "get clusters") [ -f "$FAKE_STATE" ] && echo labkit; exit 0 ;;
  "create cluster") touch "$FAKE_STATE"; exit 0 ;;
  "delete cluster") rm -f "$FAKE_STATE"; exit 0 ;;
esac
"""
# `kubectl kustomize` renders offline, so it stays the real one (when there is one); everything else is played.
FAKE_KUBECTL = """#!/bin/sh
if [ "$1" = kustomize ] && [ -n "$REAL_KUBECTL" ]; then exec "$REAL_KUBECTL" "$@"; fi
echo "kubectl $*" >> "$FAKE_LOG"
exit 0
"""


@pytest.fixture
def fake_tools(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for name, body in (("kind", FAKE_KIND), ("kubectl", FAKE_KUBECTL)):
        tool = bin_dir / name
        tool.write_text(body)
        tool.chmod(tool.stat().st_mode | stat.S_IEXEC)
    log = tmp_path / "calls.log"
    monkeypatch.setenv("REAL_KUBECTL", shutil.which("kubectl") or "")
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.setenv("FAKE_LOG", str(log))
    monkeypatch.setenv("FAKE_STATE", str(tmp_path / "cluster-exists"))
    from labkit import cluster
    from labkit.doctor import Check

    monkeypatch.setattr(cluster, "run_prerequisite_checks", lambda cluster_exists: [Check("docker", True, "ok")])
    monkeypatch.setattr(cluster, "wait_for_deployments", lambda context, on_event: {"ml-pipeline": (1, 1)})
    return log


def kind_calls(log: Path) -> list[str]:
    from labkit import cluster

    return [line.replace(str(cluster.MANIFESTS), "M") for line in log.read_text().splitlines()]


@pytest.fixture
def wide_console(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tables as wide as their content: the console's width is fixed when it is made, not by COLUMNS later."""
    from labkit.cli.common import console

    monkeypatch.setattr(console, "width", 250)
