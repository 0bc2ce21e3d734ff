"""Whatever a submission leaves in its output folder, ``grade()`` returns a result with a clear feedback line.

Each case replays a good session-5 run (tests/grading/replay.py) with one file replaced by something hostile:
a link (to /proc, to a device, to a valid file outside, inside the run folder pointing out), a FIFO, a huge
sparse file, bytes that are not UTF-8, or JSON/YAML built to crash or stall a parser.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

from grading.grader import GradeResult, grade
from grading.rubric import Rubric
from tests.grading.hostile import reference_source, write_submission
from tests.grading.replay import MAIN, MODEL, RUN, ReplaySandbox

EXECUTOR_OUTPUT = f"{MAIN}/train/executor_output.json"


@pytest.fixture(scope="module")
def submission(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_submission(tmp_path_factory.mktemp("sub") / "ana", {"pipeline.py": reference_source()})


def _replace(relative: str, make: Callable[[Path], None]) -> Callable[[Path], None]:
    def tamper(out: Path) -> None:
        target = out / relative
        if target.is_dir() and not target.is_symlink():
            shutil.rmtree(target)
        else:
            target.unlink(missing_ok=True)
        make(target)

    return tamper


def _link(to: str) -> Callable[[Path], None]:
    return lambda path: path.symlink_to(to)


def _text(text: str) -> Callable[[Path], None]:
    return lambda path: path.write_text(text)


def _bytes(data: bytes) -> Callable[[Path], None]:
    return lambda path: path.write_bytes(data)


def _sparse(size: int) -> Callable[[Path], None]:
    def make(path: Path) -> None:
        with path.open("wb") as handle:
            handle.truncate(size)

    return make


def _device(path: Path) -> None:
    import stat

    try:
        os.mknod(path, 0o600 | stat.S_IFCHR, os.makedev(1, 5))  # /dev/zero
    except PermissionError:
        path.symlink_to("/dev/zero")


def _ir_link_outside(out: Path) -> None:
    outside = out.parent / "elsewhere.yaml"
    shutil.copyfile(out / "pipeline.yaml", outside)
    (out / "pipeline.yaml").unlink()
    (out / "pipeline.yaml").symlink_to(outside)


# A valid IR whose pipeline spec also holds 10**9 list items, in a few hundred bytes.
BILLION_LAUGHS = "laughs:\n  a: &a [x, x, x, x, x, x, x, x, x, x]\n" + "".join(
    f"  {chr(98 + i)}: &{chr(98 + i)} [{', '.join([f'*{chr(97 + i)}'] * 10)}]\n" for i in range(8)
)


def _append(text: str) -> Callable[[Path], None]:
    def tamper(out: Path) -> None:
        with (out / "pipeline.yaml").open("a") as handle:
            handle.write(text)

    return tamper


# name -> (how the output folder is changed, stage whose message must say why, words in that message)
HOSTILE: dict[str, tuple[Callable[[Path], None], str, str]] = {
    "ir_link_to_proc_mem": (_replace("pipeline.yaml", _link("/proc/self/mem")), "compile", "enlace"),
    "ir_link_to_proc_status": (_replace("pipeline.yaml", _link("/proc/self/status")), "compile", "enlace"),
    "ir_link_to_valid_ir_outside": (_ir_link_outside, "compile", "enlace"),
    "ir_link_inside_out": (_replace("pipeline.yaml", _link("status.json")), "compile", "enlace"),
    "ir_fifo": (_replace("pipeline.yaml", os.mkfifo), "compile", "no es un archivo común"),
    "ir_device": (_replace("pipeline.yaml", _device), "compile", "pipeline.yaml"),
    "ir_huge_sparse": (_replace("pipeline.yaml", _sparse(3 * 2**30)), "compile", "más de"),
    "ir_not_utf8": (_replace("pipeline.yaml", _bytes(b"root:\n  x: \xff\xfe\x00\x81\n")), "compile", "UTF-8"),
    "ir_deep_nesting": (_replace("pipeline.yaml", _text("[" * 200_000)), "compile", "YAML"),
    "ir_billion_laughs": (_append(BILLION_LAUGHS), "compile", "alias"),
    "ir_a_directory": (_replace("pipeline.yaml", lambda p: p.mkdir()), "compile", "no es un archivo común"),
    "ir_task_is_a_number": (_replace("pipeline.yaml", _text("root: {dag: {tasks: {a: 5}}}\n")), "compile", "malformed"),
    "ir_inputs_are_a_number": (
        _replace("pipeline.yaml", _text("root: {inputDefinitions: 5}\n")),
        "compile",
        "malformed",
    ),
    "status_deep_json": (_replace("status.json", _text("[" * 19_000)), "execute", "status.json"),
    "status_link_to_proc_mem": (_replace("status.json", _link("/proc/self/mem")), "execute", "status.json"),
    "status_link_to_environ": (_replace("status.json", _link("/proc/self/environ")), "execute", "status.json"),
    "status_fifo": (_replace("status.json", os.mkfifo), "execute", "status.json"),
    "status_not_utf8": (_replace("status.json", _bytes(b'{"phase": "ran\xff"}')), "execute", "status.json"),
    "model_link_to_proc_mem": (
        _replace(f"{MODEL}/model.keras", _link("/proc/self/mem")),
        "metrics",
        "archivos inválidos",
    ),
    "model_link_pointing_out": (
        _replace(f"{MODEL}/model.keras", _link("../../../../../elsewhere.keras")),
        "metrics",
        "archivos inválidos",
    ),
    "model_fifo": (_replace(f"{MODEL}/model.keras", os.mkfifo), "metrics", "archivos inválidos"),
    "preprocessing_fifo": (_replace(f"{MODEL}/preprocessing.json", os.mkfifo), "metrics", "archivos inválidos"),
    "preprocessing_deep_json": (
        _replace(f"{MODEL}/preprocessing.json", _text("[" * 19_000)),
        "metrics",
        "no se pudo leer",
    ),
    "preprocessing_not_utf8": (
        _replace(f"{MODEL}/preprocessing.json", _bytes(b"\xff\xfe")),
        "metrics",
        "no se pudo leer",
    ),
    "model_folder_link_out": (_replace(MODEL, _link("/tmp")), "metrics", "no dejó su modelo"),
    "model_huge_sparse": (_replace(f"{MODEL}/model.keras", _sparse(2**31)), "metrics", "archivos inválidos"),
}


def _grade(submission: Path, rubric: Rubric, recorded: Path, tamper: Callable[[Path], None]) -> GradeResult:
    return grade(submission, rubric, ReplaySandbox(recorded, tamper))


def test_the_recorded_run_earns_full_marks(submission: Path, rubric: Rubric, recorded: Path) -> None:
    result = _grade(submission, rubric, recorded, lambda out: None)
    assert set(result.stages.values()) == {"ok"}, result.stages
    assert result.score == result.max_score, [(c.id, c.feedback) for c in result.checks if not c.passed]


@pytest.mark.parametrize("name", sorted(HOSTILE))
def test_hostile_output_is_refused_with_a_feedback_line(
    name: str, submission: Path, rubric: Rubric, recorded: Path
) -> None:
    tamper, stage, words = HOSTILE[name]
    result = _grade(submission, rubric, recorded, tamper)
    assert result.stages[stage] != "ok" and words in result.stages[stage], result.stages
    assert not result.passed and result.score < result.max_score
    blocked = [c for c in result.checks if c.stage == stage]
    assert blocked and all(c.earned == 0 and c.feedback for c in blocked)
    assert result.wall_seconds < 30


def test_keeping_the_scratch_folder_survives_what_cannot_be_copied(
    submission: Path, rubric: Rubric, recorded: Path, tmp_path: Path
) -> None:
    result = grade(
        submission, rubric, ReplaySandbox(recorded, HOSTILE["status_fifo"][0]), keep_scratch=tmp_path / "kept"
    )
    assert (tmp_path / "kept" / "out" / "pipeline.yaml").is_file()
    assert any("not copied" in note for note in result.notes)


def test_an_ir_whose_task_names_are_numbers_is_graded(submission: Path, rubric: Rubric, recorded: Path) -> None:
    """YAML keys can be numbers; task names become paths in the run folder."""
    ir = "root: {dag: {tasks: {7: {componentRef: {name: comp-train}}}}}\n"
    result = _grade(submission, rubric, recorded, _replace("pipeline.yaml", _text(ir)))
    assert result.stages["compile"] == "ok" and not result.passed
    steps = next(c for c in result.checks if c.id == "static.steps")
    assert 0 < steps.earned < steps.points and "ingest" in steps.feedback


def test_task_markers_a_run_writes_are_not_evidence(rubric: Rubric, recorded: Path, tmp_path: Path) -> None:
    """Which tasks ran comes from the worker's signed log, not from files: deleting or forging markers changes
    nothing, and evidence signed with another secret (or none) counts for nothing."""

    def forge(out: Path) -> None:
        for marker in (out / "artifacts").rglob("executor_output.json"):
            marker.unlink()
        (out / "artifacts/gate_closed" / RUN / "push").mkdir(parents=True)
        (out / "artifacts/gate_closed" / RUN / "push/executor_output.json").write_text("{}")

    submission = write_submission(tmp_path / "ana", {"pipeline.py": reference_source()})
    result = grade(submission, rubric, ReplaySandbox(recorded, forge))
    assert result.score == result.max_score, [(c.id, c.feedback) for c in result.checks if not c.passed]

    class Unsigned(ReplaySandbox):
        def run_worker(self, *args, stdin: bytes = b"", **kwargs):
            return super().run_worker(*args, stdin=b"another secret\n" if stdin else b"", **kwargs)

    unsigned = grade(submission, rubric, Unsigned(recorded))
    lost = {c.id for c in unsigned.checks if not c.passed}
    assert {"execute.gate_opens", "execute.gate_closes"} <= lost, "no signed evidence: no task counts as run"


def test_read_limited_counts_bytes_instead_of_trusting_the_size(tmp_path: Path) -> None:
    from grading.submission import RefusedFile, read_limited

    proc = Path(f"/proc/{os.getpid()}")
    assert (proc / "status").stat().st_size == 0
    with pytest.raises(RefusedFile, match="ocupa más de 10 bytes"):
        read_limited(proc / "status", proc, 10)
    (tmp_path / "f").write_bytes(b"x" * 10)
    assert read_limited(tmp_path / "f", tmp_path, 10) == b"x" * 10
    with pytest.raises(RefusedFile, match="ocupa más de 9 bytes"):
        read_limited(tmp_path / "f", tmp_path, 9)


def test_read_limited_refuses_every_way_out_of_the_folder(tmp_path: Path) -> None:
    from grading.submission import RefusedFile, read_limited

    root, outside = tmp_path / "out", tmp_path / "outside"
    (root / "a").mkdir(parents=True)
    outside.mkdir()
    (outside / "secret").write_text("secret")
    (root / "through").symlink_to(outside)  # a link in the middle of the path
    os.link(outside / "secret", root / "a" / "hard")  # a second name of a file outside
    (root / "loop").symlink_to("loop")
    cases = {
        root / "through" / "secret": "enlace simbólico",
        root / "a" / "hard": "enlace duro",
        root / "a" / ".." / ".." / "outside" / "secret": "fuera de la carpeta",
        outside / "secret": "fuera de la carpeta",
        root / "loop": "enlace simbólico",
        root / "loop" / "x": "enlace simbólico",
        root / "missing": "no existe",
    }
    for path, words in cases.items():
        with pytest.raises(RefusedFile, match=words):
            read_limited(path, root, 100)


def test_run_logs_without_any_run_banner_do_not_crash_the_grader() -> None:
    """A worker killed before its first run prints no banner: no logs to cut, never an exception."""
    from grading.grader import _run_logs

    assert _run_logs("") == {} and _run_logs("Traceback...\nMemoryError\n") == {}
    two = _run_logs("GRADER: run 'a' with {}\nx\nGRADER: run 'b' with {}\ny\n")
    assert set(two) == {"a", "b"} and "x" in two["a"] and "y" in two["b"]
