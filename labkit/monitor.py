"""Monitoring over time: run the continuous-training pipeline on each batch of the stream and draw a timeline.

For every batch the loop records what a production monitor would see: the serving champion's accuracy on the
new (labelled) batch before the step, the drift scores, whether the pipeline retrained, whether it pushed a
new champion, and the champion's accuracy after the step. Batch 0 is run with ``force_retrain`` when the
registry is empty, to train the first champion on the reference distribution.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from components.champion.logic import champion_dir, champion_version, score_model
from labkit.dag import graph_from_ir, spec_of
from labkit.data import DriftKnobs, write_batches
from labkit.paths import new_run_dir
from labkit.registry import PipelineEntry, get_pipeline
from labkit.run_page import write_pages
from labkit.runners import get_runner
from labkit.runners.base import EventSink

PIPELINE = "continuous-training"


@dataclass
class BatchOutcome:
    index: int
    level: int
    drifted: bool
    drifted_features: list[str]
    js_distance: dict[str, float]
    retrained: bool
    pushed: bool
    champion_before: str | None
    champion_after: str | None
    accuracy_before: float | None
    accuracy_after: float | None
    seconds: float
    run_dir: str
    report: str | None = None


@dataclass
class Timeline:
    batches: list[BatchOutcome] = field(default_factory=list)
    js_threshold: float = 0.1

    def to_json(self) -> str:
        return json.dumps({"js_threshold": self.js_threshold, "batches": [asdict(b) for b in self.batches]}, indent=2)


class MonitorError(RuntimeError):
    pass


def _accuracy(registry: Path, batch: pd.DataFrame) -> float | None:
    model = champion_dir(registry)
    return score_model(model, batch)[0] if model is not None else None


def simulate(
    out: Path,
    n_batches: int = 8,
    runner: str = "subprocess",
    rows: int = 200,
    seed: int = 0,
    knobs: DriftKnobs | None = None,
    params: dict[str, Any] | None = None,
    on_event: EventSink = lambda _: None,
    on_batch: Callable[[BatchOutcome], None] = lambda _: None,
    entry: PipelineEntry | None = None,
) -> Timeline:
    """Run the loop over ``n_batches`` batches; write batches/, registry/, runs/, timeline.{json,png,html}.

    ``entry`` is the continuous-training pipeline to run (the kit's by default; a student's lab-7 starter works
    as long as it keeps the starter's parameters).
    """
    if runner == "cluster":
        # On a cluster the registry lives in the object store; this loop reads it from a host folder.
        raise MonitorError(
            "the monitor loop reads the registry from a host folder: use --runner subprocess or docker here, "
            "and `labkit schedule create` for a recurring run on the cluster"
        )
    out = out.resolve()
    registry = out / "registry"
    registry.mkdir(parents=True, exist_ok=True)  # the docker runner mounts only host paths that exist
    infos = write_batches(out / "batches", n_batches, rows=rows, seed=seed, knobs=knobs)
    entry = entry or get_pipeline(PIPELINE)
    graph = graph_from_ir(spec_of(entry))
    chosen = get_runner(runner)
    timeline = Timeline(js_threshold=float((params or {}).get("js_threshold", 0.1)))
    for info in infos:
        batch = pd.read_csv(info.path)
        before_version, before_accuracy = champion_version(registry), _accuracy(registry, batch)
        arguments = {"batch": info.path, "registry": str(registry), **(params or {})}
        if before_version is None:
            arguments["force_retrain"] = True
        run_dir = new_run_dir(PIPELINE, out / "runs")
        result = chosen.run(entry, arguments, run_dir, on_event)
        result.parameters = entry.arguments(arguments)
        result.save()
        write_pages(run_dir, graph)
        if not result.succeeded:
            raise MonitorError(
                f"batch {info.index}: task {result.failed_task!r} failed: {result.error} (log: {result.log_file})"
            )
        scores_file = result.artifacts.get("detect-drift/scores")
        scores = json.loads(Path(scores_file).read_text()) if scores_file else {"features": []}
        after_version = champion_version(registry)
        outcome = BatchOutcome(
            index=info.index,
            level=info.level,
            drifted=bool(result.metrics.get("drifted")),
            drifted_features=list(scores.get("drifted_features", [])),
            js_distance={f["feature"]: round(f["js_distance"], 4) for f in scores["features"]},
            retrained="train" in result.tasks,
            pushed=after_version != before_version,
            champion_before=before_version,
            champion_after=after_version,
            accuracy_before=before_accuracy,
            accuracy_after=_accuracy(registry, batch),
            seconds=result.wall_seconds,
            run_dir=result.run_dir,
            report=result.artifacts.get("detect-drift/report"),
        )
        timeline.batches.append(outcome)
        on_batch(outcome)
    (out / "timeline.json").write_text(timeline.to_json())
    png = draw_timeline(timeline, out / "timeline.png")
    (out / "timeline.html").write_text(timeline_html(timeline, png))
    return timeline


def draw_timeline(timeline: Timeline, path: Path) -> Path:
    """Accuracy, drift scores and retrain/push events on one time axis (batch index)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    batches = timeline.batches
    x = [b.index for b in batches]
    figure, (accuracy_axis, drift_axis, event_axis) = plt.subplots(
        3, 1, figsize=(9, 7), sharex=True, gridspec_kw={"height_ratios": [3, 3, 1]}
    )
    before = [b.accuracy_before if b.accuracy_before is not None else float("nan") for b in batches]
    after = [b.accuracy_after if b.accuracy_after is not None else float("nan") for b in batches]
    accuracy_axis.plot(x, before, "o-", color="tab:red", label="champion on the new batch (before the step)")
    accuracy_axis.plot(x, after, "s--", color="tab:green", label="champion after the step")
    accuracy_axis.set(ylabel="accuracy", ylim=(0, 1.05), title="Continuous training over the batch stream")
    accuracy_axis.legend(fontsize=8, loc="lower left")
    features = sorted({name for b in batches for name in b.js_distance})
    for name in features:
        drift_axis.plot(x, [b.js_distance.get(name, float("nan")) for b in batches], marker=".", label=name)
    drift_axis.axhline(timeline.js_threshold, color="black", linestyle="--", linewidth=1, label="JS threshold")
    drift_axis.set(ylabel="JS distance")
    drift_axis.legend(fontsize=7, ncol=3, loc="upper left")
    for b in batches:
        if b.retrained:
            event_axis.scatter(b.index, 1, marker="^", color="tab:orange", s=80)
        if b.pushed:
            event_axis.scatter(b.index, 0, marker="*", color="tab:green", s=140)
        if b.drifted:
            drift_axis.axvspan(b.index - 0.4, b.index + 0.4, color="tab:red", alpha=0.07)
    event_axis.set(yticks=[0, 1], yticklabels=["push", "retrain"], ylim=(-0.6, 1.6), xlabel="batch")
    event_axis.set_xticks(x)
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)
    return path


def timeline_html(timeline: Timeline, png: Path) -> str:
    import html

    rows = []
    for b in timeline.batches:

        def pct(value: float | None) -> str:
            return f"{value:.3f}" if value is not None else "-"

        report = f"<a href='{html.escape(b.report)}'>report</a>" if b.report else "-"
        rows.append(
            f"<tr><td>{b.index}</td><td>{b.level}</td><td>{'yes' if b.drifted else 'no'}</td>"
            f"<td>{html.escape(', '.join(b.drifted_features))}</td><td>{pct(b.accuracy_before)}</td>"
            f"<td>{'yes' if b.retrained else 'no'}</td><td>{'yes' if b.pushed else 'no'}</td>"
            f"<td>{b.champion_after or '-'}</td><td>{pct(b.accuracy_after)}</td><td>{report}</td></tr>"
        )
    header = "".join(
        f"<th>{h}</th>"
        for h in (
            "batch",
            "drift level",
            "drift",
            "drifted features",
            "accuracy before",
            "retrained",
            "pushed",
            "champion",
            "accuracy after",
            "drift report",
        )
    )
    return timeline_page("labkit monitor timeline", "Monitoring timeline", png, header, rows)


def timeline_page(
    title: str, heading: str, png: Path, header: str, rows: list[str], intro: str = "", end: str = ""
) -> str:
    """One self-contained page (the chart inlined, no network at view time): heading, ``intro``, the chart, a
    table of one row per batch, ``end``. Cells come escaped by the caller."""
    import base64

    image = base64.b64encode(png.read_bytes()).decode()
    return (
        f"<html><head><meta charset='utf-8'><title>{title}</title></head>"
        f"<body style='font-family:sans-serif'><h2>{heading}</h2>{intro}"
        f"<img alt='timeline' src='data:image/png;base64,{image}'/>"
        f"<table border=1 cellpadding=4 cellspacing=0><tr>{header}</tr>{''.join(rows)}</table>{end}</body></html>"
    )
