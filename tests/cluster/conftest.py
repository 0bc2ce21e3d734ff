"""The cluster tier: every test here needs Docker + kind (it makes the cluster itself) and internet for KFP's images.

Without them the whole tier skips with the reason. CI (.github/workflows/cluster-e2e.yml) sets
LABKIT_REQUIRE_CLUSTER=1 so that a missing prerequisite fails instead of skipping.
"""

from __future__ import annotations

import os
import shutil
import subprocess

import pytest


def cluster_unavailable_reason() -> str | None:
    for tool in ("docker", "kind", "kubectl"):
        if not shutil.which(tool):
            return f"no {tool} on PATH: the cluster tier creates a kind cluster (see manifests/README.md)"
    if subprocess.run(["docker", "info"], capture_output=True).returncode != 0:
        return "no Docker engine reachable: kind runs its node in Docker"
    return None


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    ours = [item for item in items if item.get_closest_marker("cluster")]
    if not ours:
        return
    reason = cluster_unavailable_reason()
    if reason is None:
        return
    if os.environ.get("LABKIT_REQUIRE_CLUSTER") == "1":
        raise pytest.UsageError(f"LABKIT_REQUIRE_CLUSTER=1 but the cluster tier cannot run: {reason}")
    for item in ours:
        item.add_marker(pytest.mark.skip(reason=reason))
