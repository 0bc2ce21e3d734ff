"""Session 7 is graded by running it: a stable and a drifted batch in one sandbox, the champion scored by the grader.

Fast tests cover the rubric settings, the data files, the run checks and the champion's guards; one real batch
(subprocess sandbox) grades submissions that each get one thing wrong.
"""

from __future__ import annotations

import json
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from grading import engines
from grading.champion import write_dense_model
from grading.checks import KINDS, Context, RunOutcome
from grading.datasets import expand, write_data
from grading.engines import heldout_split
from grading.grader import GradeResult, _blocked, _registry_champion
from grading.rubric import RubricError, _run_settings, load_rubric
from grading.sandbox import Limits
from labkit.labs import get_lab
from labkit.paths import REPO_ROOT
from tests.grading.replay import score_heldout
from tests.grading.session7 import session7_sources
from tests.grading.sources import grade_sources

PREPROCESSING = {
    "numeric": {
        c: {"mean": 0.0, "std": 1.0} for c in ("bill_length_mm", "bill_depth_mm", "flipper_length_mm", "body_mass_g")
    },
    "categorical": {"island": ["Biscoe", "Dream", "Torgersen"], "sex": ["female", "male"]},
    "classes": ["Adelie", "Chinstrap", "Gentoo"],
}


def always_adelie(folder: Path) -> Path:
    """A model that answers Adelie for every row."""
    return write_dense_model(folder, np.zeros((9, 3)), np.array([5.0, 0.0, 0.0]), PREPROCESSING)


# --- rubric and data ------------------------------------------------------------------------------------


def test_session7_rubric_runs_a_stable_and_a_drifted_batch_and_scores_the_champion() -> None:
    full, public = load_rubric(get_lab(7)), load_rubric(get_lab(7), include_hidden=False)
    assert list(full.runs) == ["stable", "drifted"], "the order matters: they share one registry"
    assert full.data["stable.csv"]["batch"] == 0 and full.data["drifted.csv"]["batch"] == 3
    assert full.runs["drifted"] == {"batch": "{data}/drifted.csv", "registry": "{out}/registry"}
    assert full.champion["heldout"] == "drifted.csv"
    assert full.heldout_seed != public.heldout_seed, "self-checks must not know the real seed"
    hidden = {c.id for c in full.checks if c.hidden}
    assert hidden and not hidden & {c.id for c in public.checks}
    assert {"task_ran", "task_skipped", "metric_at_least", "beats_baseline"} <= {c.kind for c in full.checks}
    assert full.champion["seed"] == "drifted.csv" and full.champion["challenger"]["run"] == "drifted"
    assert list(load_rubric(get_lab(5)).runs) == ["gate_closed", "main"], "session 5 runs its gate both ways"


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"runs": {"Stable Run": {}}}, "run name 'Stable Run'"),
        ({"runs": {"a": {"batch": "{tmp}/x.csv"}}}, "unknown placeholder {tmp}"),
        ({"data": {"../x.csv": {"batch": 1}}}, "plain .csv file name"),
        ({"data": {"x.csv": {"rows": 5}}}, "needs batch"),
        ({"data": {"x.csv": {"batch": 1, "knobs": {"numeric": ["wings"]}}}}, "unknown numeric feature"),
        ({"runs": {"a": {}}, "champion": {"registry": "{out}/r", "heldout": "nope.csv"}}, "not one of the data"),
        ({"champion": {"registry": "{out}/r"}}, "champion needs named runs"),
        ({"shipped": {"task": "push"}}, "shipped needs task, input and trained_by"),
        ({}, "either champion"),
        (
            {"runs": {"a": {}}, "data": {"x.csv": {"batch": 1}}, "champion": {"registry": "{out}/r", "seed": "x.csv"}},
            "comes with champion.challenger",
        ),
        ({"runs": {"a": {}}, "shipped": {"task": "push", "input": "model", "trained_by": "train"}}, "shipped.run"),
    ],
)
def test_rubric_grading_settings_are_checked(settings: dict, message: str) -> None:
    with pytest.raises(RubricError, match=message.replace(".", r"\.").replace("{", r"\{").replace("}", r"\}")):
        _run_settings(settings, Path("rubric.yaml"))


def test_data_files_are_deterministic_drifted_and_drawn_apart_from_the_held_out_rows(tmp_path: Path) -> None:
    visible, held_out = heldout_split(0.25, 7)
    specs = {"stable.csv": {"batch": 0, "rows": 200}, "drifted.csv": {"batch": 3, "rows": 200}}
    for name in ("a", "b", "c"):
        (tmp_path / name).mkdir()
    files = write_data(specs, tmp_path / "a", visible, held_out, seed=7)
    write_data(specs, tmp_path / "b", visible, held_out, seed=7)
    write_data(specs, tmp_path / "c", visible, held_out, seed=8)
    assert (tmp_path / "a/drifted.csv").read_bytes() == (tmp_path / "b/drifted.csv").read_bytes()
    assert (tmp_path / "a/drifted.csv").read_bytes() != (tmp_path / "c/drifted.csv").read_bytes()
    pd.testing.assert_frame_equal(pd.read_csv(tmp_path / "a/stable.csv"), files["stable.csv"].given)
    whole = pd.concat([visible, held_out])
    std = whole["flipper_length_mm"].std()
    for part in ("given", "held_out"):
        stable, drifted = getattr(files["stable.csv"], part), getattr(files["drifted.csv"], part)
        assert abs(stable["flipper_length_mm"].mean() - whole["flipper_length_mm"].mean()) < 0.3 * std
        shift = drifted["flipper_length_mm"].mean() - whole["flipper_length_mm"].mean()
        assert 1.1 * std < shift < 1.9 * std, f"{part}: level 3 shifts by 1.5 std"
    # The sandbox's rows come from the visible rows; the held-out twin is every held-out row (bill length is
    # never shifted, so it identifies the source rows).
    twin = files["drifted.csv"].held_out
    assert sorted(twin["bill_length_mm"]) == sorted(held_out["bill_length_mm"])
    assert set(files["drifted.csv"].given["bill_length_mm"]) <= set(visible["bill_length_mm"])


def test_placeholders_name_the_data_and_out_folders() -> None:
    places = {"data": Path("/s/data"), "out": Path("/s/out")}
    given = {"batch": "{data}/b.csv", "registry": "{out}/registry", "seed": 42, "many": ["{out}"]}
    assert expand(given, places) == {
        "batch": "/s/data/b.csv",
        "registry": "/s/out/registry",
        "seed": 42,
        "many": ["/s/out"],
    }


# --- run checks -----------------------------------------------------------------------------------------


def _ctx() -> Context:
    return Context(
        runs={
            "stable": RunOutcome({"ingest", "validate", "detect-drift"}, ok=True),
            "retrained": RunOutcome({"ingest", "validate", "detect-drift", "split", "train"}, ok=True),
            "early": RunOutcome({"ingest"}, ok=True),
            "drifted": RunOutcome({"ingest", "detect-drift", "train"}, ok=False, error="el paso 'train' falló"),
        }
    )


def test_task_skipped_needs_the_deciding_step_and_a_finished_run() -> None:
    ctx, skipped = _ctx(), KINDS["task_skipped"]
    params = {"components": ["split", "train", "compare-models", "register-model"], "after": ["detect-drift"]}
    assert skipped(ctx, {**params, "run": "stable"}) == (1.0, "")
    fraction, detail = skipped(ctx, {**params, "run": "retrained"})
    assert fraction == 0.5 and "split, train" in detail
    assert skipped(ctx, {**params, "run": "early"})[0] == 0.0, "a run that stopped before deciding earns nothing"
    with pytest.raises(LookupError, match="no terminó bien"):
        skipped(ctx, {**params, "run": "drifted"})
    with pytest.raises(LookupError, match="no existe"):
        skipped(ctx, {**params, "run": "missing"})


def test_task_ran_per_run_and_a_failed_run_blocks_only_its_own_checks() -> None:
    ctx = _ctx()
    fraction, detail = KINDS["task_ran"](ctx, {"run": "retrained", "components": ["train", "register-model"]})
    assert fraction == 0.5 and "register-model" in detail and "retrained" in detail
    rubric = load_rubric(get_lab(7))
    stages = dict.fromkeys(("load", "compile", "static", "metrics"), "ok") | {"execute": "la corrida 'drifted' falló"}
    by_id = {c.id: c for c in rubric.checks}
    assert _blocked(by_id["execute.stable_no_retrain"], stages, ctx) is None
    assert _blocked(by_id["execute.drifted_retrains"], stages, ctx) == "la corrida 'drifted' falló"
    assert _blocked(by_id["execute.runs"], stages, ctx) == "la corrida 'drifted' falló"


# --- the champion ---------------------------------------------------------------------------------------


def _registry(out: Path, version: str = "v0001") -> Path:
    root = out / "registry" / "penguins"
    always_adelie(root / version)
    (root / "champion").write_text(version + "\n")
    return root


def test_the_champion_is_found_through_its_pointer(tmp_path: Path) -> None:
    out = tmp_path / "out"
    root = _registry(out)
    assert _registry_champion(out / "registry", out, "penguins") == ("v0001", root / "v0001")


@pytest.mark.parametrize(
    ("attack", "message"),
    [
        ("no_registry", "no se registró ningún campeón"),
        ("no_pointer", "no se publicó ningún campeón"),
        ("pointer_escapes", "no nombra una versión"),
        ("pointer_symlink", "no se publicó ningún campeón"),
        ("version_symlink", "no nombra una versión"),
        ("registry_symlink", "no se registró ningún campeón"),
        ("model_symlink", "archivos inválidos"),
        ("huge_file", "demasiado grandes"),
        ("zip_bomb", "descomprime a más de"),
        ("not_a_zip", "no es un archivo .keras válido"),
    ],
)
def test_the_champion_lookup_refuses_what_the_submission_could_plant(
    tmp_path: Path, attack: str, message: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    out, outside = tmp_path / "out", tmp_path / "outside"
    out.mkdir()
    always_adelie(outside / "v0001")
    (outside / "secret").write_text("v0001\n")
    if attack != "no_registry":
        root = _registry(out)
    if attack == "no_pointer":
        (root / "champion").unlink()
    elif attack == "pointer_escapes":
        (root / "champion").write_text("../../../outside/v0001\n")
    elif attack == "pointer_symlink":
        (root / "champion").unlink()
        (root / "champion").symlink_to(outside / "secret")
    elif attack == "version_symlink":
        (root / "champion").write_text("v0002\n")
        (root / "v0002").symlink_to(outside / "v0001")
    elif attack == "registry_symlink":
        import shutil

        shutil.rmtree(out / "registry")
        (out / "registry").symlink_to(outside)
    elif attack == "model_symlink":
        (root / "v0001" / "model.keras").unlink()
        (root / "v0001" / "model.keras").symlink_to(outside / "v0001" / "model.keras")
    elif attack == "huge_file":
        with (root / "v0001" / "history.json").open("wb") as sparse:
            sparse.truncate(engines.MAX_MODEL_BYTES + 1)
    elif attack == "zip_bomb":
        monkeypatch.setattr(engines, "MAX_MODEL_BYTES", 1024 * 1024)
        with zipfile.ZipFile(root / "v0001" / "model.keras", "w", zipfile.ZIP_DEFLATED) as archive:
            archive.writestr("config.json", b"\0" * (2 * 1024 * 1024))
    elif attack == "not_a_zip":
        (root / "v0001" / "model.keras").write_text("import os; os.system('boom')")
    with pytest.raises(LookupError, match=message):
        _registry_champion(out / "registry", out, "penguins")


def test_champion_scoring_reads_the_model_with_numpy_and_ignores_what_the_submission_wrote(tmp_path: Path) -> None:
    """The scorer reads the model with numpy in a child process (no TensorFlow, no code from the model), is given
    the held-out features only, and ignores the metrics the submission wrote."""
    folder = always_adelie(tmp_path / "v0001")
    (folder / "metrics.json").write_text(json.dumps({"accuracy": 1.0, "macro_f1": 1.0}))
    visible, held = heldout_split(0.25, 7)
    held.drop(columns=["species"]).to_csv(tmp_path / "features.csv", index=False)
    probe = (
        "import sys; from grading.score_keras import main;"
        "main(['--model', sys.argv[1], '--features', sys.argv[2]]);"
        "print(any(m.split('.')[0] in ('tensorflow', 'keras') for m in sys.modules))"
    )
    command = [sys.executable, "-c", probe, str(folder), str(tmp_path / "features.csv")]
    done = subprocess.run(command, capture_output=True, text=True, cwd=REPO_ROOT, check=True)
    printed, imported_tensorflow = done.stdout.splitlines()
    assert imported_tensorflow == "False"
    assert json.loads(printed.removeprefix("LABKIT-PREDICTIONS ")) == [0] * len(held)
    result = score_heldout(folder, visible, held)
    adelie_share = round(float((held["species"] == "Adelie").mean()), 4)
    assert result["accuracy"] == adelie_share and result["accuracy"] < 0.9
    assert result["baseline_accuracy"] == adelie_share, "Adelie is the majority class of the visible rows"


# --- one real batch -------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def graded(tmp_path_factory: pytest.TempPathFactory) -> dict[str, GradeResult]:
    return grade_sources(session7_sources(), 7, tmp_path_factory.mktemp("session7-batch"), Limits())


def _lost(result: GradeResult) -> dict[str, float]:
    return {c.id: c.points - c.earned for c in result.checks if not c.passed}


def test_retraining_on_the_stable_batch_loses_the_no_retrain_points(graded: dict[str, GradeResult]) -> None:
    result = graded["retrain_always"]
    assert _lost(result) == {"static.retrain_gated_by_drift": 10, "execute.stable_no_retrain": 10}, result.stages
    feedback = next(c.feedback for c in result.checks if c.id == "execute.stable_no_retrain")
    assert "corrieron en stable: split, train, compare-models, register-model" in feedback


def test_registering_without_the_comparison_gate_loses_points(graded: dict[str, GradeResult]) -> None:
    """The registry starts with the grader's champion, which no challenger beats on the batch it was fitted on:
    registering anyway replaces a champion that won the comparison."""
    result = graded["no_comparison_gate"]
    assert _lost(result) == {"static.push_gated_by_comparison": 5, "metrics.champion_replacement": 10}, result.stages
    assert result.stages["execute"] == "ok" and result.heldout_metrics["accuracy"] >= 0.9
    replacement = next(c.feedback for c in result.checks if c.id == "metrics.champion_replacement")
    assert "un challenger que no ganó reemplazó al campeón" in replacement
    assert not result.passed, "the replacement check is required"


def test_an_inverted_comparison_gate_is_caught_by_what_the_registry_did(graded: dict[str, GradeResult]) -> None:
    """The gate reads compare_models' output, so its shape passes; the seeded champion makes it register a
    challenger that lost, which only the grader's own comparison shows."""
    result = graded["comparison_inverted"]
    assert _lost(result) == {"metrics.champion_replacement": 10}, result.stages
    assert result.heldout_metrics["replaced"] and not result.heldout_metrics["should_replace"]
    assert not result.passed


def test_a_drift_check_of_its_own_is_not_the_kits_whatever_it_reads(graded: dict[str, GradeResult]) -> None:
    """It behaves right in both runs (the file names say which batch drifted), but it is not the kit's
    detect_drift: every check that needs the drift step, or the gate on it, is lost."""
    result = graded["drift_by_file_name"]
    lost = _lost(result)
    assert {"static.drift_after_validate", "static.retrain_gated_by_drift", "execute.stable_no_retrain"} <= set(lost)
    assert lost["static.steps"] == pytest.approx(5 / 7, abs=0.01)


def test_splitting_the_reference_instead_of_the_batch_loses_the_lineage_check(
    graded: dict[str, GradeResult],
) -> None:
    result = graded["splits_the_reference"]
    assert "static.split_the_batch" in _lost(result)
    feedback = next(c.feedback for c in result.checks if c.id == "static.split_the_batch")
    assert "no lee batch en source" in feedback


def test_a_run_that_fails_on_the_drifted_batch_keeps_the_stable_run_checks(graded: dict[str, GradeResult]) -> None:
    result = graded["fails_on_drift"]
    assert "la corrida 'drifted' falló" in result.stages["execute"]
    assert "learning_rate must be positive" in result.stages["execute"]
    earned = {c.id: c.earned for c in result.checks}
    assert earned["execute.stable_no_retrain"] == 10, "the stable run finished: its check is scored"
    assert earned["execute.runs"] == 0 and earned["execute.drifted_retrains"] == 0
    assert "el paso train no dejó su modelo" in result.stages["metrics"], "no challenger: nothing of its own to score"
    assert not result.passed


def test_a_forged_champion_is_scored_by_the_grader_not_by_its_metrics(graded: dict[str, GradeResult]) -> None:
    result = graded["fake_champion"]
    assert "no usa las columnas y clases del esquema del kit" in result.stages["metrics"], result.stages
    accuracy = next(c for c in result.checks if c.id == "metrics.champion_accuracy")
    assert accuracy.earned == 0 and "datos reservados" in accuracy.feedback
    assert not result.passed


def test_session7_grading_time_per_submission(graded: dict[str, GradeResult]) -> None:
    slowest = max(r.wall_seconds for r in graded.values())
    assert slowest < load_rubric(get_lab(7)).wall_seconds / 2, {n: r.wall_seconds for n, r in graded.items()}
