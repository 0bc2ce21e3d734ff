"""``labkit monitor``: watch a model over a stream of batches (drift, accuracy, retraining, pushes)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import typer
from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

from labkit.cli.common import console, err_console, fail
from labkit.registry import ParameterError, PipelineLoadError, UnknownPipelineError, parse_params, resolve_pipeline

if TYPE_CHECKING:
    from labkit.monitor import BatchOutcome

app = typer.Typer(help="Monitoring over time: drift, accuracy, retraining and pushes along a batch stream.")


@app.command("simulate")
def simulate(
    batches: int = typer.Option(
        8, "--batches", "-n", help="Batches in the stream (batch 0 trains the first champion)."
    ),
    out: Path = typer.Option(Path("build/monitor"), "--out", help="Folder for batches, registry, runs and timeline."),
    runner: str = typer.Option("subprocess", "--runner", "-r", help="Where each pipeline run executes."),
    rows: int = typer.Option(200, "--rows", help="Penguins per batch."),
    seed: int = typer.Option(0, "--seed", help="Seed of the batch stream."),
    param: list[str] = typer.Option(
        [], "--param", "-p", help="continuous-training parameter KEY=VALUE, e.g. epochs=20; repeatable."
    ),
    pipeline: str = typer.Option(
        "continuous-training",
        "--pipeline",
        help="The pipeline run on each batch: the kit's, your lab (session-07) or a pipeline file.",
    ),
) -> None:
    """Run the continuous-training pipeline on each batch and draw the timeline.

    Writes OUT/timeline.png and OUT/timeline.html (accuracy, drift scores, retrain and push events), plus
    OUT/batches, OUT/registry (versioned models, `champion` pointer) and one run folder per batch.
    Start from an empty OUT to begin with no champion.

    Example: labkit monitor simulate --batches 8 --param epochs=20
    Example: labkit monitor simulate --pipeline session-07   (your lab-7 starter instead of the kit's pipeline)
    """
    from labkit.monitor import MonitorError
    from labkit.monitor import simulate as run_loop
    from labkit.runners.base import RunnerUnavailableError

    try:
        entry = resolve_pipeline(pipeline)
        params = parse_params(entry, param)
    except (UnknownPipelineError, PipelineLoadError) as exc:
        fail(str(exc))
    except ParameterError as exc:
        fail(str(exc), f"see `labkit pipeline show {pipeline}` for its parameters")
    for reserved in ("batch", "registry"):
        if reserved in params:
            fail(f"--param {reserved}=... is set by the monitor itself", "drop it; use --out to choose the folder")
    if (out / "registry").exists():
        err_console.print(f"[yellow]note:[/] reusing the registry in {out / 'registry'} (its champion stays)")
    outcomes: list[BatchOutcome] = []
    columns = (SpinnerColumn(finished_text=""), TextColumn("{task.description}"), TimeElapsedColumn())
    with Progress(*columns, console=err_console) as progress:
        current = progress.add_task("batch 0", total=batches)

        def on_batch(outcome: BatchOutcome) -> None:
            outcomes.append(outcome)
            events = _events(outcome)
            progress.console.print(f"batch {outcome.index}: drift {'YES' if outcome.drifted else 'no'}, {events}")
            progress.update(current, advance=1, description=f"batch {outcome.index + 1}")

        try:
            run_loop(out, batches, runner=runner, rows=rows, seed=seed, params=params, on_batch=on_batch, entry=entry)
        except (MonitorError, RunnerUnavailableError) as exc:
            fail(str(exc), "read the run's log named above")
    console.print(_timeline_table(outcomes))
    console.print(f"[green]timeline[/]: {out / 'timeline.png'} and {out / 'timeline.html'}")


def _events(outcome: BatchOutcome) -> str:
    words = [word for word, flag in (("retrained", outcome.retrained), ("pushed", outcome.pushed)) if flag]
    return ", ".join(words) or "kept champion"


def _timeline_table(outcomes: list[BatchOutcome]) -> Table:
    """One row per batch; rich folds the long cells (the drifted features) to the terminal's width."""
    table = Table(title="monitor: one pipeline run per batch")
    for column, justify in (("batch", "right"), ("drift", "left"), ("drifted features", "left")):
        table.add_column(column, justify=justify, overflow="fold")
    for column in ("accuracy before", "events", "champion"):
        table.add_column(column, justify="right" if column.startswith("accuracy") else "left", overflow="fold")
    for outcome in outcomes:
        before = f"{outcome.accuracy_before:.3f}" if outcome.accuracy_before is not None else "-"
        table.add_row(
            str(outcome.index),
            "YES" if outcome.drifted else "no",
            ", ".join(outcome.drifted_features) or "-",
            before,
            _events(outcome),
            outcome.champion_after or "-",
        )
    return table
