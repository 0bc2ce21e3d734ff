"""``labkit runs``: the history of local runs, read from the run folders (no database, no server)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import typer
from rich.markup import escape
from rich.table import Table

from labkit.cli.common import OUTPUT_OPTION, OutputFormat, console, fail
from labkit.paths import runs_root
from labkit.runs import RunRecord, UnknownRunError, compare_runs, find_runs, resolve_run

app = typer.Typer(help="Past runs: list them, show one, compare several side by side.", no_args_is_help=True)

RUNS_DIR_OPTION = typer.Option(None, "--runs-dir", help="Parent folder of run folders (default: ./runs).")
KEY_METRICS = 3


def _value(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    return "-" if value is None else str(value)


def _key_metrics(record: RunRecord) -> str:
    """A few numbers to tell runs apart: the model's own before baselines, slices and differences."""
    numbers = [(k, v) for k, v in record.metrics.items() if isinstance(v, int | float) and not isinstance(v, bool)]
    numbers.sort(key=lambda item: (item[0].startswith(("baseline", "diff/")) or "[" in item[0], item[0]))
    return ", ".join(f"{k}={_value(v)}" for k, v in numbers[:KEY_METRICS]) or "-"


def _records(references: list[str], root: Path) -> list[RunRecord]:
    try:
        return [resolve_run(reference, root) for reference in references]
    except UnknownRunError as exc:
        fail(str(exc))


@app.command("list")
def list_command(
    pipeline: str = typer.Option(None, "--pipeline", "-p", help="Only the runs of this pipeline (e.g. session-05)."),
    runs_dir: Path = RUNS_DIR_OPTION,
    output: OutputFormat = OUTPUT_OPTION,
) -> None:
    """Every run under ./runs, oldest first: pipeline, runner, start, duration, state, key metrics, folder.

    Example: labkit runs list --pipeline training
    """
    root = (runs_dir or runs_root()).resolve()
    records = find_runs(root, pipeline)
    if output is OutputFormat.json:
        typer.echo(json.dumps([r.to_dict() for r in records], indent=2, default=str))
        return
    if not records:
        console.print(f"no runs under {root} yet: `labkit pipeline run training` makes one")
        return
    table = Table(title=f"runs in {root}")
    on_cluster = any(r.ui_url for r in records)
    for column in ("run", "runner", "started", "seconds", "state", "metrics", *(["KFP UI"] if on_cluster else [])):
        table.add_column(column, overflow="fold")
    for r in records:
        table.add_row(
            r.name,
            r.runner,
            r.started.strftime("%Y-%m-%d %H:%M:%S") if r.started else "-",
            _value(r.wall_seconds),
            r.state if r.state != "failed" else f"[red]failed at {r.failed_task or '?'}[/]",
            escape(_key_metrics(r)),
            *([r.ui_url or "-"] if on_cluster else []),
        )
    console.print(table)


@app.command("show")
def show(
    run: str = typer.Argument(..., help="A run folder, pipeline/folder, or the start of its folder name."),
    runs_dir: Path = RUNS_DIR_OPTION,
    output: OutputFormat = OUTPUT_OPTION,
) -> None:
    """One run: its tasks with durations, the failing task's error, parameters, metrics and artifacts.

    Example: labkit runs show training/20261202-101500-ab12
    """
    (record,) = _records([run], (runs_dir or runs_root()).resolve())
    if output is OutputFormat.json:
        typer.echo(json.dumps(record.to_dict(), indent=2, default=str))
        return
    console.print(f"[bold]{record.name}[/] ({record.runner} runner): {record.state}, {_value(record.wall_seconds)} s")
    if record.ui_url:
        console.print(f"in the KFP UI: {record.ui_url}", soft_wrap=True)
    tasks = Table(title="tasks")
    for column in ("task", "state", "seconds"):
        tasks.add_column(column)
    for task, (state, seconds) in record.task_states().items():
        tasks.add_row(task, f"[{'red' if state == 'failed' else 'green'}]{state}[/]", _value(seconds))
    console.print(tasks)
    if record.error:
        console.print(f"[red]error[/] in {record.failed_task or 'the run'}: {escape(record.error)}", soft_wrap=True)
        console.print(f"full output: {record.log_file}")
    for failure in record.gate_failures:
        console.print(f"[red]gate[/]: {escape(failure)}", soft_wrap=True)
    if record.anomalies:
        anomalies = Table(title=f"data anomalies ({len(record.anomalies)})")
        headers = list(dict.fromkeys(key for row in record.anomalies for key in row))
        for column in headers:
            anomalies.add_column(column, overflow="fold")
        for row in record.anomalies:
            anomalies.add_row(*(escape(str(row.get(key, ""))) for key in headers))
        console.print(anomalies)
    for title, values in (("parameters", record.parameters), ("metrics", record.metrics)):
        table = Table(title=title)
        table.add_column("name")
        table.add_column("value", justify="right")
        for key, value in sorted(values.items()):
            table.add_row(escape(key), escape(_value(value)))
        console.print(table)
    for key, path in sorted(record.artifacts.items()):
        console.print(f"  {key:<24} {path}", soft_wrap=True)


@app.command("compare")
def compare(
    runs: list[str] = typer.Argument(..., help="Two or more runs (folders, pipeline/folder, or name prefixes)."),
    runs_dir: Path = RUNS_DIR_OPTION,
    output: OutputFormat = OUTPUT_OPTION,
) -> None:
    """Parameters and metrics of several runs side by side; what differs is highlighted.

    Example: labkit runs compare training/20261202-101500-ab12 training/20261202-102210-cd34
    """
    if len(runs) < 2:
        fail("compare needs at least two runs", "`labkit runs list` shows their names")
    records = _records(runs, (runs_dir or runs_root()).resolve())
    rows = compare_runs(records)
    if output is OutputFormat.json:
        payload = {
            "runs": [r.name for r in records],
            "rows": [{"section": r.section, "key": r.key, "values": r.values, "differs": r.differs} for r in rows],
        }
        typer.echo(json.dumps(payload, indent=2, default=str))
        return
    table = Table(title="runs compared (differences in yellow)")
    table.add_column("")
    table.add_column("name")
    for record in records:
        table.add_column(record.name, justify="right", overflow="fold")
    for row in rows:
        style = "bold yellow" if row.differs else ""
        table.add_row(row.section, escape(row.key), *(escape(_value(v)) for v in row.values), style=style)
    console.print(table)


@app.command("open")
def open_command(
    run: str = typer.Argument(None, help="A run (folder, pipeline/folder or name prefix); none: the index."),
    runs_dir: Path = RUNS_DIR_OPTION,
) -> None:
    """Open a run's page (or the index of all runs) in the browser; prints the file where there is none.

    Example: labkit runs open training/20261202-101500-ab12
    """
    import webbrowser

    from labkit.run_page import INDEX_NAME, PAGE_NAME, write_pages

    root = (runs_dir or runs_root()).resolve()
    if run is None:
        newest = find_runs(root)
        if not newest:
            fail(f"no runs under {root} yet", "`labkit pipeline run training` makes one")
        _, page = write_pages(newest[-1].folder)
    else:
        (record,) = _records([run], root)
        page, _ = write_pages(record.folder)
    console.print(f"{PAGE_NAME if run else INDEX_NAME}: {page}", soft_wrap=True)
    if not webbrowser.open(page.as_uri()):
        console.print("no browser found here: open that file on a machine that has one")
