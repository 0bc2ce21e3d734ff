"""Versions the kit needs at run time, in one place.

Python packages are pinned in pyproject.toml only; what must match inside images (kfp) is read from the
installed metadata so the two can never drift apart.
"""

from __future__ import annotations

from importlib.metadata import version

from components.common.images import COMPONENTS_IMAGE, KIT_VERSION, TFX_IMAGE

__all__ = ["COMPONENTS_IMAGE", "KIT_VERSION", "TFX_IMAGE", "kfp_version"]

PYTHON_SUPPORTED = ((3, 10), (3, 13))


def kfp_version() -> str:
    return version("kfp")
