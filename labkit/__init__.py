"""labkit: the core library and CLI of the Kubeflow Pipelines course lab kit."""

from components.common.images import KIT_VERSION as __version__

__all__ = ["__version__"]
