"""Runs INSIDE the sandbox: load a submission, compile it to IR, run it.

Two engines: ``kfp`` (a ``@dsl.pipeline``, sessions 5 and 7) is compiled in one call; a second call with
``--ir`` runs the IR the grader read with kfp.local and never loads pipeline.py. ``tfx`` (a TFX
``create_pipeline``, session 6, inside the TFX image) is compiled with KubeflowV2DagRunner and run with
LocalDagRunner in one call.

This file is executed as a script (``python -I worker.py ...``), never imported by the grader. It imports only
the standard library, kfp (or tfx) and the kit's ``components`` package, because inside the images there is no
``labkit`` and no ``grading``. Everything it writes (status, IR, artifacts) is advisory: the submission runs in
this same process and could overwrite any of it, so the grader re-derives every score from the IR file and the
artifacts it finds, and computes metrics itself on data this process never sees.

Exit codes name the phase that failed, so the grader can explain a failure even when nothing was written.
"""

from __future__ import annotations

import argparse
import hashlib
import hmac
import importlib.util
import json
import logging
import os
import re
import sys
import traceback
from collections.abc import Callable
from pathlib import Path

EXIT_OK = 0
EXIT_SYNTAX = 10
EXIT_IMPORT = 11
EXIT_NO_FUNCTION = 12
EXIT_COMPILE = 13
EXIT_RUN = 14
EXIT_USAGE = 15


def _status(out: Path, **fields: object) -> None:
    path = out / "status.json"
    try:
        current = json.loads(path.read_text()) if path.is_file() else {}
        current.update(fields)
        tmp = out / f"status.json.{os.getpid()}"
        tmp.write_text(json.dumps(current, default=str))
        os.replace(tmp, path)
    except (OSError, ValueError):
        pass  # advisory only: a submission may have broken the file or the folder


def _short_error(exc: BaseException) -> str:
    """``Type: message``, plus the last line of the submission's pipeline.py the traceback went through."""
    line = None
    for frame, lineno in traceback.walk_tb(exc.__traceback__):
        if frame.f_code.co_filename.endswith("pipeline.py") and "submission" in frame.f_code.co_filename:
            line = lineno
    where = f" (pipeline.py, line {line})" if line else ""
    return f"{type(exc).__name__}: {exc}"[:500] + where


def _compile(out: Path, write_ir: Callable[[Path], None]) -> int:
    """Write the IR to out/pipeline.yaml with ``write_ir``: 0 to go on, or the exit code of a failed compile."""
    try:
        write_ir(out / "pipeline.yaml")
    except BaseException as exc:  # the submission's code runs while compiling
        _status(out, error=_short_error(exc))
        traceback.print_exc()
        return EXIT_COMPILE
    _status(out, phase="compiled")
    return 0


RUN_BANNER = "GRADER: run "
EVIDENCE = "GRADER-EVIDENCE "
_FINISHED = re.compile(r"Task '([^']+)' finished with status (\w+)")
_ANSI = re.compile(r"\x1b\[[0-9;]*m")


class _TaskLog:
    """Which tasks kfp.local finished, and how, per run: read from the orchestrator's own log records in this
    process (task subprocesses print, they do not log here), and printed as lines signed with the grader's
    secret, so that nothing a task writes can forge them."""

    def __init__(self, secret: str) -> None:
        self.secret, self.runs, self.current = secret.encode(), {}, ""
        make_record = logging.getLogRecordFactory()

        def observed(*args, **kwargs) -> logging.LogRecord:
            record = make_record(*args, **kwargs)
            try:
                if finished := _FINISHED.search(_ANSI.sub("", record.getMessage())):
                    self.runs.setdefault(self.current, {})[finished.group(1)] = finished.group(2)
            except Exception:  # a record that does not format is not a task status
                pass
            return record

        logging.setLogRecordFactory(observed)

    def start(self, run: str) -> None:
        self.current = run
        self.runs.setdefault(run, {})

    def publish(self) -> None:
        payload = json.dumps(self.runs, sort_keys=True, separators=(",", ":"))
        signature = hmac.new(self.secret, payload.encode(), hashlib.sha256).hexdigest()
        print(f"\n{EVIDENCE}{payload} {signature}", flush=True)


def _named_runs(pipeline, runs: dict[str, dict], accepted: set[str], out: Path, log: _TaskLog) -> int:
    """Each named run in order, into artifacts/<name>/; a failed run does not stop the ones after it."""
    from kfp import local

    outcomes: dict[str, dict[str, object]] = {}
    for name, given in runs.items():
        log.start(name)
        arguments = {k: v for k, v in given.items() if k in accepted}
        (out / "artifacts" / name).mkdir(parents=True, exist_ok=True)
        local.init(
            runner=local.SubprocessRunner(use_venv=False),
            pipeline_root=str(out / "artifacts" / name),
            raise_on_error=True,
        )
        print(f"{RUN_BANNER}{name!r} with {json.dumps(arguments)}", flush=True)
        _status(out, phase="running", run=name, runs=outcomes)
        try:
            pipeline(**arguments)
            outcomes[name] = {"ok": True}
        except BaseException as exc:
            outcomes[name] = {"ok": False, "error": _short_error(exc)}
            print(f"GRADER: run {name!r} failed: {_short_error(exc)}", file=sys.stderr, flush=True)
        _status(out, runs=outcomes)
        log.publish()
    if not all(outcome["ok"] for outcome in outcomes.values()):
        _status(out, error=next(str(o["error"]) for o in outcomes.values() if not o["ok"]))
        return EXIT_RUN
    _status(out, phase="ran")
    return EXIT_OK


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--submission", required=True, type=Path)
    parser.add_argument("--function", default="", help="the pipeline function to load (not with --ir)")
    parser.add_argument("--out", required=True, type=Path)
    parser.add_argument("--kit", default="", help="folder holding the kit's packages, put FIRST on sys.path")
    parser.add_argument("--site", action="append", default=[], help="extra site-packages (the kit's venv)")
    parser.add_argument("--args", default="{}", help="JSON pipeline arguments the grader imposes")
    parser.add_argument(
        "--runs", default="", help='JSON {"run name": {arguments}}: several runs, in order, into artifacts/<run name>'
    )
    parser.add_argument(
        "--ir", type=Path, help="kfp: run this compiled pipeline (the one the grader read); pipeline.py is not loaded"
    )
    parser.add_argument("--engine", choices=("kfp", "tfx"), default="kfp")
    parser.add_argument("--data", default="", help="tfx: folder with train/ and eval/ CSVs")
    parser.add_argument("--modules", default="", help="tfx: folder with the kit's preprocessing.py and trainer.py")
    parser.add_argument("--beam-arg", action="append", default=[], help="tfx: Beam pipeline arguments")
    ns = parser.parse_args(argv)

    # The kit first, the submission last: a kfp.py or components/ beside pipeline.py cannot shadow the kit.
    import site

    for directory in ns.site:
        site.addsitedir(directory)
    if ns.kit:
        sys.path.insert(0, ns.kit)
    sys.path.append(str(ns.submission))
    out: Path = ns.out
    out.mkdir(parents=True, exist_ok=True)
    if ns.ir:
        return _run_compiled(ns, out)
    _status(out, phase="load")

    source_file = ns.submission / "pipeline.py"
    try:
        compile(source_file.read_bytes(), str(source_file), "exec")
    except SyntaxError as exc:
        _status(out, error=f"SyntaxError: {exc.msg} (line {exc.lineno})")
        print(f"GRADER: syntax error in pipeline.py line {exc.lineno}: {exc.msg}", file=sys.stderr)
        return EXIT_SYNTAX

    spec = importlib.util.spec_from_file_location("submission_pipeline", source_file)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["submission_pipeline"] = module
    try:
        spec.loader.exec_module(module)
    except BaseException as exc:  # SystemExit and KeyboardInterrupt too: importing must not end the worker
        _status(out, error=_short_error(exc))
        traceback.print_exc()
        return EXIT_IMPORT
    _status(out, phase="loaded")

    if ns.engine == "tfx":
        return _tfx(module, ns, out)
    pipeline = getattr(module, ns.function, None)
    if pipeline is None or not hasattr(pipeline, "pipeline_func"):
        _status(out, error=f"no @dsl.pipeline named {ns.function!r} in pipeline.py")
        return EXIT_NO_FUNCTION

    from kfp import compiler

    # Only compile: the grader reads the IR, then runs exactly that IR in a fresh sandbox (``--ir``).
    return _compile(out, lambda ir: compiler.Compiler().compile(pipeline, package_path=str(ir)))


def _run_compiled(ns: argparse.Namespace, out: Path) -> int:
    """Run the compiled pipeline at ``ns.ir`` with kfp.local: once, or as each named run of ``ns.runs``."""
    import warnings

    from kfp import components, local

    # The grader's secret comes on stdin, read before any task starts; the tasks inherit /dev/null instead.
    log = _TaskLog(sys.stdin.readline().strip())
    os.dup2(os.open(os.devnull, os.O_RDONLY), 0)
    _status(out, phase="compiled")
    pipeline = components.load_component_from_file(str(ns.ir))
    accepted = set(pipeline.component_spec.inputs or {})
    warnings.filterwarnings("ignore", message=".*non-Python base image", category=RuntimeWarning)
    if ns.runs:
        return _named_runs(pipeline, json.loads(ns.runs), accepted, out, log)
    arguments = {k: v for k, v in json.loads(ns.args).items() if k in accepted}
    local.init(runner=local.SubprocessRunner(use_venv=False), pipeline_root=str(out / "artifacts"), raise_on_error=True)
    _status(out, phase="running", arguments=arguments)
    log.start("")
    try:
        pipeline(**arguments)
    except BaseException as exc:
        _status(out, error=_short_error(exc))
        print(f"GRADER: the run failed: {_short_error(exc)}", file=sys.stderr)
        return EXIT_RUN
    finally:
        log.publish()
    _status(out, phase="ran")
    return EXIT_OK


def _tfx(module: object, ns: argparse.Namespace, out: Path) -> int:
    """Session 6: build the TFX pipeline once with the grader's paths, compile that object to IR and run it.

    One object for both, so a ``create_pipeline`` that answers differently on a second call cannot show the
    grader one pipeline and run another."""
    import inspect

    create = getattr(module, ns.function, None)
    if not callable(create):
        _status(out, error=f"no function named {ns.function!r} in pipeline.py")
        return EXIT_NO_FUNCTION
    # The kit's module files, never the submission's: the lab asks students to wire components, not to write them.
    os.environ["UNSUPPORTED_DO_NOT_PACKAGE_USER_MODULES"] = "1"
    run_dir = out / "artifacts"
    paths = {
        "pipeline_root": str(run_dir / "pipeline_root"),
        "data_root": ns.data,
        "preprocessing_module": f"{ns.modules}/preprocessing.py",
        "trainer_module": f"{ns.modules}/trainer.py",
        "serving_model_dir": str(run_dir / "serving"),
        "metadata_path": str(run_dir / "metadata.sqlite"),
        "beam_pipeline_args": ns.beam_arg,
    }
    try:
        accepted = set(inspect.signature(create).parameters)
    except (TypeError, ValueError):
        accepted = set()
    arguments = {k: v for k, v in json.loads(ns.args).items() if k in accepted}

    import tempfile

    from components.common.images import TFX_IMAGE

    built: list[object] = []

    def compile_tfx(ir: Path) -> None:
        from tfx.orchestration.kubeflow.v2 import kubeflow_v2_dag_runner

        built.append(create(**paths, **arguments))
        with tempfile.TemporaryDirectory() as tmp:
            config = kubeflow_v2_dag_runner.KubeflowV2DagRunnerConfig(default_image=TFX_IMAGE)
            runner = kubeflow_v2_dag_runner.KubeflowV2DagRunner(config, output_dir=tmp, output_filename="ir.json")
            runner.run(built[0], write_out=True)
            written = json.loads((Path(tmp) / "ir.json").read_text())
        # JSON is YAML: the grader parses pipeline.yaml the same way for both engines.
        ir.write_text(json.dumps(written.get("pipelineSpec", written)))

    if failed := _compile(out, compile_tfx):
        return failed

    from absl import logging
    from tfx.orchestration.local.local_dag_runner import LocalDagRunner

    logging.set_verbosity(logging.WARNING)
    _status(out, phase="running", arguments=arguments)
    try:
        LocalDagRunner().run(built[0])
    except BaseException as exc:
        _status(out, error=_short_error(exc))
        traceback.print_exc()
        print(f"GRADER: the run failed: {_short_error(exc)}", file=sys.stderr)
        return EXIT_RUN
    _status(out, phase="ran")
    return EXIT_OK


if __name__ == "__main__":
    try:
        code = main(sys.argv[1:])
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
    # os._exit: a submission's atexit hooks or lingering threads must not change the exit code.
    os._exit(code)
