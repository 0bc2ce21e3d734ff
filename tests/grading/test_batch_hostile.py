"""One real batch per sandbox: reference, starter, a zipped copy and every hostile submission, graded together.

Each hostile submission must end with a score and a clear feedback line while the rest of the batch goes on.
The subprocess fallback is tested on what it can defend here; the container tier on everything.
"""

from __future__ import annotations

import csv
import json
import os
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest

from grading.batch import grade_batch
from grading.grader import GradeResult
from grading.rubric import load_rubric
from grading.sandbox import DockerSandbox, Limits, Sandbox, SubprocessSandbox, docker_available
from labkit.labs import get_lab, list_labs
from labkit.paths import REPO_ROOT
from tests.grading.hostile import (
    DAEMON_SECONDS,
    HOPPER_MARK,
    hostile_sources,
    reference_source,
    starter_source,
    write_submission,
    write_zip,
)

# Small enough to keep the tests quick, big enough for a real TensorFlow run of the reference in parallel.
LIMITS = Limits(wall_seconds=75, memory_mb=3072, pids=256)


@dataclass
class Batch:
    results: dict[str, GradeResult]
    out: Path
    gradebook: Path
    sandbox: Sandbox
    kit_files_before: dict[Path, bytes]


def _kit_snapshot() -> dict[Path, bytes]:
    lab = REPO_ROOT / "labs/session-05"
    return {path: path.read_bytes() for path in sorted(lab.rglob("*")) if path.is_file()}


def _run_batch(tmp: Path, sandbox: Sandbox) -> Batch:
    submissions, out = tmp / "submissions", tmp / "grades"
    submissions.mkdir()
    write_submission(submissions / "reference", {"pipeline.py": reference_source()})
    write_submission(submissions / "starter", {"pipeline.py": starter_source()})
    write_zip(submissions / "zipped_reference.zip", {"pipeline.py": reference_source()}, prefix="entrega/")
    broken_split = reference_source().replace("seed=seed).after", "seed=seed, test_fraction=1.5).after")
    write_submission(submissions / "fails_at_run", {"pipeline.py": broken_split})
    for name, files in hostile_sources(out, REPO_ROOT).items():
        write_submission(submissions / name, files)
    before = _kit_snapshot()
    gradebook = tmp / "grades.csv"
    results = grade_batch(
        submissions, load_rubric(get_lab(5)), sandbox, out, jobs=2, gradebook_path=gradebook, limits=LIMITS
    )
    return Batch({r.submission: r for r in results}, out, gradebook, sandbox, before)


@pytest.fixture(scope="module")
def subprocess_batch(tmp_path_factory: pytest.TempPathFactory) -> Batch:
    return _run_batch(tmp_path_factory.mktemp("subprocess-batch"), SubprocessSandbox())


@pytest.fixture(scope="module")
def docker_batch(tmp_path_factory: pytest.TempPathFactory) -> Batch:
    reason = docker_available()
    if reason:
        if os.environ.get("LABKIT_REQUIRE_CONTAINERS") == "1":
            pytest.fail(f"LABKIT_REQUIRE_CONTAINERS=1 but the docker sandbox cannot run: {reason}")
        pytest.skip(f"docker sandbox unavailable: {reason}")
    return _run_batch(tmp_path_factory.mktemp("docker-batch"), DockerSandbox())


def _feedback(result: GradeResult) -> str:
    return "\n".join([*result.stages.values(), *(c.feedback for c in result.checks)])


def _cmdline(proc: Path) -> str:
    try:
        return (proc / "cmdline").read_bytes().decode(errors="replace")
    except OSError:
        return ""


def _full_marks(result: GradeResult) -> bool:
    return result.score == result.max_score


def _defended(batch: Batch, name: str) -> None:
    """Assertions shared by both sandboxes."""
    result = batch.results[name]
    text = _feedback(result)
    if name == "syntax_error":
        assert result.score == 0 and "error de sintaxis" in result.stages["load"] and "line 3" in text
    elif name == "no_function":
        assert result.score == 0 and "no define un @dsl.pipeline llamado 'training_pipeline'" in result.stages["load"]
    elif name == "infinite_loop":
        assert result.score == 0 and "tiempo límite" in result.stages["load"]
        assert result.wall_seconds < LIMITS.wall_seconds + 15
    elif name == "memory_bomb":
        assert result.score == 0 and ("memoria" in result.stages["load"] or "MemoryError" in result.stages["load"])
    elif name == "fork_bomb":
        assert result.score == 0
        assert "procesos" in result.stages["load"] or "señal" in result.stages["load"], result.stages["load"]
    elif name == "lingering_daemon":
        assert result.score == 0 and "no define un @dsl.pipeline" in result.stages["load"]
        leftovers = [
            proc.name for proc in Path("/proc").iterdir() if proc.name.isdigit() and DAEMON_SECONDS in _cmdline(proc)
        ]
        assert not leftovers, f"processes outlived the sandbox: {leftovers}"
    elif name == "pid_hopper":
        assert result.score == 0 and "no define un @dsl.pipeline" in result.stages["load"]
        leftovers = [
            proc.name for proc in Path("/proc").iterdir() if proc.name.isdigit() and HOPPER_MARK in _cmdline(proc)
        ]
        assert not leftovers, f"a pid-changing process outlived the sandbox: {leftovers}"
    elif name == "memory_in_children":
        assert _full_marks(result), f"the children together got past the run's memory limit: {text}"
    elif name == "disk_filler":
        assert result.score == 0 and "escribió más de" in result.stages["load"], result.stages["load"]
    elif name == "output_flood":
        assert result.score == 0 and "MiB" in result.stages["load"]
        report = (batch.out / name / "result.json").stat().st_size
        assert report < 64 * 1024, "the report keeps only the head of a flood"
    elif name == "exit_at_import":
        assert result.score == 0 and "terminó el proceso al importarse" in result.stages["load"]
    elif name == "wrong_types":
        assert result.score == 0 and "Incompatible argument passed to the input 'epochs'" in result.stages["load"]
    elif name == "shadowing":
        assert _full_marks(result), text
    elif name == "fake_metrics":
        # It trains a poor model and reports perfect metrics of its own, and publishes nothing: nothing to score.
        accuracy = next(c for c in result.checks if c.id == "metrics.heldout_accuracy")
        assert accuracy.earned == 0 and result.heldout_metrics is None and not result.passed
        assert "no publica ningún modelo" in result.stages["metrics"] and "datos reservados" in accuracy.feedback
    elif name == "tamper_results":
        assert not result.passed and result.percent == batch.results["starter"].percent
        saved = json.loads((batch.out / name / "result.json").read_text())
        assert saved["score"] == result.score and saved["passed"] is False
    elif name == "copies_solution":
        assert result.score == 0 and "importar pipeline.py falló" in result.stages["load"], result.stages["load"]
    elif name in ("network", "write_outside", "read_rubric"):
        assert _full_marks(result), f"{name} got through the sandbox: {text}"
    else:
        raise AssertionError(f"no assertion for {name}")
    assert result.checks and all(c.feedback for c in result.checks)


def _common(batch: Batch) -> None:
    reference, starter = batch.results["reference"], batch.results["starter"]
    assert _full_marks(reference), _feedback(reference)
    assert _full_marks(batch.results["zipped_reference"])
    assert not starter.passed and starter.percent < starter.passing_percent
    assert starter.stages["execute"] == "ok", "the starter runs; it is the wiring that loses points"
    now = _kit_snapshot()
    assert {p: now.get(p) for p in batch.kit_files_before} == batch.kit_files_before, "a submission changed the kit"
    assert not [p for p in now if "pwned" in p.name]
    assert not (batch.out / "pwned.txt").exists()
    fails_at_run = batch.results["fails_at_run"]
    assert "test_fraction must be between 0 and 1" in fails_at_run.stages["execute"]
    assert fails_at_run.stages["static"] == "ok" and all(c.passed for c in fails_at_run.checks if c.stage == "static")
    assert not fails_at_run.passed and "execute.runs" in fails_at_run.notes[-1], "a required check failed"
    rows = list(csv.DictReader(batch.gradebook.open()))
    assert {row["submission"] for row in rows} == set(batch.results)
    assert next(r for r in rows if r["submission"] == "reference")["passed"] == "yes"


SUBPROCESS_DEFENDS = [
    "syntax_error",
    "no_function",
    "infinite_loop",
    "memory_bomb",
    "output_flood",
    "disk_filler",
    "exit_at_import",
    "wrong_types",
    "shadowing",
    "fake_metrics",
    "tamper_results",
]
# Only when the grader runs as root can it drop the submission to `nobody` and unshare the network.
SUBPROCESS_AS_NOBODY = [
    "fork_bomb",
    "network",
    "write_outside",
    "lingering_daemon",
    "pid_hopper",
    "memory_in_children",
    "read_rubric",
    "copies_solution",
]


def test_subprocess_batch_reference_starter_and_report(subprocess_batch: Batch) -> None:
    _common(subprocess_batch)
    assert "weaker" in subprocess_batch.results["reference"].notes[0]


@pytest.mark.parametrize("name", SUBPROCESS_DEFENDS + SUBPROCESS_AS_NOBODY)
def test_subprocess_sandbox_defends(subprocess_batch: Batch, name: str) -> None:
    sandbox = subprocess_batch.sandbox
    assert isinstance(sandbox, SubprocessSandbox)
    if name in SUBPROCESS_AS_NOBODY and not sandbox.drop_to_nobody:
        pytest.skip("the subprocess fallback cannot isolate this without root (use the docker sandbox)")
    _defended(subprocess_batch, name)


def test_subprocess_sandbox_as_root_makes_hidden_rubrics_and_solutions_private(subprocess_batch: Batch) -> None:
    sandbox = subprocess_batch.sandbox
    assert isinstance(sandbox, SubprocessSandbox)
    if not sandbox.drop_to_nobody:
        assert "weaker" in sandbox.description
        pytest.skip("without root the fallback runs submissions as the grader's own user and cannot hide files")
    from grading.sandbox import hidden_material

    lab = get_lab(5)
    private = [path for path in hidden_material() if path.exists()]
    assert {lab.folder / "hidden", lab.solution, REPO_ROOT / ".git", REPO_ROOT / "tests/golden"} <= set(private)
    assert [path for path in private if path.stat().st_mode & 0o077] == []
    assert "hidden rubrics and solutions are made private" in subprocess_batch.results["reference"].notes[0]


def test_no_test_or_document_quotes_a_real_held_out_seed() -> None:
    """Tests and documents are readable from the subprocess sandbox: the real seeds live only in hidden/."""
    seeds = {str(load_rubric(lab).heldout_seed) for lab in list_labs()}
    tracked = subprocess.run(["git", "ls-files"], capture_output=True, text=True, cwd=REPO_ROOT, check=True).stdout
    readable = [REPO_ROOT / name for name in tracked.splitlines() if "/hidden/" not in name]
    quoting = [str(p) for p in readable if p.is_file() and any(seed in p.read_text(errors="replace") for seed in seeds)]
    assert quoting == []


@pytest.mark.container
def test_docker_batch_reference_starter_and_report(docker_batch: Batch) -> None:
    _common(docker_batch)
    assert docker_batch.results["reference"].sandbox == "docker"


@pytest.mark.container
@pytest.mark.parametrize("name", SUBPROCESS_DEFENDS + SUBPROCESS_AS_NOBODY)
def test_docker_sandbox_defends(docker_batch: Batch, name: str) -> None:
    _defended(docker_batch, name)


def test_batch_resumes_and_regrades_only_changed(subprocess_batch: Batch, tmp_path: Path) -> None:
    """Run again over the graded output: nothing is graded twice; an edited submission is graded again."""
    submissions = tmp_path / "subs"
    write_submission(submissions / "syntax_error", hostile_sources(tmp_path, REPO_ROOT)["syntax_error"])
    write_submission(submissions / "no_function", hostile_sources(tmp_path, REPO_ROOT)["no_function"])
    out = tmp_path / "grades"
    rubric = load_rubric(get_lab(5))
    first = grade_batch(submissions, rubric, SubprocessSandbox(), out, jobs=2, limits=LIMITS)
    stamps = {r.submission: r.graded_at for r in first}
    events: list[str] = []
    (submissions / "syntax_error" / "pipeline.py").write_text("x = 1\n")
    second = grade_batch(
        submissions, rubric, SubprocessSandbox(), out, jobs=2, limits=LIMITS, on_event=lambda e: events.append(e.state)
    )
    assert sorted(events) == ["graded", "skipped"]
    by_name = {r.submission: r for r in second}
    assert by_name["no_function"].graded_at == stamps["no_function"]
    assert "no define un @dsl.pipeline" in by_name["syntax_error"].stages["load"]
