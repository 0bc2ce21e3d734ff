"""Shared pieces of the CLI: consoles, output formats, and how errors reach the user."""

from __future__ import annotations

import json
from enum import Enum
from typing import Any, NoReturn

import typer
from rich.console import Console
from rich.table import Table

console = Console()
err_console = Console(stderr=True)


class OutputFormat(str, Enum):
    table = "table"
    json = "json"


OUTPUT_OPTION = typer.Option(OutputFormat.table, "--output", "-o", help="table for people, json for scripts.")


def fail(problem: str, fix: str | None = None, code: int = 1) -> NoReturn:
    """Print what went wrong and what to do about it, then exit non-zero."""
    err_console.print(f"[bold red]error:[/] {problem}")
    if fix:
        err_console.print(f"[yellow]fix:[/] {fix}")
    raise typer.Exit(code)


def print_rows(rows: list[dict[str, Any]], output: OutputFormat, title: str | None = None) -> None:
    """One listing, two audiences: a rich table, or a JSON array with the same keys."""
    if output is OutputFormat.json:
        typer.echo(json.dumps(rows, indent=2, default=str))
        return
    table = Table(title=title)
    for column in rows[0] if rows else []:
        table.add_column(column.replace("_", " "))
    for row in rows:
        table.add_row(*(str(value) for value in row.values()))
    console.print(table)


# An OpenAI-compatible endpoint's key is read from a variable: on a command line it would stay in shell history.
API_KEY_ENV_OPTION = typer.Option(
    "LABKIT_GENAI_API_KEY",
    "--api-key-env",
    help="Name of the environment variable holding the API key (the key itself never goes on a command line).",
)
