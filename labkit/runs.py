"""The run history, read from the run folders themselves: every ``runs/<pipeline>/<run>/result.json`` is a run.

There is no database: deleting a folder deletes the run. A record is what the runner saved when the run ended
(``labkit.runners.base.RunResult``); a folder without one (a run still going, or killed) is listed as such.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

STAMP_FORMAT = "%Y%m%d-%H%M%S"


class UnknownRunError(LookupError):
    """No run, or more than one, matches what the user typed."""


@dataclass
class RunRecord:
    folder: Path
    pipeline: str
    runner: str
    state: str  # succeeded, failed, or unfinished (no result.json)
    started: datetime | None
    wall_seconds: float | None
    metrics: dict[str, Any] = field(default_factory=dict)
    parameters: dict[str, Any] = field(default_factory=dict)
    tasks: dict[str, float] = field(default_factory=dict)
    artifacts: dict[str, str] = field(default_factory=dict)
    failed_task: str | None = None
    error: str | None = None
    log_file: str | None = None
    anomalies: list[dict[str, str]] = field(default_factory=list)  # data validation (TFX's ExampleValidator)
    gate_failures: list[str] = field(default_factory=list)  # evaluation thresholds the model missed (TFX)

    @property
    def ui_url(self) -> str | None:
        """The run's page in the KFP UI, for a run on the cluster."""
        return self.artifacts.get("kfp_run_url")

    @property
    def name(self) -> str:
        """``<folder of the pipeline>/<run folder>``: what ``labkit runs show`` takes and the index links to."""
        return f"{self.folder.parent.name}/{self.folder.name}"

    def task_states(self) -> dict[str, tuple[str, float | None]]:
        """Each task that finished: succeeded or failed, with its seconds (tasks not listed never ran)."""
        return {t: ("failed" if t == self.failed_task else "succeeded", s) for t, s in self.tasks.items()}

    def to_dict(self) -> dict[str, Any]:
        return {
            "run": self.name,
            "folder": str(self.folder),
            "pipeline": self.pipeline,
            "runner": self.runner,
            "state": self.state,
            "started": self.started.isoformat(timespec="seconds") if self.started else None,
            "wall_seconds": self.wall_seconds,
            "parameters": self.parameters,
            "metrics": self.metrics,
            "tasks": self.tasks,
            "artifacts": self.artifacts,
            "failed_task": self.failed_task,
            "error": self.error,
            "log_file": self.log_file,
            "anomalies": self.anomalies,
            "gate_failures": self.gate_failures,
            "ui_url": self.ui_url,
        }


def _started(folder: Path) -> datetime | None:
    try:
        return datetime.strptime(folder.name[: len("YYYYmmdd-HHMMSS")], STAMP_FORMAT)
    except ValueError:
        return None


def read_run(folder: Path) -> RunRecord:
    """The record of one run folder; a folder with a missing or unreadable result.json is ``unfinished``."""
    try:
        saved = json.loads((folder / "result.json").read_text())
    except (OSError, ValueError):
        saved = None
    if not isinstance(saved, dict):
        return RunRecord(folder, folder.parent.name, "-", "unfinished", _started(folder), None)
    return RunRecord(
        folder=folder,
        pipeline=str(saved.get("pipeline") or folder.parent.name),
        runner=str(saved.get("runner", "-")),
        state="succeeded" if saved.get("succeeded") else "failed",
        started=_started(folder),
        wall_seconds=saved.get("wall_seconds"),
        metrics=saved.get("metrics") or {},
        parameters=saved.get("parameters") or {},
        tasks=saved.get("tasks") or {},
        artifacts=saved.get("artifacts") or {},
        failed_task=saved.get("failed_task"),
        error=saved.get("error"),
        log_file=saved.get("log_file"),
        anomalies=saved.get("anomalies") or [],
        gate_failures=saved.get("gate_failures") or [],
    )


def find_runs(root: Path, pipeline: str | None = None) -> list[RunRecord]:
    """Every run under ``root`` (``runs/<pipeline>/<run>/``), oldest first."""
    if not root.is_dir():
        return []
    pattern = f"{pipeline}/*" if pipeline else "*/*"
    records = [read_run(folder) for folder in root.glob(pattern) if folder.is_dir()]
    return sorted(records, key=lambda r: (r.started or datetime.min, r.folder.name))


def resolve_run(reference: str, root: Path) -> RunRecord:
    """A run named by its folder path, ``pipeline/folder``, its folder name, or a unique prefix of that name."""
    path = Path(reference)
    if path.is_dir() and (path / "result.json").exists():
        return read_run(path.resolve())
    runs = find_runs(root)
    matches = [r for r in runs if reference in (r.name, r.folder.name)]
    matches = matches or [r for r in runs if r.folder.name.startswith(reference) or r.name.startswith(reference)]
    if len(matches) == 1:
        return matches[0]
    if not matches:
        raise UnknownRunError(f"no run {reference!r} under {root}; `labkit runs list` shows them")
    names = ", ".join(r.name for r in matches[:5])
    raise UnknownRunError(f"{reference!r} matches {len(matches)} runs ({names}...): give more of the name")


@dataclass(frozen=True)
class ComparedRow:
    section: str  # "parameter" or "metric"
    key: str
    values: list[Any]

    @property
    def differs(self) -> bool:
        return len({json.dumps(v, sort_keys=True, default=str) for v in self.values}) > 1


def compare_runs(records: list[RunRecord]) -> list[ComparedRow]:
    """Parameters, then metrics, of ``records`` side by side (``None`` where a run lacks the key)."""
    rows = []
    for section, attribute in (("parameter", "parameters"), ("metric", "metrics")):
        keys = sorted({key for record in records for key in getattr(record, attribute)})
        for key in keys:
            rows.append(ComparedRow(section, key, [getattr(record, attribute).get(key) for record in records]))
    return rows
