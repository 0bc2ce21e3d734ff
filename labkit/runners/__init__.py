"""Runner lookup by the name given to ``--runner``."""

from __future__ import annotations

from labkit.runners.base import Runner, RunnerUnavailableError
from labkit.runners.cluster import ClusterRunner
from labkit.runners.local import DockerRunner, SubprocessRunner

RUNNERS: dict[str, type] = {"subprocess": SubprocessRunner, "docker": DockerRunner, "cluster": ClusterRunner}


def get_runner(name: str) -> Runner:
    try:
        return RUNNERS[name]()
    except KeyError:
        raise RunnerUnavailableError(f"unknown runner {name!r}; choose one of: {', '.join(RUNNERS)}") from None
