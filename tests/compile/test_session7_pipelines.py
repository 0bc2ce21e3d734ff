"""Structure of the session-7 pipelines' IR: the gates and the fan-out a student is asked to build."""

from __future__ import annotations

from pathlib import Path

import yaml

from labkit.compiler import compile_pipeline
from labkit.registry import get_pipeline


def _ir(name: str, tmp_path: Path) -> dict:
    return yaml.safe_load(compile_pipeline(get_pipeline(name), tmp_path).read_text())


def _walk_tasks(ir: dict) -> dict[str, dict]:
    tasks = dict(ir["root"]["dag"]["tasks"])
    for component in ir["components"].values():
        tasks.update(component.get("dag", {}).get("tasks", {}))
    return tasks


def test_continuous_training_retrains_only_under_the_drift_gate(tmp_path: Path) -> None:
    ir = _ir("continuous-training", tmp_path)
    root_tasks = ir["root"]["dag"]["tasks"]
    assert "train" not in root_tasks and "register-model" not in root_tasks  # both live inside dsl.If
    drift_gate = root_tasks["condition-1"]
    assert "detect-drift" in drift_gate["triggerPolicy"]["condition"]
    tasks = _walk_tasks(ir)
    push_gate = next(t for t in tasks.values() if "compare-models" in t.get("triggerPolicy", {}).get("condition", ""))
    assert push_gate["componentRef"]["name"].startswith("comp-condition")
    assert {"batch", "registry"} <= set(ir["root"]["inputDefinitions"]["parameters"])


def test_sweep_fans_out_and_collects(tmp_path: Path) -> None:
    ir = _ir("sweep", tmp_path)
    loop = next(t for t in ir["root"]["dag"]["tasks"].values() if "iterator" in t or "parameterIterator" in t)
    assert len(loop["parameterIterator"]["items"]["raw"].split(",")) == 4
    assert loop["iteratorPolicy"]["parallelismLimit"] == 2
    pick = ir["root"]["dag"]["tasks"]["pick-best"]
    assert set(pick["inputs"]["artifacts"]) == {"models", "scores"}
