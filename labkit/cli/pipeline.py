"""``labkit pipeline``: list, compile, draw and run the kit's pipelines."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.markup import escape
from rich.progress import Progress, SpinnerColumn, TaskID, TextColumn, TimeElapsedColumn
from rich.table import Table

from labkit.backend_rules import BackendRejectError
from labkit.cli.common import OUTPUT_OPTION, OutputFormat, console, err_console, fail, print_rows
from labkit.compiler import DEFAULT_OUT, compile_pipeline
from labkit.paths import new_run_dir, runs_root
from labkit.registry import (
    PIPELINES,
    ParameterError,
    PipelineEntry,
    PipelineLoadError,
    UnknownPipelineError,
    parse_params,
    resolve_pipeline,
)
from labkit.run_page import write_pages
from labkit.runners import RUNNERS, get_runner
from labkit.runners.base import RunnerUnavailableError, RunResult, TaskEvent
from labkit.tfx import TfxCompileError

app = typer.Typer(help="List, compile, draw and run the kit's pipelines.", no_args_is_help=True)


def _entry(name: str):
    try:
        return resolve_pipeline(name)
    except (UnknownPipelineError, PipelineLoadError) as exc:
        fail(str(exc))


@app.command("list")
def list_pipelines(output: OutputFormat = OUTPUT_OPTION) -> None:
    """List the pipelines the kit can compile and run, with the course session each belongs to."""
    rows = [
        {"name": e.name, "session": e.session, "description": e.description}
        for e in sorted(PIPELINES.values(), key=lambda e: (e.session, e.name))
    ]
    print_rows(rows, output, title="Pipelines")


@app.command("compile")
def compile_command(
    name: str = typer.Argument(
        None, help="A kit pipeline (see `labkit pipeline list`), a lab (session-05) or your pipeline file."
    ),
    all_pipelines: bool = typer.Option(False, "--all", help="Compile every pipeline."),
    out: Path = typer.Option(DEFAULT_OUT, "--out", help="Folder for the IR YAML files."),
) -> None:
    """Compile pipelines to KFP IR YAML, the file you upload to Kubeflow Pipelines.

    Example: labkit pipeline compile --all --out build/pipelines
    """
    if bool(name) == all_pipelines:
        fail("give a pipeline NAME or --all (not both)", "labkit pipeline compile training")
    entries = list(PIPELINES.values()) if all_pipelines else [_entry(name)]
    failed: list[str] = []
    for entry in entries:
        try:
            if entry.kind == "tfx":  # TFX compiles in its image: a container start and TFX imports, ~10 s
                with err_console.status(f"compiling {entry.name} with KubeflowV2DagRunner (TFX image)"):
                    package = compile_pipeline(entry, out)
            else:
                package = compile_pipeline(entry, out)
        except (RunnerUnavailableError, TfxCompileError, BackendRejectError) as exc:
            # One pipeline that cannot compile here (e.g. TFX without Docker) must not stop the others.
            err_console.print(f"[bold red]error:[/] {entry.name}: {exc}")
            failed.append(entry.name)
            continue
        console.print(f"[green]compiled[/] {entry.name} -> {package}")
    if failed:
        fail(f"{len(failed)} pipeline(s) did not compile: {', '.join(failed)}", "see the errors above")


@app.command("show")
def show(
    name: str = typer.Argument(
        ..., help="A kit pipeline (training), a lab (session-05: your starter) or a pipeline file (my/pipeline.py)."
    ),
    out: Path = typer.Option(Path("build/dag"), "--out", help="Folder for NAME.png and NAME.svg."),
) -> None:
    """Draw the compiled DAG of a pipeline as PNG and SVG (tasks, data edges and dsl.If gates).

    Examples: labkit pipeline show training; labkit pipeline show labs/session-05/starter/pipeline.py
    """
    from labkit.dag import draw_pipeline

    entry = _entry(name)
    if entry.kind == "tfx":
        fail(
            f"{entry.name} is a TFX pipeline; `show` draws KFP pipelines only",
            f"labkit pipeline compile {entry.name}, then upload the YAML to the KFP UI to see its graph",
        )
    png, svg = draw_pipeline(entry, out)
    console.print(f"[green]drew[/] {entry.name}: {png} and {svg}")


class _TaskProgress:
    """Turns runner TaskEvents into one spinner line per task on stderr.

    A task of a ``dsl.ParallelFor`` runs once per item under the same name, so rows are kept per name in start
    order and each finish closes the oldest open one: no spinner is left turning.
    """

    def __init__(self, progress: Progress) -> None:
        self._progress = progress
        self._open: dict[str, list[TaskID]] = {}

    def __call__(self, event: TaskEvent) -> None:
        if event.state == "running":
            self._open.setdefault(event.task, []).append(self._progress.add_task(f"{event.task}", total=1))
            return
        mark = "[green]✓[/]" if event.state == "succeeded" else "[red]✗[/]"
        rows = self._open.get(event.task)
        if rows:
            self._progress.update(rows.pop(0), completed=1, description=f"{mark} {event.task}")


def _print_result(result: RunResult) -> None:
    table = Table(title=f"{result.pipeline} on {result.runner}: metrics")
    table.add_column("metric")
    table.add_column("value", justify="right")
    for key, value in sorted(result.metrics.items()):
        table.add_row(escape(key), f"{value:.4f}" if isinstance(value, float) else str(value))
    if result.metrics:
        console.print(table)
    else:  # e.g. a lab starter whose steps are not done yet: nothing computes metrics so far
        console.print(f"{result.pipeline} on {result.runner}: no metrics yet (no step of this pipeline reports any)")
    console.print(f"run folder: [bold]{result.run_dir}[/] (run.log, result.json and these artifacts):")
    for key, path in sorted(result.artifacts.items()):
        console.print(f"  {key:<24} {Path(path).resolve().relative_to(Path(result.run_dir).resolve())}", soft_wrap=True)
    console.print(f"wall time: {result.wall_seconds:.1f} s")
    if "kfp_run_id" in result.artifacts:  # cluster runs: artifacts stay in the cluster's object store
        console.print(
            f"KFP run {result.artifacts['kfp_run_url']}; `labkit artifacts ls {result.artifacts['kfp_run_id']}`"
        )


def _print_checks(result: RunResult) -> None:
    """Data anomalies and evaluation-gate failures: shown whether or not the run succeeded."""
    if result.anomalies:
        table = Table(title=f"ExampleValidator found {len(result.anomalies)} anomalies", title_style="bold yellow")
        for column in ("split", "feature", "severity", "problem", "detail"):
            table.add_column(column, overflow="fold")
        for row in result.anomalies:
            table.add_row(*(row[c] for c in ("split", "feature", "severity", "problem", "detail")))
        console.print(table)
        console.print("[yellow]the data does not match the schema inferred from the training split[/]")
    elif "blessed" in result.metrics:
        console.print("[green]ExampleValidator: no anomalies[/]")
    if "blessed" in result.metrics:
        if result.metrics["blessed"]:
            console.print("[bold green]model BLESSED[/] by the Evaluator: the Pusher published it")
        else:
            console.print("[bold red]model NOT BLESSED[/] by the Evaluator, so it was not pushed:")
            for line in result.gate_failures:
                console.print(f"  {line}", soft_wrap=True)


@app.command("run")
def run(
    name: str = typer.Argument(..., help="Pipeline to run (see `labkit pipeline list`)."),
    runner: str = typer.Option(
        None,
        "--runner",
        "-r",
        help=f"Where tasks run: {', '.join(RUNNERS)} (default: subprocess; docker for TFX pipelines).",
    ),
    param: list[str] = typer.Option([], "--param", "-p", help="Pipeline parameter KEY=VALUE; repeatable."),
    runs_dir: Path = typer.Option(None, "--runs-dir", help="Parent folder of run folders (default: ./runs)."),
    env: str = typer.Option(
        None, "--env", "-e", help="dev, test or prod: that environment's parameters (a --param still wins)."
    ),
    output: OutputFormat = OUTPUT_OPTION,
) -> None:
    """Run a pipeline and print its metrics.

    Example: labkit pipeline run training --param epochs=20 --param seed=7
    Example: labkit pipeline run training --env dev   (dev's parameters: 5 epochs)

    Every run gets its own folder (printed at the end) with the artifacts, run.log and result.json.

    TFX pipelines (tfx-penguin) run with LocalDagRunner inside the TFX image: --runner docker.
    Example: labkit pipeline run tfx-penguin --runner docker --param data=skewed
    (data: palmerpenguins, skewed, or a folder of your own train/*.csv and eval/*.csv)
    """
    entry = _entry(name)
    runner = runner or ("docker" if entry.kind == "tfx" else "subprocess")
    run_and_report(entry, runner, param, runs_dir, output, env)


def run_and_report(
    entry: PipelineEntry,
    runner: str,
    param: list[str],
    runs_dir: Path | None,
    output: OutputFormat,
    env: str | None = None,
) -> RunResult:
    """Run ``entry`` with progress on stderr, then print its metrics (or JSON) and exit 1 if it failed."""
    try:
        params = parse_params(entry, param)
        if env is not None:
            from labkit.environments import get_environment

            params = get_environment(env).params_for(entry, params)
        chosen = get_runner(runner, entry)
    except PipelineLoadError as exc:
        fail(str(exc), "fix the pipeline file; `labkit pipeline compile` shows the same error")
    except (ParameterError, LookupError) as exc:
        fail(str(exc), "pass parameters as --param KEY=VALUE; see `labkit pipeline run --help`")
    except RunnerUnavailableError as exc:
        fail(str(exc))
    run_dir = new_run_dir(entry.name, runs_dir or runs_root())
    columns = (SpinnerColumn(finished_text=""), TextColumn("{task.description}"), TimeElapsedColumn())
    try:
        with Progress(*columns, console=err_console, transient=False) as progress:
            progress.console.print(f"running [bold]{entry.name}[/] with the {runner} runner in {run_dir}")
            result = chosen.run(entry, params, run_dir, _TaskProgress(progress))
    except RunnerUnavailableError as exc:
        fail(str(exc))
    result.parameters = entry.arguments(params)
    result.save()
    from labkit.dag import run_graph

    page, _ = write_pages(run_dir, run_graph(entry, run_dir))
    if output is OutputFormat.json:
        typer.echo(result.to_json(indent=None))
    else:
        if result.succeeded:
            _print_result(result)
        _print_checks(result)
        console.print(f"run page: {page} (`labkit runs open {entry.name}/{run_dir.name}`)", soft_wrap=True)
    if not result.succeeded:
        fail(
            f"task {result.failed_task!r} failed: {result.error}" if result.failed_task else str(result.error),
            f"read the task's full output in {result.log_file}",
        )
    return result
