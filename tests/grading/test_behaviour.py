"""The grader judges what a session-5 pipeline does, not how it looks: each submission of tests/grading/session5.py
is graded for real (compile, the two runs, held-out scoring) and loses exactly the checks ``LOSES`` lists.

Both sandboxes: these are flaws of the pipeline, not escapes, so the subprocess fallback must judge them too.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from grading.batch import grade_batch
from grading.grader import GradeResult
from grading.rubric import load_rubric
from grading.sandbox import DockerSandbox, Limits, SubprocessSandbox, docker_available
from labkit.labs import get_lab
from tests.grading.session5 import LOSES, session5_sources


def _graded(tmp: Path, sandbox) -> dict[str, GradeResult]:
    for name, source in session5_sources().items():
        (tmp / "submissions" / name).mkdir(parents=True)
        (tmp / "submissions" / name / "pipeline.py").write_text(source)
    rubric = load_rubric(get_lab(5))
    results = grade_batch(tmp / "submissions", rubric, sandbox, tmp / "out", jobs=2, limits=Limits())
    return {result.submission: result for result in results}


@pytest.fixture(scope="module")
def subprocess_graded(tmp_path_factory: pytest.TempPathFactory) -> dict[str, GradeResult]:
    return _graded(tmp_path_factory.mktemp("behaviour-subprocess"), SubprocessSandbox())


@pytest.fixture(scope="module")
def docker_graded(tmp_path_factory: pytest.TempPathFactory) -> dict[str, GradeResult]:
    if reason := docker_available():
        pytest.fail(f"the docker sandbox cannot run: {reason}")
    return _graded(tmp_path_factory.mktemp("behaviour-docker"), DockerSandbox())


def _lost(result: GradeResult) -> dict[str, float]:
    return {c.id: round(c.points - c.earned, 2) for c in result.checks if not c.passed}


def _judged(result: GradeResult, name: str) -> None:
    expected = {check: round(points, 2) for check, points in LOSES[name].items()}
    assert _lost(result) == expected, (result.stages, [c.feedback for c in result.checks if not c.passed])
    assert result.stages["execute"] == "ok", result.stages


@pytest.mark.parametrize("name", sorted(LOSES))
def test_subprocess_fallback_judges_behaviour(subprocess_graded: dict[str, GradeResult], name: str) -> None:
    _judged(subprocess_graded[name], name)


@pytest.mark.container
@pytest.mark.parametrize("name", sorted(LOSES))
def test_container_judges_behaviour(docker_graded: dict[str, GradeResult], name: str) -> None:
    _judged(docker_graded[name], name)


def test_feedback_names_the_behaviour(subprocess_graded: dict[str, GradeResult]) -> None:
    def feedback(name: str, check: str) -> str:
        return next(c.feedback for c in subprocess_graded[name].checks if c.id == check)

    assert "push corrió igual" in feedback("gate_inverted", "execute.gate_closes")
    assert "no corrieron en la corrida main: push" in feedback("gate_inverted", "execute.gate_opens")
    assert (
        "no sale de train (sale de own:pretrained)"
        in subprocess_graded["ships_a_model_from_elsewhere"].stages["metrics"]
    )
    assert "faltan los pasos: evaluate" in feedback("own_evaluate_always_true", "static.steps")
    assert not subprocess_graded["trains_on_everything"].passed, "training on the test rows is a required check"
    assert subprocess_graded["renamed_with_extra_step"].passed


@pytest.mark.container
def test_the_docker_sandbox_refuses_an_image_built_from_another_kit(monkeypatch: pytest.MonkeyPatch) -> None:
    """Kit steps are known by their code, and submissions compile in the image: an image from another version
    of the kit would turn every kit step into one of the submission's own, so grading refuses it by name."""
    from grading import identity

    assert DockerSandbox().kit_problem() is None, "CI builds the image from this checkout"
    here = dict(identity.kit_components())
    changed = {("0" * 64 if name == "evaluate" else digest): name for digest, name in here.items()}
    monkeypatch.setattr(identity, "kit_components", lambda: changed)
    problem = DockerSandbox().kit_problem()
    assert problem is not None and "components differ: evaluate" in problem
