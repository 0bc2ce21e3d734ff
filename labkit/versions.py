"""Versions the kit needs at run time, in one place.

Python packages are pinned in pyproject.toml only; what must match inside images (kfp) is read from the
installed metadata so the two can never drift apart.
"""

from __future__ import annotations

from importlib.metadata import version

from components.common.images import COMPONENTS_IMAGE, KIT_VERSION, TFX_IMAGE

__all__ = ["BASE_IMAGE", "COMPONENTS_IMAGE", "KIT_VERSION", "PUBLIC_BASE_IMAGE", "TFX_IMAGE", "kfp_version"]

PYTHON_SUPPORTED = ((3, 10), (3, 13))

# Bases of the kit's images. The Dockerfiles default to the public one (students build them unchanged);
# where no registry is reachable, scripts/build-base-image.sh makes the local one from Debian packages.
PUBLIC_BASE_IMAGE = "python:3.12-slim"
BASE_IMAGE = "labkit-base:trixie"


def kfp_version() -> str:
    return version("kfp")


# Cluster tooling (issue: the cluster). The kind node image is pinned by digest in manifests/kind/.
KIND_VERSION = "v0.27.0"
KUBECTL_VERSION = "v1.32.2"
KUBERNETES_VERSION = "1.32.2"
KFP_MANIFESTS_REF = "2.17.0"
