"""TFX pipelines: run them with LocalDagRunner inside the TFX image, compile them for KFP, read their results.

TFX 1.21 does not install on Debian 12 hosts (its ml-metadata/TFDV wheels need a newer glibc), so the kit
runs it in its own image: the checkout is mounted read-only at the place the image keeps the kit's code,
and the run folder (data, pipeline root, MLMD sqlite, pushed model) is mounted from the host, so everything
a run produced stays on the host after the container is gone.
"""

from __future__ import annotations

import base64
import importlib.util
import json
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from labkit import backend_rules
from labkit.paths import REPO_ROOT
from labkit.registry import PipelineEntry
from labkit.runners.base import EventSink, RunnerUnavailableError, RunResult, TaskEvent
from labkit.versions import TFX_IMAGE

IMAGE_ROOT = "/opt/labkit"  # where the TFX image keeps the kit's code (the checkout is mounted over it)
RUN_MOUNT = "/labkit/run"
BASELINE_MOUNT = "/labkit/baseline"
STUDENT_MOUNT = "/labkit/student"
DATA_VARIANTS = ("palmerpenguins", "skewed")
SKEW_NEW_ISLAND = "Anvers"
SKEW_FRACTION = 0.25

COMPONENT_STARTED = re.compile(r"Component (\w+) is running")
COMPONENT_FINISHED = re.compile(r"Component (\w+) is finished")


class TfxCompileError(RuntimeError):
    """Compiling a TFX pipeline failed; the message carries the compiler's last error line."""


# ---------------------------------------------------------------- data


def split_penguins(seed: int = 42, eval_fraction: float = 1 / 3) -> tuple[Any, Any]:
    """The clean penguins table, shuffled with ``seed`` and cut into (train, eval)."""
    from components.ingest.logic import load_penguins_clean

    table = load_penguins_clean().sample(frac=1.0, random_state=seed).reset_index(drop=True)
    n_eval = round(len(table) * eval_fraction)
    return table.iloc[n_eval:].reset_index(drop=True), table.iloc[:n_eval].reset_index(drop=True)


def skew_batch(batch: Any, seed: int = 42) -> Any:
    """A deterministic "bad new batch": a quarter of the rows come from an island training never saw, and the
    same share spell ``sex`` in upper case, as a changed upstream form would. Both are unknown values for the
    schema inferred from the training split, which is what ExampleValidator must catch."""
    import numpy as np

    skewed = batch.copy()
    rng = np.random.default_rng(seed)
    size = round(len(skewed) * SKEW_FRACTION)
    skewed.loc[rng.choice(len(skewed), size=size, replace=False), "island"] = SKEW_NEW_ISLAND
    rows = rng.choice(len(skewed), size=size, replace=False)
    skewed.loc[rows, "sex"] = skewed.loc[rows, "sex"].str.upper()
    return skewed


def prepare_data(data_dir: Path, variant: str = "palmerpenguins", seed: int = 42) -> dict[str, int]:
    """Write ``train/penguins.csv`` and ``eval/penguins.csv`` (the eval batch skewed if asked); rows per split.

    ``variant`` may also be a folder that already holds ``train/*.csv`` and ``eval/*.csv`` (one's own rows, or the
    rows a grader gives a submission): they are copied as they are.
    """
    if variant not in DATA_VARIANTS:
        return _copy_data_folder(Path(variant).expanduser(), data_dir)
    train, evaluation = split_penguins(seed)
    if variant == "skewed":
        evaluation = skew_batch(evaluation, seed)
    for split, table in (("train", train), ("eval", evaluation)):
        (data_dir / split).mkdir(parents=True, exist_ok=True)
        table.to_csv(data_dir / split / "penguins.csv", index=False)
    return {"train": len(train), "eval": len(evaluation)}


def _copy_data_folder(source: Path, data_dir: Path) -> dict[str, int]:
    splits = {split: sorted((source / split).glob("*.csv")) for split in ("train", "eval")}
    if not source.is_dir() or not all(splits.values()):
        raise ValueError(
            f"unknown data {str(source)!r}; choose one of: {', '.join(DATA_VARIANTS)}, "
            "or a folder with train/*.csv and eval/*.csv"
        )
    counts = {}
    for split, files in splits.items():
        (data_dir / split).mkdir(parents=True, exist_ok=True)
        for file in files:
            shutil.copyfile(file, data_dir / split / file.name)
        counts[split] = sum(max(len(file.read_text().splitlines()) - 1, 0) for file in files)
    return counts


# ---------------------------------------------------------------- reading a run's summary.json


def _slice_name(slice_key: dict[str, Any]) -> str:
    parts = []
    for key in slice_key.get("singleSliceKeys", []):
        value = key.get("bytesValue")
        value = base64.b64decode(value).decode() if value is not None else key.get("int64Value", key.get("floatValue"))
        parts.append(f"{key['column']}={value}")
    return ",".join(parts)


def _metric_value(value: dict[str, Any]) -> float | None:
    if "doubleValue" in value:
        return float(value["doubleValue"])
    if "boundedValue" in value:
        return float(value["boundedValue"]["value"])
    return None


def evaluation_metrics(metrics_for_slices: list[dict[str, Any]]) -> dict[str, float]:
    """TFMA's MetricsForSlice (as JSON) -> flat ``{name: value}``.

    Overall metrics keep their name (``sparse_categorical_accuracy``); per-slice ones get the slice in brackets
    (``sparse_categorical_accuracy[island=Dream]``); a baseline model's are prefixed ``baseline/`` and the
    candidate-minus-baseline differences ``diff/``.
    """
    flat: dict[str, float] = {}
    for per_slice in metrics_for_slices:
        where = _slice_name(per_slice.get("sliceKey", {}))
        for entry in per_slice.get("metricKeysAndValues", []):
            key, value = entry["key"], _metric_value(entry.get("value", {}))
            if value is None:
                continue
            name = key["name"]
            if key.get("isDiff"):
                name = f"diff/{name}"
            elif key.get("modelName") == "baseline":
                name = f"baseline/{name}"
            flat[f"{name}[{where}]" if where else name] = value
    return flat


def gate_failures(validation: dict[str, Any] | None) -> list[str]:
    """Why the Evaluator did not bless the model, one readable line per failed threshold."""
    lines = []
    for per_slice in (validation or {}).get("metricValidationsPerSlice", []):
        where = _slice_name(per_slice.get("sliceKey", {})) or "overall"
        for failure in per_slice.get("failures", []):
            metric = failure.get("metricKey", {}).get("name", "?")
            value = _metric_value(failure.get("metricValue", {}))
            threshold = json.dumps(failure.get("metricThreshold", {}), sort_keys=True)
            lines.append(f"{metric} ({where}) = {value} fails {threshold}")
    return lines


def anomaly_rows(anomalies_by_split: dict[str, dict[str, Any]]) -> list[dict[str, str]]:
    """ExampleValidator's Anomalies protos (as JSON, per split) -> one row per feature problem."""
    rows = []
    for split, anomalies in sorted(anomalies_by_split.items()):
        for feature, info in sorted(anomalies.get("anomalyInfo", {}).items()):
            reasons = info.get("reason", [])
            rows.append(
                {
                    "split": split,
                    "feature": feature,
                    "severity": info.get("severity", "ERROR"),
                    "problem": info.get("shortDescription")
                    or "; ".join(r.get("shortDescription", "") for r in reasons),
                    "detail": info.get("description") or "; ".join(r.get("description", "") for r in reasons),
                }
            )
        dataset = anomalies.get("datasetAnomalyInfo")
        if dataset:
            rows.append(
                {
                    "split": split,
                    "feature": "(dataset)",
                    "severity": dataset.get("severity", "ERROR"),
                    "problem": dataset.get("shortDescription", ""),
                    "detail": dataset.get("description", ""),
                }
            )
    return rows


def result_from_summary(summary: dict[str, Any]) -> dict[str, Any]:
    """What RunResult needs from summary.json: metrics (with ``blessed``), anomalies, gate failures, timings."""
    metrics: dict[str, Any] = evaluation_metrics(summary.get("metrics") or [])
    if summary.get("blessed") is not None:
        metrics["blessed"] = bool(summary["blessed"])
    return {
        "metrics": metrics,
        "anomalies": anomaly_rows(summary.get("anomalies") or {}),
        "gate_failures": gate_failures(summary.get("validation")),
        "tasks": summary.get("component_seconds", {}),
        "error": summary.get("error") or summary.get("summary_error"),
        "pushed": summary.get("pushed"),
    }


# ---------------------------------------------------------------- running in the image


def docker_problem(image: str = TFX_IMAGE) -> str | None:
    """Why the TFX image cannot run here, or None."""
    if not shutil.which("docker"):
        return "TFX runs in its image, but there is no docker CLI on PATH. Install Docker."
    info = subprocess.run(["docker", "info", "--format", "{{.ServerVersion}}"], capture_output=True, text=True)
    if info.returncode != 0:
        return "TFX runs in its image, but no Docker engine answers. Start Docker (`docker info` must work)."
    found = subprocess.run(["docker", "image", "inspect", image], capture_output=True, text=True)
    if found.returncode != 0:
        return f"the TFX image {image} is not built. Build it with `labkit image build tfx`."
    return None


def resolve_baseline(value: str) -> Path:
    """A baseline model folder: a Trainer model folder, or a previous run folder (its Trainer model is used)."""
    path = Path(value).expanduser().resolve()
    if (path / "Format-Serving").is_dir():
        return path
    candidates = sorted((path / "pipeline_root" / "Trainer" / "model").glob("*/Format-Serving"))
    if candidates:
        return candidates[-1].parent
    raise ValueError(
        f"baseline_model_uri={value!r} is neither a Trainer model folder (with Format-Serving/) nor the folder of "
        "a TFX run that trained a model. Pass an earlier run's folder, e.g. runs/session-06/<run> (`labkit lab "
        "run 6`) or runs/tfx-penguin/<run> (`labkit pipeline run tfx-penguin`)."
    )


def _docker_base(mounts: list[tuple[Path, str, bool]], image: str) -> list[str]:
    command = ["docker", "run", "--rm", "--network", "none", "-e", "HOME=/tmp", "-e", f"PYTHONPATH={IMAGE_ROOT}"]
    command += ["-e", "PYTHONDONTWRITEBYTECODE=1"]
    if hasattr(os, "getuid"):  # files in the run folder belong to the user, not root
        command += ["--user", f"{os.getuid()}:{os.getgid()}"]
    for source, target, read_only in mounts:
        command += ["-v", f"{source}:{target}{':ro' if read_only else ''}"]
    return [*command, image]


def run_command(
    run_dir: Path,
    params: dict[str, Any],
    baseline: Path | None = None,
    pipeline_file: Path | None = None,
    image: str = TFX_IMAGE,
) -> list[str]:
    """The exact ``docker run`` that runs the pipeline (written to the run's log, reusable by hand)."""
    mounts = [(REPO_ROOT, IMAGE_ROOT, True), (run_dir, RUN_MOUNT, False)]
    inner = ["python3", "-m", "labkit.tfx_inside", "--run-dir", RUN_MOUNT]
    if baseline is not None:
        mounts.append((baseline, BASELINE_MOUNT, True))
        params = {**params, "baseline_model_uri": BASELINE_MOUNT}
    if pipeline_file is not None:
        mounts.append((pipeline_file.resolve().parent, STUDENT_MOUNT, True))
        inner += ["--pipeline-file", f"{STUDENT_MOUNT}/{pipeline_file.name}"]
    return [*_docker_base(mounts, image), *inner, "--params-json", json.dumps(params)]


class TfxDockerRunner:
    """``--runner docker`` for TFX pipelines: LocalDagRunner in the TFX image, results read back on the host."""

    name = "docker"

    def __init__(self, image: str = TFX_IMAGE) -> None:
        self.image = image

    def run(self, entry: PipelineEntry, params: dict[str, Any], run_dir: Path, on_event: EventSink) -> RunResult:
        if problem := docker_problem(self.image):
            raise RunnerUnavailableError(problem)
        params = dict(params)
        data = params.pop("data", "palmerpenguins")
        baseline_value = params.pop("baseline_model_uri", "")
        try:
            baseline = resolve_baseline(baseline_value) if baseline_value else None
            prepare_data(run_dir / "data", data, seed=int(params.get("seed", 42)))
        except ValueError as exc:
            raise RunnerUnavailableError(str(exc)) from None
        command = run_command(run_dir, params, baseline, entry.file, self.image)
        log_path = run_dir / "run.log"
        start = time.perf_counter()
        started: dict[str, float] = {}
        with log_path.open("w") as log:
            log.write("$ " + " ".join(command) + "\n")
            log.flush()
            process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
            assert process.stdout is not None
            for line in process.stdout:
                log.write(line)
                if match := COMPONENT_STARTED.search(line):
                    started[match.group(1)] = time.perf_counter()
                    on_event(TaskEvent(match.group(1), "running"))
                elif match := COMPONENT_FINISHED.search(line):
                    task = match.group(1)
                    on_event(TaskEvent(task, "succeeded", time.perf_counter() - started.pop(task, start)))
            returncode = process.wait()
        for task in started:  # still running when the container stopped: that one failed
            on_event(TaskEvent(task, "failed"))
        summary_path = run_dir / "summary.json"
        summary = json.loads(summary_path.read_text()) if summary_path.is_file() else {}
        parsed = result_from_summary(summary)
        error = parsed["error"]
        if returncode != 0 and not error:
            error = f"the TFX container exited with code {returncode}"
        if error and not (run_dir / "pipeline_root").exists():
            where = entry.file or entry.module
            error = f"building the pipeline ({where}, {entry.function}) failed before any component ran: {error}"
        artifacts = {"data": "data", "pipeline_root": "pipeline_root", "metadata": "metadata.sqlite"}
        if parsed["pushed"]:
            artifacts["pushed_model"] = parsed["pushed"]
        return RunResult(
            pipeline=entry.name,
            runner=self.name,
            run_dir=str(run_dir),
            succeeded=error is None,
            wall_seconds=round(time.perf_counter() - start, 3),
            metrics=parsed["metrics"],
            tasks=parsed["tasks"],
            artifacts={key: str(run_dir / value) for key, value in artifacts.items()},
            failed_task=next(iter(started), None),
            error=error,
            log_file=str(log_path),
            anomalies=parsed["anomalies"],
            gate_failures=parsed["gate_failures"],
        )


# ---------------------------------------------------------------- compiling


def backend_problems(spec: dict[str, Any], image: str = TFX_IMAGE) -> list[str]:
    """What the open-source KFP 2.17 backend would refuse (or run with the wrong image) in a compiled TFX spec.

    labkit/backend_rules.py holds the backend's own rules, each citing the upstream code; the kit adds one of its
    own: every step runs in its pinned TFX image (the only image with the module files, data and entrypoint).
    """
    problems = [str(problem) for problem in backend_rules.problems(spec)]
    if not isinstance(spec, dict) or any(key in spec for key in backend_rules.JOB_KEYS):
        return problems
    for name, executor in (spec.get("deploymentSpec") or {}).get("executors", {}).items():
        if "container" in executor:
            used = executor["container"].get("image", "")
            if used != image:
                problems.append(f"executor {name!r} runs image {used!r}, not the kit's TFX image {image!r}")
            if ":" not in used or used.endswith(":latest"):
                problems.append(f"executor {name!r} image {used!r} is not pinned to a tag")
        if not {"container", "importer", "resolver"} & set(executor):
            problems.append(f"executor {name!r} is neither a container nor an importer")
    return problems


def tfx_importable() -> bool:
    return importlib.util.find_spec("tfx") is not None


def compile_tfx(
    entry: PipelineEntry, out_dir: Path, params: dict[str, Any] | None = None, image: str = TFX_IMAGE
) -> Path:
    """Compile with the pipeline's kubeflow_runner: on the host if TFX imports, else inside the TFX image."""
    out_dir = out_dir.resolve()
    out_dir.mkdir(parents=True, exist_ok=True)
    package = out_dir / f"{entry.name}.yaml"
    module = entry.module.rsplit(".", 1)[0] + ".kubeflow_runner"
    if tfx_importable():
        command = [sys.executable, "-m", module, "--out", str(package), "--params-json", json.dumps(params or {})]
        done = subprocess.run(command, capture_output=True, text=True, cwd=REPO_ROOT)
    else:
        if problem := docker_problem(image):
            raise RunnerUnavailableError(f"compiling {entry.name} needs TFX: {problem}")
        mounts = [(REPO_ROOT, IMAGE_ROOT, True), (out_dir, "/labkit/out", False)]
        command = [*_docker_base(mounts, image), "python3", "-m", module, "--out", f"/labkit/out/{package.name}"]
        command += ["--params-json", json.dumps(params or {})]
        done = subprocess.run(command, capture_output=True, text=True)
    if done.returncode != 0:
        last = (done.stderr.strip().splitlines() or ["(no output)"])[-1]
        raise TfxCompileError(f"compiling {entry.name} failed: {last}")
    import yaml

    if problems := backend_problems(yaml.safe_load(package.read_text())):
        raise TfxCompileError(f"{package} would be rejected by the KFP backend: " + "; ".join(problems))
    return package
