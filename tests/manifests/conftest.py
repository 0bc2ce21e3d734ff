"""The kit's laptop component rendered offline over a local stand-in of upstream KFP (labkit.manifests)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from labkit.manifests import upstream_standin_documents
from labkit.paths import REPO_ROOT


@pytest.fixture(scope="session")
def kubectl() -> str:
    """Rendering needs `kubectl kustomize`; without kubectl these tests skip and say how to get it."""
    import shutil

    from labkit.cluster import kubectl_install_command

    found = shutil.which("kubectl")
    if not found:
        pytest.skip(f"kubectl not on PATH (renders the kustomizations offline): {kubectl_install_command()}")
    return found


@pytest.fixture
def upstream_standin() -> list[dict[str, Any]]:
    return upstream_standin_documents()


@pytest.fixture
def laptop_overlay(tmp_path: Path, kubectl: str) -> Path:
    """A kustomization: the stand-in as resources + the kit's real component (by relative path)."""
    (tmp_path / "upstream-standin.yaml").write_text(yaml.safe_dump_all(upstream_standin_documents()))
    component = REPO_ROOT / "manifests" / "kfp" / "laptop"
    (tmp_path / "kustomization.yaml").write_text(
        yaml.safe_dump(
            {
                "apiVersion": "kustomize.config.k8s.io/v1beta1",
                "kind": "Kustomization",
                "resources": ["upstream-standin.yaml"],
                "components": [str(Path(_relpath(component, tmp_path)))],
            }
        )
    )
    return tmp_path


def _relpath(target: Path, start: Path) -> str:
    import os

    # kustomize refuses absolute paths to components; a relative path from the temp dir works.
    return os.path.relpath(target, start)
