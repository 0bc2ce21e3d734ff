"""Pictures of compiled pipelines: the DAG a student will see in the KFP UI, before any cluster exists."""

from __future__ import annotations

import json
import re
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from labkit.compiler import compile_pipeline
from labkit.registry import PipelineEntry

CHANNEL = re.compile(r"inputs\.parameter_values\['pipelinechannel--([\w-]+?)-(\w+)'\]")


@dataclass
class PipelineGraph:
    nodes: dict[str, str | None] = field(default_factory=dict)  # task -> label of its enclosing gate/loop
    edges: dict[tuple[str, str], set[str]] = field(default_factory=dict)  # (producer, consumer) -> data names

    def add_edge(self, producer: str, consumer: str, label: str | None) -> None:
        labels = self.edges.setdefault((producer, consumer), set())
        if label:
            labels.add(label)


def _group_label(task: dict[str, Any]) -> str:
    if condition := task.get("triggerPolicy", {}).get("condition"):
        readable = CHANNEL.sub(lambda m: f"{m.group(1)}.{m.group(2)}", condition)
        return f"if {readable}"
    if "parameterIterator" in task or "artifactIterator" in task:
        return "for each item (ParallelFor)"
    return task.get("taskInfo", {}).get("name", "group")


def _producers(inputs: dict[str, Any], outer: dict[str, tuple[str, str]]) -> list[tuple[str, str]]:
    """(producer task, data name) for each input, following channels handed down by an enclosing group."""
    found = []
    for kind in ("artifacts", "parameters"):
        for spec in inputs.get(kind, {}).values():
            produced = spec.get("taskOutputArtifact") or spec.get("taskOutputParameter")
            if produced:
                key = produced.get("outputArtifactKey") or produced.get("outputParameterKey")
                found.append((produced["producerTask"], key))
                continue
            channel = spec.get("componentInputArtifact") or spec.get("componentInputParameter")
            if channel in outer:
                found.append(outer[channel])
    return found


def graph_from_ir(ir: dict[str, Any]) -> PipelineGraph:
    """Flatten the IR's nested DAGs (dsl.If, ParallelFor) into tasks labelled with their group."""
    graph = PipelineGraph()

    def walk(dag: dict[str, Any], group: str | None, outer: dict[str, tuple[str, str]], entry: list[str]) -> None:
        for name, task in dag.get("tasks", {}).items():
            component = ir["components"][task["componentRef"]["name"]]
            sources = _producers(task.get("inputs", {}), outer)
            if "dag" in component:
                outputs = component["dag"].get("outputs", {})
                for key, selector in outputs.get("artifacts", {}).items():
                    group_outputs[name, key] = [
                        (s["producerSubtask"], s["outputArtifactKey"]) for s in selector.get("artifactSelectors", [])
                    ]
                for key, selector in outputs.get("parameters", {}).items():
                    picked = selector.get("valueFromParameter")
                    if picked:
                        group_outputs[name, key] = [(picked["producerSubtask"], picked["outputParameterKey"])]
                channels = {}
                for kind in ("artifacts", "parameters"):
                    for channel, spec in task.get("inputs", {}).get(kind, {}).items():
                        resolved = _producers({kind: {channel: spec}}, outer)
                        if resolved:
                            channels[channel] = resolved[0]
                upstream = list(task.get("dependentTasks", [])) or entry
                walk(component["dag"], _group_label(task), channels, upstream)
                continue
            graph.nodes[name] = group
            for producer, label in sources:
                graph.add_edge(producer, name, label)
            for producer in task.get("dependentTasks", []):
                graph.add_edge(producer, name, None)
            # A task that waits on nothing inside its gate or loop runs only once the gate's own upstream has
            # (the task the condition reads): draw it below that task, not beside it.
            inside = set(dag.get("tasks", {}))
            if group and not any(p in inside for p, _ in sources) and not set(task.get("dependentTasks", [])) & inside:
                for producer in entry:
                    graph.add_edge(producer, name, None)

    group_outputs: dict[tuple[str, str], list[tuple[str, str]]] = {}
    walk(ir["root"]["dag"], None, {}, [])

    def producers_of(task: str, key: str) -> list[tuple[str, str]]:
        """A loop's or gate's output (dsl.Collected) comes from the task inside it that made it."""
        if task in graph.nodes:
            return [(task, key)]
        return [found for inner, k in group_outputs.get((task, key), []) for found in producers_of(inner, k)]

    edges: dict[tuple[str, str], set[str]] = {}
    for (producer, consumer), labels in graph.edges.items():
        for label in labels or {""}:
            for real, key in producers_of(producer, label):
                edges.setdefault((real, consumer), set()).update({key} if key else set())
    graph.edges = {k: v for k, v in edges.items() if k[0] in graph.nodes and k[1] in graph.nodes}
    return graph


def layers(graph: PipelineGraph) -> dict[str, int]:
    """Longest-path depth of every task: parents always sit above their children."""
    depth: dict[str, int] = {}

    def visit(node: str) -> int:
        if node not in depth:
            parents = [p for (p, c) in graph.edges if c == node]
            depth[node] = 1 + max((visit(p) for p in parents), default=-1)
        return depth[node]

    for node in graph.nodes:
        visit(node)
    return depth


def ordered_rows(graph: PipelineGraph) -> dict[int, list[str]]:
    """Tasks per layer, each layer sorted by the mean position of its parents (the barycenter heuristic)."""
    depth = layers(graph)
    rows: dict[int, list[str]] = {}
    for node in graph.nodes:
        rows.setdefault(depth[node], []).append(node)
    placed: dict[str, float] = {}
    for level in sorted(rows):
        row = rows[level]
        keys = {}
        for index, node in enumerate(row):
            parents = [placed[p] for (p, c) in graph.edges if c == node and p in placed]
            keys[node] = sum(parents) / len(parents) if parents else index - (len(row) - 1) / 2
        row.sort(key=keys.__getitem__)
        placed.update({node: i - (len(row) - 1) / 2 for i, node in enumerate(row)})
    return rows


STATE_STYLES = {
    "succeeded": {"edgecolor": "#11703a", "facecolor": "#dff3e4", "linestyle": "-"},
    "failed": {"edgecolor": "#b00020", "facecolor": "#fbdde1", "linestyle": "-"},
    "not run": {"edgecolor": "#888888", "facecolor": "#f0f0f0", "linestyle": ":"},
}


def draw(
    graph: PipelineGraph,
    title: str,
    outputs: list[Path],
    states: dict[str, tuple[str, float | None]] | None = None,
) -> None:
    """The DAG, one layer per row; a box holds the task and the data it receives, so no label sits on a line.

    With ``states`` (task -> (succeeded | failed | not run, seconds)) the boxes are coloured by how a run went.
    """
    import matplotlib

    matplotlib.use("Agg")
    # Text stays text in the SVG: smaller, searchable, and readable by a screen reader or a test.
    matplotlib.rcParams["svg.fonttype"] = "none"
    import matplotlib.pyplot as plt
    from matplotlib.patches import FancyBboxPatch

    depth = layers(graph)
    rows = ordered_rows(graph)
    width = max(len(r) for r in rows.values())
    position = {
        node: ((i - (len(row) - 1) / 2) * 3.2, -level * 1.7)
        for level, row in rows.items()
        for i, node in enumerate(row)
    }
    figure, axis = plt.subplots(figsize=(max(7.0, 3.6 * width), 1.3 + 1.3 * len(rows)))
    box_w, box_h = 2.5, 0.8
    for producer, consumer in graph.edges:
        (x0, y0), (x1, y1) = position[producer], position[consumer]
        skips = depth[consumer] - depth[producer] > 1  # curve around the boxes in between
        start = (x0 + (box_w / 2 if skips else 0), y0 - (0 if skips else box_h / 2))
        end = (x1 + (box_w / 2 if skips else 0), y1 + (0 if skips else box_h / 2))
        axis.annotate(
            "",
            xy=end,
            xytext=start,
            arrowprops={
                "arrowstyle": "-|>",
                "color": "#555",
                "lw": 1.2,
                "connectionstyle": f"arc3,rad={-0.45 if skips else 0}",
            },
        )
    groups: dict[str, list[str]] = {}
    for node, group in graph.nodes.items():
        style = {"edgecolor": "#1f4e99", "facecolor": "#dbe7fb", "linestyle": "-"}
        if group:
            groups.setdefault(group, []).append(node)
            style = {"edgecolor": "#b35900", "facecolor": "#fff1de", "linestyle": "--"}
        caption = ", ".join(sorted({label for (_, c), labels in graph.edges.items() if c == node for label in labels}))
        if states is not None:
            state, seconds = states.get(node, ("not run", None))
            style = STATE_STYLES.get(state, STATE_STYLES["not run"])
            caption = state if seconds is None else f"{state}, {seconds:.1f} s"
        x, y = position[node]
        axis.add_patch(
            FancyBboxPatch(
                (x - box_w / 2, y - box_h / 2), box_w, box_h, boxstyle="round,pad=0.05", linewidth=1.5, **style
            )
        )
        axis.text(x, y + (0.13 if caption else 0), node, ha="center", va="center", fontsize=10, weight="bold")
        if caption:
            axis.text(x, y - 0.2, caption, ha="center", va="center", fontsize=7.5, color="#444", style="italic")
    for group, members in groups.items():
        top = max(position[m][1] for m in members)
        left = min(position[m][0] for m in members if position[m][1] == top)
        axis.text(left - box_w / 2 - 0.15, top, group, fontsize=8.5, color="#b35900", ha="right", va="center")
    xs = [p[0] for p in position.values()]
    ys = [p[1] for p in position.values()]
    axis.set_xlim(min(xs) - 4.2, max(xs) + 2.6)
    axis.set_ylim(min(ys) - 0.8, max(ys) + 0.9)
    axis.set_title(title, fontsize=12)
    axis.axis("off")
    figure.tight_layout()
    for path in outputs:
        figure.savefig(path, dpi=120)
    plt.close(figure)


def spec_of(entry: PipelineEntry) -> dict[str, Any] | None:
    """The compiled spec of a KFP pipeline as kfp.local ran it (no compile step); TFX pipelines have none here."""
    if entry.kind == "tfx":
        return None
    from google.protobuf import json_format

    return json_format.MessageToDict(entry.load().pipeline_spec)


TFX_GRAPH_FILE = "graph.json"  # written into the run folder by pipelines/tfx_penguin/local_runner.py


def graph_from_tfx_run(run_dir: Path) -> PipelineGraph | None:
    """The DAG a TFX run saved (its components, and which output of which feeds which input), if it saved one."""
    try:
        saved = json.loads((run_dir / TFX_GRAPH_FILE).read_text())
    except (OSError, ValueError):
        return None
    graph = PipelineGraph(nodes={str(node): None for node in saved.get("nodes", [])})
    for producer, consumer, name in saved.get("edges", []):
        graph.add_edge(str(producer), str(consumer), str(name))
    return graph


def run_graph(entry: PipelineEntry, run_dir: Path) -> PipelineGraph | None:
    """The graph to colour on a run's page: from the compiled spec (KFP), or from what the run saved (TFX)."""
    if entry.kind == "tfx":
        return graph_from_tfx_run(run_dir)
    spec = spec_of(entry)
    return graph_from_ir(spec) if spec is not None else None


def draw_pipeline(entry: PipelineEntry, out_dir: Path) -> tuple[Path, Path]:
    """Compile ``entry`` and write ``NAME.png`` and ``NAME.svg`` into ``out_dir``."""
    with tempfile.TemporaryDirectory() as scratch:
        ir = yaml.safe_load(compile_pipeline(entry, Path(scratch)).read_text())
    out_dir.mkdir(parents=True, exist_ok=True)
    png, svg = out_dir / f"{entry.name}.png", out_dir / f"{entry.name}.svg"
    draw(graph_from_ir(ir), f"pipeline: {entry.name}", [png, svg])
    return png, svg
