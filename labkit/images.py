"""The kit's container images: build, list, save to a tarball and load it back.

Images are built by a local Docker engine from the Dockerfiles under ``components/images/`` with the
repository root as context. Tags follow the kit version (never ``latest``), so a tarball handed out on a
USB stick says exactly which kit it belongs to.

Nothing here prints: long operations report through an ``on_event`` callback and the CLI draws them.
"""

from __future__ import annotations

import gzip
import re
import shutil
import subprocess
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Literal

from labkit.paths import REPO_ROOT
from labkit.versions import BASE_IMAGE, COMPONENTS_IMAGE, KIT_VERSION, PUBLIC_BASE_IMAGE, TFX_IMAGE

BASE_IMAGE_SCRIPT = REPO_ROOT / "scripts" / "build-base-image.sh"
LABEL_KIT_VERSION = "org.opencontainers.image.version"
LABEL_BASE = "io.labkit.base-image"
DOCKER_FIX = "start Docker (Docker Desktop, or `sudo systemctl start docker`); `labkit doctor` checks it"


@dataclass(frozen=True)
class ImageSpec:
    name: str
    tag: str
    dockerfile: str  # relative to the repository root, which is the build context
    description: str


IMAGES: dict[str, ImageSpec] = {
    "components": ImageSpec(
        "components",
        COMPONENTS_IMAGE,
        "components/images/components/Dockerfile",
        "kfp + TensorFlow + the kit's component code: every session-5 task runs in it",
    ),
    "tfx": ImageSpec(
        "tfx",
        TFX_IMAGE,
        "components/images/tfx/Dockerfile",
        "TFX 1.21 + kfp 2.17 + tf-keras + tensorboard for the session-6 pipeline",
    ),
}


class DockerUnavailableError(RuntimeError):
    """No Docker engine answers; the message says how to start one."""


class UnknownImageError(KeyError):
    def __str__(self) -> str:
        return f"unknown image {self.args[0]!r}; the kit's images are: {', '.join(IMAGES)}"


class ImageBuildError(RuntimeError):
    """A build failed; ``log_tail`` holds its last lines."""

    def __init__(self, message: str, log_tail: list[str]) -> None:
        super().__init__(message)
        self.log_tail = log_tail


@dataclass(frozen=True)
class BuildEvent:
    """One thing a build said. ``kind`` is "step" for a Dockerfile step (with step/total), "log" otherwise."""

    image: str
    kind: Literal["step", "log"]
    message: str
    step: int | None = None
    total: int | None = None


BuildSink = Callable[[BuildEvent], None]
ByteSink = Callable[[int], None]


@dataclass(frozen=True)
class BuildResult:
    name: str
    tag: str
    base: str
    seconds: float
    size_bytes: int


@dataclass(frozen=True)
class ImageInfo:
    name: str
    tag: str
    present: bool
    size_bytes: int | None = None
    created: datetime | None = None
    image_id: str | None = None

    def age(self, now: datetime | None = None) -> str:
        if self.created is None:
            return "-"
        seconds = ((now or datetime.now(timezone.utc)) - self.created).total_seconds()
        for unit, length in (("d", 86400), ("h", 3600), ("min", 60)):
            if seconds >= length:
                return f"{int(seconds // length)} {unit}"
        return f"{int(seconds)} s"


def get_spec(name: str) -> ImageSpec:
    try:
        return IMAGES[name]
    except KeyError:
        raise UnknownImageError(name) from None


def docker_client() -> Any:
    """A client of the local engine, or DockerUnavailableError naming the fix."""
    import docker
    from docker.errors import DockerException

    try:
        client = docker.from_env(timeout=600)
        client.ping()
    except DockerException as exc:
        raise DockerUnavailableError(f"no Docker engine is reachable ({_short(exc)})") from exc
    return client


def _short(exc: Exception) -> str:
    text = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    return text if len(text) < 160 else text[:157] + "..."


def image_exists(client: Any, tag: str) -> bool:
    from docker.errors import ImageNotFound

    try:
        client.images.get(tag)
    except ImageNotFound:
        return False
    return True


def choose_base(client: Any, requested: str | None = None) -> tuple[str, str]:
    """The base image a build uses, and why: the one asked for, else the local one, else the public one."""
    if requested:
        return requested, "given with --base"
    if image_exists(client, BASE_IMAGE):
        return BASE_IMAGE, "the local base (built by `labkit image base`)"
    return PUBLIC_BASE_IMAGE, f"the public default ({BASE_IMAGE} is not built here; it would be pulled)"


STEP = re.compile(r"^Step (\d+)/(\d+) : (.*)$")


def build_image(
    client: Any,
    name: str,
    base: str,
    on_event: BuildSink = lambda event: None,
    no_cache: bool = False,
) -> BuildResult:
    """Build one of the kit's images from its Dockerfile, with ``BASE_IMAGE`` set to ``base``.

    Builds use the host network (the engine may run with no bridge) and keep the layer cache, so a second
    build after a code change only redoes the last layers.
    """
    spec = get_spec(name)
    start = time.perf_counter()
    tail: list[str] = []
    stream = client.api.build(
        path=str(REPO_ROOT),
        dockerfile=spec.dockerfile,
        tag=spec.tag,
        buildargs={"BASE_IMAGE": base},
        labels={LABEL_KIT_VERSION: KIT_VERSION, LABEL_BASE: base},
        network_mode="host",
        rm=True,
        forcerm=True,
        nocache=no_cache,
        decode=True,
    )
    for chunk in stream:
        if "error" in chunk:
            message = chunk.get("errorDetail", {}).get("message") or chunk["error"]
            raise ImageBuildError(f"building {spec.tag} failed: {message.strip()}", tail[-30:])
        for line in str(chunk.get("stream", "")).splitlines():
            if not line.strip():
                continue
            tail = [*tail[-59:], line]
            if step := STEP.match(line):
                number, total, instruction = step.groups()
                on_event(BuildEvent(name, "step", instruction.strip(), int(number), int(total)))
            else:
                on_event(BuildEvent(name, "log", line))
    image = client.images.get(spec.tag)
    return BuildResult(name, spec.tag, base, round(time.perf_counter() - start, 1), int(image.attrs["Size"]))


def build_base_image(on_line: Callable[[str], None] = lambda line: None, image: str = BASE_IMAGE) -> float:
    """Run scripts/build-base-image.sh (debootstrap + docker import); returns its seconds."""
    if not BASE_IMAGE_SCRIPT.exists():
        raise FileNotFoundError(f"{BASE_IMAGE_SCRIPT} is missing: the base image is built from a checkout of the kit")
    start = time.perf_counter()
    with subprocess.Popen(
        ["bash", str(BASE_IMAGE_SCRIPT), image],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    ) as process:
        assert process.stdout is not None
        tail: list[str] = []
        for line in process.stdout:
            tail = [*tail[-29:], line.rstrip()]
            on_line(line.rstrip())
    if process.returncode != 0:
        raise ImageBuildError(f"building the base image {image} failed (exit {process.returncode})", tail)
    return round(time.perf_counter() - start, 1)


def _created(attrs: dict[str, Any]) -> datetime:
    # The engine gives RFC 3339 with nanoseconds; fromisoformat takes at most microseconds.
    text = re.sub(r"(\.\d{6})\d*", r"\1", attrs["Created"]).replace("Z", "+00:00")
    return datetime.fromisoformat(text)


def list_images(client: Any) -> list[ImageInfo]:
    """The base and the kit's images, present or not, in build order."""
    from docker.errors import ImageNotFound

    found: list[ImageInfo] = []
    for name, tag in [("base", BASE_IMAGE), *((spec.name, spec.tag) for spec in IMAGES.values())]:
        try:
            image = client.images.get(tag)
        except ImageNotFound:
            found.append(ImageInfo(name, tag, present=False))
            continue
        found.append(
            ImageInfo(name, tag, True, int(image.attrs["Size"]), _created(image.attrs), image.short_id.split(":")[-1])
        )
    return found


def save_images(tags: Iterable[str], archive: Path, on_bytes: ByteSink = lambda n: None) -> int:
    """Write the images to one tarball (gzip when the name ends in .gz); returns its size in bytes.

    Images saved together share their common layers (the base), so one archive is smaller than one per
    image. ``docker load`` and ``labkit image load-archive`` read both forms.
    """
    tags = list(tags)
    if shutil.which("docker") is None:
        raise DockerUnavailableError("no docker CLI on PATH")
    archive.parent.mkdir(parents=True, exist_ok=True)
    partial = archive.with_name(archive.name + ".partial")
    with subprocess.Popen(["docker", "save", *tags], stdout=subprocess.PIPE, stderr=subprocess.PIPE) as process:
        assert process.stdout is not None and process.stderr is not None
        opener = gzip.open if archive.name.endswith(".gz") else open
        # Level 1: TensorFlow's libraries barely compress further, and a USB stick is waiting.
        kwargs: dict[str, Any] = {"compresslevel": 1} if opener is gzip.open else {}
        with opener(partial, "wb", **kwargs) as out:
            while chunk := process.stdout.read(1 << 20):
                out.write(chunk)
                on_bytes(len(chunk))
        errors = process.stderr.read().decode(errors="replace").strip()
    if process.returncode != 0:
        partial.unlink(missing_ok=True)
        raise RuntimeError(f"docker save failed: {errors or f'exit {process.returncode}'}")
    partial.replace(archive)
    return archive.stat().st_size


LOADED = re.compile(r"Loaded image(?: ID)?: (\S+)")


def load_archive(client: Any, archive: Path, on_bytes: ByteSink = lambda n: None) -> list[str]:
    """Load a tarball made by ``save_images`` (or ``docker save``); returns the tags it held."""
    if not archive.is_file():
        raise FileNotFoundError(f"{archive} does not exist")

    class _Counting:
        """Feeds the file to the engine in chunks and reports how far it got."""

        def __init__(self, handle: Any) -> None:
            self._handle = handle

        def __iter__(self):
            while chunk := self._handle.read(1 << 20):
                on_bytes(len(chunk))
                yield chunk

    loaded: list[str] = []
    with archive.open("rb") as handle:
        for chunk in client.api.load_image(_Counting(handle), quiet=True):
            if "error" in chunk:
                raise RuntimeError(f"docker load failed: {chunk['error']}")
            if match := LOADED.search(str(chunk.get("stream", ""))):
                loaded.append(match.group(1))
    return loaded


def run_in_image(client: Any, tag: str, command: list[str], network: str = "none", **kwargs: Any) -> tuple[int, str]:
    """Run a command in one of the images the way the docker runner does (no network); returns (exit, output)."""
    container = client.containers.run(tag, command, network_mode=network, detach=True, **kwargs)
    try:
        code = int(container.wait()["StatusCode"])
        return code, container.logs().decode(errors="replace")
    finally:
        container.remove(force=True)
