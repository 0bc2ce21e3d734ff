"""Grade a folder of submissions in parallel, resumably: one result folder per submission, then a gradebook."""

from __future__ import annotations

import json
import tempfile
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass
from pathlib import Path

from grading.grader import GradeResult, grade
from grading.reports import FILE_NAMES, FORMATS, gradebook, write_atomic, write_reports
from grading.rubric import Rubric
from grading.sandbox import Limits, Sandbox
from grading.submission import PIPELINE_FILE, SubmissionError, digest, submission_id, unpack


@dataclass(frozen=True)
class BatchEvent:
    submission: str
    state: str  # "graded", "skipped" (already graded, unchanged) or "error"
    result: GradeResult | None
    done: int
    total: int


def discover(folder: Path) -> list[Path]:
    """Each sub-folder and each .zip directly inside ``folder`` is one submission."""
    found = [
        p
        for p in sorted(folder.iterdir())
        if (p.is_dir() and not p.name.startswith(".")) or (p.is_file() and p.suffix == ".zip")
    ]
    return found


def is_single_submission(path: Path) -> bool:
    return (path.is_file() and path.suffix == ".zip") or (path / PIPELINE_FILE).is_file()


def _current_digest(source: Path) -> str | None:
    with tempfile.TemporaryDirectory(prefix="labkit-digest-") as tmp:
        try:
            unpack(source, Path(tmp) / "s")
        except SubmissionError:
            return None
        return digest(Path(tmp) / "s")


def _previous(out_dir: Path, source: Path) -> GradeResult | None:
    """The saved result, if it was graded from the same files; a changed submission is graded again."""
    saved = out_dir / FILE_NAMES["json"]
    if not saved.is_file():
        return None
    try:
        result = GradeResult.from_dict(json.loads(saved.read_text()))
    except (ValueError, TypeError, KeyError):
        return None
    return result if result.submission_digest and result.submission_digest == _current_digest(source) else None


def grade_batch(
    folder: Path,
    rubric: Rubric,
    sandbox: Sandbox,
    out: Path,
    jobs: int = 2,
    formats: tuple[str, ...] = FORMATS,
    regrade: bool = False,
    gradebook_path: Path | None = None,
    limits: Limits | None = None,
    on_event: Callable[[BatchEvent], None] = lambda event: None,
) -> list[GradeResult]:
    sources = discover(folder)
    results: dict[str, GradeResult] = {}
    pending = []
    done = 0
    for source in sources:
        previous = None if regrade else _previous(out / submission_id(source), source)
        if previous is not None:
            results[previous.submission] = previous
            done += 1
            on_event(BatchEvent(previous.submission, "skipped", previous, done, len(sources)))
        else:
            pending.append(source)
    formats = tuple(dict.fromkeys((*formats, "json")))  # result.json is what makes the batch resumable

    def one(source: Path) -> GradeResult:
        result = grade(source, rubric, sandbox, limits)
        write_reports(result, out / result.submission, formats)
        return result

    with ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
        futures = {pool.submit(one, source): source for source in pending}
        for future in as_completed(futures):
            done += 1
            name = submission_id(futures[future])
            try:
                result = future.result()
            except Exception as exc:  # a grader bug on one submission must not stop the others
                on_event(BatchEvent(name, f"error: {type(exc).__name__}: {exc}", None, done, len(sources)))
                continue
            results[result.submission] = result
            if gradebook_path:
                write_atomic(gradebook_path, gradebook(results.values()))
            on_event(BatchEvent(name, "graded", result, done, len(sources)))
    if gradebook_path:
        write_atomic(gradebook_path, gradebook(results.values()))
    return [results[k] for k in sorted(results)]
