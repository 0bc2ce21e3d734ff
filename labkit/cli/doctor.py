"""``labkit doctor``: what this machine can do, and how to fix what it cannot."""

from __future__ import annotations

import json
from dataclasses import asdict

import typer
from rich.table import Table

from labkit.cli.common import OUTPUT_OPTION, OutputFormat, console
from labkit.doctor import run_checks


def doctor(output: OutputFormat = OUTPUT_OPTION) -> None:
    """Check Python, disk, memory, Docker, kind and kubectl, and print the fix for anything missing.

    The local `subprocess` runner needs only Python; `docker` needs a Docker engine; `cluster` needs all.
    Exits 1 only when something every runner needs is missing.
    """
    checks = run_checks()
    if output is OutputFormat.json:
        typer.echo(json.dumps([asdict(c) for c in checks], indent=2))
    else:
        table = Table(title="labkit doctor")
        for column in ("check", "status", "found", "fix"):
            table.add_column(column, overflow="fold")
        for check in checks:
            status = "[green]ok[/]" if check.ok else ("[red]missing[/]" if check.required else "[yellow]warn[/]")
            table.add_row(check.name, status, check.detail, check.fix)
        console.print(table)
    if any(c.required and not c.ok for c in checks):
        raise typer.Exit(1)
