from pathlib import Path

import yaml

from labkit.compiler import compile_pipeline
from labkit.dag import PipelineGraph, draw, draw_pipeline, graph_from_ir, layers, ordered_rows
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


def test_show_draws_a_students_own_file_and_a_lab_by_session(tmp_path: Path) -> None:
    """The session-5 guide says "look at your graph": the student's starter, by path or by lab, is drawable."""
    from labkit.labs import get_lab
    from labkit.registry import resolve_pipeline

    starter = get_lab(5).starter
    by_path, by_lab = resolve_pipeline(str(starter)), resolve_pipeline("session-05")
    assert by_path == by_lab and by_path.file == starter and by_path.function == "training_pipeline"
    assert resolve_pipeline("5") == by_lab and resolve_pipeline("training").module == "pipelines.training.pipeline"
    graph = graph_from_ir(yaml.safe_load(compile_pipeline(by_path, tmp_path).read_text()))
    assert "push" not in graph.nodes and ("validate", "split") not in graph.edges, "the starter's graph, not the key"


def test_a_file_must_define_exactly_one_pipeline(tmp_path: Path) -> None:
    import pytest

    from labkit.registry import UnknownPipelineError, resolve_pipeline

    reference = get_pipeline("training")
    source = Path(reference.load().pipeline_func.__code__.co_filename).read_text()
    (tmp_path / "mine.py").write_text(source)
    assert resolve_pipeline(str(tmp_path / "mine.py")).function == "training_pipeline"
    (tmp_path / "two.py").write_text(source + "\nsecond = training_pipeline\n")
    with pytest.raises(UnknownPipelineError, match="defines 2"):
        resolve_pipeline(str(tmp_path / "two.py"))
    with pytest.raises(UnknownPipelineError, match="a lab \\(session-05\\) or a pipeline file"):
        resolve_pipeline("nope")


def test_a_gated_task_hangs_below_its_condition_and_a_collected_output_below_its_loop() -> None:
    golden = Path(__file__).resolve().parents[1] / "golden"
    continuous = graph_from_ir(yaml.safe_load((golden / "continuous-training.yaml").read_text()))
    depth = layers(continuous)
    assert depth["split"] > depth["detect-drift"], "split runs only once detect-drift said there is drift"
    assert ("detect-drift", "split") in continuous.edges
    sweep = graph_from_ir(yaml.safe_load((golden / "sweep.yaml").read_text()))
    assert sweep.edges[("evaluate", "pick-best")] == {"metrics"}  # dsl.Collected out of the ParallelFor
    assert layers(sweep)["pick-best"] > layers(sweep)["evaluate"]


def test_rows_follow_their_parents_and_a_run_colours_its_graph(tmp_path: Path) -> None:
    graph = PipelineGraph()
    for node in ("a", "b", "right", "left"):  # compiled order: right first
        graph.nodes[node] = None
    graph.add_edge("b", "right", "x")
    graph.add_edge("a", "left", "y")
    rows = ordered_rows(graph)
    assert rows[0] == ["a", "b"] and rows[1] == ["left", "right"]
    svg = tmp_path / "run.svg"
    draw(graph, "a run", [svg], states={"a": ("succeeded", 1.5), "left": ("failed", 0.2)})
    text = svg.read_text()
    assert "succeeded, 1.5 s" in text and "failed, 0.2 s" in text and "not run" in text
