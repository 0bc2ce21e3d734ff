"""Read a lab guide (README.md) as a student does: its sections and steps in order, the commands and paths in each.

A command is a line of a ```bash block, a whole ```python block, or an inline code span that starts with a
program a student types (``labkit``, ``python``, ``cat``...). A path is an inline code span that looks like a
file or folder of the kit or of a run (it has a ``/`` and no spaces). Steps are the numbered items of the
section whose title says "Pasos"; every other section is one segment.
"""

from __future__ import annotations

import re
import textwrap
from dataclasses import dataclass, field
from pathlib import Path

PROGRAMS = ("labkit ", "python ", "make ", "cat ", "mkdir ", "pytest ", "curl ", "source ", "cp ")
HEADING = re.compile(r"^(#{2,3}) (.+)$")
STEP = re.compile(r"^(\d+)\. ")
FENCE = re.compile(r"^\s*```(\w*)\s*$")
INLINE = re.compile(r"`([^`\n]+)`")
TRAILING_COMMENT = re.compile(r"\s{2,}#.*$")
PATH_LIKE = re.compile(r"^[\w.<>\-{},*]+(/[\w.<>\-{},*]*)+/?$")


@dataclass
class Command:
    text: str
    language: str  # "bash" or "python"


@dataclass
class Segment:
    name: str  # a section title, or "step N"
    step: int | None = None
    commands: list[Command] = field(default_factory=list)
    paths: list[str] = field(default_factory=list)


def _inline(line: str, segment: Segment) -> None:
    for span in INLINE.findall(line):
        span = span.strip()
        if span.startswith(PROGRAMS):
            segment.commands.append(Command(span, "bash"))
        elif PATH_LIKE.match(span) and not span.startswith(("http", "/")):
            segment.paths.append(span)


def read_guide(path: Path) -> list[Segment]:
    segments = [Segment("intro")]
    in_steps = False
    fence: str | None = None
    block: list[str] = []
    for line in path.read_text().splitlines():
        if (opened := FENCE.match(line)) and fence is None:
            fence, block = opened.group(1) or "text", []
            continue
        if fence is not None:
            if FENCE.match(line):
                _close_block(fence, block, segments[-1])
                fence = None
            else:
                block.append(line)
            continue
        if heading := HEADING.match(line):
            in_steps = "pasos" in heading.group(2).lower()
            segments.append(Segment(heading.group(2).strip()))
        elif in_steps and (step := STEP.match(line)):
            segments.append(Segment(f"step {step.group(1)}", step=int(step.group(1))))
        _inline(line, segments[-1])
    return [s for s in segments if s.commands or s.paths or s.step is not None]


def _close_block(language: str, lines: list[str], segment: Segment) -> None:
    if language == "python":
        segment.commands.append(Command(textwrap.dedent("\n".join(lines)), "python"))
        return
    if language != "bash":
        return
    joined = "\n".join(lines).replace("\\\n", " ")
    for raw in joined.splitlines():
        command = TRAILING_COMMENT.sub("", raw).strip()
        if command and not command.startswith("#"):
            segment.commands.append(Command(command, "bash"))
