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
