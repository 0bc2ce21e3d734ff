"""The machines the kit installs on: operating system, processor and Python, read from ``pyproject.toml``'s pins.

The Python range is ``requires-python`` (pyproject.toml, stated once); the platforms are the ones the pins have
wheels for, checked by tests/unit/test_installability.py with ``uv pip compile --python-platform``.
"""

from __future__ import annotations

import platform
import re
from dataclasses import dataclass
from importlib.metadata import PackageNotFoundError, metadata
from pathlib import Path

from labkit.paths import REPO_ROOT

WAY_OUT = "use the devcontainer (.devcontainer/) or run every step in the kit's images with `--runner docker`"


@dataclass(frozen=True)
class Platform:
    name: str
    system: str  # platform.system()
    machines: tuple[str, ...]  # platform.machine() values
    uv_target: str  # uv's --python-platform
    supported: bool
    why: str = ""


PLATFORMS = (
    Platform("Linux x86_64 (and Windows with WSL2)", "Linux", ("x86_64",), "x86_64-unknown-linux-gnu", True),
    Platform("macOS on Apple Silicon", "Darwin", ("arm64",), "aarch64-apple-darwin", True),
    Platform("Windows x86_64 (native)", "Windows", ("AMD64", "x86_64"), "x86_64-pc-windows-msvc", True),
    Platform("Linux aarch64", "Linux", ("aarch64", "arm64"), "aarch64-unknown-linux-gnu", True),
    Platform(
        "macOS on Intel",
        "Darwin",
        ("x86_64",),
        "x86_64-apple-darwin",
        False,
        "TensorFlow 2.21 publishes no macOS x86_64 wheel (neither tensorflow nor tensorflow-cpu)",
    ),
)


def requires_python(pyproject: Path = REPO_ROOT / "pyproject.toml") -> str:
    """``requires-python`` from pyproject.toml in a checkout, else from the installed kit's metadata."""
    if pyproject.is_file():
        match = re.search(r'^requires-python\s*=\s*"([^"]+)"', pyproject.read_text(), re.MULTILINE)
        if not match:
            raise LookupError(f"no requires-python in {pyproject}")
        return match.group(1)
    try:
        return metadata("labkit")["Requires-Python"]
    except PackageNotFoundError as exc:
        raise LookupError("the kit is neither a checkout nor installed") from exc


def supported_pythons(spec: str | None = None) -> list[tuple[int, int]]:
    """Every 3.x minor version that ``>=3.A,<3.B`` admits, in order."""
    spec = spec or requires_python()
    low = re.search(r">=\s*3\.(\d+)", spec)
    high = re.search(r"<\s*3\.(\d+)", spec)
    if not low or not high:
        raise ValueError(f"requires-python {spec!r} is not of the form '>=3.A,<3.B'")
    return [(3, minor) for minor in range(int(low.group(1)), int(high.group(1)))]


def this_platform(system: str | None = None, machine: str | None = None) -> Platform | None:
    system = system or platform.system()
    machine = machine or platform.machine()
    for candidate in PLATFORMS:
        if candidate.system == system and machine in candidate.machines:
            return candidate
    return None
