"""``labkit lab``: the course's practical sessions."""

from __future__ import annotations

import typer

from labkit.cli.common import OUTPUT_OPTION, OutputFormat, print_rows
from labkit.labs import list_labs
from labkit.paths import REPO_ROOT

app = typer.Typer(help="The labs of sessions 5-7: guides, starters and self-checks.", no_args_is_help=True)


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
