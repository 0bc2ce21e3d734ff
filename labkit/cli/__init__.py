"""The ``labkit`` command: noun-verb subcommands in the style of the kfp CLI."""

from __future__ import annotations

import typer

from labkit import __version__
from labkit.cli import (
    artifacts,
    cluster,
    data,
    doctor,
    grade,
    handout,
    image,
    lab,
    monitor,
    pipeline,
    runs,
    schedule,
    serve,
)

app = typer.Typer(
    name="labkit",
    help=(
        "Lab kit for Kubeflow Pipelines + TensorFlow (Machine Learning in Production, FCEN-UBA).\n\n"
        "Start with `labkit doctor`, then `labkit pipeline run training`."
    ),
    no_args_is_help=True,
    rich_markup_mode="rich",
    pretty_exceptions_enable=False,
)
app.add_typer(pipeline.app, name="pipeline")
app.add_typer(lab.app, name="lab")
app.add_typer(runs.app, name="runs")
app.add_typer(image.app, name="image")
image.app.command("load")(cluster.image_load)
app.add_typer(cluster.app, name="cluster")
app.add_typer(artifacts.app, name="artifacts")
app.add_typer(data.app, name="data")
app.add_typer(monitor.app, name="monitor")
app.add_typer(schedule.app, name="schedule")
app.add_typer(serve.app, name="serve")
app.command("doctor")(doctor.doctor)
app.add_typer(handout.app, name="handout")
app.command("grade")(grade.grade)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"labkit {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: bool = typer.Option(False, "--version", callback=_version, is_eager=True, help="Print the version."),
) -> None:
    pass


def main() -> None:
    app()
