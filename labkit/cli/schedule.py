"""``labkit schedule``: recurring runs of a pipeline on a Kubeflow Pipelines cluster."""

from __future__ import annotations

import tempfile
from pathlib import Path

import typer

from labkit.cli.common import console, fail

app = typer.Typer(help="Recurring runs on a KFP cluster (e.g. continuous training every hour).", no_args_is_help=True)


@app.command("create")
def create(
    name: str = typer.Argument("continuous-training", help="Pipeline to schedule (see `labkit pipeline list`)."),
    host: str = typer.Option(
        "http://localhost:8080", "--host", envvar="KFP_HOST", help="KFP API endpoint [env: KFP_HOST]."
    ),
    env: str = typer.Option("dev", "--env", "-e", help="dev, test or prod: namespace, experiment and parameters."),
    cron: str = typer.Option(None, "--cron", help="6-field cron, seconds first, e.g. '0 0 * * * *' = hourly."),
    every: int = typer.Option(None, "--every", help="Or: an interval in seconds (at least 60)."),
    param: list[str] = typer.Option([], "--param", "-p", help="Pipeline parameter KEY=VALUE; repeatable."),
    job_name: str = typer.Option(None, "--name", help="Recurring run name [default: PIPELINE-ENV]."),
    dry_run: bool = typer.Option(False, "--dry-run", help="Print the request without contacting the cluster."),
) -> None:
    """Compile a pipeline and create a recurring run for it through kfp.Client.

    Example: labkit schedule create continuous-training --env prod --cron '0 0 * * * *'
      --param batch=/data/incoming/latest.csv --param registry=/mnt/registry
    """
    import json

    from labkit.compiler import compile_pipeline
    from labkit.environments import UnknownEnvironmentError, get_environment
    from labkit.registry import ParameterError, UnknownPipelineError, get_pipeline, parse_params
    from labkit.schedule import ScheduleError, build_request, create_recurring_run

    try:
        entry = get_pipeline(name)
        environment = get_environment(env)
        params = parse_params(entry, param)
        package = compile_pipeline(entry, Path(tempfile.mkdtemp(prefix="labkit-schedule-")))
        request = build_request(
            entry, environment, package, cron=cron, interval_seconds=every, params=params, name=job_name
        )
    except (UnknownPipelineError, UnknownEnvironmentError, ParameterError, ScheduleError) as exc:
        fail(str(exc), "see `labkit schedule create --help`")
    if dry_run:
        console.print_json(json.dumps({"host": host, **request.__dict__}, default=str))
        return
    import kfp

    try:
        client = kfp.Client(host=host, namespace=environment.namespace)
        recurring_id = create_recurring_run(client, request)
    except Exception as exc:  # connection errors come from several libraries (urllib3, kfp_server_api)
        fail(
            f"could not create the recurring run on {host}: {exc}",
            "check that the KFP API answers (`kubectl -n kubeflow port-forward svc/ml-pipeline-ui 8080:80`) "
            "or pass --host / KFP_HOST",
        )
    console.print(f"[green]created[/] recurring run {request.job_name} ({recurring_id}) in {request.experiment}")
