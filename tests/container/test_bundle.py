"""Bundle image archives with a real Docker engine, and `cluster up --from-bundle` in order, pulling nothing.

kind cannot run here, so `cluster up` runs against the kind/kubectl stand-ins of tests/conftest.py; docker,
the archives and the mirror-backed manifests are real.
"""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from labkit import bundle as bundles
from labkit import cluster
from labkit.bundle import BundledImage, BundleError, BundleManifest, PlannedImage
from labkit.versions import KFP_MANIFESTS_REF
from tests.conftest import kind_calls

pytestmark = pytest.mark.container

TINY = "labkit-test-tiny:1"


def _docker(*args: str) -> str:
    return subprocess.run(["docker", *args], check=True, capture_output=True, text=True).stdout.strip()


@pytest.fixture
def tiny_image(tmp_path: Path) -> Iterator[str]:
    """A one-file image made on the spot (no registry here): enough to save, remove and load back."""
    root = tmp_path / "rootfs"
    root.mkdir()
    (root / "hello").write_text("labkit\n")
    tar = subprocess.run(["tar", "-C", str(root), "-c", "."], check=True, capture_output=True).stdout
    subprocess.run(["docker", "import", "-", TINY], input=tar, check=True, capture_output=True)
    yield TINY
    subprocess.run(["docker", "rmi", "-f", TINY], capture_output=True)


def test_an_archive_loads_back_as_the_same_image(tiny_image: str, tmp_path: Path) -> None:
    name, identity, size = bundles.save_image(PlannedImage(tiny_image, "kfp"), tmp_path, pull=False)
    assert (name, size > 0) == (tiny_image, True)
    _docker("rmi", tiny_image)
    bundled = BundledImage(tiny_image, "kfp", name, bundles.archive_name(tiny_image), identity, size)
    (tmp_path / bundles.IMAGES_DIR).mkdir()
    shutil.move(tmp_path / bundled.archive, tmp_path / bundles.IMAGES_DIR / bundled.archive)
    bundles.load_image(tmp_path, bundled)
    assert bundles.image_id(tiny_image) == identity


def test_an_archive_that_is_not_what_the_bundle_says_is_refused(tiny_image: str, tmp_path: Path) -> None:
    (tmp_path / bundles.IMAGES_DIR).mkdir()
    name, _, size = bundles.save_image(PlannedImage(tiny_image, "kfp"), tmp_path / bundles.IMAGES_DIR, False)
    forged = BundledImage(tiny_image, "kfp", name, bundles.archive_name(tiny_image), "sha256:" + "0" * 64, size)
    with pytest.raises(BundleError, match=r"did not load as .* with ID sha256:0+") as caught:
        bundles.load_image(tmp_path, forged)
    assert "damaged" in caught.value.fix


def test_without_pull_a_missing_upstream_image_is_named(mirror: Path, kubectl: str, tmp_path: Path) -> None:
    with pytest.raises(BundleError, match=r"image kindest/node:v1\.32\.2@sha256:\w+ is not in the local engine"):
        bundles.build_bundle(tmp_path / "b", mirror_source=mirror, pull=False)
    assert (tmp_path / "b" / "upstream" / "github.com").is_dir(), "the mirror is kept for the next try"


def _synthetic_bundle(path: Path, mirror: Path, tiny_image: str) -> BundleManifest:
    """Every planned image present, each archive holding the tiny image: the install's order is what is tested."""
    shutil.copytree(mirror, path / bundles.MIRROR_DIR)
    (path / bundles.IMAGES_DIR).mkdir(parents=True)
    _, identity, size = bundles.save_image(PlannedImage(tiny_image, "kfp"), path / bundles.IMAGES_DIR, False)
    manifest = BundleManifest(KFP_MANIFESTS_REF, "test", "now")
    for index, image in enumerate(bundles.planned_images(mirror)):
        archive = f"{index:02d}.tar"
        shutil.copy(path / bundles.IMAGES_DIR / bundles.archive_name(tiny_image), path / bundles.IMAGES_DIR / archive)
        manifest.images.append(BundledImage(image.reference, image.role, tiny_image, archive, identity, size))
    bundles.write_manifest(path, manifest)
    return manifest


def test_up_from_bundle_loads_every_archive_and_renders_from_its_mirror(
    fake_tools: Path, mirror: Path, kubectl: str, tiny_image: str, tmp_path: Path
) -> None:
    manifest = _synthetic_bundle(tmp_path / "bundle", mirror, tiny_image)
    _docker("rmi", tiny_image)  # the node image must come from the bundle
    cluster.cluster_up(lambda event: None, bundle=tmp_path / "bundle")
    calls = [c for c in kind_calls(fake_tools) if not c.startswith("kind get")]
    assert calls[0] == f"kind create cluster --name labkit --config M/kind/kind-config.yaml --wait 180s --image {TINY}"
    loads = [c for c in calls if c.startswith("kind load image-archive")]
    assert len(loads) == len(manifest.images) - 1
    applied = [c.split(" -k ")[1] for c in calls if " apply " in c]
    assert applied[0].endswith("/source/cluster-scoped") and applied[1].endswith("/source")
    assert not any(path.startswith("M/kfp") for path in applied), "upstream must come from the bundle's mirror"
    assert calls.index(loads[-1]) < calls.index(next(c for c in calls if " apply " in c))
    assert not any(c.startswith("docker pull") for c in calls)


def test_up_from_an_incomplete_bundle_stops_before_touching_kind(
    fake_tools: Path, mirror: Path, kubectl: str, tiny_image: str, tmp_path: Path
) -> None:
    _synthetic_bundle(tmp_path / "bundle", mirror, tiny_image)
    (tmp_path / "bundle" / bundles.IMAGES_DIR / "05.tar").unlink()
    with pytest.raises(cluster.ClusterError, match=r"cannot install offline: .*archive images/05\.tar is missing") as e:
        cluster.cluster_up(lambda event: None, bundle=tmp_path / "bundle")
    assert "resumes" in e.value.fix
    assert not fake_tools.exists(), f"kind or kubectl was called: {fake_tools.read_text()}"
