"""Runner lookup by the name given to ``--runner``."""

from __future__ import annotations

from labkit.registry import PipelineEntry
from labkit.runners.base import Runner, RunnerUnavailableError
from labkit.runners.cluster import ClusterRunner
from labkit.runners.local import DockerRunner, SubprocessRunner

RUNNERS: dict[str, type] = {"subprocess": SubprocessRunner, "docker": DockerRunner, "cluster": ClusterRunner}


def get_runner(name: str, entry: PipelineEntry | None = None) -> Runner:
    if entry is not None and entry.kind == "tfx":
        return _tfx_runner(name, entry)
    try:
        return RUNNERS[name]()
    except KeyError:
        raise RunnerUnavailableError(f"unknown runner {name!r}; choose one of: {', '.join(RUNNERS)}") from None


def _tfx_runner(name: str, entry: PipelineEntry) -> Runner:
    """TFX pipelines run with LocalDagRunner inside the TFX image (TFX does not install on the host), or on the
    cluster from the spec KubeflowV2DagRunner compiles in that image."""
    from labkit.tfx import TfxDockerRunner
    from labkit.versions import TFX_IMAGE

    if name == "cluster":
        return ClusterRunner()
    if name != "docker":
        raise RunnerUnavailableError(
            f"{entry.name} is a TFX pipeline: it runs with TFX's LocalDagRunner inside the TFX image "
            f"({TFX_IMAGE}), or on the cluster, not with the {name!r} runner. Use --runner docker."
        )
    return TfxDockerRunner()
