"""A local stand-in for upstream KFP 2.17.0's env/platform-agnostic, so the kit's component renders offline.

Only what the kit's patches touch, with upstream's names, ports and images (read from kubeflow/pipelines
manifests/kustomize at 2.17.0; the base images carry the placeholder tag `dummy` that upstream's own `images:`
replaces). Written for the tests, not copied: containers carry no more than a name, an image and, where upstream
sets them, its resource requests.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from labkit.paths import REPO_ROOT

# name -> (container image, upstream requests or None)
UPSTREAM_DEPLOYMENTS: dict[str, tuple[str, dict[str, str] | None]] = {
    "ml-pipeline": ("ghcr.io/kubeflow/kfp-api-server:dummy", {"cpu": "250m", "memory": "500Mi"}),
    "ml-pipeline-ui": ("ghcr.io/kubeflow/kfp-frontend:dummy", {"cpu": "10m", "memory": "70Mi"}),
    "ml-pipeline-persistenceagent": (
        "ghcr.io/kubeflow/kfp-persistence-agent:dummy",
        {"cpu": "120m", "memory": "500Mi"},
    ),
    "ml-pipeline-scheduledworkflow": ("ghcr.io/kubeflow/kfp-scheduled-workflow-controller:dummy", None),
    "ml-pipeline-viewer-crd": ("ghcr.io/kubeflow/kfp-viewer-crd-controller:dummy", None),
    "metadata-writer": ("ghcr.io/kubeflow/kfp-metadata-writer:dummy", None),
    "metadata-envoy-deployment": ("ghcr.io/kubeflow/kfp-metadata-envoy:dummy", None),
    "cache-server": ("ghcr.io/kubeflow/kfp-cache-server:dummy", None),
    "mysql": ("mysql:8.4", {"cpu": "100m", "memory": "800Mi"}),
    "seaweedfs": ("chrislusf/seaweedfs:3.92", {"cpu": "32m", "memory": "128Mi"}),
}
UPSTREAM_SERVICES: dict[str, list[dict[str, Any]]] = {
    "ml-pipeline": [{"name": "http", "port": 8888}, {"name": "grpc", "port": 8887}],
    "ml-pipeline-ui": [{"port": 80, "targetPort": 3000}],
    "seaweedfs": [
        {"name": "http-s3", "port": 8333},
        {"name": "http-s3-compat", "port": 9000, "targetPort": 8333},
        {"name": "http-filer", "port": 8888},
    ],
}


def standin_documents() -> list[dict[str, Any]]:
    docs: list[dict[str, Any]] = []
    for name, (image, requests) in UPSTREAM_DEPLOYMENTS.items():
        container: dict[str, Any] = {"name": "main", "image": image}
        if requests:
            container["resources"] = {"requests": requests}
        docs.append(
            {
                "apiVersion": "apps/v1",
                "kind": "Deployment",
                "metadata": {"name": name, "namespace": "kubeflow"},
                "spec": {
                    "selector": {"matchLabels": {"app": name}},
                    "template": {"metadata": {"labels": {"app": name}}, "spec": {"containers": [container]}},
                },
            }
        )
    for name, ports in UPSTREAM_SERVICES.items():
        docs.append(
            {
                "apiVersion": "v1",
                "kind": "Service",
                "metadata": {"name": name, "namespace": "kubeflow"},
                "spec": {"selector": {"app": name}, "ports": ports},
            }
        )
    return docs


@pytest.fixture
def upstream_standin() -> list[dict[str, Any]]:
    return standin_documents()


@pytest.fixture
def laptop_overlay(tmp_path: Path) -> Path:
    """A kustomization: the stand-in as resources + the kit's real component (by relative path)."""
    (tmp_path / "upstream-standin.yaml").write_text(yaml.safe_dump_all(standin_documents()))
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
