"""``labkit grade``: the autograder for lab submissions (one, or a folder of them)."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from labkit.cli.common import console, err_console, fail
from labkit.labs import UnknownLabError, get_lab

FORMATS_HELP = "Comma-separated report formats: md, json, gradescope, junit."


def parse_formats(value: str) -> tuple[str, ...]:
    from grading.reports import FORMATS

    formats = tuple(f.strip() for f in value.split(",") if f.strip())
    unknown = sorted(set(formats) - set(FORMATS))
    if unknown:
        fail(f"unknown report format(s) {', '.join(unknown)}", f"use some of: {', '.join(FORMATS)}")
    return formats


def load_lab_rubric(session: int, include_hidden: bool):
    from grading.rubric import RubricError, load_rubric

    try:
        return load_rubric(get_lab(session), include_hidden=include_hidden)
    except (UnknownLabError, RubricError) as exc:
        fail(str(exc), "see `labkit lab list`")


def make_sandbox(preference: str, engine: str = "kfp"):
    from grading.sandbox import StaleImageError, pick_sandbox

    try:
        sandbox = pick_sandbox(preference, engine)
    except StaleImageError as exc:
        fail(str(exc), "rebuild the image from this checkout; it is kept in step with the kit's components")
    except RuntimeError as exc:
        hint = "labkit image build tfx" if engine == "tfx" else "or pass --sandbox subprocess"
        fail(str(exc), f"start Docker (`bash scripts/ci-dockerd.sh start` on a bare Linux host); {hint}")
    if sandbox.name != "docker":
        err_console.print(f"[yellow]warning:[/] {sandbox.description}")
    return sandbox


def print_result(result, show_hidden: bool = True) -> None:
    """The grade as the student reads it, in Spanish like the Markdown report (the lab's language)."""
    table = Table(title=f"{result.submission}: {result.score:g}/{result.max_score:g} ({result.percent:g} %)")
    for column in ("chequeo", "puntos", "comentario"):
        table.add_column(column)
    for check in result.checks:
        if check.hidden and not show_hidden:
            continue
        style = "green" if check.passed else ("yellow" if check.earned else "red")
        name = f"{check.id}{' (oculto)' if check.hidden else ''}"
        table.add_row(f"[{style}]{name}[/]", f"{check.earned:g}/{check.points:g}", check.feedback)
    console.print(table)
    for stage, state in result.stages.items():
        if state != "ok":
            console.print(f"[red]etapa {stage}[/]: {state}")
    verdict = "[green]APROBADO[/]" if result.passed else "[red]NO APROBADO[/]"
    console.print(f"{verdict} (se aprueba con {result.passing_percent:g} %) — sandbox: {result.sandbox}")


def grade(
    path: Path = typer.Argument(..., help="A submission (folder or .zip with pipeline.py) or a folder of them."),
    lab: int = typer.Option(..., "--lab", "-l", help="Session number whose rubric applies, e.g. 5."),
    formats: str = typer.Option("md,json", "--format", "-f", help=FORMATS_HELP),
    out: Path = typer.Option(Path("grades"), "--out", help="Folder for reports: OUT/<submission>/..."),
    jobs: int = typer.Option(2, "--jobs", "-j", help="Submissions graded in parallel (batch)."),
    gradebook: Path = typer.Option(
        None, "--gradebook", help="CSV gradebook to write (batch) [default: OUT/grades.csv]."
    ),
    regrade: bool = typer.Option(False, "--regrade", help="Grade again submissions already graded and unchanged."),
    sandbox: str = typer.Option("auto", "--sandbox", help="docker, subprocess (weaker) or auto."),
) -> None:
    """Grade lab submissions: load -> compile -> static checks -> seeded run -> held-out metrics -> score.

    A submission is a folder or .zip holding pipeline.py (the completed starter), optionally with extra
    modules beside it. Student code runs only in a sandbox (Docker with no network; else a rlimited subprocess).

    Examples:
      labkit grade alumno1/ --lab 5 --format md,json,gradescope,junit --out grades/
      labkit grade entregas/ --lab 5 --jobs 2 --gradebook grades.csv     (batch, resumable)
    """
    from grading.batch import BatchEvent, failed_result, grade_batch, is_single_submission
    from grading.grader import grade as grade_one
    from grading.reports import write_reports

    if not path.exists():
        fail(f"{path} does not exist", "pass a submission folder, a .zip, or a folder of submissions")
    chosen = parse_formats(formats)
    rubric = load_lab_rubric(lab, include_hidden=True)
    box = make_sandbox(sandbox, rubric.engine)
    if is_single_submission(path):
        with console.status(f"grading {path.name} ({box.name} sandbox)..."):
            try:
                result = grade_one(path, rubric, box)
            except Exception as exc:  # a grader bug: the report says so instead of a traceback alone
                result = failed_result(path, rubric, box, exc)
        written = write_reports(result, out / result.submission, chosen)
        print_result(result)
        console.print(f"reports: {', '.join(str(p) for p in written)}")
        if result.grader_error:
            fail(f"could not grade {result.submission}: the grader failed ({result.grader_error})")
        raise typer.Exit(0)

    book = gradebook or out / "grades.csv"
    with Progress(
        TextColumn("[bold]grading"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TextColumn("{task.fields[last]}"),
        console=err_console,
    ) as progress:
        task = progress.add_task("grading", total=None, last="")

        skipped: list[str] = []

        def on_event(event: BatchEvent) -> None:
            if event.state == "skipped":
                skipped.append(event.submission)
            failed = event.state.startswith("error")
            last = f"{event.submission}: {'error' if failed else event.state}"
            if event.result is not None and not failed:
                last += f" {event.result.percent:g} %"
            progress.update(task, total=event.total, completed=event.done, last=last)
            if failed:
                err_console.print(f"[red]{event.submission}[/]: {event.state}")

        results = grade_batch(path, rubric, box, out, jobs, chosen, regrade, book, on_event=on_event)
    if not results:
        fail(f"no submissions in {path}", "put one folder or .zip per student in it")
    passed = sum(r.passed for r in results)
    failed = [r.submission for r in results if r.grader_error]
    graded = len(results) - len(failed)
    note = f" ({len(skipped)} skipped: already graded the same way; --regrade to redo)" if skipped else ""
    console.print(f"graded {graded} submissions{note}: {passed} passed. Gradebook: {book}; reports under {out}/")
    if failed:
        fail(
            f"could not grade {len(failed)} submission(s), the grader failed on them: {', '.join(failed)}",
            "the gradebook's grader_error column has each error; run the same command again to grade only those",
        )
