from pathlib import Path

from typer.testing import CliRunner

from labkit.cli import app
from labkit.labs import get_lab, list_labs


def test_labs_are_listed_with_existing_files() -> None:
    labs = list_labs()
    assert 5 in {lab.session for lab in labs}
    for lab in labs:
        assert lab.starter.is_file() and lab.solution.is_file() and lab.guide.is_file(), lab


def test_session5_starter_has_numbered_todos() -> None:
    text = get_lab(5).starter.read_text()
    assert all(f"TODO(step {n})" in text for n in range(1, 6))


def test_broken_student_file_gets_a_clear_error(tmp_path: Path) -> None:
    student = tmp_path / "pipeline.py"
    student.write_text("from kfp import dsl\n\ndef training_pipeline(:\n")
    result = CliRunner().invoke(app, ["lab", "run", "5", "--file", str(student), "--runs-dir", str(tmp_path)])
    assert result.exit_code == 1
    assert "importing" in result.output and "SyntaxError" in result.output


def test_missing_pipeline_function_is_named(tmp_path: Path) -> None:
    student = tmp_path / "pipeline.py"
    student.write_text("x = 1\n")
    result = CliRunner().invoke(app, ["lab", "run", "5", "--file", str(student), "--runs-dir", str(tmp_path)])
    assert result.exit_code == 1
    assert "no @dsl.pipeline named 'training_pipeline'" in result.output


def test_unknown_lab_lists_known_sessions() -> None:
    result = CliRunner().invoke(app, ["lab", "run", "9"])
    assert result.exit_code == 1 and "labs exist for sessions: 5" in result.output


def test_monitor_names_an_unknown_pipeline_before_running_anything(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["monitor", "simulate", "--pipeline", "nonsense", "--out", str(tmp_path / "m")])
    assert result.exit_code == 1 and "no pipeline named 'nonsense'" in result.output
    assert not (tmp_path / "m").exists()


def test_monitor_takes_the_lab_starter_and_its_parameters(tmp_path: Path) -> None:
    args = ["monitor", "simulate", "--pipeline", "session-07", "-p", "nope=1", "--out", str(tmp_path / "m")]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 1 and "nope" in result.output and "labkit pipeline show session-07" in result.output


def test_a_parallel_for_task_leaves_no_spinner_turning() -> None:
    import io

    from rich.console import Console
    from rich.progress import Progress

    from labkit.cli.pipeline import _TaskProgress
    from labkit.runners.base import TaskEvent

    progress = Progress(console=Console(file=io.StringIO()))
    sink = _TaskProgress(progress)
    for state in ("running", "running", "running", "succeeded", "succeeded", "failed"):
        sink(TaskEvent("train", state))
    assert [task.completed for task in progress.tasks] == [1, 1, 1]
    assert [task.description.split()[0] for task in progress.tasks] == ["[green]✓[/]", "[green]✓[/]", "[red]✗[/]"]
