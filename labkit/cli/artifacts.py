"""``labkit artifacts``: list and download a cluster run's artifacts from the cluster's object store."""

from __future__ import annotations

from pathlib import Path

import typer

from labkit.artifacts import ArtifactStoreError, config_from_cluster, download_run_artifacts, list_run_artifacts
from labkit.artifacts import make_client as _make_client
from labkit.cli.common import OUTPUT_OPTION, OutputFormat, console, err_console, fail, print_rows

app = typer.Typer(
    help=(
        "Artifacts of pipeline runs on the cluster (datasets, models, metrics), read from its object store "
        "(SeaweedFS) with the credentials in the cluster's secret."
    ),
    no_args_is_help=True,
)

RUN_ID = typer.Argument(..., help="Run id, as printed by `labkit pipeline run NAME --runner cluster`.")
CONTEXT = typer.Option(None, "--context", help="kubeconfig context [default: the current one, kind-labkit].")


def _client(context: str | None):
    try:
        return _make_client(config_from_cluster(context=context))
    except ArtifactStoreError as exc:
        fail(str(exc), "labkit cluster status")


@app.command("ls")
def ls(run_id: str = RUN_ID, context: str = CONTEXT, output: OutputFormat = OUTPUT_OPTION) -> None:
    """List the objects a run wrote, by task.

    Example: labkit artifacts ls 0d3c6a4e-5f1b-4c2e-9a7d-1b2c3d4e5f60
    """
    client = _client(context)
    try:
        artifacts = list_run_artifacts(client, run_id)
    except ArtifactStoreError as exc:
        fail(str(exc), "labkit cluster status")
    if not artifacts:
        fail(f"no artifacts for run {run_id!r}", "check the id in the KFP UI (Runs) or in the runner's output")
    rows = [{"task": a.task, "name": a.name, "bytes": a.size, "key": a.key} for a in artifacts]
    print_rows(rows, output, title=f"Artifacts of run {run_id}")


@app.command("get")
def get(
    run_id: str = RUN_ID,
    task: str = typer.Option(None, "--task", "-t", help="Only this task's artifacts (e.g. train)."),
    dest: Path = typer.Option(Path("artifacts"), "--dest", help="Download into DEST/RUN_ID/<task>/..."),
    context: str = CONTEXT,
) -> None:
    """Download a run's artifacts to disk.

    Example: labkit artifacts get RUN_ID --task train --dest downloads
    """
    client = _client(context)
    try:
        written = download_run_artifacts(client, run_id, dest / run_id, task=task)
    except ArtifactStoreError as exc:
        fail(str(exc), "labkit cluster status")
    if not written:
        fail(f"nothing to download for run {run_id!r}" + (f" and task {task!r}" if task else ""), "labkit artifacts ls")
    for path in written:
        err_console.print(f"[green]got[/] {path}")
    console.print(f"{len(written)} file(s) in {dest / run_id}")
