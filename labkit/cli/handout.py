"""``labkit handout``: the bundle instructors give students."""

from __future__ import annotations

from pathlib import Path

import typer

from labkit.cli.common import console, fail

app = typer.Typer(help="Build the student handout (the kit without solutions or hidden checks).", no_args_is_help=True)


@app.command("build")
def build(out: Path = typer.Option(..., "--out", help="New folder for the student bundle.")) -> None:
    """Write the kit for students: labkit, components, pipelines, labs with starters and public rubrics only.

    Lab solutions (lab.yaml `solution:`) and every labs/session-0N/hidden/ folder are left out.

    Example: labkit handout build --out dist/handout
    """
    from grading.handout import build_handout

    try:
        left_out = build_handout(out)
    except FileExistsError as exc:
        fail(str(exc), f"rm -rf {out}, or pass another --out")
    console.print(f"[green]handout[/] written to {out}")
    for path in left_out:
        console.print(f"  left out: {path}")
