"""Grade a folder of submissions in parallel, resumably: one result folder per submission, then a gradebook."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import tempfile
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from components.common.images import KIT_VERSION
from grading.engines import ENGINES
from grading.grader import GradeResult, grade
from grading.reports import FILE_NAMES, FORMATS, gradebook, write_atomic, write_reports
from grading.rubric import STAGES, Rubric
from grading.sandbox import Limits, Sandbox
from grading.submission import (
    PIPELINE_FILE,
    RefusedFile,
    SubmissionError,
    digest,
    read_json_limited,
    submission_id,
    unpack,
)

MAX_RESULT_BYTES = 4 * 1024 * 1024
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class BatchEvent:
    submission: str
    state: str  # "graded", "skipped" (already graded, unchanged) or "error: ..." (the grader failed on it)
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


def grading_key(rubric: Rubric, sandbox: Sandbox, limits: Limits | None) -> str:
    """Everything besides the submission's files that decides its grade: the whole rubric as loaded (hidden
    checks and held-out seed included), the lab, the sandbox kind, the limits, the kit's version and the design
    of the held-out rows."""
    settings = {
        "rubric": dataclasses.asdict(rubric),
        "session": rubric.session,
        "sandbox": sandbox.name,
        "limits": dataclasses.asdict(limits) if limits else None,
        "kit": KIT_VERSION,
        # How the held-out data is made: grades made another way are not reused.
        "heldout": ENGINES[rubric.engine].heldout_design,
    }
    return hashlib.sha256(json.dumps(settings, sort_keys=True, default=str).encode()).hexdigest()[:16]


def _current_digest(source: Path) -> str | None:
    with tempfile.TemporaryDirectory(prefix="labkit-digest-") as tmp:
        try:
            unpack(source, Path(tmp) / "s")
        except SubmissionError:
            return None
        return digest(Path(tmp) / "s")


def _previous(out_dir: Path, source: Path, key: str) -> GradeResult | None:
    """The saved result, if it was graded from the same files the same way; anything else is graded again."""
    try:
        result = GradeResult.from_dict(read_json_limited(out_dir / FILE_NAMES["json"], out_dir, MAX_RESULT_BYTES))
    except (RefusedFile, ValueError, TypeError, KeyError, AttributeError):
        return None
    if result.grader_error or result.grading_key != key or not result.submission_digest:
        return None
    try:
        return result if result.submission_digest == _current_digest(source) else None
    except Exception:  # an unreadable submission is graded again, and the grading says what is wrong with it
        return None


def failed_result(source: Path, rubric: Rubric, sandbox: Sandbox, exc: BaseException) -> GradeResult:
    """A gradebook row for a submission the grader failed on: no grade, and the error for the instructor."""
    why = "no se corrigió: falló el corrector (no tu entrega); se corregirá de nuevo"
    return GradeResult(
        submission=submission_id(source),
        session=rubric.session,
        score=0.0,
        max_score=rubric.total_points,
        percent=0.0,
        passed=False,
        passing_percent=rubric.passing_percent,
        sandbox=sandbox.name,
        stages=dict.fromkeys(STAGES, why),
        checks=[],
        heldout_metrics=None,
        wall_seconds=0.0,
        graded_at=datetime.now(timezone.utc).isoformat(timespec="seconds"),
        notes=[why],
        grader_error=f"{type(exc).__name__}: {exc}"[:500],
    )


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
    """Every submission gets a gradebook row: a grade, a reused grade, or (``grader_error``) why it has none."""
    sources = discover(folder)
    key = grading_key(rubric, sandbox, limits)
    results: dict[str, GradeResult] = {}
    pending = []
    done = 0
    for source in sources:
        previous = None if regrade else _previous(out / submission_id(source), source, key)
        if previous is not None:
            results[previous.submission] = previous
            done += 1
            on_event(BatchEvent(previous.submission, "skipped", previous, done, len(sources)))
        else:
            pending.append(source)
    formats = tuple(dict.fromkeys((*formats, "json")))  # result.json is what makes the batch resumable

    def one(source: Path) -> GradeResult:
        result = grade(source, rubric, sandbox, limits)
        result.grading_key = key
        write_reports(result, out / result.submission, formats)
        return result

    with ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
        futures = {pool.submit(one, source): source for source in pending}
        for future in as_completed(futures):
            done += 1
            source = futures[future]
            try:
                result, state = future.result(), "graded"
            except Exception as exc:  # a grader bug on one submission must not stop the others, nor drop it
                log.exception("grading %s failed", source)
                result = failed_result(source, rubric, sandbox, exc)
                state = f"error: {result.grader_error}"
                try:
                    write_reports(result, out / result.submission, formats)
                except OSError:
                    log.exception("writing the error report of %s failed", source)
            results[result.submission] = result
            if gradebook_path:
                write_atomic(gradebook_path, gradebook(results.values()))
            on_event(BatchEvent(result.submission, state, result, done, len(sources)))
    if gradebook_path:
        write_atomic(gradebook_path, gradebook(results.values()))
    return [results[k] for k in sorted(results)]
