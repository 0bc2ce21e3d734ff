"""``labkit lab``: the course's practical sessions."""

from __future__ import annotations

from pathlib import Path

import typer

from labkit.cli.common import OUTPUT_OPTION, OutputFormat, console, fail, print_rows
from labkit.cli.pipeline import run_and_report
from labkit.labs import Lab, UnknownLabError, get_lab, list_labs
from labkit.paths import REPO_ROOT
from labkit.registry import PipelineEntry

app = typer.Typer(help="The labs of sessions 5-7: guides, starters and self-checks.", no_args_is_help=True)


def _lab(session: int) -> Lab:
    try:
        return get_lab(session)
    except UnknownLabError as exc:
        fail(str(exc), "see `labkit lab list`")


@app.command("list")
def list_command(output: OutputFormat = OUTPUT_OPTION) -> None:
    """List the labs with their guide (in Spanish) and the starter file you complete."""
    rows = [
        {
            "session": lab.session,
            "title": lab.title,
            "guide": str(lab.guide.relative_to(REPO_ROOT)),
            "starter": str(lab.starter.relative_to(REPO_ROOT)),
        }
        for lab in list_labs()
    ]
    print_rows(rows, output, title="Labs")


@app.command("run")
def run_command(
    session: int = typer.Argument(..., help="Session number, e.g. 5."),
    file: Path = typer.Option(None, "--file", "-f", help="Your pipeline.py (default: the lab starter)."),
    runner: str = typer.Option(
        None,
        "--runner",
        "-r",
        help="Where tasks run (see `labkit pipeline run`) (default: subprocess; docker for TFX).",
    ),
    param: list[str] = typer.Option([], "--param", "-p", help="Pipeline parameter KEY=VALUE; repeatable."),
    runs_dir: Path = typer.Option(None, "--runs-dir", help="Parent folder of run folders (default: ./runs)."),
    output: OutputFormat = OUTPUT_OPTION,
) -> None:
    """Run your version of a lab's pipeline, the one you are completing step by step.

    Example: labkit lab run 5            (runs labs/session-05/starter/pipeline.py)
    """
    lab = _lab(session)
    path = file or lab.starter
    if not path.is_file():
        fail(f"{path} does not exist", f"copy the starter: cp {lab.starter} {path}")
    entry = PipelineEntry.from_file(path, lab.pipeline_function, session=lab.session, kind=lab.kind)
    run_and_report(entry, runner or ("docker" if lab.kind == "tfx" else "subprocess"), param, runs_dir, output)


@app.command("check")
def check_command(
    session: int = typer.Argument(..., help="Session number, e.g. 5."),
    path: Path = typer.Argument(None, help="Your submission folder or pipeline.py [default: the lab's starter]."),
    sandbox: str = typer.Option("auto", "--sandbox", help="docker, subprocess (weaker) or auto."),
) -> None:
    """Self-check: run the PUBLIC checks of a lab's rubric on your pipeline, as the grader would.

    Your code runs in a sandbox and is scored on rows it never saw. Hidden checks are not part of this.

    Example: labkit lab check 5 mi_entrega/
    """
    import shutil
    import tempfile

    from grading.grader import grade
    from labkit.cli.grade import load_lab_rubric, make_sandbox, print_result

    lab = _lab(session)
    target = path or lab.starter
    if not target.exists():
        fail(f"{target} does not exist", f"copy the starter: cp {lab.starter} {target}")
    rubric = load_lab_rubric(session, include_hidden=False)
    box = make_sandbox(sandbox, rubric.engine)
    with tempfile.TemporaryDirectory(prefix="labkit-check-") as tmp:
        if target.is_file() and target.suffix == ".py":  # a lone pipeline.py: wrap it as a submission folder
            folder = Path(tmp) / target.parent.name
            folder.mkdir()
            shutil.copyfile(target, folder / "pipeline.py")
            target = folder
        with console.status(f"checking {target.name} ({box.name} sandbox)..."):
            result = grade(target, rubric, box)
    print_result(result, show_hidden=False)
