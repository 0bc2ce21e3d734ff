"""What every runner takes and gives back, so the CLI and the grader never care where a pipeline ran."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal, Protocol

from labkit.registry import PipelineEntry

TaskState = Literal["running", "succeeded", "failed"]


@dataclass(frozen=True)
class TaskEvent:
    task: str
    state: TaskState
    seconds: float | None = None


EventSink = Callable[[TaskEvent], None]


@dataclass
class RunResult:
    pipeline: str
    runner: str
    run_dir: str
    succeeded: bool
    wall_seconds: float
    metrics: dict[str, Any] = field(default_factory=dict)
    tasks: dict[str, float] = field(default_factory=dict)
    artifacts: dict[str, str] = field(default_factory=dict)
    failed_task: str | None = None
    error: str | None = None
    log_file: str | None = None
    # Data-validation problems and failed evaluation thresholds, for pipelines that report them (TFX).
    anomalies: list[dict[str, str]] = field(default_factory=list)
    gate_failures: list[str] = field(default_factory=list)
    # The parameters the run was given (set by whoever starts it), so that runs can be compared later.
    parameters: dict[str, Any] = field(default_factory=dict)

    def to_json(self, indent: int | None = 2) -> str:
        return json.dumps(asdict(self), indent=indent, default=str)

    def save(self) -> Path:
        path = Path(self.run_dir) / "result.json"
        path.write_text(self.to_json())
        return path


class Runner(Protocol):
    """A place a pipeline can run: the local subprocess, local containers, or a cluster."""

    name: str

    def run(self, entry: PipelineEntry, params: dict[str, Any], run_dir: Path, on_event: EventSink) -> RunResult: ...


class RunnerUnavailableError(RuntimeError):
    """The runner cannot work on this machine; the message says what to install or start."""
