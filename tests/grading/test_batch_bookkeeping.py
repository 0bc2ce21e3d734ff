"""Batch bookkeeping: what makes a saved grade reusable, and what happens when the grader itself fails.

Runs on the replay sandbox (tests/grading/replay.py), so a batch takes seconds and runs no submission code.
"""

from __future__ import annotations

import csv
import dataclasses
from pathlib import Path

import pytest
from typer.testing import CliRunner

from grading import batch
from grading.batch import grade_batch
from grading.grader import GradeResult
from grading.rubric import Rubric
from grading.sandbox import Limits
from labkit.cli import app
from tests.grading.hostile import reference_source, write_submission
from tests.grading.replay import ReplaySandbox


def _submissions(folder: Path, names: tuple[str, ...] = ("ana", "beto")) -> Path:
    for name in names:
        write_submission(folder / name, {"pipeline.py": reference_source()})
    return folder


def _states(folder: Path, rubric: Rubric, sandbox, out: Path, **kwargs) -> dict[str, str]:
    states: dict[str, str] = {}
    grade_batch(folder, rubric, sandbox, out, on_event=lambda e: states.__setitem__(e.submission, e.state), **kwargs)
    return states


def _with_hidden_check_changed(rubric: Rubric) -> Rubric:
    """The same rubric after fixing one hidden check's threshold (the public rubric file does not change)."""
    checks = tuple(
        dataclasses.replace(c, params={**c.params, "min": 0.99}) if c.id == "hidden.heldout_macro_f1" else c
        for c in rubric.checks
    )
    return dataclasses.replace(rubric, checks=checks)


def test_resume_skips_only_what_was_graded_the_same_way(
    rubric: Rubric, recorded: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder, out = _submissions(tmp_path / "subs"), tmp_path / "grades"
    sandbox = ReplaySandbox(recorded)
    assert set(_states(folder, rubric, sandbox, out).values()) == {"graded"}
    assert set(_states(folder, rubric, sandbox, out).values()) == {"skipped"}

    fixed = _with_hidden_check_changed(rubric)
    assert set(_states(folder, fixed, sandbox, out).values()) == {"graded"}, "a rubric fix regrades"
    assert set(_states(folder, fixed, sandbox, out).values()) == {"skipped"}

    reseeded = dataclasses.replace(fixed, heldout_seed=fixed.heldout_seed + 1)
    assert set(_states(folder, reseeded, sandbox, out).values()) == {"graded"}, "another held-out split regrades"

    other = ReplaySandbox(recorded)
    other.name = "docker"
    assert set(_states(folder, reseeded, other, out).values()) == {"graded"}, "another sandbox regrades"

    monkeypatch.setattr(batch, "KIT_VERSION", "9.9.9")
    assert set(_states(folder, reseeded, other, out).values()) == {"graded"}, "another kit version regrades"

    assert set(_states(folder, reseeded, other, out, limits=Limits(wall_seconds=5)).values()) == {"graded"}


def test_a_grade_saved_for_another_lab_is_not_reused(rubric: Rubric, recorded: Path, tmp_path: Path) -> None:
    folder, out = _submissions(tmp_path / "subs"), tmp_path / "grades"
    _states(folder, rubric, ReplaySandbox(recorded), out)
    other_lab = dataclasses.replace(rubric, session=7)
    assert set(_states(folder, other_lab, ReplaySandbox(recorded), out).values()) == {"graded"}


def test_a_tampered_or_unreadable_saved_result_is_graded_again(rubric: Rubric, recorded: Path, tmp_path: Path) -> None:
    folder, out = _submissions(tmp_path / "subs"), tmp_path / "grades"
    _states(folder, rubric, ReplaySandbox(recorded), out)
    (out / "ana" / "result.json").unlink()
    (out / "ana" / "result.json").symlink_to("/proc/self/mem")
    (out / "beto" / "result.json").write_text("[" * 50_000)
    assert _states(folder, rubric, ReplaySandbox(recorded), out) == {"ana": "graded", "beto": "graded"}


class _Exploding(ReplaySandbox):
    """A grader bug that only one submission triggers."""

    def run_worker(self, submission, scratch, worker_args, limits, **kwargs):
        if (submission / "boom.txt").exists():
            raise KeyError("grader bug on purpose")
        return super().run_worker(submission, scratch, worker_args, limits, **kwargs)


def test_a_grader_exception_becomes_a_gradebook_row_and_the_batch_goes_on(
    rubric: Rubric, recorded: Path, tmp_path: Path
) -> None:
    folder, out, book = _submissions(tmp_path / "subs", ("ana", "beto", "carla")), tmp_path / "g", tmp_path / "g.csv"
    (folder / "beto" / "boom.txt").write_text("x")
    states: dict[str, str] = {}
    results = grade_batch(
        folder,
        rubric,
        _Exploding(recorded),
        out,
        gradebook_path=book,
        on_event=lambda e: states.update({e.submission: e.state}),
    )
    assert [r.submission for r in results] == ["ana", "beto", "carla"]
    assert states["beto"].startswith("error") and states["ana"] == states["carla"] == "graded"
    rows = {row["submission"]: row for row in csv.DictReader(book.open())}
    assert set(rows) == {"ana", "beto", "carla"}
    assert "KeyError" in rows["beto"]["grader_error"] and rows["beto"]["passed"] == "no"
    assert rows["ana"]["grader_error"] == "" and rows["ana"]["passed"] == "yes"
    saved = GradeResult.from_dict(__import__("json").loads((out / "beto" / "result.json").read_text()))
    assert saved.grader_error and saved.score == 0
    again: dict[str, str] = {}
    grade_batch(folder, rubric, _Exploding(recorded), out, on_event=lambda e: again.update({e.submission: e.state}))
    assert again["beto"].startswith("error") and again["ana"] == "skipped", "a failed grading is never resumed"


def test_the_command_exits_non_zero_naming_the_submissions_it_could_not_grade(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = tmp_path / "entregas"
    for name in ("ana", "beto"):
        write_submission(folder / name, {"pipeline.py": "def training_pipeline(:\n"})
    real = batch.grade

    def grade(source: Path, *args, **kwargs) -> GradeResult:
        if source.name == "beto":
            raise OSError("disk on fire")
        return real(source, *args, **kwargs)

    monkeypatch.setattr(batch, "grade", grade)
    book = tmp_path / "grades.csv"
    args = ["grade", str(folder), "--lab", "5", "--out", str(tmp_path / "g"), "--gradebook", str(book)]
    result = CliRunner().invoke(app, [*args, "--sandbox", "subprocess"])
    assert result.exit_code != 0, result.output
    assert "beto" in result.output and "could not grade 1" in result.output, result.output
    assert {row["submission"] for row in csv.DictReader(book.open())} == {"ana", "beto"}


def test_one_submission_the_grader_fails_on_gets_a_report_and_a_non_zero_exit(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import grading.grader

    def grade(*args, **kwargs) -> GradeResult:
        raise OSError("disk on fire")

    monkeypatch.setattr(grading.grader, "grade", grade)
    submission = write_submission(tmp_path / "ana", {"pipeline.py": "x = 1\n"})
    out = tmp_path / "g"
    args = ["grade", str(submission), "--lab", "5", "--out", str(out), "-f", "md,json", "--sandbox", "subprocess"]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 1 and "could not grade ana" in result.output, result.output
    assert "falló el corrector" in (out / "ana" / "feedback.md").read_text()
