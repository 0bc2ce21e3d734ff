"""Versions the kit needs at run time, in one place.

Python packages are pinned in pyproject.toml only; what must match inside images (kfp) is read from the
installed metadata so the two can never drift apart.
"""

from __future__ import annotations

from importlib.metadata import version

from components.common.images import COMPONENTS_IMAGE, KIT_VERSION, TFX_IMAGE

__all__ = ["BASE_IMAGE", "COMPONENTS_IMAGE", "KIT_VERSION", "PUBLIC_BASE_IMAGE", "TFX_IMAGE", "kfp_version"]

# Bases of the kit's images. The Dockerfiles default to the public one (students build them unchanged);
# where no registry is reachable, scripts/build-base-image.sh makes the local one from Debian packages.
PUBLIC_BASE_IMAGE = "python:3.12-slim"
BASE_IMAGE = "labkit-base:trixie"


def kfp_version() -> str:
    return version("kfp")


# Cluster tooling. kind v0.27.0's release notes list this node image for Kubernetes 1.32.2 (pinned by digest so
# a re-pushed tag cannot change the cluster); 1.32 matches the kubernetes-validate schemas pinned in pyproject.
# manifests/kind/kind-config.yaml repeats the image (kind reads no Python); a test keeps the two equal.
KIND_VERSION = "v0.27.0"
KIND_NODE_IMAGE = "kindest/node:v1.32.2@sha256:f226345927d7e348497136874b6d207e0b32cc52154ad8323129352923a3142f"
KUBECTL_VERSION = "v1.32.2"
KUBERNETES_VERSION = "1.32.2"
KFP_MANIFESTS_REF = "2.17.0"
