from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from labkit.cli import app


def test_data_batches_writes_the_stream(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["data", "batches", "--n", "3", "--out", str(tmp_path), "-o", "json"])
    assert result.exit_code == 0, result.output
    listed = json.loads(result.output)
    assert [row["drift_level"] for row in listed] == [0, 1, 2]
    assert sorted(p.name for p in tmp_path.glob("batch-*.csv")) == ["batch-000.csv", "batch-001.csv", "batch-002.csv"]


def test_data_batches_names_a_bad_feature(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["data", "batches", "--out", str(tmp_path), "--feature", "wing_span"])
    assert result.exit_code == 1
    assert "wing_span" in result.output


def test_monitor_refuses_a_runner_that_cannot_see_the_registry(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["monitor", "simulate", "--runner", "cluster", "--out", str(tmp_path)])
    assert result.exit_code == 1
    assert "reads the registry from a host folder" in result.output
    assert "labkit schedule create" in result.output
