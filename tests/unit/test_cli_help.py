"""Every command teaches: --help works and says what the command is for."""

import typer.main
from typer.testing import CliRunner

from labkit.cli import app


def _commands(group, prefix: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    found = []
    for name, command in group.commands.items():
        path = (*prefix, name)
        found.append(path)
        if hasattr(command, "commands"):
            found.extend(_commands(command, path))
    return found


def test_every_command_has_help() -> None:
    root = typer.main.get_command(app)
    commands = _commands(root)
    assert ("pipeline", "run") in commands and ("doctor",) in commands
    for path in commands:
        result = CliRunner().invoke(app, [*path, "--help"])
        assert result.exit_code == 0, (path, result.output)
        assert "Usage:" in result.output
        command = root
        for part in path:
            command = command.commands[part]  # type: ignore[attr-defined]
        assert command.help and len(command.help.strip()) > 20, f"`labkit {' '.join(path)}` needs a real docstring"


def test_doctor_json_lists_checks_with_fixes() -> None:
    import json

    result = CliRunner().invoke(app, ["doctor", "--output", "json"])
    checks = {c["name"]: c for c in json.loads(result.stdout)}
    assert {"python", "disk", "docker engine", "kind", "kubectl"} <= set(checks)
    assert all(c["ok"] or c["fix"] for c in checks.values()), "every failing check must carry its fix"
    images = {name: check for name, check in checks.items() if name.startswith("image labkit-")}
    assert {"image labkit-components:0.1.0", "image labkit-tfx:0.1.0"} == set(images)
    for check in images.values():
        assert check["ok"] == check["detail"].startswith("built, "), check
        assert check["ok"] or check["fix"].startswith("labkit image build ")
