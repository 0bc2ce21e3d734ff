"""The kit's pins resolve for every supported (platform, Python) pair, dev extras included, and not for the others.

``uv pip compile --python-platform`` resolves for a machine other than this one without building anything and names
the package that has no wheel there (pip's ``--platform`` cannot: kfp-server-api is an sdist). It reads PyPI, so
this needs the network that CI has; uv is a dev dependency.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from labkit.platforms import PLATFORMS, Platform, requires_python, supported_pythons, this_platform

REPO_ROOT = Path(__file__).resolve().parents[2]
PYPROJECT = REPO_ROOT / "pyproject.toml"


def uv_compile(
    requirements: Path, target: str, python: str, extra: list[str] | None = None
) -> subprocess.CompletedProcess[str]:
    uv = shutil.which("uv") or str(Path(sys.executable).parent / "uv")
    # No interpreter of the target Python is needed to resolve: uv must not try to download one.
    command = [uv, "pip", "compile", str(requirements), "--no-header", "--quiet", "--no-python-downloads"]
    command += ["--extra", "dev"] if extra is None else extra
    command += ["--python-platform", target, "--python-version", python, "--index-url", "https://pypi.org/simple"]
    return subprocess.run(command, capture_output=True, text=True, timeout=300)


PYTHONS = [f"{major}.{minor}" for major, minor in supported_pythons(requires_python(PYPROJECT))]
PAIRS = [(platform, python) for platform in PLATFORMS for python in PYTHONS]


@pytest.fixture(scope="module")
def resolutions() -> dict[tuple[str, str], subprocess.CompletedProcess[str]]:
    """Every pair at once: uv waits on the index, not on the CPU, so the pairs overlap."""
    with ThreadPoolExecutor(max_workers=8) as pool:
        futures = {(p.uv_target, py): pool.submit(uv_compile, PYPROJECT, p.uv_target, py) for p, py in PAIRS}
        return {pair: future.result() for pair, future in futures.items()}


@pytest.mark.parametrize(("target", "python"), PAIRS, ids=[f"{p.uv_target}-py{py}" for p, py in PAIRS])
def test_the_pins_resolve_where_the_kit_says_they_do(
    target: Platform, python: str, resolutions: dict[tuple[str, str], subprocess.CompletedProcess[str]]
) -> None:
    done = resolutions[(target.uv_target, python)]
    if target.supported:
        assert done.returncode == 0, f"{target.name}, Python {python}: the pins do not resolve\n{done.stderr[-3000:]}"
        expected_tf = "tensorflow-cpu==" if target.uv_target.startswith("x86_64") else "tensorflow=="
        assert expected_tf in done.stdout
    else:
        assert done.returncode != 0, f"{target.name} is said unsupported ({target.why}) but the pins resolve there"


def test_pinning_tensorflow_cpu_for_every_machine_breaks_the_mac(tmp_path: Path) -> None:
    """What the kit pinned before: the check names the platform and the package with no wheel."""
    text = PYPROJECT.read_text()
    lines = [line for line in text.splitlines() if '"tensorflow==' not in line]
    broken = "\n".join(line.split(";")[0] + '",' if '"tensorflow-cpu==' in line else line for line in lines)
    assert '"tensorflow-cpu==2.21.0",' in broken
    (tmp_path / "pyproject.toml").write_text(broken + "\n")
    done = uv_compile(tmp_path / "pyproject.toml", "aarch64-apple-darwin", "3.11")
    assert done.returncode != 0 and "tensorflow-cpu" in done.stderr


def test_a_python_outside_the_range_is_refused() -> None:
    pythons = supported_pythons(requires_python(PYPROJECT))
    below = f"3.{pythons[0][1] - 1}"
    done = uv_compile(PYPROJECT, "x86_64-unknown-linux-gnu", below)
    assert done.returncode != 0


def test_the_python_range_is_stated_once_and_read_everywhere() -> None:
    spec = requires_python(PYPROJECT)
    pythons = supported_pythons(spec)
    assert pythons[0] == (3, 11), "numpy 2.3 and scipy 1.16 need Python 3.11 or later"
    readme = (REPO_ROOT / "README.md").read_text()
    assert f"Python 3.{pythons[0][1]}\N{EN DASH}3.{pythons[-1][1]}" in readme


def test_this_machine_and_unknown_ones_are_named() -> None:
    assert this_platform("Darwin", "x86_64").supported is False
    assert this_platform("Darwin", "arm64").uv_target == "aarch64-apple-darwin"
    assert this_platform("SunOS", "sparc") is None


def test_doctor_says_a_mac_on_intel_is_not_supported_before_an_install_fails(monkeypatch: pytest.MonkeyPatch) -> None:
    import platform

    from labkit import doctor

    monkeypatch.setattr(platform, "system", lambda: "Darwin")
    monkeypatch.setattr(platform, "machine", lambda: "x86_64")
    check = doctor._platform()
    assert not check.ok and check.required
    assert "no macOS x86_64 wheel" in check.detail and "devcontainer" in check.fix
    monkeypatch.setattr(platform, "machine", lambda: "arm64")
    assert doctor._platform().ok


TFX_IMAGE = REPO_ROOT / "components" / "images" / "tfx"


@pytest.mark.parametrize(
    ("image", "requirements", "machine", "resolves"),
    [
        ("components", PYPROJECT, "x86_64", True),
        ("components", PYPROJECT, "aarch64", True),  # tensorflow has manylinux aarch64 wheels
        ("tfx", TFX_IMAGE / "requirements.txt", "x86_64", True),
        ("tfx", TFX_IMAGE / "requirements.txt", "aarch64", False),  # ml-metadata 1.21.0: no Linux arm64 wheel
    ],
)
def test_which_images_build_natively_on_apple_silicon(
    image: str, requirements: Path, machine: str, resolves: bool
) -> None:
    """What manifests/README.md tells Mac users: the TFX image must be built for amd64, the components image need not.

    The images are Debian trixie (glibc 2.41) with Python 3.13; ml-metadata's x86_64 wheel is manylinux_2_39.
    """
    extra = ["-c", str(TFX_IMAGE / "constraints.txt")] if image == "tfx" else []
    done = uv_compile(requirements, f"{machine}-manylinux_2_39", "3.13", extra)
    assert (done.returncode == 0) is resolves, done.stderr[-2000:]
    if not resolves:
        assert "ml-metadata" in done.stderr
