"""The session-7 lab folder is complete: guide, starter with its TODOs, solution, rubric, CI template."""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path

import yaml
from kfp import compiler

from labkit.labs import LABS_DIR, Lab

FOLDER = LABS_DIR / "session-07"


def _load(path: Path):
    spec = importlib.util.spec_from_file_location(f"lab07_{path.stem}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_lab_yaml_points_at_existing_files() -> None:
    lab = Lab.from_folder(FOLDER)
    assert lab.session == 7 and lab.guide.is_file() and lab.starter.is_file() and lab.solution.is_file()


def test_starter_compiles_has_ordered_todos_and_the_solution_signature(tmp_path: Path) -> None:
    lab = Lab.from_folder(FOLDER)
    steps = [int(n) for n in re.findall(r"TODO\(step (\d+)\)", lab.starter.read_text())]
    assert sorted(set(steps)) == [1, 2, 3, 4]
    starter = getattr(_load(lab.starter), lab.pipeline_function)
    solution = getattr(_load(lab.solution), lab.pipeline_function)
    compiler.Compiler().compile(starter, str(tmp_path / "starter.yaml"))
    assert starter.component_spec.inputs.keys() == solution.component_spec.inputs.keys()


def test_guide_is_in_spanish_and_points_to_serving_and_ci() -> None:
    guide = (FOLDER / "README.md").read_text()
    assert "## Pasos" in guide and "manifests/serving" in guide and "8501" in guide
    workflow = yaml.safe_load((FOLDER / "ci-template/.github/workflows/labkit.yml").read_text())
    assert {"check", "upload"} == set(workflow["jobs"])
    assert "secrets.KFP_HOST" in (FOLDER / "ci-template/.github/workflows/labkit.yml").read_text()


def test_rubric_points_add_up() -> None:
    rubric = yaml.safe_load((FOLDER / "rubric.yaml").read_text())
    assert sum(check["points"] for check in rubric["checks"]) == 100
