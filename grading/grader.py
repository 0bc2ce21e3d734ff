"""Grade one submission: load -> compile -> static checks on the IR -> seeded run -> held-out metrics -> score.

The submission's code runs only inside a sandbox (see ``grading.sandbox``). This module reads what the sandbox
left behind as data: the compiled IR, and the Model artifact found by its IR type. Metrics that count are
computed here, on held-out rows the sandbox never received.
"""

from __future__ import annotations

import json
import logging
import re
import shutil
import stat
import tempfile
import time
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from functools import lru_cache
from pathlib import Path
from typing import Any

import pandas as pd

from grading import tfx_grading
from grading import worker as worker_codes
from grading.checks import KINDS, Context, RunOutcome
from grading.datasets import DataFile, expand, write_data
from grading.ir import IRError, PipelineIR, parse_ir
from grading.rubric import Check, Rubric
from grading.sandbox import Limits, Sandbox, SandboxRun
from grading.submission import (
    MissingFile,
    RefusedFile,
    SubmissionError,
    digest,
    inside,
    plain_file,
    read_json_limited,
    read_text_limited,
    submission_id,
    unpack,
)
from labkit.paths import REPO_ROOT

_EXCEPTION = re.compile(r"^[A-Za-z_][\w.]*(Error|Exception|Exit)\b")
MAX_MODEL_BYTES = 50 * 1024 * 1024
SCORE_MEMORY_BYTES = 1536 * 1024 * 1024  # reading a lab's model takes ~300 MiB of address space
SCORE_SECONDS = 30
LOG_EXCERPT_CHARS = 4000
MAX_STATUS_BYTES = 20000
UNREAD_STATUS = "el corrector no leyó el estado de la corrida"
# What a report says when scoring fails: fixed lines, because the reader's own error text can carry data the
# model file pointed it at. The detail goes to the grader's log.
SCORE_ERRORS = {
    "refused": "el modelo fue rechazado: model.keras apunta a datos fuera de sí mismo (enlaces o almacenamiento "
    "externo de HDF5, datasets virtuales, o miembros del zip que son enlaces o rutas fuera del archivo)",
    "unsupported": "el modelo no es una red de capas Dense que el corrector sepa evaluar",
    "missing": "la carpeta del modelo no tiene model.keras y preprocessing.json como los escribe el paso train",
    "memory": f"leer el modelo superó {SCORE_MEMORY_BYTES // 2**20} MiB o el tiempo límite",
    "invalid": "el modelo no se pudo leer: model.keras o preprocessing.json no tienen el formato del paso train",
}
SUMMARY_KEYS = ("accuracy", "macro_f1", "baseline_accuracy", "rows")
log = logging.getLogger(__name__)


@dataclass
class CheckResult:
    id: str
    title: str
    stage: str
    points: float
    earned: float
    hidden: bool
    feedback: str

    @property
    def passed(self) -> bool:
        return self.earned >= self.points - 1e-9


@dataclass
class GradeResult:
    submission: str
    session: int
    score: float
    max_score: float
    percent: float
    passed: bool
    passing_percent: float
    sandbox: str
    stages: dict[str, str]  # stage -> "ok" or why it could not run
    checks: list[CheckResult]
    heldout_metrics: dict[str, Any] | None
    wall_seconds: float
    graded_at: str
    submission_digest: str = ""
    log_excerpt: str = ""
    notes: list[str] = field(default_factory=list)
    grading_key: str = ""  # what it was graded with (see grading.batch.grading_key): a batch reuses only a match
    grader_error: str = ""  # the grader failed on this submission: not a grade, never reused

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        for check, result in zip(data["checks"], self.checks, strict=True):
            check["passed"] = result.passed
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> GradeResult:
        checks = [CheckResult(**{k: v for k, v in c.items() if k != "passed"}) for c in data["checks"]]
        return cls(**{**data, "checks": checks})


@lru_cache(maxsize=4)
def heldout_split(fraction: float, seed: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(visible, held_out): the rows the sandbox gets, and the grader's own rows to score its model on.

    The visible rows are a seeded stratified share ``1 - fraction`` of the clean public penguins table. The
    held-out rows are NOT public rows (the sandbox can import the public table and memorise it): they are as
    many penguins as the rest of the split, generated from the seed by ``grading.heldout``.
    """
    from components.evaluate.logic import evaluate_predictions  # noqa: F401  (fail early if the kit is broken)
    from components.ingest.logic import load_penguins_clean
    from components.split.logic import stratified_split
    from grading.heldout import generate

    visible, withheld = stratified_split(load_penguins_clean(), test_fraction=fraction, seed=seed)
    return visible, generate(len(withheld), seed)


def _status(out: Path) -> dict[str, Any]:
    """The worker's advisory status; the submission could have rewritten it, so it only feeds messages.

    One it cannot read becomes an error saying so, which the run's failure message then shows.
    """
    try:
        data = read_json_limited(out / "status.json", out, MAX_STATUS_BYTES)
    except MissingFile:
        return {}
    except RefusedFile as exc:
        return {"error": f"{UNREAD_STATUS}: {exc}"}
    return data if isinstance(data, dict) else {"error": f"{UNREAD_STATUS}: no es un objeto JSON"}


def _why_not_loaded(run: SandboxRun, status: dict[str, Any], limits: Limits) -> str | None:
    """None when pipeline.py was imported; otherwise a feedback line naming what happened."""
    error = str(status.get("error", ""))[:300]
    if not error.partition(": ")[2]:
        # Children of a fork bomb race on status.json; the traceback's last line still names the error.
        lines = [line for line in run.output.splitlines() if _EXCEPTION.match(line)]
        error = lines[-1][:300] if lines else error
    if "MemoryError" in error:
        error += f" (límite de memoria: {limits.memory_mb} MiB)"
    if "BlockingIOError" in error or "Resource temporarily unavailable" in error:
        error += f" (límite de procesos: {limits.pids})"
    if run.timed_out:
        return f"se superó el tiempo límite de {limits.wall_seconds:.0f} s (¿un bucle infinito?)"
    if run.output_flooded:
        return f"la salida superó {limits.output_kill_bytes // 2**20} MiB y el corrector detuvo la corrida"
    code = run.exit_code
    if code == worker_codes.EXIT_SYNTAX:
        return f"pipeline.py tiene un error de sintaxis: {error}"
    if code == worker_codes.EXIT_IMPORT:
        return f"importar pipeline.py falló: {error}"
    if status.get("phase") == "load":
        if _EXCEPTION.match(error):
            return f"importar pipeline.py falló: {error}"
        if (code is not None and code < 0) or code in (137, 139):
            return f"el proceso murió por una señal ({code}) al importar pipeline.py: ¿memoria o procesos de más?"
        return f"pipeline.py terminó el proceso al importarse (código {code}); no llames a exit() en el módulo"
    return None


def _run_failure(output: str) -> str | None:
    """'task X failed: Error: message' from kfp.local's log, the way `labkit pipeline run` reports it."""
    from labkit.runners.local import ANSI, EXCEPTION_LINE, TASK_FINISHED

    last_error: str | None = None
    for line in ANSI.sub("", output).splitlines():
        if error := EXCEPTION_LINE.match(line):
            last_error = f"{error.group(1).rsplit('.', 1)[-1]}: {error.group(2)}"
        elif (finished := TASK_FINISHED.search(line)) and finished.group(2) != "SUCCESS":
            return f"el paso {finished.group(1)!r} falló: {last_error or 'sin mensaje de error'}"[:400]
    return None


def _stopped(run: SandboxRun, limits: Limits) -> str | None:
    """Why the sandbox stopped a run that had got past loading, or None."""
    if run.timed_out:
        return f"la corrida superó el tiempo límite de {limits.wall_seconds:.0f} s"
    if run.output_flooded:
        return f"la salida superó {limits.output_kill_bytes // 2**20} MiB; corrida detenida"
    return None


def _memory_hint(run: SandboxRun, limits: Limits) -> str:
    if run.exit_code is not None and (run.exit_code < 0 or run.exit_code == 137):
        return f" (el proceso murió por una señal: ¿superó {limits.memory_mb} MiB de memoria?)"
    if "MemoryError" in run.output:
        return f" (MemoryError: límite de {limits.memory_mb} MiB)"
    return ""


def _run_folder(out: Path, run: str | None = None) -> Path | None:
    root = out / "artifacts" if run is None else out / "artifacts" / run
    if not root.is_dir() or not inside(root, out):
        return None
    runs = [p for p in root.iterdir() if p.is_dir() and not p.is_symlink()]
    return runs[0] if len(runs) == 1 else None


def _tasks_ran(ir: PipelineIR, run_folder: Path | None) -> set[str]:
    if run_folder is None:
        return set()
    marker = "executor_output.json"
    return {task.component for task in ir.tasks.values() if plain_file(run_folder / task.name / marker, run_folder)}


def _trained_model(ir: PipelineIR, run_folder: Path) -> Path:
    """The Model artifact of the task that produces a model without consuming one (the training step)."""
    task, output = ir.trained_output("system.Model")
    folder = run_folder / task.name / output
    if not folder.is_dir() or not inside(folder, run_folder):
        raise LookupError(f"el paso {task.name} no dejó su modelo ({output})")
    _check_model_folder(folder, f"el modelo de {task.name}")
    return folder


def _check_model_folder(folder: Path, what: str) -> None:
    """A model folder the submission wrote, before the grader reads it: regular files and folders only (no links,
    FIFOs or devices), no huge files or zip bombs."""
    for item in folder.iterdir():
        mode = item.lstat()
        plain = stat.S_ISDIR(mode.st_mode) or (stat.S_ISREG(mode.st_mode) and mode.st_nlink == 1)
        if not plain or not inside(item, folder) or mode.st_size > MAX_MODEL_BYTES:
            raise LookupError(f"{what} tiene archivos inválidos (enlaces, FIFOs, dispositivos) o demasiado grandes")
    for name in ("model.keras", "preprocessing.json"):
        if (folder / name).exists() and not plain_file(folder / name, folder):
            raise LookupError(f"{what}: {name} no es un archivo común")
    keras_file = folder / "model.keras"
    if keras_file.is_file():
        import zipfile

        try:
            with zipfile.ZipFile(keras_file) as archive:
                unpacked = sum(info.file_size for info in archive.infolist())
        except zipfile.BadZipFile:
            raise LookupError(f"{what} no es un archivo .keras válido") from None
        if unpacked > MAX_MODEL_BYTES:  # a zip bomb would be inflated in the grader's memory
            raise LookupError(f"{what} descomprime a más de {MAX_MODEL_BYTES // 2**20} MiB")


def score_heldout(model_dir: Path, visible: pd.DataFrame, held_out: pd.DataFrame) -> dict[str, Any]:
    """Accuracy/macro-F1 on held-out rows, with the majority-class baseline of the rows the model was given.

    The kit's own ``evaluate_model_dir`` (the numpy reader: the model file is data, never code), run by
    ``grading/score_keras.py`` in a child process with memory and CPU limits.
    """
    import resource
    import subprocess
    import sys

    def limits() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (SCORE_MEMORY_BYTES, SCORE_MEMORY_BYTES))
        resource.setrlimit(resource.RLIMIT_CPU, (SCORE_SECONDS, SCORE_SECONDS))

    with tempfile.TemporaryDirectory(prefix="labkit-score-") as tmp:
        visible.to_csv(Path(tmp) / "given.csv", index=False)
        held_out.to_csv(Path(tmp) / "rows.csv", index=False)
        command = [sys.executable, "-m", "grading.score_keras", "--model", str(model_dir)]
        command += ["--given", f"{tmp}/given.csv", "--rows", f"{tmp}/rows.csv"]
        env = {"PYTHONPATH": str(REPO_ROOT), "PATH": "/usr/bin:/bin", "OMP_NUM_THREADS": "1", "LANG": "C.UTF-8"}
        try:
            done = subprocess.run(
                command, capture_output=True, text=True, timeout=2 * SCORE_SECONDS, env=env, cwd=tmp, preexec_fn=limits
            )
        except subprocess.TimeoutExpired:
            raise RuntimeError(f"leer el modelo tardó más de {2 * SCORE_SECONDS} s") from None
    try:
        said = json.loads((done.stdout.strip().splitlines() or ["{}"])[-1])
    except ValueError:
        said = {}
    said = said if isinstance(said, dict) else {}
    if done.returncode == 0 and all(isinstance(said.get(key), int | float) for key in SUMMARY_KEYS):
        return {key: said[key] for key in SUMMARY_KEYS}
    code = "memory" if done.returncode < 0 else str(said.get("error", "invalid"))
    log.warning("scoring %s failed (%s, exit %s):\n%s", model_dir, code, done.returncode, done.stderr[-4000:])
    raise RuntimeError(SCORE_ERRORS.get(code, SCORE_ERRORS["invalid"]))


def _score(check: Check, ctx: Context, blocked: str | None) -> CheckResult:
    def result(earned: float, feedback: str) -> CheckResult:
        return CheckResult(check.id, check.title, check.stage, check.points, round(earned, 2), check.hidden, feedback)

    if blocked:
        return result(0.0, f"{check.on_fail} — no se pudo evaluar: {blocked}")
    try:
        fraction, detail = KINDS[check.kind](ctx, check.params)
    except Exception as exc:  # a malformed IR or model must cost points, never crash the batch
        return result(0.0, f"{check.on_fail} — no se pudo evaluar: {type(exc).__name__}: {exc}")
    if not check.partial:
        fraction = 1.0 if fraction >= 1.0 else 0.0
    feedback = check.on_pass if fraction >= 1.0 else check.on_fail
    return result(check.points * fraction, f"{feedback} ({detail})" if detail else feedback)


_RUN_BANNER = re.compile(r"^GRADER: run '([a-z][a-z0-9_-]*)' with ", re.MULTILINE)
_VERSION = re.compile(r"^v\d{1,8}$")


def _run_logs(output: str) -> dict[str, str]:
    """The worker's output cut at each named run's banner: run name -> what it printed."""
    marks = list(_RUN_BANNER.finditer(output))
    ends = [m.start() for m in marks[1:]] + [len(output)]
    return {m.group(1): output[m.start() : end] for m, end in zip(marks, ends, strict=True)}


def _execute_runs(
    ctx: Context, rubric: Rubric, run: SandboxRun, status: dict[str, Any], out: Path, limits: Limits
) -> str:
    """Each named run's tasks and outcome into ``ctx.runs``; the execute stage, "ok" only if every run finished.

    A run's outcome is the worker's (advisory) status plus the artifacts found; a later run's failure or a
    timeout does not undo an earlier run that finished.
    """
    assert ctx.ir is not None
    reported = status.get("runs") if isinstance(status.get("runs"), dict) else {}
    logs = _run_logs(run.output)
    for name in rubric.runs:
        said = reported.get(name) if isinstance(reported.get(name), dict) else {}
        folder = _run_folder(out, name)
        ok = said.get("ok") is True and folder is not None
        error = "" if ok else _run_failure(logs.get(name, "")) or str(said.get("error", ""))[:300]
        if not ok and not error:
            error = "no terminó (¿tiempo límite?)" if name in logs else "no llegó a correr"
        ctx.runs[name] = RunOutcome(_tasks_ran(ctx.ir, folder), ok, error)
        ctx.tasks_ran |= ctx.runs[name].tasks
    ctx.ran = run.exit_code == 0 and status.get("phase") == "ran" and all(r.ok for r in ctx.runs.values())
    if stopped := _stopped(run, limits):
        return stopped
    failed = next((name for name, outcome in ctx.runs.items() if not outcome.ok), None)
    if failed is not None:
        return f"la corrida {failed!r} falló: {ctx.runs[failed].error}{_memory_hint(run, limits)}"[:500]
    if not ctx.ran:
        return f"la corrida falló: {str(status.get('error', ''))[:300] or f'código de salida {run.exit_code}'}"
    return "ok"


def _registry_champion(registry: Path, out: Path, model_name: str) -> tuple[str, Path]:
    """(version, folder) of the champion in a registry the submission wrote (layout: components/champion/logic.py).

    Read as data with the same guards as a Model artifact: nothing outside ``out``, no links, size limits.
    """
    from components.champion.logic import CHAMPION_FILE, model_root

    root = model_root(registry, model_name)
    if not (registry.is_dir() and inside(registry, out) and root.is_dir() and inside(root, out)):
        raise LookupError(f"el registro no tiene el modelo {model_name!r}: no se registró ningún campeón")
    try:
        version = read_text_limited(root / CHAMPION_FILE, root, 64).strip()
    except RefusedFile as exc:
        raise LookupError(f"{exc}: no se publicó ningún campeón") from None
    folder = root / version
    if not _VERSION.match(version) or not folder.is_dir() or not inside(folder, root):
        raise LookupError(f"el puntero {CHAMPION_FILE} no nombra una versión del registro ({version[:20]!r})")
    _check_model_folder(folder, f"el campeón {version}")
    return version, folder


def _score_champion(
    ctx: Context,
    rubric: Rubric,
    out: Path,
    files: dict[str, DataFile],
    visible: pd.DataFrame,
    held_out: pd.DataFrame,
) -> str:
    """Score the registry's champion on held-out rows into ``ctx.evaluation``; the metrics stage."""
    if not rubric.champion:
        return "la rúbrica no dice qué modelo evaluar"
    registry = Path(expand(str(rubric.champion["registry"]), {"data": out.parent / "data", "out": out}))
    given, rows = visible, held_out
    if rubric.champion.get("heldout"):
        given, rows = files[rubric.champion["heldout"]].given, files[rubric.champion["heldout"]].held_out
    try:
        version, folder = _registry_champion(registry, out, str(rubric.champion.get("model_name", "penguins")))
        ctx.evaluation = {**score_heldout(folder, given, rows), "champion": version}
    except Exception as exc:
        return f"no se pudo evaluar el campeón en datos reservados: {exc}"[:300]
    return "ok"


def _blocked(check: Check, stages: dict[str, str], ctx: Context) -> str | None:
    """Why ``check`` cannot be scored, or None. A check on one named run that finished is scored even when
    another run failed."""
    if stages[check.stage] == "ok":
        return None
    run = ctx.runs.get(str(check.params.get("run", "")))
    if check.stage == "execute" and run is not None and run.ok:
        return None
    return stages[check.stage]


def grade(
    source: Path,
    rubric: Rubric,
    sandbox: Sandbox,
    limits: Limits | None = None,
    keep_scratch: Path | None = None,
) -> GradeResult:
    """Grade one folder or .zip. Never raises for anything the submission does; errors become feedback."""
    start = time.monotonic()
    limits = limits or Limits(wall_seconds=rubric.wall_seconds)
    unknown = {c.kind for c in rubric.checks} - set(KINDS)
    if unknown:
        raise ValueError(f"rubric uses unknown check kinds {sorted(unknown)}; known: {sorted(KINDS)}")
    if rubric.engine not in sandbox.engines:
        raise ValueError(f"the {sandbox.name} sandbox cannot run {rubric.engine} labs (session {rubric.session})")
    tfx = rubric.engine == "tfx"
    scratch = Path(tempfile.mkdtemp(prefix="labkit-grade-"))
    scratch.chmod(0o755)  # the sandbox user (nobody) must reach data/ and submission/
    stages: dict[str, str] = {}
    ctx = Context()
    run: SandboxRun | None = None
    notes = [f"sandbox: {sandbox.description}"]
    sub_digest = ""
    try:
        submission = scratch / "submission"
        try:
            unpack(source, submission)
            sub_digest = digest(submission)
        except SubmissionError as exc:
            stages["load"] = str(exc)
        if "load" not in stages:
            visible, held_out = heldout_split(rubric.heldout_fraction, rubric.heldout_seed)
            data = scratch / "data"
            data.mkdir()
            files = write_data(rubric.data, data, visible, held_out, rubric.heldout_seed)
            places = {"data": data, "out": scratch / "out"}  # the docker sandbox maps both into /scratch
            if tfx:
                arguments = dict(rubric.run_arguments)
                data_args = ["--data", str(tfx_grading.write_tfx_data(data, visible, rubric.heldout_seed))]
            else:
                visible.to_csv(data / "visible.csv", index=False)
                arguments = {"source": str(data / "visible.csv"), **expand(rubric.run_arguments, places)}
                data_args = []
            worker_args = ["--function", rubric.function, "--args", json.dumps(arguments), *data_args]
            if rubric.runs:
                runs = {name: expand({**rubric.run_arguments, **given}, places) for name, given in rubric.runs.items()}
                worker_args += ["--runs", json.dumps(runs)]
            run = sandbox.run_worker(submission, scratch, worker_args, limits)
            out = scratch / "out"
            status = _status(out)
            why = _why_not_loaded(run, status, limits)
            if why:
                stages["load"] = why
            elif run.exit_code == worker_codes.EXIT_NO_FUNCTION:
                what = "una función" if tfx else "un @dsl.pipeline"
                stages["load"] = f"pipeline.py no define {what} llamado {rubric.function!r}"
        if "load" not in stages:
            stages["load"] = "ok"
            assert run is not None
            if run.exit_code == worker_codes.EXIT_COMPILE:
                stages["compile"] = f"compilar el pipeline falló: {str(status.get('error', ''))[:300]}"
            else:
                try:
                    ctx.ir = parse_ir(out / "pipeline.yaml", out)
                    stages["compile"] = "ok"
                except IRError as exc:
                    stages["compile"] = str(exc)
        if stages.get("compile") == "ok" and rubric.runs:
            assert run is not None
            stages["static"] = "ok"
            stages["execute"] = _execute_runs(ctx, rubric, run, status, out, limits)
            stages["metrics"] = _score_champion(ctx, rubric, out, files, visible, held_out)
            if stages["execute"] != "ok" and stages["metrics"] == "ok":
                notes.append("a run failed; the champion in the registry was still scored")
        elif stages.get("compile") == "ok":
            assert run is not None and ctx.ir is not None
            stages["static"] = "ok"
            run_folder = tfx_grading.run_folder(out) if tfx else _run_folder(out)
            ctx.tasks_ran = (tfx_grading.tasks_ran if tfx else _tasks_ran)(ctx.ir, run_folder)
            if stopped := _stopped(run, limits):
                stages["execute"] = stopped
            elif run.exit_code != 0 or status.get("phase") != "ran" or run_folder is None:
                error = _run_failure(run.output) or str(status.get("error", ""))[:300]
                error = error or f"código de salida {run.exit_code}"
                stages["execute"] = f"la corrida falló: {error}{_memory_hint(run, limits)}"
            else:
                stages["execute"] = "ok"
                ctx.ran = True
            if run_folder is not None:
                try:
                    if tfx:
                        model = tfx_grading.trained_model(ctx.ir, run_folder)
                        ctx.evaluation = tfx_grading.score_saved_model(sandbox, model, visible, held_out)
                    else:
                        ctx.evaluation = score_heldout(_trained_model(ctx.ir, run_folder), visible, held_out)
                    stages["metrics"] = "ok"
                except Exception as exc:
                    stages["metrics"] = f"no se pudo evaluar el modelo en datos reservados: {exc}"[:300]
            else:
                stages["metrics"] = "la corrida no dejó artefactos"
            if stages["execute"] != "ok" and stages.get("metrics") == "ok":
                notes.append("the run failed after training; the trained model was still scored")
    finally:
        if keep_scratch is not None:
            try:  # FIFOs and devices the submission left cannot be copied; the rest still is
                shutil.copytree(scratch, keep_scratch, dirs_exist_ok=True, ignore_dangling_symlinks=True, symlinks=True)
            except (shutil.Error, OSError):
                notes.append(f"some files of the run were not copied to {keep_scratch} (FIFOs, devices or unreadable)")
        shutil.rmtree(scratch, ignore_errors=True)

    order = ["load", "compile", "static", "execute", "metrics"]
    first_failure = next((stages[s] for s in order if stages.get(s) not in (None, "ok")), "la etapa anterior falló")
    for stage in order:
        stages.setdefault(stage, f"no se ejecutó: {first_failure}")
    checks = [_score(check, ctx, _blocked(check, stages, ctx)) for check in rubric.checks]
    score = round(sum(c.earned for c in checks), 2)
    total = rubric.total_points
    percent = round(100 * score / total, 1) if total else 0.0
    missed = [c.id for c, r in zip(rubric.checks, checks, strict=True) if c.required and not r.passed]
    if missed:
        notes.append(f"required checks not passed (the submission cannot pass without them): {', '.join(missed)}")
    excerpt = run.output[-LOG_EXCERPT_CHARS:] if run else ""
    if run and run.output_bytes > limits.output_bytes:
        notes.append(f"the submission printed {run.output_bytes} bytes; the report keeps the first part only")
    return GradeResult(
        submission=submission_id(source),
        session=rubric.session,
        score=score,
        max_score=total,
        percent=percent,
        passed=percent >= rubric.passing_percent and not missed,
        passing_percent=rubric.passing_percent,
        sandbox=sandbox.name,
        stages=stages,
        checks=checks,
        heldout_metrics=ctx.evaluation,
        wall_seconds=round(time.monotonic() - start, 2),
        graded_at=datetime.now(timezone.utc).isoformat(timespec="seconds"),
        submission_digest=sub_digest,
        log_excerpt=excerpt,
        notes=notes,
    )
