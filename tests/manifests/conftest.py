"""Renders of the kit's KFP install, upstream from the mirror (`kubectl` and `mirror` are in tests/conftest.py)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from labkit.manifests import render_from_mirror, without_components
from labkit.paths import REPO_ROOT

KFP = REPO_ROOT / "manifests" / "kfp"


@pytest.fixture(scope="session")
def kfp_render(kubectl: str, mirror: Path) -> list[dict[str, Any]]:
    """The kit's KFP install exactly as `labkit cluster up` applies it, upstream from the mirror."""
    return render_from_mirror(KFP, mirror)


@pytest.fixture(scope="session")
def upstream_render(kubectl: str, mirror: Path) -> list[dict[str, Any]]:
    """Upstream's env/platform-agnostic alone, without the kit's component: the baseline it changes."""
    return render_from_mirror(KFP, mirror, patch=without_components)
