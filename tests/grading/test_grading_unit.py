"""The grader's parts without running submissions: IR checks, rubric, reports, unpacking, handout."""

from __future__ import annotations

import csv
import io
import json
import zipfile
from pathlib import Path
from xml.etree import ElementTree as ET

import pytest
from kfp import compiler

from grading.checks import KINDS, Context
from grading.engines import heldout_split
from grading.grader import CheckResult, GradeResult
from grading.handout import build_handout
from grading.ir import IRError, parse_ir
from grading.reports import gradebook, gradescope, junit, markdown, write_atomic, write_reports
from grading.rubric import load_rubric
from grading.submission import SubmissionError, unpack
from labkit.labs import get_lab
from labkit.paths import REPO_ROOT
from labkit.registry import PipelineEntry


def _compile(path: Path, tmp: Path) -> Path:
    package = tmp / f"{path.parent.name}.yaml"
    entry = PipelineEntry.from_file(path, "training_pipeline", session=5)
    compiler.Compiler().compile(entry.load(), package_path=str(package))
    return package


@pytest.fixture(scope="module")
def irs(tmp_path_factory: pytest.TempPathFactory):
    tmp = tmp_path_factory.mktemp("ir")
    lab = get_lab(5)
    return {"reference": parse_ir(_compile(lab.solution, tmp)), "starter": parse_ir(_compile(lab.starter, tmp))}


def _static_scores(ir) -> dict[str, float]:
    """Each static check's fraction; one that cannot find its step scores 0, as in grade()."""

    def fraction(kind: str, params: dict) -> float:
        try:
            return KINDS[kind](Context(ir=ir), params)[0]
        except LookupError:
            return 0.0

    return {c.id: fraction(c.kind, c.params) for c in load_rubric(get_lab(5)).checks if c.stage == "static"}


def test_reference_passes_every_static_check(irs) -> None:
    assert set(_static_scores(irs["reference"]).values()) == {1.0}


def test_starter_fails_the_wiring_checks_with_reasons(irs) -> None:
    scores = _static_scores(irs["starter"])
    for check_id in ("static.validate_before_split", "static.split_seed", "static.train_params", "static.gate"):
        assert scores[check_id] == 0.0, check_id
    assert scores["static.steps"] == pytest.approx(5 / 6)
    assert scores["static.evaluate_inputs"] == pytest.approx(2 / 3)
    detail = KINDS["input_from"](
        Context(ir=irs["starter"]), {"task": "evaluate", "inputs": {"test_data": "split.test_data"}}
    )
    assert "test_data de evaluate recibe split.train_data" in detail[1]


def test_ir_resolves_inputs_inside_the_gate(irs) -> None:
    push = irs["reference"].by_component("push")[0]
    assert push.parent is not None and irs["reference"].tasks[push.parent].condition
    assert push.artifact_inputs["model"] == ("train", "model")


def test_ir_rejects_garbage(tmp_path: Path) -> None:
    bad = tmp_path / "pipeline.yaml"
    bad.write_text("just: text\n")
    with pytest.raises(IRError, match="no root DAG"):
        parse_ir(bad)
    with pytest.raises(IRError, match="no compiled pipeline"):
        parse_ir(tmp_path / "missing.yaml")


def test_public_rubric_has_no_hidden_checks_and_ids_are_unique() -> None:
    full = load_rubric(get_lab(5))
    public = load_rubric(get_lab(5), include_hidden=False)
    hidden_ids = {c.id for c in full.checks if c.hidden}
    assert hidden_ids and not hidden_ids & {c.id for c in public.checks}
    assert full.heldout_seed != public.heldout_seed, "self-checks must not know the real held-out split"
    assert len({c.id for c in full.checks}) == len(full.checks)


def test_heldout_split_is_deterministic_and_disjoint() -> None:
    visible, held = heldout_split(0.25, 123)
    again_visible, again_held = heldout_split.__wrapped__(0.25, 123)
    assert held.equals(again_held) and visible.equals(again_visible)
    assert len(held) / (len(held) + len(visible)) == pytest.approx(0.25, abs=0.02)
    key = ["bill_length_mm", "bill_depth_mm", "flipper_length_mm", "body_mass_g", "sex", "island"]
    assert visible.merge(held, on=key).empty


def _result(**overrides) -> GradeResult:
    checks = [
        CheckResult("load.imports", "carga", "load", 5, 5, False, "ok"),
        CheckResult("static.gate", "gate", "static", 10, 0, False, "push fuera | del gate"),
        CheckResult("hidden.x", "oculto", "static", 5, 2.5, True, "a medias"),
    ]
    base = dict(
        submission="ana",
        session=5,
        score=7.5,
        max_score=20,
        percent=37.5,
        passed=False,
        passing_percent=70,
        sandbox="docker",
        stages={"load": "ok", "compile": "ok", "static": "ok", "execute": "la corrida falló", "metrics": "x"},
        checks=checks,
        heldout_metrics=None,
        wall_seconds=3.2,
        graded_at="2026-11-26T00:00:00+00:00",
        log_excerpt="```\nTraceback\n```",
        notes=["sandbox: docker"],
    )
    return GradeResult(**{**base, **overrides})


def test_reports_in_every_format(tmp_path: Path) -> None:
    result = _result()
    written = write_reports(result, tmp_path / "ana")
    assert {p.name for p in written} == {"feedback.md", "result.json", "results.json", "junit.xml"}
    assert GradeResult.from_dict(json.loads((tmp_path / "ana/result.json").read_text())) == result
    scope = json.loads(gradescope(result))
    assert scope["score"] == 7.5 and len(scope["tests"]) == 3
    assert {t["visibility"] for t in scope["tests"]} == {"visible", "after_published"}
    suite = ET.fromstring(junit(result))
    assert suite.get("tests") == "3" and suite.get("failures") == "2"
    md = markdown(result)
    assert "7.5 / 20" in md and "NO APROBADO" in md and "push fuera / del gate" in md
    assert "````" in md, "a fence longer than any backtick run in the student's output"
    assert "hidden.x" not in markdown(result, include_hidden=False)
    assert not list((tmp_path / "ana").glob(".*")), "no temporary files left behind"


def test_gradebook_has_one_row_per_submission_and_a_column_per_check() -> None:
    rows = list(csv.DictReader(io.StringIO(gradebook([_result(), _result(submission="beto", score=20, passed=True)]))))
    assert [r["submission"] for r in rows] == ["ana", "beto"]
    assert rows[0]["static.gate"] == "0" and rows[0]["failed_stage"] == "execute" and rows[1]["passed"] == "yes"


def test_write_atomic_replaces_whole_files(tmp_path: Path) -> None:
    target = tmp_path / "r.json"
    write_atomic(target, "old")
    write_atomic(target, "new")
    assert target.read_text() == "new" and [p.name for p in tmp_path.iterdir()] == ["r.json"]


def test_unpack_rejects_zip_slip_and_finds_wrapped_pipeline(tmp_path: Path) -> None:
    evil = tmp_path / "evil.zip"
    with zipfile.ZipFile(evil, "w") as archive:
        archive.writestr("pipeline.py", "x = 1\n")
        archive.writestr("../../escape.py", "x = 1\n")
    with pytest.raises(SubmissionError, match="unsafe path"):
        unpack(evil, tmp_path / "a")
    wrapped = tmp_path / "wrapped.zip"
    with zipfile.ZipFile(wrapped, "w") as archive:
        archive.writestr("entrega/pipeline.py", "x = 1\n")
        archive.writestr("entrega/helpers.py", "y = 2\n")
    unpack(wrapped, tmp_path / "b")
    assert sorted(p.name for p in (tmp_path / "b").iterdir()) == ["helpers.py", "pipeline.py"]


def test_unpack_skips_symlinks_and_needs_pipeline(tmp_path: Path) -> None:
    folder = tmp_path / "s"
    folder.mkdir()
    (folder / "pipeline.py").write_text("x = 1\n")
    (folder / "secret").symlink_to("/etc/passwd")
    unpack(folder, tmp_path / "out")
    assert [p.name for p in (tmp_path / "out").iterdir()] == ["pipeline.py"]
    (folder / "pipeline.py").unlink()
    with pytest.raises(SubmissionError, match=r"no pipeline\.py"):
        unpack(folder, tmp_path / "out2")


def test_handout_has_starters_and_public_rubric_but_no_solutions_or_hidden_checks(tmp_path: Path) -> None:
    out = tmp_path / "handout"
    left_out = build_handout(out)
    assert (out / "labs/session-05/starter/pipeline.py").is_file()
    assert (out / "labs/session-05/rubric.yaml").is_file()
    assert (out / "grading/worker.py").is_file() and (out / "pyproject.toml").is_file()
    assert not (out / "labs/session-05/hidden").exists()
    solution = REPO_ROOT / "pipelines/training/pipeline.py"
    in_handout = (out / "pipelines/training/pipeline.py").read_text()
    assert in_handout == get_lab(5).starter.read_text(), "the registered pipeline is the student's starter"
    assert in_handout != solution.read_text()
    assert Path("pipelines/training/pipeline.py") in left_out
    hidden_ids = [c.id for c in load_rubric(get_lab(5)).checks if c.hidden]
    everything = "\n".join(p.read_text(errors="replace") for p in out.rglob("*") if p.is_file())
    for check_id in hidden_ids:
        assert check_id not in everything, f"hidden check {check_id} leaked into the handout"
    real_seed = str(load_rubric(get_lab(5)).heldout_seed)  # read, never quoted: tests are readable too
    assert real_seed not in everything, "the real held-out seed leaked into the handout"
    assert not list(out.rglob("__pycache__"))
    assert REPO_ROOT.joinpath("labs/session-05/hidden/rubric.yaml").is_file(), "the kit itself keeps it"


def test_handout_leaves_out_every_labs_hidden_rubric_and_real_seed(tmp_path: Path) -> None:
    import yaml

    from grading.rubric import HIDDEN_DIR, RUBRIC_FILE
    from labkit.labs import list_labs

    out = tmp_path / "handout"
    build_handout(out)
    everything = "\n".join(p.read_text(errors="replace") for p in out.rglob("*") if p.is_file())
    hidden_labs = [lab for lab in list_labs() if (lab.folder / HIDDEN_DIR / RUBRIC_FILE).is_file()]
    assert {5, 7} <= {lab.session for lab in hidden_labs}
    for lab in hidden_labs:
        assert (out / "labs" / lab.folder.name / RUBRIC_FILE).is_file()
        assert not (out / "labs" / lab.folder.name / HIDDEN_DIR).exists()
        hidden = yaml.safe_load((lab.folder / HIDDEN_DIR / RUBRIC_FILE).read_text())
        seed = str(hidden["grading"]["heldout_seed"])
        assert seed not in everything, f"session {lab.session}'s real seed leaked into the handout"
        for check in hidden["checks"]:
            assert check["id"] not in everything, f"hidden check {check['id']} leaked into the handout"


def test_a_model_that_inflates_when_read_costs_its_metrics_not_the_grader(tmp_path: Path) -> None:
    """A few KiB on disk, 3.2 GB once h5py reads it: scoring runs in a memory-limited child process."""
    import h5py
    import numpy as np

    from tests.grading.replay import score_heldout

    model = tmp_path / "model"
    model.mkdir()
    (model / "preprocessing.json").write_text("{}")
    weights = io.BytesIO()
    with h5py.File(weights, "w") as store:  # chunks never written read back as the fill value
        store.create_dataset("layers/dense/vars/0", shape=(20000, 20000), dtype="f8", chunks=(500, 500), fillvalue=1)
        store.create_dataset("layers/dense/vars/1", data=np.zeros(3))
    config = {"config": {"layers": [{"class_name": "Dense", "config": {"name": "d", "activation": "softmax"}}]}}
    with zipfile.ZipFile(model / "model.keras", "w") as archive:
        archive.writestr("config.json", json.dumps(config))
        archive.writestr("model.weights.h5", weights.getvalue())
    assert (model / "model.keras").stat().st_size < 100_000
    visible, held_out = heldout_split(0.25, 5)
    with pytest.raises(RuntimeError, match="leer el modelo superó 1536 MiB o 30 s"):
        score_heldout(model, visible, held_out)
