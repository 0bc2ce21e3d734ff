"""Session-5 submissions written against labs/session-05/GRADING.md: correct work written differently, and work
that looks right but misses the lab's point in one way each. Each is the reference pipeline with one change, and
``LOSES`` says exactly which checks that change costs (and how many points)."""

from __future__ import annotations

from tests.grading.hostile import reference_source

GATE = 'with dsl.If(evaluate_task.outputs["Output"] == True, name="passed-gate"):  # noqa: E712 (KFP condition)'
PUSH = '        push(model=train_task.outputs["model"], metrics=evaluate_task.outputs["metrics"])'
RETURN = '    return evaluate_task.outputs["metrics"]'
OWN_EVALUATE = '''

@dsl.component(base_image="python:3.11", install_kfp_package=False)
def evaluate(
    train_data: dsl.Input[dsl.Dataset],
    test_data: dsl.Input[dsl.Dataset],
    model: dsl.Input[dsl.Model],
    metrics: dsl.Output[Metrics],
    accuracy_threshold: float = 0.9,
) -> bool:
    """Named like the kit's evaluate, and always says the model passed."""
    metrics.log_metric("accuracy", 1.0)
    return True


@dsl.pipeline('''
OWN_MODEL = '''

@dsl.component(base_image="python:3.11", install_kfp_package=False)
def pretrained(model: dsl.Output[dsl.Model]):
    """A model made elsewhere, shipped instead of the one the pipeline trains."""
    import os

    os.makedirs(model.path, exist_ok=True)


@dsl.pipeline('''
FORGER = '''

@dsl.component(base_image="python:3.11", install_kfp_package=False)
def forge(passed: bool, note: dsl.Output[dsl.Artifact]):
    """Writes kfp.local's marker of a push task that never ran into its own run's folder."""
    from pathlib import Path

    run = Path(note.path).parent.parent
    (run / "push").mkdir(parents=True, exist_ok=True)
    (run / "push" / "executor_output.json").write_text("{}")
    Path(note.path).write_text("forged")


@dsl.pipeline('''
NOTE_STEP = '''

@dsl.component(base_image="python:3.11", install_kfp_package=False)
def summarize(metrics: dsl.Input[Metrics]) -> str:
    """An extra step of the student's own: a one-line summary of the gate's metrics."""
    return f"evaluated {metrics.uri}"


@dsl.pipeline('''


def _replace(source: str, old: str, new: str) -> str:
    assert source.count(old) == 1, f"the reference changed: {old!r} not found once"
    return source.replace(old, new)


def session5_sources() -> dict[str, str]:
    reference = reference_source()
    renamed = _replace(reference, "\n\n@dsl.pipeline(", NOTE_STEP)
    renamed = _replace(
        renamed,
        RETURN,
        '    summarize(metrics=evaluate_task.outputs["metrics"]).set_display_name("resumen")\n' + RETURN,
    )
    for old, new in (("ingest_task", "datos"), ("split_task", "particion"), ("train_task", "modelo")):
        renamed = renamed.replace(old, new)
    renamed = _replace(renamed, 'name="passed-gate"', 'name="aprobado"')
    own_evaluate = _replace(reference, "from components.evaluate.component import evaluate\n", "")
    own_evaluate = _replace(own_evaluate, "\n\n@dsl.pipeline(", OWN_EVALUATE)
    own_model = _replace(reference, "\n\n@dsl.pipeline(", OWN_MODEL)
    own_model = _replace(
        own_model, PUSH, '        push(model=pretrained().outputs["model"], metrics=evaluate_task.outputs["metrics"])'
    )
    forger = _replace(reference, "\n\n@dsl.pipeline(", FORGER)
    forger = _replace(forger, "== True, name=", "== False, name=")
    forger = _replace(forger, RETURN, '    forge(passed=evaluate_task.outputs["Output"])\n' + RETURN)
    return {
        # Other variable and display names, another condition name and an extra step of its own: full marks.
        "renamed_with_extra_step": renamed,
        # The condition reads evaluate's output, inverted: pushes exactly when the model fails the gate.
        "gate_inverted": _replace(reference, "== True, name=", "== False, name="),
        # The same inverted gate, plus a step that forges the marker of a push in every run.
        "gate_inverted_forges_markers": forger,
        # push outside any gate.
        "push_ungated": _replace(reference, f"    {GATE}\n{PUSH}", PUSH[4:]),
        # A second push after the gated one, outside the gate.
        "second_push_ungated": _replace(reference, PUSH, PUSH + "\n" + PUSH[4:]),
        # The gate's bound is a constant every model reaches, not the pipeline's threshold.
        "threshold_constant_zero": _replace(
            reference, "accuracy_threshold=accuracy_threshold,\n    )", "accuracy_threshold=0.0,\n    )"
        ),
        # Trains on the whole table: the test rows are in the training data.
        "trains_on_everything": _replace(
            reference,
            'train_data=split_task.outputs["train_data"], epochs',
            'train_data=ingest_task.outputs["dataset"], epochs',
        ),
        # Its own component called evaluate, which always passes.
        "own_evaluate_always_true": own_evaluate,
        # Ships a model it did not train in the run.
        "ships_a_model_from_elsewhere": own_model,
    }


# Checks each submission loses, with the points lost; every other check keeps full marks.
LOSES: dict[str, dict[str, float]] = {
    "renamed_with_extra_step": {},
    "gate_inverted": {"execute.gate_closes": 10, "execute.gate_opens": 5},
    "gate_inverted_forges_markers": {"execute.gate_closes": 10, "execute.gate_opens": 5},
    "push_ungated": {"static.gate": 5, "execute.gate_closes": 10},
    "second_push_ungated": {"static.gate": 5, "execute.gate_closes": 10},
    "threshold_constant_zero": {"static.threshold_wired": 5, "execute.gate_closes": 10},
    "trains_on_everything": {"static.train_on_train_split": 5},
    "own_evaluate_always_true": {
        "static.steps": 10 / 6,
        "static.evaluate_inputs": 10,
        "static.threshold_wired": 5,
        "static.gate": 5,
        "execute.gate_closes": 10,
        "hidden.push_inputs": 5,
    },
    "ships_a_model_from_elsewhere": {
        "hidden.push_inputs": 5,
        "metrics.heldout_accuracy": 10,
        "metrics.beats_baseline": 5,
        "hidden.heldout_macro_f1": 5,
    },
}
