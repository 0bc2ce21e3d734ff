"""Every benchmark runs at a tiny size, so that none of them rots between two measurements.

Each one runs as BENCHMARKS.md tells (``python -m benchmarks.NAME``) with ``--json``, and its results file must
hold the command that made it, the date, the machine's load and the figures. The ones that need Docker and the
kit's images are in the container tier; the rest run anywhere.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from benchmarks.common import RESULTS_DIR
from labkit.paths import REPO_ROOT

BENCHMARKS = REPO_ROOT / "benchmarks"
NOT_BENCHMARKS = {"__init__", "common", "tfx_local_inside"}  # tfx_local_inside: the half of tfx_local run in the image
CONTAINER = pytest.mark.container

# name -> (tiny arguments, the results keys that must be there); arguments may name {mirror} or {venv}.
TINY: dict[str, tuple[list[str], set[str]]] = {
    "local_loop": (["--repeats", "1", "--epochs", "1"], {"ratio_pipeline_to_plain", "import_seconds"}),
    "runs_history": (["--runs", "20"], {"find_runs_seconds", "ratio_list_to_start_up"}),
    "manifest_resources": (["--mirror", "{mirror}"], {"kit", "upstream"}),
    "seaweedfs_memory": (["--objects", "2", "--settle", "0.5", "--idle-seconds", "0.5"], {"peak_to_limit"}),
    "distributed_training": (["--rows", "300", "--epochs", "1", "--batch-size", "32"], {"runs", "speed_ups"}),
    "clone_to_first_metrics": (["--venv", "{venv}"], {"pythons"}),
    "drift_vs_evidently": (["--rows", "200", "--repeats", "1"], set()),
    "grading_batch": (["--per-kind", "1", "--jobs", "2"], {"seconds_per_submission", "misgraded"}),
    "genai_lm": (
        ["--epochs", "1", "--units", "8", "--seq-len", "16", "--train-chars", "3000"],
        {"ngram", "sweep", "ratios"},
    ),
    "genai_serving": (
        ["--untrained", "--requests", "4", "--max-tokens", "16", "--repeats", "1"],
        {"sides", "ratios", "same_text_on_every_side"},
    ),
}
TINY_IN_CONTAINERS: dict[str, tuple[list[str], set[str]]] = {
    "docker_vs_subprocess": (["--repeats", "1", "--epochs", "1"], {"ratio_docker_to_subprocess"}),
    "images": ([], {"sizes"}),
    "grading_labs": (["--labs", "5"], {"labs"}),
    "grading_tfx": (["--runs", "1"], {"ratio_grade_to_run", "rows"}),
    "tfx_local": (["--runs", "0", "--upstream-runs", "0", "--same-work-runs", "1"], set()),
}


def benchmark_modules() -> set[str]:
    return {path.stem for path in BENCHMARKS.glob("*.py")} - NOT_BENCHMARKS


def test_every_benchmark_has_a_tiny_run() -> None:
    assert benchmark_modules() == set(TINY) | set(TINY_IN_CONTAINERS)


def _run_tiny(name: str, arguments: list[str], keys: set[str], tmp_path: Path, values: dict[str, str]) -> None:
    out = tmp_path / f"{name}.json"
    arguments = [argument.format(**values) for argument in arguments]
    command = [sys.executable, "-m", f"benchmarks.{name}", *arguments, "--json", str(out)]
    done = subprocess.run(command, cwd=REPO_ROOT, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, f"{name} failed:\n{done.stdout[-2000:]}\n{done.stderr[-3000:]}"
    record = json.loads(out.read_text())
    assert record["benchmark"] == name
    assert record["command"] == shlex.join(["python", "-m", f"benchmarks.{name}", *arguments, "--json", str(out)])
    assert set(record["load_average"]) == {"before", "after"} and len(record["load_average"]["before"]) == 3
    assert record["machine"]["cpus"] == os.cpu_count()
    assert keys <= set(record["results"]), f"{name} results lack {keys - set(record['results'])}"
    assert str(out) in done.stdout  # says where its results went


@pytest.fixture
def values(request: pytest.FixtureRequest) -> dict[str, str]:
    found = {"venv": sys.prefix}
    if "{mirror}" in " ".join(TINY.get(request.node.callspec.params["name"], ([], set()))[0]):
        found["mirror"] = str(request.getfixturevalue("mirror"))
    return found


@pytest.mark.parametrize("name", sorted(TINY))
def test_benchmark_runs_at_a_tiny_size(name: str, tmp_path: Path, values: dict[str, str]) -> None:
    if name == "drift_vs_evidently":
        _need_evidently()
    installed_from = _editable_source()
    _run_tiny(name, *TINY[name], tmp_path, values)
    # clone_to_first_metrics borrows this venv: it must not leave the kit installed from its clone
    assert _editable_source() == installed_from


def _editable_source() -> str:
    from importlib.metadata import distribution

    return distribution("labkit").read_text("direct_url.json") or ""


@CONTAINER
@pytest.mark.parametrize("name", sorted(TINY_IN_CONTAINERS))
def test_benchmark_runs_at_a_tiny_size_in_containers(name: str, tmp_path: Path, values: dict[str, str]) -> None:
    _run_tiny(name, *TINY_IN_CONTAINERS[name], tmp_path, values)


def _need_evidently() -> None:
    from benchmarks.drift_vs_evidently import evidently_python

    if not evidently_python().exists():
        reason = f"no evidently venv at {evidently_python()}: python -m benchmarks.drift_vs_evidently --make-venv"
        if os.environ.get("LABKIT_REQUIRE_BENCHMARK_TOOLS") == "1":
            pytest.fail(f"LABKIT_REQUIRE_BENCHMARK_TOOLS=1 but {reason}")
        pytest.skip(reason)


# ---------------------------------------------------------------- BENCHMARKS.md quotes recorded results only

# A measurement's command line: it writes a results file (other lines, such as making evidently's venv, do not).
COMMAND = re.compile(r"^(?:\.venv/bin/)?python -m (benchmarks\.\w+ .*--json .*?)\s*$", re.MULTILINE)


def recorded() -> dict[str, dict]:
    return {path.name: json.loads(path.read_text()) for path in sorted(RESULTS_DIR.glob("*.json"))}


def test_every_results_file_says_how_when_and_under_what_load_it_was_made() -> None:
    files = recorded()
    assert files, f"no results in {RESULTS_DIR}"
    for name, record in files.items():
        assert record["benchmark"] in benchmark_modules(), name
        assert record["command"].startswith(f"python -m benchmarks.{record['benchmark']}"), name
        assert f"--json benchmarks/results/{name}" in record["command"], f"{name} was written by another command"
        assert record["date"] and record["load_average"]["before"] and record["load_average"]["after"], name


def test_each_command_in_benchmarks_md_made_a_results_file_and_is_quoted_with_it() -> None:
    text = (REPO_ROOT / "BENCHMARKS.md").read_text()
    commands = {f"python -m {match}" for match in COMMAND.findall(text)}
    recorded_commands = {record["command"] for record in recorded().values()}
    assert commands, "BENCHMARKS.md shows no benchmark command"
    assert commands == recorded_commands, (
        f"in BENCHMARKS.md, not recorded: {sorted(commands - recorded_commands)}; "
        f"recorded, not in BENCHMARKS.md: {sorted(recorded_commands - commands)}"
    )
    for name in recorded():
        assert f"benchmarks/results/{name}" in text, f"BENCHMARKS.md does not point at {name}"
