"""Fixtures of the manifest tier: kubectl renders, and the real upstream comes from a mirror laid out by URL.

Without kubectl or a mirror these tests skip and say how to get them. CI sets LABKIT_REQUIRE_MANIFESTS=1, so
there a missing kubectl or mirror fails the run instead (the mirror is ../shared/upstream beside the checkout,
or $LABKIT_UPSTREAM_MIRROR).
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any

import pytest

from labkit.manifests import MIRROR_ENV, default_mirror, render_from_mirror, without_components
from labkit.paths import REPO_ROOT

KFP = REPO_ROOT / "manifests" / "kfp"


def _unavailable(reason: str) -> None:
    if os.environ.get("LABKIT_REQUIRE_MANIFESTS") == "1":
        pytest.fail(f"LABKIT_REQUIRE_MANIFESTS=1 but the manifest tier cannot run: {reason}")
    pytest.skip(reason)


@pytest.fixture(scope="session")
def kubectl() -> str:
    from labkit.cluster import kubectl_install_command

    found = shutil.which("kubectl")
    if not found:
        _unavailable(f"kubectl not on PATH (renders the kustomizations offline): {kubectl_install_command()}")
    return str(found)


@pytest.fixture(scope="session")
def mirror() -> Path:
    found = default_mirror()
    if found is None or not (found / "github.com").is_dir():
        _unavailable(f"no upstream mirror: set {MIRROR_ENV} to a folder laid out as github.com/ORG/REPO@REF/PATH")
    return found


@pytest.fixture(scope="session")
def kfp_render(kubectl: str, mirror: Path) -> list[dict[str, Any]]:
    """The kit's KFP install exactly as `labkit cluster up` applies it, upstream from the mirror."""
    return render_from_mirror(KFP, mirror)


@pytest.fixture(scope="session")
def upstream_render(kubectl: str, mirror: Path) -> list[dict[str, Any]]:
    """Upstream's env/platform-agnostic alone, without the kit's component: the baseline it changes."""
    return render_from_mirror(KFP, mirror, patch=without_components)
