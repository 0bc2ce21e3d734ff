"""Grade one submission: load -> compile -> static checks on the IR -> seeded run -> held-out metrics -> score.

The submission's code runs only inside a sandbox (see ``grading.sandbox``). This module reads what the sandbox
left behind as data: the compiled IR, and the Model artifact found by its IR type. Metrics that count are
computed here, on held-out rows the sandbox never received.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import re
import secrets
import shutil
import tempfile
import time
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pandas as pd

from grading import worker as worker_codes
from grading.checks import KINDS, Context, RunOutcome
from grading.datasets import DataFile, expand, write_data
from grading.engines import ENGINES, ClassifierScoring, Engine, check_model_folder, heldout_metrics
from grading.identity import OWN
from grading.ir import IRError, parse_ir
from grading.rubric import Check, Rubric
from grading.sandbox import Limits, Sandbox, SandboxRun
from grading.submission import (
    MissingFile,
    RefusedFile,
    SubmissionError,
    digest,
    inside,
    read_json_limited,
    read_text_limited,
    submission_id,
    unpack,
)

_EXCEPTION = re.compile(r"^[A-Za-z_][\w.]*(Error|Exception|Exit)\b")
LOG_EXCERPT_CHARS = 4000
MAX_STATUS_BYTES = 20000
UNREAD_STATUS = "el corrector no leyó el estado de la corrida"
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
    if run.disk_exceeded:
        return _disk(limits)
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


def _disk(limits: Limits) -> str:
    return f"la corrida escribió más de {limits.disk_mb} MiB o {limits.max_files} archivos y el corrector la detuvo"


def _stopped(run: SandboxRun, limits: Limits) -> str | None:
    """Why the sandbox stopped a run that had got past loading, or None."""
    if run.disk_exceeded:
        return _disk(limits)
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


def _evidence(output: str, secret: str) -> dict[str, dict[str, str]]:
    """The last evidence line the worker signed with ``secret``: run -> task -> kfp.local status; {} if none."""
    for line in reversed(output.splitlines()):
        payload, _, signature = line.removeprefix(worker_codes.EVIDENCE).rpartition(" ")
        if not line.startswith(worker_codes.EVIDENCE):
            continue
        expected = hmac.new(secret.encode(), payload.encode(), hashlib.sha256).hexdigest()
        if hmac.compare_digest(signature, expected):
            try:
                runs = json.loads(payload)
            except ValueError:
                return {}
            return runs if isinstance(runs, dict) else {}
    return {}


def _run_logs(output: str) -> dict[str, str]:
    """The worker's output cut at each named run's banner: run name -> what it printed."""
    marks = list(_RUN_BANNER.finditer(output))
    ends = [m.start() for m in marks[1:]] + [len(output)]
    return {m.group(1): output[m.start() : end] for m, end in zip(marks, ends[: len(marks)], strict=True)}


def _execute(
    ctx: Context, rubric: Rubric, engine: Engine, run: SandboxRun, status: dict[str, Any], out: Path, limits: Limits
) -> tuple[str, dict[str, Path]]:
    """(the execute stage, the folder each run left). Each run's tasks and outcome go into ``ctx``: named runs
    into ``ctx.runs`` (a later run's failure does not undo an earlier run that finished), the only run of a
    rubric without named runs under the name ""."""
    assert ctx.ir is not None
    reported = status.get("runs") if isinstance(status.get("runs"), dict) else {}
    logs = _run_logs(run.output) if rubric.runs else {"": run.output}
    folders: dict[str, Path] = {}
    for name in rubric.runs or [""]:
        folder = engine.run_folder(out, name)
        if name:
            said = reported.get(name) if isinstance(reported.get(name), dict) else {}
            ok = said.get("ok") is True and folder is not None
        else:
            said, ok = status, run.exit_code == 0 and status.get("phase") == "ran" and folder is not None
        error = "" if ok else _run_failure(logs.get(name, "")) or str(said.get("error", ""))[:300]
        if not ok and not error:
            unread = str(status.get("error", "")) if str(status.get("error", "")).startswith(UNREAD_STATUS) else ""
            error = unread or ("no terminó (¿tiempo límite?)" if name in logs else "no llegó a correr")
        evidence = ctx.evidence.get(name) if isinstance(ctx.evidence.get(name), dict) else {}
        outcome = RunOutcome(engine.tasks_ran(ctx.ir, folder, evidence), ok, error)
        if name:
            ctx.runs[name] = outcome
        ctx.tasks_ran |= outcome.tasks
        if folder is not None:
            folders[name] = folder
    ctx.ran = run.exit_code == 0 and status.get("phase") == "ran" and all(r.ok for r in ctx.runs.values())
    if stopped := _stopped(run, limits):
        return stopped, folders
    failed = next((name for name, outcome in ctx.runs.items() if not outcome.ok), None)
    if failed is not None:
        return f"la corrida {failed!r} falló: {ctx.runs[failed].error}{_memory_hint(run, limits)}"[:500], folders
    if not ctx.ran:
        error = _run_failure(run.output) or str(status.get("error", ""))[:300] or f"código de salida {run.exit_code}"
        return f"la corrida falló: {error}{_memory_hint(run, limits)}"[:500], folders
    return "ok", folders


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
    check_model_folder(folder, f"el campeón {version}")
    return version, folder


def _registry_path(champion: dict[str, Any], out: Path) -> Path:
    return Path(expand(str(champion["registry"]), {"data": out.parent / "data", "out": out}))


def _seed_champion(champion: dict[str, Any], out: Path, files: dict[str, DataFile]) -> str:
    """Register the grader's champion before the runs (see ``grading.champion``); its version."""
    from grading.champion import seed_registry

    registry = _registry_path(champion, out)
    registry.mkdir(parents=True, exist_ok=True)
    return seed_registry(registry, str(champion.get("model_name", "penguins")), files[champion["seed"]].given)


def _score_champion(
    ctx: Context,
    champion: dict[str, Any],
    engine: Engine,
    sandbox: Sandbox,
    out: Path,
    folders: dict[str, Path],
    files: dict[str, DataFile],
    given: tuple[pd.DataFrame, pd.DataFrame],
) -> dict[str, Any]:
    """The held-out metrics of the registry's champion.

    With a seeded registry, also whether the registry did what the comparison says: the grader compares the
    challenger the pipeline trained with its own champion on the test rows the pipeline's split makes, as the
    kit's compare_models does. While the grader's champion stays, the metrics are the challenger's (the
    pipeline's own work)."""
    assert ctx.ir is not None
    visible, held_out = given
    if heldout_file := champion.get("heldout"):
        visible, held_out = files[heldout_file].given, files[heldout_file].held_out
    name = str(champion.get("model_name", "penguins"))
    version, model = _registry_champion(_registry_path(champion, out), out, name)
    seeded, challenger = ctx.seeded_champion, champion.get("challenger", {})
    earlier = list(ctx.runs)[: list(ctx.runs).index(challenger["run"])] if challenger.get("run") in ctx.runs else []
    if not seeded or any(challenger["registered_by"] in ctx.runs[run].tasks for run in earlier):
        # No seed, or an earlier run already replaced it: there is no duel with the grader's champion to judge.
        return {
            **engine.score(sandbox, model, visible, held_out),
            "champion": version,
            "replaced_earlier": bool(seeded),
        }
    folder = folders.get(str(challenger["run"]))
    if folder is None:
        raise LookupError(f"la corrida {challenger['run']!r} no dejó artefactos")
    task, output = ctx.ir.shipped(challenger["task"], challenger["input"], challenger["trained_by"])
    challenger_model = engine.model_folder(folder, task, output)
    challenger_accuracy, champion_accuracy, baseline = _duel(
        engine,
        sandbox,
        challenger_model,
        _registry_path(champion, out) / name / seeded,
        files[champion["seed"]].given,
        challenger,
    )
    margin = float(challenger.get("min_improvement", 0.0))
    return {
        **engine.score(sandbox, model if version != seeded else challenger_model, visible, held_out),
        "champion": version,
        "replaced": version != seeded,
        "should_replace": challenger_accuracy > baseline and challenger_accuracy > champion_accuracy + margin,
        "challenger_test_accuracy": challenger_accuracy,
        "champion_test_accuracy": champion_accuracy,
    }


def _duel(
    engine: ClassifierScoring,
    sandbox: Sandbox,
    challenger: Path,
    seed_model: Path,
    batch: pd.DataFrame,
    how: dict[str, Any],
) -> tuple[float, float, float]:
    """(challenger, champion, baseline) accuracy on the test rows the pipeline's split makes of ``batch``, as
    the kit's compare_models measures them. The seeded champion is the grader's own file: read in process."""
    from components.common.inference import load_dense_network
    from components.common.schema import LABEL
    from components.split.logic import stratified_split

    train, test = stratified_split(batch, test_fraction=float(how["test_fraction"]), seed=int(how["seed"]))
    features = test.drop(columns=[LABEL])
    challenger_on_test = heldout_metrics(engine.predict(sandbox, challenger, features), train, test)
    champion_on_test = heldout_metrics(load_dense_network(seed_model).predict(features), train, test)
    return challenger_on_test["accuracy"], champion_on_test["accuracy"], challenger_on_test["baseline_accuracy"]


def _score_shipped(
    ctx: Context,
    rubric: Rubric,
    engine: Engine,
    sandbox: Sandbox,
    out: Path,
    folders: dict[str, Path],
    files: dict[str, DataFile],
    visible: pd.DataFrame,
    held_out: pd.DataFrame,
) -> str:
    """Score the model the pipeline ships on held-out rows into ``ctx.evaluation``; the metrics stage.

    The shipped model is the registry's champion (``rubric.champion``, see ``_score_champion``) or the model a
    task such as push receives (``rubric.shipped``), which must come from the training step of the same run.
    """
    assert ctx.ir is not None
    try:
        if rubric.champion:
            given = (visible, held_out)
            ctx.evaluation = _score_champion(ctx, rubric.champion, engine, sandbox, out, folders, files, given)
            return "ok"
        shipped = rubric.shipped
        folder = folders.get(str(shipped.get("run", "")))
        if folder is None:
            return "la corrida no dejó artefactos"
        run = ctx.runs.get(str(shipped.get("run", "")), RunOutcome(ctx.tasks_ran, ctx.ran))
        if shipped.get("ran") and shipped["task"] not in run.tasks:
            return f"{shipped['task']} no corrió: no hay un modelo publicado que evaluar"
        task, output = ctx.ir.shipped(shipped["task"], shipped["input"], shipped["trained_by"])
        ctx.evaluation = engine.score(sandbox, engine.model_folder(folder, task, output), visible, held_out)
    except Exception as exc:
        return f"no se pudo evaluar en datos reservados el modelo que publica el pipeline: {exc}"[:300]
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
    engine = ENGINES[rubric.engine]
    if engine.worker not in sandbox.engines:
        raise ValueError(f"the {sandbox.name} sandbox cannot run {rubric.engine} labs (session {rubric.session})")
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
            visible, held_out = engine.heldout(rubric.heldout_fraction, rubric.heldout_seed)
            data = scratch / "data"
            data.mkdir()
            files = write_data(rubric.data, data, visible, held_out, rubric.heldout_seed)
            places = {"data": data, "out": scratch / "out"}  # the docker sandbox maps both into /scratch
            arguments = expand(rubric.run_arguments, places)
            run_args = ["--args", json.dumps(arguments), *engine.worker_data(data, visible, rubric.heldout_seed)]
            if rubric.runs:
                runs = {name: expand({**rubric.run_arguments, **given}, places) for name, given in rubric.runs.items()}
                run_args += ["--runs", json.dumps(runs)]
            first_call = ["--function", rubric.function, *([] if engine.runs_compiled_ir else run_args)]
            run = sandbox.run_worker(submission, scratch, first_call, limits)
            out = scratch / "out"
            status = _status(out)
            why = _why_not_loaded(run, status, limits)
            if why:
                stages["load"] = why
            elif run.exit_code == worker_codes.EXIT_NO_FUNCTION:
                what = "un @dsl.pipeline" if engine.runs_compiled_ir else "una función"
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
        if stages.get("compile") == "ok":
            assert run is not None and ctx.ir is not None
            stages["static"] = "ok"
            if own := sorted(
                {t.component.removeprefix(OWN) for t in ctx.ir.tasks.values() if t.component.startswith(OWN)}
            ):
                notes.append(f"componentes propios de la entrega (corren con los permisos del kit): {', '.join(own)}")
            if engine.runs_compiled_ir:
                # The run executes the IR the grader read, in a fresh sandbox that never imports pipeline.py:
                # the static checks and the run see one pipeline, and the first process left nothing behind.
                (data / "pipeline.yaml").write_text(ctx.ir.text)
                out.rename(scratch / "compiled")
                if rubric.champion.get("seed"):
                    ctx.seeded_champion = _seed_champion(rubric.champion, out, files)
                secret = secrets.token_hex(16)
                run_ir = ["--ir", str(data / "pipeline.yaml"), *run_args]
                run = sandbox.run_worker(submission, scratch, run_ir, limits, stdin=f"{secret}\n".encode())
                status = _status(out)
                ctx.evidence = _evidence(run.tail, secret)
            stages["execute"], folders = _execute(ctx, rubric, engine, run, status, out, limits)
            stages["metrics"] = _score_shipped(ctx, rubric, engine, sandbox, out, folders, files, visible, held_out)
            if stages["execute"] != "ok" and stages["metrics"] == "ok":
                notes.append("una corrida falló; el modelo que publica el pipeline se evaluó igual")
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
        notes.append(f"checks obligatorios sin aprobar (sin ellos la entrega no aprueba): {', '.join(missed)}")
    excerpt = run.output[-LOG_EXCERPT_CHARS:] if run else ""
    if run and run.output_bytes > limits.output_bytes:
        notes.append(f"la corrida imprimió {run.output_bytes} bytes; el informe guarda solo el comienzo")
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
