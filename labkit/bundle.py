"""The offline classroom bundle: upstream's manifests and every image the course cluster will ever run.

On a connected machine ``build_bundle`` writes a folder (for a USB stick) holding

- ``upstream/``: a mirror of every upstream kustomize base the install references, laid out by URL
  (``github.com/ORG/REPO@REF/PATH``), upstream's own references (KFP -> argo-workflows) included;
- ``images/*.tar``: ``docker save`` archives of the kind node image, every image the rendered install names (the
  backend's driver, launcher and argoexec, which are only pulled at the first run, included), TF Serving and the
  kit's own images;
- ``bundle.json``: what is in it, with each image's ID so that a copy can be checked before it is used.

``labkit cluster up --from-bundle DIR`` then installs from that folder with no network. The image list is never
typed by hand: it is read from the same render that is applied (``planned_images``).
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import tempfile
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from labkit.manifests import RemoteReference, images_in_render, remote_references, render, render_from_mirror
from labkit.paths import REPO_ROOT
from labkit.versions import COMPONENTS_IMAGE, KFP_MANIFESTS_REF, KIND_NODE_IMAGE, KIT_VERSION, TFX_IMAGE

BUNDLE_FORMAT = 1
BUNDLE_FILE = "bundle.json"
MIRROR_DIR = "upstream"
IMAGES_DIR = "images"
GITHUB = "https://github.com"
MANIFESTS = REPO_ROOT / "manifests"

Progress = Callable[[str, int, int], None]


class BundleError(RuntimeError):
    """A bundle cannot be made or used; ``fix`` says what to do."""

    def __init__(self, problem: str, fix: str = "") -> None:
        super().__init__(problem)
        self.fix = fix


@dataclass(frozen=True)
class PlannedImage:
    reference: str
    role: str  # "kind node", "kfp", "serving" or "kit"


@dataclass
class BundledImage:
    reference: str
    role: str
    local_name: str  # what the archive is tagged as: the reference without a digest
    archive: str
    image_id: str
    size_bytes: int


@dataclass
class BundleManifest:
    kfp_ref: str
    kit_version: str
    created: str
    images: list[BundledImage] = field(default_factory=list)
    format: int = BUNDLE_FORMAT

    def image(self, reference: str) -> BundledImage | None:
        return next((i for i in self.images if i.reference == reference), None)

    @property
    def node_image(self) -> BundledImage:
        found = next((i for i in self.images if i.role == "kind node"), None)
        if found is None:
            raise BundleError("the bundle has no kind node image", "rebuild it with `labkit cluster bundle`")
        return found


# ---------------------------------------------------------------------------------------------- mirror


def _git(*args: str, cwd: Path | None = None) -> None:
    try:
        done = subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, timeout=900)
    except FileNotFoundError as exc:
        raise BundleError("git is not installed", "install git (it fetches upstream's manifests)") from exc
    if done.returncode != 0:
        raise BundleError(
            f"`git {' '.join(args)}` failed: {done.stderr.strip().splitlines()[-1:]}",
            "check the network (github.com) and that the ref exists",
        )


def _fetch_tree(reference: RemoteReference, top: str, out: Path, source: Path | None, git_base: str) -> None:
    """Bring ``top`` (a top-level folder of the repository at the ref) into the mirror at ``out``."""
    target = reference.repository_in(out) / top
    if target.exists():
        return
    target.parent.mkdir(parents=True, exist_ok=True)
    if source is not None:
        origin = reference.repository_in(source) / top
        if not origin.is_dir():
            raise BundleError(f"{reference.repository}@{reference.ref}/{top} is not in {source}")
        shutil.copytree(origin, target)
        return
    with tempfile.TemporaryDirectory(prefix="labkit-git-") as tmp:
        clone = Path(tmp) / "repo"
        url = f"{git_base}/{reference.org}/{reference.repo}.git"
        # A shallow, blobless, sparse clone: one folder of one tag, not the repository's history.
        _git(
            "clone",
            "--quiet",
            "--depth",
            "1",
            "--branch",
            reference.ref,
            "--filter=blob:none",
            "--sparse",
            url,
            str(clone),
        )
        _git("sparse-checkout", "set", top, cwd=clone)
        if not (clone / top).is_dir():
            raise BundleError(f"{url} at {reference.ref} has no folder {top!r}")
        shutil.copytree(clone / top, target)


def fetch_mirror(
    out: Path,
    manifests: Path = MANIFESTS,
    source: Path | None = None,
    git_base: str = GITHUB,
    on_progress: Progress | None = None,
) -> list[RemoteReference]:
    """Mirror every upstream base the kit's kustomizations reference, and those the upstream bases reference.

    Each referenced repository@ref contributes the top-level folder its paths live in (e.g. ``manifests/``),
    since upstream kustomizations refer to siblings by relative path. From ``source`` (another mirror) when
    given, else by git from ``git_base``. Returns every reference followed.
    """
    followed: list[RemoteReference] = []
    pending = [reference for _, reference in remote_references(manifests)]
    while pending:
        reference = pending.pop(0)
        if reference in followed:
            continue
        followed.append(reference)
        top = Path(reference.path).parts[0]
        if on_progress:
            on_progress(f"{reference.repository}@{reference.ref}/{top}", len(followed), len(followed) + len(pending))
        _fetch_tree(reference, top, out, source, git_base)
        if not reference.in_mirror(out).is_dir():
            raise BundleError(f"{reference.repository}@{reference.ref} has no folder {reference.path!r}")
        found = remote_references(reference.repository_in(out) / top)
        pending += [r for _, r in found if r not in followed and r not in pending]
    return followed


# ---------------------------------------------------------------------------------------------- images


def planned_images(mirror: Path, manifests: Path = MANIFESTS) -> list[PlannedImage]:
    """Every image the course cluster runs, read from the renders that ``cluster up`` applies."""
    kfp = render_from_mirror(manifests / "kfp", mirror) + render_from_mirror(
        manifests / "kfp" / "cluster-scoped", mirror
    )
    planned = [PlannedImage(KIND_NODE_IMAGE, "kind node")]
    planned += [PlannedImage(image, "kfp") for image in sorted(images_in_render(kfp))]
    planned += [PlannedImage(image, "serving") for image in sorted(images_in_render(render(manifests / "serving")))]
    planned += [PlannedImage(image, "kit") for image in (COMPONENTS_IMAGE, TFX_IMAGE)]
    seen: set[str] = set()
    return [p for p in planned if not (p.reference in seen or seen.add(p.reference))]


def local_name(reference: str) -> str:
    """A tag to save and load an image under: a digest reference keeps its tag (or gets ``:pinned``)."""
    if "@" not in reference:
        return reference if ":" in reference.rsplit("/", 1)[-1] else f"{reference}:latest"
    name = reference.split("@", 1)[0]
    return name if ":" in name.rsplit("/", 1)[-1] else f"{name}:pinned"


def archive_name(reference: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", local_name(reference)) + ".tar"


def _docker(*args: str, timeout: float = 1800) -> str:
    try:
        done = subprocess.run(["docker", *args], capture_output=True, text=True, timeout=timeout)
    except FileNotFoundError as exc:
        raise BundleError("no docker CLI", "install Docker: https://docs.docker.com/get-docker/") from exc
    if done.returncode != 0:
        tail = (done.stderr or done.stdout).strip().splitlines()[-1:]
        raise BundleError(f"`docker {' '.join(args)}` failed: {' '.join(tail)}", "check `docker info` and the network")
    return done.stdout.strip()


def image_id(reference: str) -> str | None:
    done = subprocess.run(
        ["docker", "image", "inspect", "--format", "{{.Id}}", reference], capture_output=True, text=True, timeout=60
    )
    return done.stdout.strip() if done.returncode == 0 else None


def save_image(image: PlannedImage, images_dir: Path, pull: bool, platform: str | None = None) -> tuple[str, str, int]:
    """(local name, image ID, archive size) after ``docker save`` of one image into ``images_dir``."""
    reference = image.reference
    if image_id(reference) is None:
        if image.role == "kit":
            raise BundleError(f"the kit's image {reference} is not built", "build it: `labkit image build --all`")
        if not pull:
            raise BundleError(f"image {reference} is not in the local engine", "pull it, or drop --no-pull")
        _docker("pull", *(["--platform", platform] if platform else []), reference)
    name = local_name(reference)
    if name != reference:
        _docker("tag", reference, name)
    archive = images_dir / archive_name(reference)
    partial = archive.with_suffix(".tar.partial")
    _docker("save", "--output", str(partial), name)
    partial.replace(archive)
    return name, str(image_id(name)), archive.stat().st_size


def load_image(bundle: Path, image: BundledImage) -> None:
    """``docker load`` one archive unless the engine already holds the very same image."""
    if image_id(image.local_name) == image.image_id:
        return
    _docker("load", "--input", str(bundle / IMAGES_DIR / image.archive))
    if image_id(image.local_name) != image.image_id:
        raise BundleError(
            f"{image.archive} did not load as {image.local_name} with ID {image.image_id}",
            "the bundle is damaged or was edited: copy it again, or rebuild it with `labkit cluster bundle`",
        )


# ---------------------------------------------------------------------------------------------- bundle


def read_manifest(bundle: Path) -> BundleManifest:
    path = bundle / BUNDLE_FILE
    if not path.is_file():
        raise BundleError(
            f"{bundle} is not a labkit bundle (no {BUNDLE_FILE})", "make one with `labkit cluster bundle`"
        )
    data: dict[str, Any] = json.loads(path.read_text())
    if data.get("format") != BUNDLE_FORMAT:
        raise BundleError(f"bundle format {data.get('format')} is not {BUNDLE_FORMAT}", "rebuild it with this kit")
    images = [BundledImage(**image) for image in data.pop("images", [])]
    return BundleManifest(**data, images=images)


def write_manifest(bundle: Path, manifest: BundleManifest) -> None:
    path = bundle / BUNDLE_FILE
    partial = path.with_suffix(".json.partial")
    partial.write_text(json.dumps(asdict(manifest), indent=2) + "\n")
    partial.replace(path)


def bundle_problems(bundle: Path, manifest: BundleManifest) -> list[str]:
    """What keeps a bundle from installing offline: missing archives, and images the render needs but it lacks."""
    problems = []
    mirror = bundle / MIRROR_DIR
    if not (mirror / "github.com").is_dir():
        return [f"no upstream mirror in {mirror}"]
    for image in manifest.images:
        if not (bundle / IMAGES_DIR / image.archive).is_file():
            problems.append(f"{image.reference}: archive {IMAGES_DIR}/{image.archive} is missing")
    bundled = {image.reference for image in manifest.images}
    for planned in planned_images(mirror):
        if planned.reference not in bundled:
            problems.append(f"{planned.reference} ({planned.role}) is needed but not in the bundle")
    return problems


def build_bundle(
    out: Path,
    mirror_source: Path | None = None,
    pull: bool = True,
    platform: str | None = None,
    on_progress: Progress | None = None,
) -> BundleManifest:
    """Write (or complete) a bundle in ``out``; images already saved with the same ID are kept, so a rerun resumes."""
    out.mkdir(parents=True, exist_ok=True)
    (out / IMAGES_DIR).mkdir(exist_ok=True)
    mirror = out / MIRROR_DIR
    if not (mirror / "github.com").is_dir():
        staging = out / f"{MIRROR_DIR}.partial"
        shutil.rmtree(staging, ignore_errors=True)
        fetch_mirror(staging, source=mirror_source, on_progress=on_progress)
        staging.rename(mirror)
    try:
        manifest = read_manifest(out)
    except BundleError:
        manifest = BundleManifest(KFP_MANIFESTS_REF, KIT_VERSION, datetime.now(UTC).isoformat(timespec="seconds"))
    planned = planned_images(mirror)
    for done, image in enumerate(planned):
        if on_progress:
            on_progress(image.reference, done, len(planned))
        kept = manifest.image(image.reference)
        if kept and (out / IMAGES_DIR / kept.archive).is_file():
            continue
        name, identity, size = save_image(image, out / IMAGES_DIR, pull, platform)
        manifest.images = [i for i in manifest.images if i.reference != image.reference]
        manifest.images.append(
            BundledImage(image.reference, image.role, name, archive_name(image.reference), identity, size)
        )
        write_manifest(out, manifest)
    write_manifest(out, manifest)
    return manifest
