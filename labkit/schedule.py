"""Recurring runs on a KFP cluster: the request ``labkit schedule create`` sends through ``kfp.Client``.

Building the request is plain code (unit-tested); sending it needs a reachable KFP API.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from labkit.environments import Environment
from labkit.registry import PipelineEntry


class ScheduleError(ValueError):
    pass


@dataclass(frozen=True)
class RecurringRunRequest:
    job_name: str
    experiment: str
    namespace: str
    description: str
    pipeline_package_path: str
    params: dict[str, Any] = field(default_factory=dict)
    cron_expression: str | None = None
    interval_second: int | None = None
    max_concurrency: int = 1
    no_catchup: bool = True
    enable_caching: bool = False  # every tick must look at the new batch, never reuse yesterday's outputs

    def client_kwargs(self, experiment_id: str) -> dict[str, Any]:
        """Keyword arguments of ``kfp.Client.create_recurring_run``."""
        kwargs = asdict(self)
        for local_only in ("experiment", "namespace"):
            kwargs.pop(local_only)
        return {"experiment_id": experiment_id, **kwargs}


def check_cron(expression: str) -> str:
    """KFP's scheduler takes 6-field cron (seconds first); a 5-field crontab line is a common slip."""
    fields = expression.split()
    if len(fields) == 5:
        raise ScheduleError(f"cron {expression!r} has 5 fields; KFP expects 6 with seconds first: use '0 {expression}'")
    if len(fields) != 6:
        raise ScheduleError(f"cron {expression!r} must have 6 fields (sec min hour day month weekday)")
    return expression


def build_request(
    entry: PipelineEntry,
    environment: Environment,
    package: Path,
    cron: str | None = None,
    interval_seconds: int | None = None,
    params: dict[str, Any] | None = None,
    name: str | None = None,
    max_concurrency: int = 1,
) -> RecurringRunRequest:
    if (cron is None) == (interval_seconds is None):
        raise ScheduleError("give exactly one of a cron expression or an interval in seconds")
    if interval_seconds is not None and interval_seconds < 60:
        raise ScheduleError(f"interval must be at least 60 seconds, got {interval_seconds}")
    if max_concurrency < 1:
        raise ScheduleError("max concurrency must be at least 1")
    every = f"cron '{cron}'" if cron else f"every {interval_seconds} s"
    return RecurringRunRequest(
        job_name=name or f"{entry.name}-{environment.name}",
        experiment=environment.experiment,
        namespace=environment.namespace,
        description=f"{entry.description} [{environment.name}, {every}, by labkit schedule create]",
        pipeline_package_path=str(package),
        params=environment.params_for(entry, params),
        cron_expression=check_cron(cron) if cron else None,
        interval_second=interval_seconds,
        max_concurrency=max_concurrency,
    )


def create_recurring_run(client: Any, request: RecurringRunRequest) -> str:
    """Create (or reuse) the experiment in the environment's namespace, then the recurring run; return its id."""
    experiment = client.create_experiment(name=request.experiment, namespace=request.namespace)
    created = client.create_recurring_run(**request.client_kwargs(experiment.experiment_id))
    return created.recurring_run_id
