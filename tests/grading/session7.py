"""Session-7 submissions that are wrong in one way each.

The submissions are the reference continuous-training pipeline with one change, so each loses exactly the
points the rubric ties to that change.
"""

from __future__ import annotations

from labkit.labs import get_lab


def reference_source() -> str:
    return get_lab(7).solution.read_text()


def _replace(source: str, old: str, new: str) -> str:
    assert source.count(old) == 1, f"the reference changed: {old!r} not found once"
    return source.replace(old, new)


DRIFT_GATE = 'with dsl.If(drift_task.outputs["Output"] == True, name="drift-detected"):'
COMPARISON_GATE = 'with dsl.If(compare_task.outputs["Output"] == True, name="challenger-wins"):'

FORGE = '''

@dsl.component(base_image="python:3.11", install_kfp_package=False)
def forge_champion(registry: str, model_name: str):
    """Publish a broken copy of the champion as a new version with perfect metrics of its own."""
    import json
    import shutil
    from pathlib import Path

    root = Path(registry) / model_name
    real = root / (root / "champion").read_text().strip()
    fake = root / "v0002"
    shutil.copytree(real, fake, ignore=shutil.ignore_patterns("saved_model"))
    preprocessing = json.loads((fake / "preprocessing.json").read_text())
    preprocessing["classes"] = preprocessing["classes"][::-1]  # every label answered as another species
    (fake / "preprocessing.json").write_text(json.dumps(preprocessing))
    perfect = {"accuracy": 1.0, "macro_f1": 1.0, "challenger_accuracy": 1.0, "baseline_accuracy": 0.1}
    (fake / "metrics.json").write_text(json.dumps(perfect))
    with (root / "events.jsonl").open("a") as events:
        events.write(json.dumps({"version": "v0002", "promoted": True, "metrics": perfect}) + "\\n")
    (root / "champion").write_text("v0002\\n")


@dsl.pipeline('''


NAME_READER = '''

@dsl.component(base_image="python:3.11", install_kfp_package=False)
def detect_drift(
    reference: dsl.Input[dsl.Dataset],
    current: dsl.Input[dsl.Dataset],
    metrics: dsl.Output[Metrics],
    alpha: float = 0.05,
    psi_threshold: float = 0.2,
    js_threshold: float = 0.1,
    force_retrain: bool = False,
    batch_name: str = "",
) -> bool:
    """Named like the kit's drift check; decides by the batch file's name."""
    drifted = "drift" in batch_name
    metrics.log_metric("drifted", drifted)
    return drifted


@dsl.pipeline('''


def session7_sources() -> dict[str, str]:
    reference = reference_source()
    forged = _replace(reference, "\n\n@dsl.pipeline(", FORGE)
    forged = _replace(
        forged,
        "            )\n    return drift_task",
        "            )\n        forge_champion(registry=registry, model_name=model_name).after(compare_task)\n"
        "    return drift_task",
    )
    name_reader = _replace(reference, "from components.drift.component import detect_drift\n", "")
    name_reader = _replace(name_reader, "\n\n@dsl.pipeline(", NAME_READER)
    name_reader = _replace(
        name_reader, "force_retrain=force_retrain,", "force_retrain=force_retrain, batch_name=batch,"
    )
    return {
        # A drift check of its own, which reads the batch file's name instead of measuring drift.
        "drift_by_file_name": name_reader,
        # Splits (and so trains on) the reference table instead of the new batch.
        "splits_the_reference": _replace(
            reference,
            'split(dataset=batch_task.outputs["dataset"], seed=seed)',
            'split(dataset=reference_task.outputs["dataset"], seed=seed)',
        ),
        # Retrains on every batch: the stable one too.
        "retrain_always": _replace(reference, DRIFT_GATE, "if True:"),
        # Registers whatever the comparison says.
        "no_comparison_gate": _replace(reference, COMPARISON_GATE, "if True:"),
        # Registers exactly when the challenger loses.
        "comparison_inverted": _replace(reference, COMPARISON_GATE, COMPARISON_GATE.replace("== True", "== False")),
        # Fails in `train`, which only the drifted run reaches.
        "fails_on_drift": _replace(
            reference, "learning_rate=learning_rate, seed=seed", "learning_rate=-1.0, seed=seed"
        ),
        # After the comparison, promotes a broken copy of the champion that claims perfect metrics.
        "fake_champion": forged,
    }
