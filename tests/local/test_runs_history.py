"""The run history from real runs: two parameter sets and a failure, then list, show and compare."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import palmerpenguins
import pytest
from typer.testing import CliRunner

from labkit.cli import app


def run_cli(*args: str):
    return CliRunner().invoke(app, list(args))


@pytest.fixture(scope="module")
def history(tmp_path_factory: pytest.TempPathFactory) -> Path:
    runs = tmp_path_factory.mktemp("runs")
    for epochs in ("2", "3"):
        done = run_cli("pipeline", "run", "training", "--runs-dir", str(runs), "-p", f"epochs={epochs}")
        assert done.exit_code == 0, done.output
    broken = runs.parent / "broken.csv"
    table = palmerpenguins.load_penguins().dropna().astype({"body_mass_g": object})
    table.iloc[0, table.columns.get_loc("body_mass_g")] = "heavy"
    table.to_csv(broken, index=False)
    done = run_cli("pipeline", "run", "training", "--runs-dir", str(runs), "-p", f"source={broken}")
    assert done.exit_code == 1
    return runs


def test_list_has_every_run_with_its_state(history: Path) -> None:
    done = run_cli("runs", "list", "--runs-dir", str(history), "-o", "json")
    records = json.loads(done.stdout)
    assert [r["state"] for r in records] == ["succeeded", "succeeded", "failed"]
    assert [r["parameters"]["epochs"] for r in records] == [2, 3, 40]  # the third ran with the default
    assert records[2]["failed_task"] == "validate"
    table = run_cli("runs", "list", "--runs-dir", str(history)).output
    assert "failed" in table and "accuracy=" in table  # the cell folds to the terminal width


def test_show_names_the_failing_task_and_its_error(history: Path) -> None:
    failed = json.loads(run_cli("runs", "list", "--runs-dir", str(history), "-o", "json").stdout)[2]
    done = run_cli("runs", "show", failed["run"], "--runs-dir", str(history))
    assert done.exit_code == 0, done.output
    assert "error in validate" in done.output and "body_mass_g" in done.output


def test_compare_puts_parameters_and_metrics_side_by_side(history: Path) -> None:
    first, second, _ = json.loads(run_cli("runs", "list", "--runs-dir", str(history), "-o", "json").stdout)
    done = run_cli("runs", "compare", first["folder"], second["run"], "--runs-dir", str(history), "-o", "json")
    assert done.exit_code == 0, done.output
    rows = {(row["section"], row["key"]): row for row in json.loads(done.stdout)["rows"]}
    assert rows[("parameter", "epochs")] == {"section": "parameter", "key": "epochs", "values": [2, 3], "differs": True}
    assert rows[("parameter", "seed")]["differs"] is False
    assert ("metric", "accuracy") in rows
    table = run_cli("runs", "compare", first["run"], second["run"], "--runs-dir", str(history)).output
    assert "differences in yellow" in table


def _text(page: Path) -> str:
    from html.parser import HTMLParser

    chunks: list[str] = []
    parser = HTMLParser()
    parser.handle_data = chunks.append  # type: ignore[method-assign]
    parser.feed(page.read_text())
    return " ".join(chunks)


def test_every_run_has_a_page_and_the_folder_an_index(history: Path) -> None:
    first, second, failed = json.loads(run_cli("runs", "list", "--runs-dir", str(history), "-o", "json").stdout)
    page = _text(Path(first["folder"]) / "run.html")
    for task in ("ingest", "validate", "split", "train", "evaluate", "push"):
        assert task in page
    assert "accuracy" in page and "epochs" in page and "Confusion matrix" in page and "predicted Gentoo" in page
    assert "training_curve.html" in (Path(first["folder"]) / "run.html").read_text()
    assert '<img src="dag.svg"' in (Path(first["folder"]) / "run.html").read_text()
    failed_graph = (Path(failed["folder"]) / "dag.svg").read_text()
    assert "failed, " in failed_graph and "not run" in failed_graph  # validate failed; split and after never ran
    failed_page = _text(Path(failed["folder"]) / "run.html")
    assert "Failed in validate" in failed_page and "body_mass_g" in failed_page
    assert "Last lines of run.log" in failed_page
    index = (history / "index.html").read_text()
    assert all(f"{r['run']}/run.html" in index for r in (first, second, failed))
    assert "Compare: training" in index and 'class="differs"' in index
    assert "http" not in index.replace("http-equiv", ""), "the pages must work with no network"


def _chromium() -> str:
    found = shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")
    if found:
        return found
    reason = "no Chromium on PATH (apt-get install chromium; .ci/run installs it)"
    if os.environ.get("LABKIT_REQUIRE_CONTAINERS") == "1":
        pytest.fail(f"CI needs the headless browser: {reason}")
    pytest.skip(reason)


def test_the_run_page_loads_in_a_real_browser_with_no_console_errors(history: Path, tmp_path: Path) -> None:
    first = json.loads(run_cli("runs", "list", "--runs-dir", str(history), "-o", "json").stdout)[0]
    page = Path(first["folder"]) / "run.html"
    flags = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--no-first-run"]
    flags += ["--disable-component-update", f"--user-data-dir={tmp_path / 'profile'}", "--enable-logging=stderr"]
    done = subprocess.run(
        [_chromium(), *flags, "--dump-dom", page.as_uri()], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert "<h2>Tasks</h2>" in done.stdout and ">train<" in done.stdout and ">accuracy<" in done.stdout
    console = [line for line in done.stderr.splitlines() if "CONSOLE" in line or "Uncaught" in line]
    assert not console, console
