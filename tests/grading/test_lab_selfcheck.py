"""Instructor self-check for every lab with a rubric: the reference scores full marks, the starter fails."""

from __future__ import annotations

from pathlib import Path

import pytest

from grading.batch import grade_batch
from grading.rubric import RUBRIC_FILE, load_rubric
from grading.sandbox import Limits, SubprocessSandbox, pick_sandbox
from labkit.labs import Lab, list_labs

GRADED_LABS = [lab for lab in list_labs() if (lab.folder / RUBRIC_FILE).is_file()]


def test_every_lab_is_graded() -> None:
    assert [lab.session for lab in GRADED_LABS] == [lab.session for lab in list_labs()]


# TFX labs are graded only in the TFX image: their self-check belongs to the container tier.
@pytest.mark.parametrize(
    "lab",
    [pytest.param(lab, marks=[pytest.mark.container] if lab.kind == "tfx" else []) for lab in GRADED_LABS],
    ids=lambda lab: f"session-{lab.session:02d}",
)
def test_reference_full_marks_and_starter_below_passing(lab: Lab, tmp_path: Path) -> None:
    submissions = tmp_path / "submissions"
    for name, source in (("reference", lab.solution), ("starter", lab.starter)):
        (submissions / name).mkdir(parents=True)
        (submissions / name / "pipeline.py").write_text(source.read_text())
    rubric = load_rubric(lab)
    sandbox = pick_sandbox("docker", "tfx") if lab.kind == "tfx" else SubprocessSandbox()
    limits = Limits(wall_seconds=rubric.wall_seconds)
    results = {r.submission: r for r in grade_batch(submissions, rubric, sandbox, tmp_path / "out", 2, limits=limits)}
    reference, starter = results["reference"], results["starter"]
    failed = [f"{c.id}: {c.feedback}" for c in reference.checks if not c.passed]
    assert reference.score == reference.max_score, failed
    assert reference.passed
    assert not starter.passed and starter.percent < rubric.passing_percent


# The docker sandbox on the labs' runs (data files read-only, a writable registry) is graded by the guide walks:
# `labkit lab check N` on the completed starter in tests/walkthrough picks the docker sandbox and must score 100 %.
