"""dev/test/prod settings and the recurring-run request sent to kfp.Client (no cluster can run here)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from labkit.cli import app
from labkit.environments import ENVIRONMENTS, UnknownEnvironmentError, get_environment
from labkit.registry import get_pipeline
from labkit.schedule import ScheduleError, build_request, check_cron, create_recurring_run


def test_each_environment_has_its_own_namespace_experiment_and_model_name() -> None:
    assert [e.namespace for e in ENVIRONMENTS.values()] == ["labkit-dev", "labkit-test", "labkit-prod"]
    models = {e.params["continuous-training"]["model_name"] for e in ENVIRONMENTS.values()}
    assert len(models) == 3 and "penguins" in models  # only prod pushes to the model TF Serving loads
    assert ENVIRONMENTS["dev"].params["training"]["epochs"] < ENVIRONMENTS["prod"].params["training"]["epochs"]


def test_every_environment_parameter_exists_in_its_pipeline() -> None:
    for environment in ENVIRONMENTS.values():
        for pipeline, params in environment.params.items():
            assert set(params) <= set(get_pipeline(pipeline).parameters()), (environment.name, pipeline)


def test_explicit_parameters_win_over_the_environment() -> None:
    entry = get_pipeline("training")
    assert get_environment("dev").params_for(entry, {"epochs": 9}) == {"epochs": 9, "accuracy_threshold": 0.5}
    with pytest.raises(UnknownEnvironmentError, match="dev, test, prod"):
        get_environment("staging")


def test_request_carries_the_environment_and_never_caches(tmp_path: Path) -> None:
    entry = get_pipeline("continuous-training")
    request = build_request(
        entry, get_environment("prod"), tmp_path / "p.yaml", cron="0 0 * * * *", params={"batch": "/data/b.csv"}
    )
    kwargs = request.client_kwargs("exp-1")
    assert kwargs["experiment_id"] == "exp-1"
    assert kwargs["job_name"] == "continuous-training-prod"
    assert kwargs["cron_expression"] == "0 0 * * * *" and kwargs["interval_second"] is None
    assert kwargs["params"]["model_name"] == "penguins" and kwargs["params"]["batch"] == "/data/b.csv"
    assert kwargs["enable_caching"] is False and kwargs["no_catchup"] is True
    assert "namespace" not in kwargs  # create_recurring_run takes no namespace; the experiment carries it


@pytest.mark.parametrize(
    ("cron", "every", "message"),
    [
        ("0 * * * *", None, "use '0 0 \\* \\* \\* \\*'"),
        (None, None, "exactly one"),
        ("0 0 * * * *", 3600, "exactly one"),
        (None, 10, "at least 60"),
    ],
)
def test_bad_schedules_are_explained(tmp_path: Path, cron: str | None, every: int | None, message: str) -> None:
    with pytest.raises(ScheduleError, match=message):
        build_request(get_pipeline("training"), get_environment("dev"), tmp_path / "p.yaml", cron, every)


def test_check_cron_accepts_six_fields() -> None:
    assert check_cron("0 */5 * * * *") == "0 */5 * * * *"


@dataclass
class _Created:
    experiment_id: str = ""
    recurring_run_id: str = ""


class RecordingClient:
    """Stands in for kfp.Client, which needs a KFP API server that cannot run on this machine."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, dict[str, Any]]] = []

    def create_experiment(self, **kwargs: Any) -> _Created:
        self.calls.append(("create_experiment", kwargs))
        return _Created(experiment_id="exp-42")

    def create_recurring_run(self, **kwargs: Any) -> _Created:
        self.calls.append(("create_recurring_run", kwargs))
        return _Created(recurring_run_id="rr-7")


def test_create_sends_experiment_then_recurring_run(tmp_path: Path) -> None:
    import inspect

    import kfp

    request = build_request(
        get_pipeline("training"), get_environment("test"), tmp_path / "p.yaml", interval_seconds=3600
    )
    client = RecordingClient()
    assert create_recurring_run(client, request) == "rr-7"
    (first, experiment), (second, recurring) = client.calls
    assert (first, experiment) == ("create_experiment", {"name": "labkit-test", "namespace": "labkit-test"})
    assert second == "create_recurring_run" and recurring["experiment_id"] == "exp-42"
    # Every keyword we send exists in the real kfp.Client signature (catches kfp API drift on upgrades).
    assert set(recurring) <= set(inspect.signature(kfp.Client.create_recurring_run).parameters)
    assert set(experiment) <= set(inspect.signature(kfp.Client.create_experiment).parameters)


def test_schedule_dry_run_compiles_and_prints_the_request() -> None:
    result = CliRunner().invoke(
        app, ["schedule", "create", "continuous-training", "--env", "dev", "--every", "3600", "--dry-run"]
    )
    assert result.exit_code == 0, result.output
    assert "labkit-dev" in result.output and "penguins-dev" in result.output


def test_pipeline_run_names_an_unknown_environment(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["pipeline", "run", "training", "--env", "staging", "--runs-dir", str(tmp_path)])
    assert result.exit_code == 1
    assert "staging" in result.output and "dev, test, prod" in result.output
    assert not list(tmp_path.iterdir())  # failed before creating a run folder
