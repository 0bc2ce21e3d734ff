"""``labkit monitor``: watch a model over a stream of batches (drift, accuracy, retraining, pushes; for a served
language model: prompt drift, latency, tokens and guardrail hits)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

import typer
from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

from labkit.cli.common import API_KEY_ENV_OPTION, OUTPUT_OPTION, OutputFormat, console, err_console, fail
from labkit.registry import ParameterError, PipelineLoadError, UnknownPipelineError, parse_params, resolve_pipeline

if TYPE_CHECKING:
    from labkit.genai_monitor import GenaiBatch
    from labkit.monitor import BatchOutcome

app = typer.Typer(
    help="Monitoring over time: drift, accuracy, retraining and pushes along a batch stream; a served language "
    "model's prompt drift, latency, tokens and guardrail hits."
)


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


@app.command("genai")
def genai(
    registry: Path = typer.Option(Path("build/genai-registry"), "--registry", help="The genai pipeline's registry."),
    version: str = typer.Option(None, "--version", help="A version such as v0002 (default: the champion)."),
    model_name: str = typer.Option("charlm", "--model-name", help="The model's name in the registry."),
    base_url: str = typer.Option(
        None,
        "--base-url",
        help="Monitor this OpenAI-compatible endpoint (e.g. http://127.0.0.1:8000/v1) instead of serving the "
        "registry's champion here.",
    ),
    model: str = typer.Option(None, "--model", help="Model name to ask --base-url for (a real provider needs one)."),
    api_key_env: str = API_KEY_ENV_OPTION,
    batches: int = typer.Option(8, "--batches", "-n", min=2, help="Batches in the stream; the first half is stable."),
    prompts_per_batch: int = typer.Option(
        16, "--prompts-per-batch", min=1, help="Requests per batch (fewer: noisier drift scores)."
    ),
    seed: int = typer.Option(0, "--seed", help="Seed of the prompt stream and of the requests."),
    max_tokens: int = typer.Option(64, "--max-tokens", min=1, help="Tokens per answer."),
    js_threshold: float = typer.Option(
        0.6, "--js-threshold", min=0.0, max=1.0, help="Alert when a batch's JS distance to batch 0 is above this."
    ),
    out: Path = typer.Option(Path("build/genai-monitor"), "--out", help="Folder for timeline.json/.png/.html."),
    output: OutputFormat = OUTPUT_OPTION,
) -> None:
    """Replay a prompt stream to a served language model and draw drift, latency, tokens and guardrail hits.

    The first half of the batches are Spanish questions about the course; later batches drift to other topics,
    long prompts with pasted logs, English, and prompt injections. Every prompt is a real chat-completions
    request. A batch alerts when its prompts drifted from batch 0 past --js-threshold or a guardrail string
    (contraseña, api_key=, <script...) shows up in a prompt or an answer.

    Without --base-url the registry's champion is served on 127.0.0.1 (a free port) for the run.
    Writes OUT/timeline.json, OUT/timeline.png, OUT/timeline.html and OUT/requests.jsonl.

    Example: labkit monitor genai --batches 8 --prompts-per-batch 16

    Example: LABKIT_GENAI_API_KEY=... labkit monitor genai --base-url http://127.0.0.1:8000/v1 --output json
    """
    import json

    from components.lm_serve.logic import load_served_model
    from labkit.genai_monitor import GenaiMonitorError, monitor_served, public_url, replay

    api_key = os.environ.get(api_key_env) or None
    options = {
        "n_batches": batches,
        "prompts_per_batch": prompts_per_batch,
        "seed": seed,
        "max_tokens": max_tokens,
        "js_threshold": js_threshold,
    }
    served = None
    if model and base_url is None:
        fail("--model names a model of --base-url's endpoint", "give --base-url too, or --version for the registry")
    if base_url is None:
        try:
            served = load_served_model(registry, model_name, version)
        except (FileNotFoundError, ValueError) as exc:
            fail(
                str(exc),
                f"run `labkit pipeline run genai` first (it trains and registers a champion in {registry}), "
                "or pass --base-url of a running endpoint",
            )
    rows: list[GenaiBatch] = []
    columns = (SpinnerColumn(finished_text=""), TextColumn("{task.description}"), BarColumn(), TimeElapsedColumn())
    with Progress(*columns, console=err_console, transient=output is OutputFormat.json) as progress:
        current = progress.add_task(f"batch 0/{batches}", total=batches * prompts_per_batch)

        def on_batch(row: GenaiBatch) -> None:
            rows.append(row)
            verdict = f"[red]ALERT[/] ({'; '.join(row.alert_reasons)})" if row.alert else "ok"
            if output is OutputFormat.table:
                progress.console.print(f"batch {row.index} ({row.kind}): JS {row.js_distance:.3f}, {verdict}")
            progress.update(current, description=f"batch {row.index + 1}/{batches}")

        hooks = {"on_request": lambda _: progress.advance(current), "on_batch": on_batch}
        try:
            if served is not None:
                timeline = monitor_served(served, out, api_key=api_key, **options, **hooks)
            else:
                timeline = replay(base_url, api_key, out, model=model, **options, **hooks)
        except GenaiMonitorError as exc:
            fail(str(exc), _fix_for(exc.status, public_url(base_url) if base_url else None, api_key_env))
    if output is OutputFormat.json:
        typer.echo(json.dumps(timeline.as_dict(), ensure_ascii=False, indent=2))
        return
    console.print(_genai_table(rows, timeline.model))
    console.print(f"[green]timeline[/]: {out / 'timeline.png'} and {out / 'timeline.html'}")


def _fix_for(status: int | None, base_url: str | None, api_key_env: str) -> str:
    if status in (401, 403):
        return f"set {api_key_env} to the endpoint's key (the one its server was started with)"
    if status == 404:
        return "check that --base-url ends in /v1 and that --model names a model the endpoint has"
    if base_url is None:
        return "the kit's server stopped answering: run again, and report it if it repeats"
    return (
        f"is a server listening at {base_url}? start one with `labkit serve genai --port 8000` and pass "
        "--base-url http://127.0.0.1:8000/v1, or leave --base-url out to serve the registry's champion here"
    )


def _genai_table(rows: list[GenaiBatch], model: str | None) -> Table:
    """Eight narrow columns, so that an 80-column terminal shows them whole; the rest is in timeline.html."""
    table = Table(title=f"monitor genai: {model or 'endpoint'}")
    for column in ("batch", "kind", "alert", "JS", "OOV words", "p50/p95 ms", "tok/s", "hits p/o"):
        table.add_column(column, justify="left" if column in ("kind", "alert") else "right", no_wrap=True)

    def number(value: float | None, digits: int = 2) -> str:
        return f"{value:.{digits}f}" if value is not None else "-"

    for row in rows:
        table.add_row(
            str(row.index),
            row.kind,
            "ALERT" if row.alert else "ok",
            number(row.js_distance),
            number(row.oov_words),
            f"{row.latency_p50_ms:.0f}/{row.latency_p95_ms:.0f}",
            number(row.tokens_per_second, 0),
            f"{row.guardrail_hits_prompts}/{row.guardrail_hits_outputs}",
        )
    return table
