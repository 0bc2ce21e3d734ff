"""Grading session 6 (TFX): rubric checks on the compiled spec, and real runs of bad submissions in the TFX image."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest

from grading.batch import grade_batch
from grading.checks import KINDS, Context
from grading.grader import GradeResult
from grading.handout import build_handout
from grading.ir import PipelineIR, parse_ir
from grading.rubric import load_rubric
from grading.sandbox import Limits, SubprocessSandbox, pick_sandbox
from labkit.labs import get_lab
from labkit.paths import REPO_ROOT

GOLDEN = REPO_ROOT / "tests/golden/tfx-penguin.yaml"


@pytest.fixture(scope="module")
def golden() -> PipelineIR:
    return parse_ir(GOLDEN)


def _static(ir: PipelineIR) -> dict[str, tuple[float, str]]:
    """Each static check's (fraction, detail); a check that cannot find its step scores 0, as in grade()."""

    def run(kind: str, params: dict) -> tuple[float, str]:
        try:
            return KINDS[kind](Context(ir=ir), params)
        except LookupError as exc:
            return 0.0, str(exc)

    return {c.id: run(c.kind, c.params) for c in load_rubric(get_lab(6)).checks if c.stage == "static"}


def _edited(ir: PipelineIR, edit) -> PipelineIR:
    spec = copy.deepcopy(ir.spec)
    edit(spec)
    path = Path(__file__).parent / ".edited-tfx.yaml"
    try:
        path.write_text(json.dumps(spec))
        return parse_ir(path)
    finally:
        path.unlink(missing_ok=True)


def test_reference_spec_passes_every_static_check(golden: PipelineIR) -> None:
    results = _static(golden)
    assert {check: fraction for check, (fraction, _) in results.items() if fraction != 1.0} == {}
    assert len(results) >= 10


def test_tfx_default_form_passes_the_same_static_checks() -> None:
    """The grader's worker compiles a submission with TFX's default config (schema 2.0.0, ``constantValue``): the
    reference solution in that form (tests/unit/fixtures) scores the same, backend check included, because
    backend_accepts judges the spec after the kit's own adaptation (components/tfx_kfp/spec.py)."""
    raw = parse_ir(REPO_ROOT / "tests/unit/fixtures/tfx121-penguin-schema-2.0.0.yaml")
    results = _static(raw)
    assert {check: fraction for check, (fraction, _) in results.items() if fraction != 1.0} == {}


def _renamed(ir: PipelineIR) -> PipelineIR:
    """The golden spec with every component renamed the way ``.with_id("step_<n>")`` renames it: task keys,
    component refs, executor labels and every reference to them."""
    text = json.dumps(ir.spec)
    for index, name in enumerate(sorted(ir.tasks)):
        for old, new in ((f'"{name}"', f'"step_{index}"'), (f"comp-{name}", f"comp-step_{index}")):
            text = text.replace(old, new)
        text = text.replace(f"{name}_executor", f"step_{index}_executor")
    return _edited(PipelineIR(spec=json.loads(text), tasks={}, parameters={}), lambda spec: None)


def test_tfx_components_are_known_by_class_not_by_id(golden: PipelineIR) -> None:
    renamed = _renamed(golden)
    assert "Trainer" not in renamed.tasks and len(renamed.tasks) == 8
    assert {task.component for task in renamed.tasks.values()} == {task.component for task in golden.tasks.values()}
    assert {check: fraction for check, (fraction, _) in _static(renamed).items() if fraction != 1.0} == {}
    producer, output = renamed.shipped("Pusher", "model", "Trainer")
    assert producer.component == "Trainer" and producer.name.startswith("step_") and output == "model"


def test_a_component_of_ones_own_named_like_a_tfx_one_is_not_it(golden: PipelineIR) -> None:
    """A custom component with the id "Evaluator" (and the Evaluator's id changed) is not the Evaluator."""

    def impostor(spec: dict) -> None:
        spec["deploymentSpec"]["executors"]["Evaluator_executor"]["container"]["args"][1] = "my.module.Executor"

    results = _static(_edited(golden, impostor))
    assert results["static.steps"][0] < 1 and "Evaluator" in results["static.steps"][1]
    assert results["static.pusher_gated"][0] == pytest.approx(0.5)


def test_the_scored_model_is_the_one_the_pusher_ships_and_the_trainer_made(golden: PipelineIR) -> None:
    def imported(spec: dict) -> None:
        spec["root"]["dag"]["tasks"]["Pusher"]["inputs"]["artifacts"]["model"]["taskOutputArtifact"] = {
            "producerTask": "Transform",
            "outputArtifactKey": "transform_graph",
        }

    with pytest.raises(LookupError, match="no sale de Trainer"):
        _edited(golden, imported).shipped("Pusher", "model", "Trainer")


@pytest.mark.parametrize(
    "bound",
    [
        {"class_name": "ExampleCount", "threshold": {"value_threshold": {"lower_bound": 0.9}}},
        {"class_name": "SparseCategoricalAccuracy", "threshold": {"value_threshold": {"lower_bound": 0.0}}},
        {"class_name": "SparseCategoricalAccuracy", "threshold": {"value_threshold": {"upper_bound": 0.9}}},
    ],
    ids=["bound_on_example_count", "bound_every_model_reaches", "upper_bound"],
)
def test_a_gate_that_lets_any_model_through_earns_nothing(golden: PipelineIR, bound: dict) -> None:
    def gate(spec: dict) -> None:
        evaluator = spec["root"]["dag"]["tasks"]["Evaluator"]["inputs"]["parameters"]["eval_config"]["runtimeValue"]
        config = json.loads(evaluator["constant"])
        config["metrics_specs"] = [{"metrics": [{"class_name": "SparseCategoricalAccuracy"}, bound]}]
        evaluator["constant"] = json.dumps(config)

    fraction, detail = _static(_edited(golden, gate))["static.evaluator_gate"]
    assert fraction == 0.0 and "cota" in detail


def test_wiring_mistakes_cost_their_checks_with_reasons(golden: PipelineIR) -> None:
    def mistakes(spec: dict) -> None:
        tasks = spec["root"]["dag"]["tasks"]
        tasks["SchemaGen"]["inputs"]["parameters"]["exclude_splits"]["runtimeValue"]["constant"] = "[]"
        del tasks["Pusher"]["inputs"]["artifacts"]["model_blessing"]
        evaluator = tasks["Evaluator"]["inputs"]["parameters"]["eval_config"]["runtimeValue"]
        config = json.loads(evaluator["constant"])
        for spec_ in config["metrics_specs"]:
            for metric in spec_["metrics"]:
                metric.pop("threshold", None)
        evaluator["constant"] = json.dumps(config)
        spec["deploymentSpec"]["executors"]["latest-blessed-model"] = {"resolver": {"outputArtifactQueries": {}}}

    results = _static(_edited(golden, mistakes))
    assert results["static.schema_train_only"] == (0.0, 'SchemaGen.exclude_splits = [] (se espera ["eval"])')
    assert results["static.pusher_gated"][0] == pytest.approx(0.5)
    assert "model_blessing de Pusher recibe nada (se espera Evaluator.blessing)" in results["static.pusher_gated"][1]
    assert results["static.evaluator_gate"][0] == 0.0
    assert "ninguna cota inferior" in results["static.evaluator_gate"][1]
    assert results["static.backend_accepts"][0] == 0.0 and "Resolver" in results["static.backend_accepts"][1]
    assert results["static.steps"][0] == 1.0


def test_subprocess_sandbox_refuses_tfx_labs_and_says_how_to_grade_them() -> None:
    with pytest.raises(RuntimeError, match="TFX labs are graded only in the labkit-tfx"):
        pick_sandbox("subprocess", "tfx")
    with pytest.raises(ValueError, match="cannot run tfx labs"):
        from grading.grader import grade

        grade(REPO_ROOT / "labs/session-06/starter", load_rubric(get_lab(6)), SubprocessSandbox())


def test_handout_leaves_out_the_session_6_solution_and_hidden_checks(tmp_path: Path) -> None:
    out = tmp_path / "handout"
    build_handout(out)
    assert (out / "labs/session-06/rubric.yaml").is_file()
    assert not (out / "labs/session-06/hidden").exists()
    assert (out / "pipelines/tfx_penguin/pipeline.py").read_text() == get_lab(6).starter.read_text()
    everything = "\n".join(p.read_text(errors="replace") for p in out.rglob("*") if p.is_file())
    real_seed = str(load_rubric(get_lab(6)).heldout_seed)  # read, never quoted: tests are readable too
    assert real_seed not in everything and "hidden.transform_no_statistics" not in everything


# ---------------------------------------------------------------- container tier: real runs in the TFX image

REFERENCE = (REPO_ROOT / "pipelines/tfx_penguin/pipeline.py").read_text()
PROBES = """
import socket
from pathlib import Path

for _probe in (lambda: socket.create_connection(("1.1.1.1", 53), timeout=3).close(),
               lambda: Path("/opt/labkit/pwned").write_text("x"),
               lambda: Path("/grader/modules/trainer.py").write_text("x"),
               lambda: Path("/opt/labkit/pipelines/tfx_penguin/pipeline.py").read_text()):
    try:
        _probe()
    except OSError:
        continue
    raise SystemExit("BREACHED the TFX sandbox")
"""
HOSTILE = {
    # Correct work written differently: every component renamed with .with_id() keeps full marks.
    "renamed": REFERENCE.replace(
        "    components = [example_gen,",
        "    for _step, _component in enumerate([example_gen, statistics_gen, schema_gen, example_validator,\n"
        "                                        transform, trainer, evaluator, pusher]):\n"
        '        _component.with_id(f"step_{_step}")\n'
        "    components = [example_gen,",
        1,
    ),
    # The kit's own solution is in the TFX image; the grader hides it from submissions.
    "imports_solution": "from pipelines.tfx_penguin.pipeline import create_pipeline  # noqa: F401\n",
    # Probes the container at import (any breach fails the load); then runs, but barely trains (1 step, tiny
    # learning rate), and adds a Resolver node the KFP backend rejects.
    "weak_with_resolver": PROBES
    + REFERENCE.replace("train_steps: int = 60", "train_steps: int = 1")
    .replace("learning_rate: float = 0.01", "learning_rate: float = 0.00001")
    .replace(
        "    components = [",
        "    from tfx.dsl.components.common.resolver import Resolver\n"
        "    from tfx.dsl.input_resolution.strategies.latest_blessed_model_strategy import (\n"
        "        LatestBlessedModelStrategy,\n    )\n"
        "    from tfx.types import Channel\n"
        "    from tfx.types.standard_artifacts import Model, ModelBlessing\n\n"
        "    latest = Resolver(\n        strategy_class=LatestBlessedModelStrategy,\n"
        "        model=Channel(type=Model),\n        model_blessing=Channel(type=ModelBlessing),\n"
        '    ).with_id("latest_blessed_model")\n'
        "    components = [latest, ",
        1,
    ),
}


@pytest.fixture(scope="module")
def tfx_batch(tmp_path_factory: pytest.TempPathFactory) -> dict[str, GradeResult]:
    assert "components = [latest, " in HOSTILE["weak_with_resolver"] and "with_id(f" in HOSTILE["renamed"]
    tmp = tmp_path_factory.mktemp("tfx-batch")
    for name, source in HOSTILE.items():
        (tmp / "submissions" / name).mkdir(parents=True)
        (tmp / "submissions" / name / "pipeline.py").write_text(source)
    rubric = load_rubric(get_lab(6))
    results = grade_batch(
        tmp / "submissions", rubric, pick_sandbox("docker", "tfx"), tmp / "out", 2, limits=Limits(wall_seconds=300)
    )
    return {r.submission: r for r in results}


@pytest.mark.container
def test_renamed_tfx_components_keep_full_marks(tfx_batch: dict[str, GradeResult]) -> None:
    result = tfx_batch["renamed"]
    assert result.score == result.max_score, [(c.id, c.feedback) for c in result.checks if not c.passed]
    assert result.heldout_metrics is not None and result.heldout_metrics["accuracy"] >= 0.9


@pytest.mark.container
def test_the_kit_solution_is_hidden_from_submissions(tfx_batch: dict[str, GradeResult]) -> None:
    result = tfx_batch["imports_solution"]
    assert result.score == 0
    assert "No module named 'pipelines.tfx_penguin'" in result.stages["load"]


@pytest.mark.container
def test_metrics_come_from_the_grader_and_a_resolver_costs_points(tfx_batch: dict[str, GradeResult]) -> None:
    result = tfx_batch["weak_with_resolver"]
    checks = {c.id: c for c in result.checks}
    assert result.stages["execute"] == "ok", result.stages
    assert not checks["static.backend_accepts"].passed and "Resolver" in checks["static.backend_accepts"].feedback
    assert result.heldout_metrics is not None and result.heldout_metrics["accuracy"] < 0.9
    assert result.heldout_metrics["rows"] == 83
    assert not checks["metrics.heldout_accuracy"].passed
    assert "accuracy en datos reservados = " in checks["metrics.heldout_accuracy"].feedback
    assert not result.passed  # the accuracy check is required
