"""dev / test / prod: where runs go on a cluster and which parameters each pipeline gets there.

The same pipeline code runs in every environment; only these settings differ. ``labkit pipeline run --env``
and ``labkit schedule create --env`` apply them; a ``--param`` given on the command line always wins.

- dev: fast feedback (few epochs), its own namespace and model name, so nothing it pushes reaches serving;
- test: the CI environment: realistic settings, still a separate model name;
- prod: full training, strict thresholds; its model name ``penguins`` is the one TF Serving loads.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from labkit.registry import PipelineEntry


class UnknownEnvironmentError(LookupError):
    pass


@dataclass(frozen=True)
class Environment:
    name: str
    namespace: str  # Kubernetes namespace of the KFP profile
    experiment: str  # KFP experiment runs are grouped under
    params: dict[str, dict[str, Any]] = field(default_factory=dict)  # pipeline name -> parameter defaults

    def params_for(self, entry: PipelineEntry, explicit: dict[str, Any] | None = None) -> dict[str, Any]:
        """This environment's parameters for ``entry`` (only those it accepts), overridden by ``explicit``."""
        accepted = entry.parameters()
        merged = {k: v for k, v in self.params.get(entry.name, {}).items() if k in accepted}
        merged.update(explicit or {})
        return merged


ENVIRONMENTS: dict[str, Environment] = {
    env.name: env
    for env in (
        Environment(
            name="dev",
            namespace="labkit-dev",
            experiment="labkit-dev",
            params={
                "training": {"epochs": 5, "accuracy_threshold": 0.5},
                "continuous-training": {"epochs": 5, "model_name": "penguins-dev"},
                "sweep": {"epochs": 5},
            },
        ),
        Environment(
            name="test",
            namespace="labkit-test",
            experiment="labkit-test",
            params={
                "training": {"epochs": 20, "accuracy_threshold": 0.85},
                "continuous-training": {"epochs": 20, "model_name": "penguins-test"},
                "sweep": {"epochs": 20},
            },
        ),
        Environment(
            name="prod",
            namespace="labkit-prod",
            experiment="labkit-prod",
            params={
                "training": {"epochs": 40, "accuracy_threshold": 0.9},
                "continuous-training": {"epochs": 40, "model_name": "penguins", "min_improvement": 0.01},
                "sweep": {"epochs": 40},
            },
        ),
    )
}


def get_environment(name: str) -> Environment:
    try:
        return ENVIRONMENTS[name]
    except KeyError:
        raise UnknownEnvironmentError(
            f"no environment named {name!r}; choose one of: {', '.join(ENVIRONMENTS)}"
        ) from None
