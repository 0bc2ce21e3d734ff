"""Walk each lab guide as a student: in a fresh handout, step by step, every command in the order the guide gives.

The commands come from the guide itself (``guide.py``); ``session-NN.yaml`` holds only what a student adds:
the edits each step asks for, and, for a command that is not simply run and expected to succeed, why (it needs
a cluster, it must fail with a given message...). A command of the guide the walk does not know, or an entry of
the walk the guide no longer has, fails the test: the guide and its walk cannot drift apart.
"""

from __future__ import annotations

import glob
import os
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from grading.handout import build_handout
from tests.walkthrough.guide import Command, Segment, read_guide

HERE = Path(__file__).parent
REPO_ROOT = HERE.parent.parent
COMMAND_TIMEOUT_SECONDS = 900
PLACEHOLDER = re.compile(r"<[^>]+>|\.\.\.|\{[^}]+\}|xxxx")


@dataclass
class Walk:
    guide: Path
    starter: str
    edits: dict[int, list[dict[str, str]]]
    commands: dict[str, dict[str, Any]]
    paths: dict[str, dict[str, Any]]

    @classmethod
    def load(cls, session: int) -> Walk:
        spec = yaml.safe_load((HERE / f"session-{session:02d}.yaml").read_text())
        return cls(
            guide=REPO_ROOT / f"labs/session-{session:02d}/README.md",
            starter=spec["starter"],
            edits={int(k): v for k, v in (spec.get("edits") or {}).items()},
            commands=spec.get("commands") or {},
            paths=spec.get("paths") or {},
        )


def _shell_env(tmp: Path) -> dict[str, str]:
    """PATH with ``labkit`` and ``python`` of this interpreter, run from the handout (so its code is the code).

    ``PYTHONPATH=.`` stands in for the student's own ``make demo``, an editable install of their handout: it is what
    lets ``python -m benchmarks...`` import ``components``.
    """
    bin_dir = tmp / "bin"
    bin_dir.mkdir()
    for name, line in (
        ("labkit", f'exec "{sys.executable}" -m labkit "$@"'),
        ("python", f'exec "{sys.executable}" "$@"'),
    ):
        script = bin_dir / name
        script.write_text(f"#!/bin/sh\n{line}\n")
        script.chmod(0o755)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("LABKIT_RUNS", "PYTHONPATH"))}
    env.update(PATH=f"{bin_dir}:{os.environ['PATH']}", COLUMNS="200", PYTHONPATH=".")
    return env


def _resolve(text: str, handout: Path, substitutions: dict[str, str]) -> str:
    for placeholder, pattern in substitutions.items():
        matches = sorted(glob.glob(str(handout / pattern)))
        assert matches, f"nothing matches {pattern!r} for {placeholder!r} in the handout"
        text = text.replace(placeholder, Path(matches[-1]).name)
    return text


def _run(command: Command, spec: dict[str, Any], handout: Path, env: dict[str, str], where: str) -> None:
    text = _resolve(command.text, handout, spec.get("substitute") or {})
    argv = [sys.executable, "-c", text] if command.language == "python" else ["bash", "-c", text]
    done = subprocess.run(
        argv,
        cwd=handout,
        env=env,
        capture_output=True,
        text=True,
        timeout=COMMAND_TIMEOUT_SECONDS,
        stdin=subprocess.DEVNULL,
    )
    output = done.stdout + done.stderr
    shown = f"[{where}] {text!r} exited {done.returncode}:\n{output[-4000:]}"
    if expected := spec.get("fails_with"):
        assert done.returncode != 0, shown
        assert expected in output, f"expected {expected!r} in the output of {shown}"
    else:
        assert done.returncode == 0, shown
    for needle in spec.get("output_has") or []:
        assert needle in output, f"expected {needle!r} in the output of {shown}"
    for needle in spec.get("output_lacks") or []:
        assert needle not in output, f"did not expect {needle!r} in the output of {shown}"


def _apply_edits(handout: Path, starter: str, edits: list[dict[str, str]], step: int) -> None:
    path = handout / starter
    text = path.read_text()
    for edit in edits:
        assert text.count(edit["find"]) == 1, f"step {step}: {edit['find']!r} is not once in {starter}"
        text = text.replace(edit["find"], edit["replace"])
    path.write_text(text)


def _path_exists(name: str, handout: Path, run_folders: list[Path]) -> bool:
    pattern = PLACEHOLDER.sub("*", name).rstrip("/")
    bases = [handout, *run_folders, *(p for run in run_folders for p in run.glob("artifacts/*"))]
    return any(glob.glob(str(base / pattern)) for base in bases)


def walk_guide(walk: Walk, handout: Path, env: dict[str, str]) -> None:
    segments = read_guide(walk.guide)
    seen_commands = {c.text for s in segments for c in s.commands}
    assert not (stale := set(walk.commands) - seen_commands), f"the walk names commands the guide lost: {stale}"
    seen_steps = {s.step for s in segments if s.step is not None}
    assert not (stale := set(walk.edits) - seen_steps), f"the walk edits steps the guide does not have: {stale}"
    for segment in segments:
        if segment.step is not None:
            _apply_edits(handout, walk.starter, walk.edits.get(segment.step, []), segment.step)
        _walk_segment(walk, segment, handout, env)
    run_folders = sorted(p for p in (handout / "runs").glob("*/*") if p.is_dir())
    missing = []
    for segment in segments:
        for name in segment.paths:
            if "skip" in walk.paths.get(name, {}):
                continue
            if not _path_exists(name, handout, run_folders):
                missing.append(f"{segment.name}: {name}")
    assert not missing, "paths the guide names that do not exist after the walk:\n" + "\n".join(missing)


def _walk_segment(walk: Walk, segment: Segment, handout: Path, env: dict[str, str]) -> None:
    for command in segment.commands:
        spec = walk.commands.get(command.text, {})
        if "skip" in spec:
            continue
        _run(command, spec, handout, env, segment.name)


@pytest.mark.container
@pytest.mark.slow
@pytest.mark.timeout(1800)  # a whole session of runs (session 6: ~8 min alone, more beside another test worker)
@pytest.mark.parametrize("session", [5, 6, 7, 8])
def test_a_student_can_walk_the_guide(session: int, tmp_path: Path) -> None:
    walk = Walk.load(session)
    handout = tmp_path / "handout"
    build_handout(handout)
    walk_guide(walk, handout, _shell_env(tmp_path))


@pytest.mark.parametrize("session", [5, 6, 7, 8])
def test_every_command_of_the_guide_is_accounted_for(session: int) -> None:
    """Cheap and without Docker: the walk and the guide agree, and every skip says why."""
    walk = Walk.load(session)
    segments = read_guide(walk.guide)
    commands = {c.text for s in segments for c in s.commands}
    assert set(walk.commands) <= commands
    for text, spec in walk.commands.items():
        assert not ("skip" in spec and not str(spec["skip"]).strip()), f"{text!r}: a skip needs its reason"
    assert {s.step for s in segments if s.step is not None} >= set(walk.edits)
