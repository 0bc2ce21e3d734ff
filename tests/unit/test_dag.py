from pathlib import Path

import yaml

from labkit.compiler import compile_pipeline
from labkit.dag import draw_pipeline, graph_from_ir, layers
from labkit.registry import get_pipeline


def test_training_graph_has_data_edges_and_the_gate(tmp_path: Path) -> None:
    ir = yaml.safe_load(compile_pipeline(get_pipeline("training"), tmp_path).read_text())
    graph = graph_from_ir(ir)
    assert set(graph.nodes) == {"ingest", "validate", "split", "train", "evaluate", "push"}
    assert graph.nodes["push"] == "if evaluate.Output == true"
    assert graph.edges[("train", "push")] == {"model"}
    assert graph.edges[("split", "evaluate")] == {"train_data", "test_data"}
    assert ("validate", "split") in graph.edges  # .after() ordering, no data
    depth = layers(graph)
    assert depth["ingest"] == 0 and depth["push"] == max(depth.values())


def test_show_writes_png_and_svg(tmp_path: Path) -> None:
    png, svg = draw_pipeline(get_pipeline("training"), tmp_path)
    assert png.read_bytes().startswith(b"\x89PNG")
    assert "<svg" in svg.read_text()[:500]
