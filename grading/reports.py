"""Report writers: Markdown feedback, JSON, Gradescope results.json, JUnit XML and the CSV gradebook.

Every file is written to a temporary name beside its target and then renamed, so a crash or a parallel reader
never sees half a report.
"""

from __future__ import annotations

import csv
import io
import json
import os
import tempfile
from collections.abc import Iterable
from pathlib import Path
from xml.etree import ElementTree as ET

from grading.grader import GradeResult

FORMATS = ("md", "json", "gradescope", "junit")
FILE_NAMES = {"md": "feedback.md", "json": "result.json", "gradescope": "results.json", "junit": "junit.xml"}


def write_atomic(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def _fence(text: str) -> str:
    """Student output inside a code fence that the output itself cannot close."""
    longest = max((len(run) for run in text.split("\n") if set(run) == {"`"}), default=0)
    fence = "`" * max(3, longest + 1)
    return f"{fence}text\n{text.replace(fence, '')}\n{fence}"


def markdown(result: GradeResult, include_hidden: bool = True) -> str:
    verdict = "APROBADO" if result.passed else "NO APROBADO"
    lines = [
        f"# Sesión {result.session}: corrección de `{result.submission}`",
        "",
        f"**Puntaje: {result.score:g} / {result.max_score:g} ({result.percent:g} %) — {verdict}** "
        f"(se aprueba con {result.passing_percent:g} %)",
        "",
        "| etapa | estado |",
        "|---|---|",
        *(
            f"| {stage} | {'✅ ok' if state == 'ok' else '❌ ' + state.replace('|', '/')} |"
            for stage, state in result.stages.items()
        ),
        "",
        "| chequeo | puntos | comentario |",
        "|---|---:|---|",
    ]
    for check in result.checks:
        if check.hidden and not include_hidden:
            continue
        mark = "✅" if check.passed else ("🟡" if check.earned > 0 else "❌")
        name = f"{check.id}{' (oculto)' if check.hidden else ''}"
        feedback = check.feedback.replace("|", "/").replace("\n", " ")
        lines.append(f"| {mark} `{name}` | {check.earned:g} / {check.points:g} | {feedback} |")
    if result.heldout_metrics:
        metrics = ", ".join(f"{k} = {v}" for k, v in result.heldout_metrics.items())
        lines += ["", f"Métricas calculadas por el corrector en datos reservados: {metrics}."]
    lines += ["", f"_{'; '.join(result.notes)}. Tiempo: {result.wall_seconds:g} s._"]
    if result.log_excerpt and not result.passed:
        lines += [
            "",
            "<details><summary>Final de la salida de tu corrida</summary>",
            "",
            _fence(result.log_excerpt),
            "",
            "</details>",
        ]
    return "\n".join(lines) + "\n"


def as_json(result: GradeResult) -> str:
    return json.dumps(result.to_dict(), indent=2, ensure_ascii=False) + "\n"


def gradescope(result: GradeResult) -> str:
    """Gradescope's autograder ``results.json``: hidden checks stay hidden until grades are published."""
    tests = [
        {
            "name": f"{check.id}: {check.title}",
            "score": check.earned,
            "max_score": check.points,
            "output": check.feedback,
            "visibility": "after_published" if check.hidden else "visible",
        }
        for check in result.checks
    ]
    payload = {
        "score": result.score,
        "execution_time": round(result.wall_seconds),
        "output": f"{result.percent:g} % ({'aprobado' if result.passed else 'no aprobado'}). {'; '.join(result.notes)}",
        "tests": tests,
    }
    return json.dumps(payload, indent=2, ensure_ascii=False) + "\n"


def junit(result: GradeResult) -> str:
    failures = sum(1 for check in result.checks if not check.passed)
    suite = ET.Element(
        "testsuite",
        name=f"session-{result.session:02d}.{result.submission}",
        tests=str(len(result.checks)),
        failures=str(failures),
        time=f"{result.wall_seconds:.2f}",
    )
    for check in result.checks:
        case = ET.SubElement(suite, "testcase", classname=f"{result.submission}.{check.stage}", name=check.id)
        if not check.passed:
            failure = ET.SubElement(case, "failure", message=f"{check.earned:g}/{check.points:g}")
            failure.text = check.feedback
    ET.indent(suite)
    return ET.tostring(suite, encoding="unicode", xml_declaration=True) + "\n"


RENDERERS = {"md": markdown, "json": as_json, "gradescope": gradescope, "junit": junit}


def write_reports(result: GradeResult, out_dir: Path, formats: Iterable[str] = FORMATS) -> list[Path]:
    """The reports of one submission; result.json is written last, it marks the submission as graded."""
    ordered = sorted(set(formats), key=lambda f: f == "json")
    return [write_atomic(out_dir / FILE_NAMES[f], RENDERERS[f](result)) for f in ordered]


def gradebook(results: Iterable[GradeResult]) -> str:
    results = sorted(results, key=lambda r: r.submission)
    check_ids: list[str] = []
    for result in results:
        check_ids += [c.id for c in result.checks if c.id not in check_ids]
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    header = ["submission", "score", "max_score", "percent", "passed", "failed_stage", "seconds", "grader_error"]
    writer.writerow([*header, *check_ids])
    for result in results:
        earned = {c.id: c.earned for c in result.checks}
        failed_stage = next((stage for stage, state in result.stages.items() if state != "ok"), "")
        failed_stage = "grader" if result.grader_error else failed_stage
        writer.writerow(
            [
                result.submission,
                f"{result.score:g}",
                f"{result.max_score:g}",
                f"{result.percent:g}",
                "yes" if result.passed else "no",
                failed_stage,
                f"{result.wall_seconds:g}",
                result.grader_error,
                *(f"{earned[c]:g}" if c in earned else "" for c in check_ids),
            ]
        )
    return buffer.getvalue()
