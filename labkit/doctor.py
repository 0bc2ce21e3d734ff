"""Checks of the machine a student runs the kit on, each with the fix when it fails."""

from __future__ import annotations

import os
import platform
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from labkit.versions import KIND_VERSION, KUBECTL_VERSION

MIN_FREE_DISK_GB = 10
MIN_RAM_GB_FOR_CLUSTER = 8


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool
    detail: str
    fix: str = ""
    required: bool = False


def _python() -> Check:
    from labkit.platforms import supported_pythons

    current = sys.version_info[:2]
    pythons = supported_pythons()
    ok = current in pythons
    (low_major, low), (_, high) = pythons[0], pythons[-1]
    return Check(
        "python",
        ok,
        platform.python_version(),
        "" if ok else f"use Python {low_major}.{low} to {low_major}.{high} (e.g. `uv python install 3.11`)",
        required=True,
    )


def _platform() -> Check:
    """Whether the kit's pins install here, said before an install fails halfway."""
    from labkit.platforms import WAY_OUT, this_platform

    here = f"{platform.system()} {platform.machine()}"
    found = this_platform()
    if found is None:
        return Check("platform", False, f"{here}: not one the kit is tested on", WAY_OUT, required=True)
    if not found.supported:
        return Check("platform", False, f"{found.name}: {found.why}", WAY_OUT, required=True)
    return Check("platform", True, found.name)


def _disk(path: Path) -> Check:
    free_gb = shutil.disk_usage(path).free / 1e9
    ok = free_gb >= MIN_FREE_DISK_GB
    fix = f"free at least {MIN_FREE_DISK_GB} GB (TensorFlow, images and runs need room)"
    return Check("disk", ok, f"{free_gb:.0f} GB free in {path}", "" if ok else fix, required=True)


def _memory() -> Check:
    total_gb = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    ok = total_gb >= MIN_RAM_GB_FOR_CLUSTER
    fix = f"the cluster needs {MIN_RAM_GB_FOR_CLUSTER} GB; local runners work with less"
    return Check("memory", ok, f"{total_gb:.1f} GiB", "" if ok else fix)


def _architecture() -> Check:
    machine = platform.machine().lower()
    ok = machine in {"x86_64", "amd64"}
    fix = "KFP's images are amd64-only: on Apple Silicon enable Rosetta in Docker Desktop (see README)"
    return Check("cpu architecture", ok, machine, "" if ok else fix)


def _version_of(command: list[str]) -> str | None:
    if not shutil.which(command[0]):
        return None
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired):
        return "present (version unknown)"
    return (done.stdout or done.stderr).strip().splitlines()[0] if (done.stdout or done.stderr) else "present"


def _tool(name: str, command: list[str], fix: str) -> Check:
    found = _version_of(command)
    return Check(name, found is not None, found or "not found", "" if found else fix)


def _docker_engine() -> Check:
    fix = "start Docker (Docker Desktop, or `sudo systemctl start docker`); only the docker runner needs it"
    if not shutil.which("docker"):
        return Check("docker engine", False, "no docker CLI", fix)
    try:
        done = subprocess.run(
            ["docker", "version", "--format", "{{.Server.Version}}"], capture_output=True, text=True, timeout=10
        )
    except subprocess.TimeoutExpired:
        return Check("docker engine", False, "docker did not answer in 10 s", fix)
    if done.returncode != 0:
        return Check("docker engine", False, "not reachable", fix)
    return Check("docker engine", True, f"server {done.stdout.strip()}")


IMAGE_USES = {
    "components": "the docker runner and the grader's sandbox",
    "tfx": "session 6 (labkit lab run 6, labkit lab check 6)",
}


def _kit_images(engine: Check) -> list[Check]:
    """Whether the kit's images are built: without them session 6 and the docker runner cannot start."""
    from labkit.images import IMAGES

    checks = []
    for name, spec in IMAGES.items():
        label = f"image {spec.tag}"
        fix = f"labkit image build {name}   (needed by {IMAGE_USES.get(name, 'the kit')})"
        if not engine.ok:
            checks.append(Check(label, False, "unknown: no Docker engine", fix))
            continue
        command = ["docker", "image", "inspect", spec.tag, "--format", "{{.Size}}"]
        try:
            done = subprocess.run(command, capture_output=True, text=True, timeout=10)
        except subprocess.TimeoutExpired:
            checks.append(Check(label, False, "docker did not answer in 10 s", fix))
            continue
        built = done.returncode == 0 and done.stdout.strip().isdigit()
        detail = f"built, {int(done.stdout.strip()) / 1e6:,.0f} MB" if built else "not built"
        checks.append(Check(label, built, detail, "" if built else fix))
    return checks


def run_checks(workdir: Path | None = None) -> list[Check]:
    arch = "arm64" if platform.machine().lower() in {"arm64", "aarch64"} else "amd64"
    system = platform.system().lower()
    kind_url = f"https://kind.sigs.k8s.io/dl/{KIND_VERSION}/kind-{system}-{arch}"
    kubectl_url = f"https://dl.k8s.io/release/{KUBECTL_VERSION}/bin/{system}/{arch}/kubectl"
    engine = _docker_engine()
    return [
        _python(),
        _platform(),
        _disk(workdir or Path.cwd()),
        _memory(),
        _architecture(),
        _tool(
            "docker cli",
            ["docker", "--version"],
            "install Docker: https://docs.docker.com/get-docker/ (Debian/Ubuntu: `sudo apt-get install docker.io`)",
        ),
        engine,
        *_kit_images(engine),
        _tool(
            "kind",
            ["kind", "version"],
            f"curl -Lo ./kind {kind_url} && chmod +x ./kind && sudo mv ./kind /usr/local/bin/kind",
        ),
        _tool(
            "kubectl",
            ["kubectl", "version", "--client"],
            f"curl -LO {kubectl_url} && chmod +x kubectl && sudo mv kubectl /usr/local/bin/",
        ),
    ]
