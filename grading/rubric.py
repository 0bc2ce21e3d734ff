"""A lab's rubric: checks with points and feedback, public ones in the handout, hidden ones kept out of it.

``labs/session-0N/rubric.yaml`` holds the public checks and the grading settings. ``labs/session-0N/hidden/``
(left out of the student handout) holds ``rubric.yaml`` with hidden checks and the held-out split seed.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from labkit.labs import Lab

STAGES = ("load", "compile", "static", "execute", "metrics")
HIDDEN_DIR = "hidden"
RUBRIC_FILE = "rubric.yaml"


class RubricError(ValueError):
    """The rubric file is malformed; the message names the file and the entry."""


@dataclass(frozen=True)
class Check:
    id: str
    stage: str
    kind: str
    points: float
    title: str
    on_pass: str
    on_fail: str
    hidden: bool = False
    partial: bool = False
    required: bool = False  # failing it fails the submission whatever the percentage
    params: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Rubric:
    session: int
    function: str
    checks: tuple[Check, ...]
    passing_percent: float
    heldout_fraction: float
    heldout_seed: int
    run_arguments: dict[str, Any]
    wall_seconds: float
    has_hidden: bool
    # grading.engines.ENGINES: "tfx", a TFX create_pipeline graded in the TFX image; "kfp-lm", a language model
    engine: str = "kfp"
    # Optional, for labs whose pipeline needs more than the visible rows (see grading.datasets):
    data: dict[str, dict[str, Any]] = field(default_factory=dict)  # files written into {data}
    runs: dict[str, dict[str, Any]] = field(default_factory=dict)  # named runs, in order, in ONE sandbox call
    champion: dict[str, Any] = field(default_factory=dict)  # registry whose champion the grader scores
    # Or the model a task ships: {task: push, input: model, trained_by: train, run: main}, see PipelineIR.shipped;
    # with ran: true it counts only if that task ran in that run (a registry step that did not run registered nothing)
    shipped: dict[str, Any] = field(default_factory=dict)

    @property
    def total_points(self) -> float:
        return sum(check.points for check in self.checks)

    def public(self) -> Rubric:
        public_checks = tuple(check for check in self.checks if not check.hidden)
        return Rubric(**{**self.__dict__, "checks": public_checks, "has_hidden": False})


def _checks(raw: list[dict[str, Any]], source: Path, hidden: bool) -> list[Check]:
    checks = []
    for index, entry in enumerate(raw or []):
        where = f"{source} check #{index + 1} ({entry.get('id', 'no id')})"
        missing = {"id", "stage", "kind", "points", "pass", "fail"} - set(entry)
        if missing:
            raise RubricError(f"{where} lacks {sorted(missing)}")
        if entry["stage"] not in STAGES:
            raise RubricError(f"{where}: stage {entry['stage']!r} is not one of {STAGES}")
        checks.append(
            Check(
                id=str(entry["id"]),
                stage=entry["stage"],
                kind=entry["kind"],
                points=float(entry["points"]),
                title=entry.get("title", entry["id"]),
                on_pass=entry["pass"],
                on_fail=entry["fail"],
                hidden=hidden or bool(entry.get("hidden", False)),
                partial=bool(entry.get("partial", False)),
                required=bool(entry.get("required", False)),
                params=dict(entry.get("params") or {}),
            )
        )
    return checks


def load_rubric(lab: Lab, include_hidden: bool = True) -> Rubric:
    public_file = lab.folder / RUBRIC_FILE
    if not public_file.is_file():
        raise RubricError(f"lab {lab.session} has no {public_file}; write one to grade it")
    public = yaml.safe_load(public_file.read_text()) or {}
    checks = _checks(public.get("checks", []), public_file, hidden=False)
    settings = public.get("grading", {})
    hidden_file = lab.folder / HIDDEN_DIR / RUBRIC_FILE
    hidden: dict[str, Any] = {}
    if include_hidden and hidden_file.is_file():
        hidden = yaml.safe_load(hidden_file.read_text()) or {}
        checks += _checks(hidden.get("checks", []), hidden_file, hidden=True)
        settings = {**settings, **hidden.get("grading", {})}
    ids = [check.id for check in checks]
    duplicated = sorted({i for i in ids if ids.count(i) > 1})
    if duplicated:
        raise RubricError(f"check ids must be unique; repeated: {duplicated}")
    return Rubric(
        session=lab.session,
        function=lab.pipeline_function,
        checks=tuple(checks),
        passing_percent=float(settings.get("passing_percent", 60)),
        heldout_fraction=float(settings.get("heldout_fraction", 0.25)),
        # Without the hidden file (a student's self-check) the held-out rows are only a stand-in.
        heldout_seed=int(settings.get("heldout_seed", 0)),
        run_arguments=dict(settings.get("run_arguments") or {}),
        wall_seconds=float(settings.get("wall_seconds", 180)),
        has_hidden=bool(hidden),
        engine=str(settings.get("engine", lab.kind)),
        **_run_settings(settings, public_file),
    )


RUN_NAME = re.compile(r"^[a-z][a-z0-9_-]{0,39}$")
CHAMPION_KEYS = {"registry", "model_name", "heldout", "seed", "challenger"}
SHIPPED_KEYS = {"task", "input", "trained_by", "run", "ran"}


def _run_settings(settings: dict[str, Any], source: Path) -> dict[str, Any]:
    """``data``, ``runs`` and ``champion`` of the grading settings, checked (grading.datasets says what they do)."""
    from grading.datasets import check_placeholders, check_spec

    data = dict(settings.get("data") or {})
    runs = {str(name): dict(arguments or {}) for name, arguments in (settings.get("runs") or {}).items()}
    champion = dict(settings.get("champion") or {})
    shipped = dict(settings.get("shipped") or {})
    problems = [problem for name, spec in data.items() if (problem := check_spec(name, spec))]
    problems += [f"run name {name!r} must match {RUN_NAME.pattern}" for name in runs if not RUN_NAME.match(name)]
    if set(champion) - CHAMPION_KEYS or (champion and "registry" not in champion):
        problems.append(f"champion needs registry and may have only {sorted(CHAMPION_KEYS)}")
    if champion.get("seed") not in (None, *data) or bool(champion.get("seed")) != bool(champion.get("challenger")):
        problems.append("champion.seed names a data file and comes with champion.challenger (which model competes)")
    if champion.get("heldout") not in (None, *data):
        problems.append(f"champion.heldout {champion['heldout']!r} is not one of the data files {sorted(data)}")
    if champion and not runs:
        problems.append("champion needs named runs: the registry is written by them")
    if bool(champion) == bool(shipped):
        problems.append("say which model is scored: either champion (a registry) or shipped (a task's input)")
    if shipped and (set(shipped) - SHIPPED_KEYS or not {"task", "input", "trained_by"} <= set(shipped)):
        problems.append(f"shipped needs task, input and trained_by, and may have only {sorted(SHIPPED_KEYS)}")
    if shipped.get("run", "") not in ("", *runs) or (runs and shipped and "run" not in shipped):
        problems.append("shipped.run must name one of the runs (and is needed when there are runs)")
    unknown = check_placeholders([settings.get("run_arguments"), runs, champion])
    problems += [f"unknown placeholder {{{name}}}: use {{data}} or {{out}}" for name in unknown]
    if problems:
        raise RubricError(f"{source} grading settings: " + "; ".join(problems))
    return {"data": data, "runs": runs, "champion": champion, "shipped": shipped}
