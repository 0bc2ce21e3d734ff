"""Grade a set of one-file submissions (name -> pipeline.py source) in one real batch."""

from __future__ import annotations

from pathlib import Path

from grading.batch import grade_batch
from grading.grader import GradeResult
from grading.rubric import load_rubric
from grading.sandbox import Limits, SubprocessSandbox
from labkit.labs import get_lab


def grade_sources(
    sources: dict[str, str], session: int, folder: Path, limits: Limits | None = None
) -> dict[str, GradeResult]:
    """Each source as ``folder/submissions/<name>/pipeline.py``, graded with the lab's full rubric in the
    subprocess sandbox, two at a time; limits default to the rubric's wall time."""
    for name, source in sources.items():
        (folder / "submissions" / name).mkdir(parents=True)
        (folder / "submissions" / name / "pipeline.py").write_text(source)
    rubric = load_rubric(get_lab(session))
    limits = limits or Limits(wall_seconds=rubric.wall_seconds)
    results = grade_batch(folder / "submissions", rubric, SubprocessSandbox(), folder / "out", jobs=2, limits=limits)
    return {r.submission: r for r in results}
