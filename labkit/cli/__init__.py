"""The ``labkit`` command: noun-verb subcommands in the style of the kfp CLI."""

from __future__ import annotations

import typer

from labkit import __version__
from labkit.cli import doctor, image, lab, pipeline

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
app.add_typer(image.app, name="image")
app.command("doctor")(doctor.doctor)


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
