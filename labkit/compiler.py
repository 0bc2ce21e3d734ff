"""Compile registered pipelines to KFP IR YAML, and refuse what the KFP 2.17 backend would refuse."""

from __future__ import annotations

from pathlib import Path

from labkit.backend_rules import BackendRejectError, file_problems
from labkit.registry import PipelineEntry

DEFAULT_OUT = Path("build/pipelines")


def compile_pipeline(entry: PipelineEntry, out_dir: Path = DEFAULT_OUT) -> Path:
    """Write ``<out_dir>/<name>.yaml``; raise BackendRejectError (the file stays, to read) when the open-source
    KFP 2.17 backend would refuse it or could not run it (labkit/backend_rules.py names each problem)."""
    if entry.kind == "tfx":
        from labkit.tfx import compile_tfx

        package = compile_tfx(entry, out_dir)
    else:
        from kfp import compiler

        out_dir.mkdir(parents=True, exist_ok=True)
        package = out_dir / f"{entry.name}.yaml"
        compiler.Compiler().compile(entry.load(), package_path=str(package))
    if problems := file_problems(package.read_text()):
        raise BackendRejectError(package, problems)
    return package
