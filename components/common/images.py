"""Names of the kit's container images.

Components name their image here (and not in labkit) because component code ships inside images that do
not contain the CLI. Tags follow the kit version and are never ``latest``.
"""

from __future__ import annotations

KIT_VERSION = "0.1.0"
COMPONENTS_IMAGE = f"labkit-components:{KIT_VERSION}"
TFX_IMAGE = f"labkit-tfx:{KIT_VERSION}"
