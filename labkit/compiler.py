"""Compile registered pipelines to KFP IR YAML."""

from __future__ import annotations

from pathlib import Path

from labkit.registry import PipelineEntry

DEFAULT_OUT = Path("build/pipelines")


def compile_pipeline(entry: PipelineEntry, out_dir: Path = DEFAULT_OUT) -> Path:
    if entry.kind == "tfx":
        from labkit.tfx import compile_tfx

        return compile_tfx(entry, out_dir)
    from kfp import compiler

    out_dir.mkdir(parents=True, exist_ok=True)
    package = out_dir / f"{entry.name}.yaml"
    compiler.Compiler().compile(entry.load(), package_path=str(package))
    return package
