"""A self-contained HTML page per run (no network, no CDN) and an index over all runs, written into ``runs/``.

The page shows what the KFP UI shows for a run, read from the run folder: the tasks with their state and
duration, the parameters, the metrics, each confusion matrix a task logged, links to the HTML artifacts the
components write (training curve, drift report), and for a failed run the failing task's error and the log tail.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from html import escape
from pathlib import Path
from typing import TYPE_CHECKING, Any

from labkit.runs import RunRecord, compare_runs, find_runs, read_run

if TYPE_CHECKING:
    from labkit.dag import PipelineGraph

PAGE_NAME = "run.html"
GRAPH_NAME = "dag.svg"
INDEX_NAME = "index.html"
LOG_TAIL_LINES = 40
COMPARED_RUNS = 10  # the newest of each pipeline, so that the index stays readable
STYLE = """
body { font-family: system-ui, sans-serif; margin: 2rem; color: #222; }
table { border-collapse: collapse; margin: 0.5rem 0 1.5rem; }
th, td { border: 1px solid #ccc; padding: 0.25rem 0.6rem; text-align: left; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
.succeeded { color: #11703a; } .failed { color: #b00020; font-weight: bold; } .unfinished { color: #8a6d00; }
tr.differs { background: #fff4c2; }
pre { background: #f6f6f6; padding: 0.75rem; overflow-x: auto; }
"""


@dataclass(frozen=True)
class Link:
    text: str
    href: str


def _cell(value: Any) -> str:
    if isinstance(value, Link):
        return f'<td><a href="{escape(value.href)}">{escape(value.text)}</a></td>'
    if isinstance(value, float):
        return f'<td class="num">{value:.4g}</td>'
    if isinstance(value, int) and not isinstance(value, bool):
        return f'<td class="num">{value}</td>'
    return f"<td>{escape('-' if value is None else str(value))}</td>"


def _table(headers: list[str], rows: list[list[Any]], row_classes: list[str] | None = None) -> str:
    head = "".join(f"<th>{escape(h)}</th>" for h in headers)
    body = []
    for index, row in enumerate(rows):
        css = f' class="{row_classes[index]}"' if row_classes and row_classes[index] else ""
        body.append(f"<tr{css}>{''.join(_cell(v) for v in row)}</tr>")
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"


def confusion_matrices(folder: Path) -> dict[str, tuple[list[str], list[list[int]]]]:
    """``task/output`` -> (class names, rows) for every confusion matrix a task logged (kfp.local runs)."""
    found: dict[str, tuple[list[str], list[list[int]]]] = {}
    for executor_output in sorted(folder.glob("artifacts/*/*/executor_output.json")):
        for output, listing in json.loads(executor_output.read_text()).get("artifacts", {}).items():
            for artifact in listing.get("artifacts", []):
                matrix = artifact.get("metadata", {}).get("confusionMatrix")
                if matrix:
                    labels = [spec.get("displayName", "?") for spec in matrix.get("annotationSpecs", [])]
                    found[f"{executor_output.parent.name}/{output}"] = (labels, [r["row"] for r in matrix["rows"]])
    return found


def _log_tail(record: RunRecord) -> str:
    if not record.log_file or not Path(record.log_file).is_file():
        return ""
    lines = Path(record.log_file).read_text(errors="replace").splitlines()[-LOG_TAIL_LINES:]
    return "\n".join(lines)


def draw_run_graph(record: RunRecord, graph: PipelineGraph) -> Path:
    """The pipeline's DAG coloured by how this run went, as ``dag.svg`` in the run folder."""
    from labkit.dag import draw

    path = record.folder / GRAPH_NAME
    draw(graph, record.name, [path], states=record.task_states())
    return path


def render_run_page(record: RunRecord) -> str:
    parts = [
        f"<h1>{escape(record.name)}</h1>",
        f'<p>{escape(record.runner)} runner · <span class="{record.state}">{record.state}</span>'
        f' · {escape(str(record.wall_seconds or "-"))} s · <a href="../../{INDEX_NAME}">all runs</a></p>',
    ]
    if record.ui_url:
        parts.append(f'<p>On the cluster: <a href="{escape(record.ui_url)}">this run in the KFP UI</a></p>')
    if (record.folder / GRAPH_NAME).is_file():
        parts.append(f'<img src="{GRAPH_NAME}" alt="the pipeline graph, coloured by task state">')
    if record.error:
        parts += [
            f'<h2 class="failed">Failed in {escape(record.failed_task or "the run")}</h2>',
            f"<pre>{escape(record.error)}</pre>",
            f"<details open><summary>Last lines of run.log</summary><pre>{escape(_log_tail(record))}</pre></details>",
        ]
    if record.gate_failures:
        parts += ['<h2 class="failed">Evaluation gate: not blessed</h2>', _list(record.gate_failures)]
    if record.anomalies:
        headers = list(dict.fromkeys(key for row in record.anomalies for key in row))
        rows = [[row.get(key) for key in headers] for row in record.anomalies]
        parts += [f'<h2 class="failed">Data anomalies ({len(rows)})</h2>', _table(headers, rows)]
    task_rows = [[task, state, seconds] for task, (state, seconds) in record.task_states().items()]
    task_classes = [row[1] for row in task_rows]
    parts += ["<h2>Tasks</h2>", _table(["task", "state", "seconds"], task_rows, task_classes)]
    parts += ["<h2>Parameters</h2>", _table(["name", "value"], sorted(map(list, record.parameters.items())))]
    parts += ["<h2>Metrics</h2>", _table(["name", "value"], sorted(map(list, record.metrics.items())))]
    for name, (labels, rows) in confusion_matrices(record.folder).items():
        body = [[f"true {label}", *row] for label, row in zip(labels, rows, strict=False)]
        headers = ["", *(f"predicted {label}" for label in labels)]
        parts += [f"<h2>Confusion matrix ({escape(name)})</h2>", _table(headers, body)]
    pages = {key: path for key, path in record.artifacts.items() if str(path).endswith(".html")}
    if pages:
        links = "".join(
            f'<li><a href="{escape(Path(path).resolve().as_uri())}">{escape(key)}</a></li>'
            for key, path in sorted(pages.items())
        )
        parts += ["<h2>Reports</h2>", f"<ul>{links}</ul>"]
    return _document(f"{record.name}: {record.state}", "".join(parts))


def _list(items: list[str]) -> str:
    return "<ul>" + "".join(f"<li>{escape(item)}</li>" for item in items) + "</ul>"


def _document(title: str, body: str) -> str:
    return (
        f'<!doctype html><html lang="en"><head><meta charset="utf-8"><title>{escape(title)}</title>'
        f"<style>{STYLE}</style></head><body>{body}</body></html>\n"
    )


def render_index(records: list[RunRecord]) -> str:
    """Every run, newest first, and a compare view of each pipeline's newest runs (rows that differ highlighted)."""
    rows = [
        [
            Link(r.name, f"{r.name}/{PAGE_NAME}"),
            r.runner,
            r.started.isoformat(sep=" ") if r.started else "-",
            r.wall_seconds,
            r.state,
            Link("KFP UI", r.ui_url) if r.ui_url else None,
        ]
        for r in reversed(records)
    ]
    headers = ["run", "runner", "started", "seconds", "state", "on the cluster"]
    parts = ["<h1>Runs</h1>", _table(headers, rows, [r[4] for r in rows])]
    for pipeline in sorted({r.pipeline for r in records}):
        same = [r for r in records if r.pipeline == pipeline][-COMPARED_RUNS:]
        if len(same) < 2:
            continue
        compared = compare_runs(same)
        body = [[row.section, row.key, *row.values] for row in compared]
        classes = ["differs" if row.differs else "" for row in compared]
        headers = ["", "name", *(r.folder.name for r in same)]
        parts += [f"<h2>Compare: {escape(pipeline)}</h2>", _table(headers, body, classes)]
    return _document("labkit runs", "".join(parts))


def write_pages(run_folder: Path, graph: PipelineGraph | None = None) -> tuple[Path, Path]:
    """The run's page (with its graph, coloured by task state, when ``graph`` is given) and the index of its runs
    folder."""
    record = read_run(run_folder)
    if graph is not None:
        draw_run_graph(record, graph)
    page = run_folder / PAGE_NAME
    page.write_text(render_run_page(record))
    root = run_folder.parent.parent
    index = root / INDEX_NAME
    index.write_text(render_index(find_runs(root)))
    return page, index
