"""Runners built on kfp.local: every task in a subprocess of this Python, or in the kit's image."""

from __future__ import annotations

import contextlib
import io
import json
import re
import time
import warnings
from collections.abc import Collection
from pathlib import Path
from typing import Any

from labkit.registry import PipelineEntry
from labkit.runners.base import EventSink, RunnerUnavailableError, RunResult, TaskEvent

ANSI = re.compile(r"\x1b\[[0-9;]*m")
TASK_STARTED = re.compile(r"Executing task '([^']+)'")
TASK_FINISHED = re.compile(r"Task '([^']+)' finished with status (\w+)")
EXCEPTION_LINE = re.compile(r"^\s*([A-Za-z_][\w.]*(?:Error|Exception)): (.+)$")


class TaskLogWatcher(io.TextIOBase):
    """Stands in for stdout during a kfp.local run.

    kfp.local prints its orchestration log and every task's output to ``sys.stdout``. This writes it all to
    the run's log file and turns the orchestration lines into TaskEvents, so the CLI can draw progress and
    a failure can be reported with the task's own error message instead of kfp's generic one.
    """

    def __init__(self, log_file: io.TextIOBase, on_event: EventSink) -> None:
        self._log = log_file
        self._on_event = on_event
        self._pending = ""
        self._started: dict[str, float] = {}
        self.durations: dict[str, float] = {}
        self.failed_task: str | None = None
        self.last_error: dict[str, str] = {}
        self._current: str | None = None

    def writable(self) -> bool:
        return True

    def write(self, text: str) -> int:
        self._log.write(text)
        self._pending += text
        *lines, self._pending = self._pending.split("\n")
        for line in lines:
            self._observe(ANSI.sub("", line))
        return len(text)

    def _observe(self, line: str) -> None:
        if started := TASK_STARTED.search(line):
            self._current = started.group(1)
            self._started[self._current] = time.perf_counter()
            self._on_event(TaskEvent(self._current, "running"))
        elif finished := TASK_FINISHED.search(line):
            task, status = finished.groups()
            seconds = time.perf_counter() - self._started.get(task, time.perf_counter())
            self.durations[task] = round(seconds, 3)
            ok = status == "SUCCESS"
            if not ok:
                self.failed_task = task
            self._on_event(TaskEvent(task, "succeeded" if ok else "failed", seconds))
        elif self._current and (error := EXCEPTION_LINE.match(line)):
            self.last_error[self._current] = f"{error.group(1).rsplit('.', 1)[-1]}: {error.group(2)}"


def _metrics_of(outputs: Any) -> dict[str, Any]:
    """Metadata of the Metrics artifact(s) a pipeline returns."""
    from kfp.dsl import Metrics

    candidates = outputs.values() if isinstance(outputs, dict) else [outputs]
    merged: dict[str, Any] = {}
    for output in candidates:
        if isinstance(output, Metrics):
            merged.update(output.metadata)
    return merged


def html_outputs(pipeline_spec: Any) -> set[tuple[str, str]]:
    """``(task, output)`` of every output a component declares as an HTML artifact, in every DAG of the spec."""
    from google.protobuf import json_format

    spec = json_format.MessageToDict(pipeline_spec)
    components = spec.get("components", {})
    dags = [spec.get("root", {}), *components.values()]
    found: set[tuple[str, str]] = set()
    for dag in dags:
        for task_name, task in dag.get("dag", {}).get("tasks", {}).items():
            component = components.get(task.get("componentRef", {}).get("name"), {})
            for output, definition in component.get("outputDefinitions", {}).get("artifacts", {}).items():
                if definition.get("artifactType", {}).get("schemaTitle") == "system.HTML":
                    found.add((task_name, output))
    return found


def _as_html_page(path: Path) -> Path:
    """``path`` with an ``.html`` twin (a hard link, or a copy), so that a browser opens it as a page.

    kfp.local names an artifact's file after the output (``train/training_curve``); without the extension a
    browser may offer to download it instead of showing it.
    """
    page = path.with_name(f"{path.name}.html")
    if path.is_file() and not page.exists():
        try:
            page.hardlink_to(path)
        except OSError:
            page.write_bytes(path.read_bytes())
    return page if page.exists() else path


def _artifacts_of(pipeline_root: Path, html: Collection[tuple[str, str]] = ()) -> dict[str, str]:
    """``task/output`` -> local path, from each task's executor_output.json; HTML outputs as ``.html`` pages."""
    found: dict[str, str] = {}
    for executor_output in sorted(pipeline_root.glob("*/*/executor_output.json")):
        task = executor_output.parent.name
        artifacts = json.loads(executor_output.read_text()).get("artifacts", {})
        for output_name, listing in artifacts.items():
            for artifact in listing.get("artifacts", []):
                uri = artifact["uri"]
                if (task, output_name) in html:
                    uri = str(_as_html_page(Path(uri)))
                found[f"{task}/{output_name}"] = uri
    return found


def host_path_params(params: dict[str, Any]) -> tuple[dict[str, Any], list[str]]:
    """``params`` with existing host paths made absolute, and those paths (deduplicated, outermost first)."""
    resolved: dict[str, Any] = {}
    paths: list[str] = []
    for key, value in params.items():
        # A bare word (e.g. a model name) is a path only if it names a file; "./x" or "/x" may be a folder.
        looks_like_path = isinstance(value, str) and ("/" in value or Path(value).is_file())
        if looks_like_path and Path(value).exists():
            value = str(Path(value).resolve())
            paths.append(value)
        resolved[key] = value
    outermost = [p for p in sorted(set(paths)) if not any(p.startswith(q + "/") for q in paths if q != p)]
    return resolved, outermost


class KfpLocalRunner:
    """Shared by the subprocess and docker runners; only the kfp.local runner object differs."""

    name = "local"

    def _kfp_runner(self) -> Any:
        raise NotImplementedError

    def run(self, entry: PipelineEntry, params: dict[str, Any], run_dir: Path, on_event: EventSink) -> RunResult:
        from kfp import local

        pipeline_root = run_dir / "artifacts"
        local.init(runner=self._kfp_runner(), pipeline_root=str(pipeline_root), raise_on_error=True)
        pipeline = entry.load()
        log_path = run_dir / "run.log"
        start = time.perf_counter()
        outputs, error = None, None
        with log_path.open("w") as log_file:
            watcher = TaskLogWatcher(log_file, on_event)
            with contextlib.redirect_stdout(watcher), warnings.catch_warnings():  # type: ignore[type-var]
                # kfp.local warns for every task whose image name lacks "python"; ours are Python images.
                warnings.filterwarnings("ignore", message=".*non-Python base image", category=RuntimeWarning)
                try:
                    outputs = pipeline(**params).outputs
                except RuntimeError as exc:  # kfp.local's "Inner task failed" or a runner problem
                    error = ANSI.sub("", str(exc))
        failed = watcher.failed_task
        if failed:
            error = watcher.last_error.get(failed) or error
        return RunResult(
            pipeline=entry.name,
            runner=self.name,
            run_dir=str(run_dir),
            succeeded=error is None,
            wall_seconds=round(time.perf_counter() - start, 3),
            metrics=_metrics_of(outputs) if outputs is not None else {},
            tasks=watcher.durations,
            artifacts=_artifacts_of(pipeline_root, html_outputs(pipeline.pipeline_spec)),
            failed_task=failed,
            error=error,
            log_file=str(log_path),
        )


class SubprocessRunner(KfpLocalRunner):
    """Each task in a child process of the current Python: no Docker needed, the embedded default."""

    name = "subprocess"

    def _kfp_runner(self) -> Any:
        from kfp import local

        return local.SubprocessRunner(use_venv=False)


class DockerRunner(KfpLocalRunner):
    """Each task in a container of the kit's components image, with no network.

    The image holds the same kfp and TensorFlow pins as the host and the component code, and components are
    compiled with ``install_kfp_package=False``, so a task starts straight into its code: nothing is pulled
    or pip-installed, which is also why the containers can run with ``--network none``.
    """

    name = "docker"

    def __init__(self, image: str | None = None) -> None:
        from labkit.versions import COMPONENTS_IMAGE

        self.image = image or COMPONENTS_IMAGE
        self._host_paths: list[str] = []

    def run(self, entry: PipelineEntry, params: dict[str, Any], run_dir: Path, on_event: EventSink) -> RunResult:
        """As the subprocess runner, with every parameter that names an existing host file or folder mounted.

        kfp.local mounts only the pipeline root, so a CSV given as ``source`` or a model registry folder would
        otherwise not exist inside the task containers (or vanish with them). Paths are made absolute and
        mounted at the same path, read-write, so a task sees exactly what the subprocess runner sees.
        """
        params, self._host_paths = host_path_params(params)
        return super().run(entry, params, run_dir, on_event)

    def check(self) -> None:
        """RunnerUnavailableError, with the fix, unless an engine answers and the image is built."""
        from labkit import images

        try:
            client = images.docker_client()
        except images.DockerUnavailableError as exc:
            message = f"the docker runner needs a Docker engine: {exc}; {images.DOCKER_FIX}"
            raise RunnerUnavailableError(message) from exc
        try:
            if not images.image_exists(client, self.image):
                raise RunnerUnavailableError(
                    f"the image {self.image} is not built on this machine; build it with "
                    "`labkit image build components` (or load a handed-out archive with `labkit image load-archive`)"
                )
        finally:
            client.close()

    def _kfp_runner(self) -> Any:
        import os

        from kfp import local

        self.check()
        from docker.types import Mount

        run_args: dict[str, Any] = {
            "network_mode": "none",
            "mounts": [Mount(target=path, source=path, type="bind") for path in self._host_paths],
        }
        if hasattr(os, "getuid") and os.getuid() != 0:
            # Artifacts land in the bind-mounted pipeline root: write them as the user, not as root.
            run_args["user"] = f"{os.getuid()}:{os.getgid()}"
            run_args["environment"] = {"HOME": "/tmp"}
        return local.DockerRunner(**run_args)
