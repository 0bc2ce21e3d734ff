"""The run history read from folders: records, references, comparison, and the cost of a long history."""

from __future__ import annotations

import json
import time
from html import escape
from pathlib import Path

import pytest
from typer.testing import CliRunner

from labkit.cli import app
from labkit.dag import graph_from_tfx_run
from labkit.run_page import write_pages
from labkit.runs import UnknownRunError, compare_runs, find_runs, resolve_run


def _run(root: Path, name: str, **saved: object) -> Path:
    folder = root / "training" / name
    folder.mkdir(parents=True)
    if saved:
        (folder / "result.json").write_text(json.dumps({"pipeline": "training", "runner": "subprocess", **saved}))
    return folder


def test_a_folder_without_a_record_is_an_unfinished_run(tmp_path: Path) -> None:
    _run(tmp_path, "20261202-100000-aaaa", succeeded=True, parameters={"epochs": 5})
    _run(tmp_path, "20261202-110000-bbbb")  # killed before it saved anything
    (tmp_path / "training" / "20261202-120000-cccc").mkdir()
    (tmp_path / "training" / "20261202-120000-cccc" / "result.json").write_text("{not json")
    states = [r.state for r in find_runs(tmp_path)]
    assert states == ["succeeded", "unfinished", "unfinished"]


def test_runs_are_named_by_folder_by_name_or_by_a_unique_prefix(tmp_path: Path) -> None:
    first = _run(tmp_path, "20261202-100000-aaaa", succeeded=True)
    _run(tmp_path, "20261202-100500-bbbb", succeeded=False, failed_task="train")
    assert resolve_run(str(first), tmp_path).folder == first.resolve()
    assert resolve_run("training/20261202-100000-aaaa", tmp_path).folder == first
    assert resolve_run("20261202-1005", tmp_path).failed_task == "train"
    with pytest.raises(UnknownRunError, match="matches 2 runs"):
        resolve_run("20261202-10", tmp_path)
    with pytest.raises(UnknownRunError, match="no run 'nope'"):
        resolve_run("nope", tmp_path)


def test_compare_marks_what_differs_and_what_one_run_lacks(tmp_path: Path) -> None:
    a = resolve_run(str(_run(tmp_path, "20261202-1-a", succeeded=True, parameters={"epochs": 5, "seed": 1})), tmp_path)
    b = resolve_run(str(_run(tmp_path, "20261202-1-b", succeeded=True, parameters={"epochs": 9, "seed": 1})), tmp_path)
    b.metrics = {"accuracy": 0.9}
    rows = {(row.section, row.key): row for row in compare_runs([a, b])}
    assert rows[("parameter", "epochs")].differs and not rows[("parameter", "seed")].differs
    assert rows[("metric", "accuracy")].values == [None, 0.9] and rows[("metric", "accuracy")].differs


def test_listing_a_thousand_runs_takes_under_a_second(tmp_path: Path) -> None:
    record = {"succeeded": True, "wall_seconds": 9.5, "metrics": {"accuracy": 0.97}, "parameters": {"epochs": 40}}
    for index in range(1000):
        _run(tmp_path, f"20261202-{index:06d}-abcd", **record)
    start = time.perf_counter()
    runs = find_runs(tmp_path)
    assert len(runs) == 1000 and time.perf_counter() - start < 1.0


@pytest.mark.usefixtures("wide_console")
def test_a_cluster_run_links_to_the_kfp_ui_from_the_list_the_page_and_the_index(tmp_path: Path) -> None:
    url = "http://localhost:8080/#/runs/details/8c1f"
    folder = _run(
        tmp_path, "20261202-101500-ab12", succeeded=True, artifacts={"kfp_run_url": url, "kfp_run_id": "8c1f"}
    )
    page, index = write_pages(folder)
    assert f'href="{url}"' in page.read_text() and f'href="{url}"' in index.read_text()
    listed = CliRunner().invoke(app, ["runs", "list", "--runs-dir", str(tmp_path)])
    assert listed.exit_code == 0 and "KFP UI" in listed.output and url in listed.output
    shown = CliRunner().invoke(app, ["runs", "show", folder.name, "--runs-dir", str(tmp_path)])
    assert f"in the KFP UI: {url}" in shown.output


@pytest.mark.usefixtures("wide_console")
def test_anomalies_and_a_closed_gate_are_on_the_page_and_in_show(tmp_path: Path) -> None:
    anomalies = [{"split": "eval", "feature": "island", "description": "Unexpected string values: Anvers"}]
    failure = "sparse_categorical_accuracy (overall) 0.97 < 0.9999"
    folder = _run(tmp_path, "20261202-1-x", succeeded=True, anomalies=anomalies, gate_failures=[failure])
    page, _ = write_pages(folder)
    text = page.read_text()
    assert "Data anomalies (1)" in text and "Anvers" in text and "Evaluation gate: not blessed" in text
    assert escape(failure) in text
    shown = CliRunner().invoke(app, ["runs", "show", folder.name, "--runs-dir", str(tmp_path)])
    assert "data anomalies (1)" in shown.output and "Anvers" in shown.output and failure in shown.output


def test_a_tfx_run_is_drawn_from_the_graph_it_saved(tmp_path: Path) -> None:
    saved = {
        "nodes": ["CsvExampleGen", "StatisticsGen", "SchemaGen"],
        "edges": [["CsvExampleGen", "StatisticsGen", "examples"], ["StatisticsGen", "SchemaGen", "statistics"]],
    }
    (tmp_path / "graph.json").write_text(json.dumps(saved))
    graph = graph_from_tfx_run(tmp_path)
    assert graph is not None and list(graph.nodes) == saved["nodes"]
    assert graph.edges == {
        ("CsvExampleGen", "StatisticsGen"): {"examples"},
        ("StatisticsGen", "SchemaGen"): {"statistics"},
    }
    assert graph_from_tfx_run(tmp_path / "no-such-run") is None
