"""The grading commands end to end through the CLI, on submissions that fail fast (no TensorFlow run)."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from labkit.cli import app


def run_cli(*args: str):
    return CliRunner().invoke(app, list(args))


def _broken(folder: Path) -> Path:
    folder.mkdir(parents=True)
    (folder / "pipeline.py").write_text("from kfp import dsl\n\ndef training_pipeline(:\n")
    return folder


def test_grade_one_submission_writes_every_format(tmp_path: Path) -> None:
    submission = _broken(tmp_path / "ana")
    out = tmp_path / "grades"
    result = run_cli(
        "grade",
        str(submission),
        "--lab",
        "5",
        "-f",
        "md,json,gradescope,junit",
        "--out",
        str(out),
        "--sandbox",
        "subprocess",
    )
    assert result.exit_code == 0, result.output
    assert "error de sintaxis" in result.output and "NO APROBADO" in result.output
    assert sorted(p.name for p in (out / "ana").iterdir()) == [
        "feedback.md",
        "junit.xml",
        "result.json",
        "results.json",
    ]
    assert json.loads((out / "ana/results.json").read_text())["score"] == 0


def test_grade_batch_writes_gradebook_and_resumes(tmp_path: Path) -> None:
    submissions = tmp_path / "entregas"
    for name in ("ana", "beto"):
        _broken(submissions / name)
    book = tmp_path / "grades.csv"
    args = ["grade", str(submissions), "--lab", "5", "--out", str(tmp_path / "g"), "--gradebook", str(book)]
    first = run_cli(*args, "--sandbox", "subprocess", "--jobs", "2")
    assert first.exit_code == 0, first.output
    assert "graded 2 submissions: 0 passed" in first.output, first.output
    assert book.read_text().count("\n") == 3
    again = run_cli(*args, "--sandbox", "subprocess")
    assert again.exit_code == 0 and "2 skipped" in again.output, again.output


def test_bad_format_and_unknown_lab_are_clear_errors(tmp_path: Path) -> None:
    submission = _broken(tmp_path / "ana")
    bad_format = run_cli("grade", str(submission), "--lab", "5", "-f", "pdf")
    assert bad_format.exit_code == 1 and "unknown report format(s) pdf" in bad_format.output
    bad_lab = run_cli("grade", str(submission), "--lab", "9")
    assert bad_lab.exit_code == 1 and "no lab for session 9" in bad_lab.output


def test_lab_check_runs_public_checks_only(tmp_path: Path) -> None:
    submission = _broken(tmp_path / "mia")
    result = run_cli("lab", "check", "5", str(submission / "pipeline.py"), "--sandbox", "subprocess")
    assert result.exit_code == 0, result.output
    assert "load.imports" in result.output and "hidden." not in result.output


def test_handout_build_refuses_existing_folder(tmp_path: Path) -> None:
    out = tmp_path / "handout"
    first = run_cli("handout", "build", "--out", str(out))
    assert first.exit_code == 0, first.output
    assert "left out: labs/session-05/hidden" in first.output
    second = run_cli("handout", "build", "--out", str(out))
    assert second.exit_code == 1 and "already exists" in second.output
