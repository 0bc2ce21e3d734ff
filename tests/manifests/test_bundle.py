"""The offline bundle's plan and mirror, read from the real upstream render (no Docker needed here)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from labkit.bundle import (
    BundledImage,
    BundleManifest,
    bundle_problems,
    fetch_mirror,
    local_name,
    planned_images,
    write_manifest,
)
from labkit.manifests import images_in_render, remote_references, render, render_from_mirror
from labkit.paths import REPO_ROOT
from labkit.versions import COMPONENTS_IMAGE, KFP_MANIFESTS_REF, KIND_NODE_IMAGE, TFX_IMAGE

MANIFESTS = REPO_ROOT / "manifests"


def test_the_plan_covers_every_image_the_install_names(kfp_render: list[dict], mirror: Path) -> None:
    scoped = render_from_mirror(MANIFESTS / "kfp" / "cluster-scoped", mirror)
    serving = render(MANIFESTS / "serving")
    planned = {image.reference for image in planned_images(mirror)}
    assert images_in_render(kfp_render + scoped + serving) <= planned
    backend_started = {
        f"ghcr.io/kubeflow/kfp-driver:{KFP_MANIFESTS_REF}",
        f"ghcr.io/kubeflow/kfp-launcher:{KFP_MANIFESTS_REF}",
        "quay.io/argoproj/argoexec:v4.0.5",
    }
    assert backend_started <= planned
    assert {KIND_NODE_IMAGE, COMPONENTS_IMAGE, TFX_IMAGE, "tensorflow/serving:2.16.1"} <= planned


def test_an_image_added_to_the_overlay_joins_the_plan(kubectl: str, mirror: Path, tmp_path: Path) -> None:
    """The list is read from the render, not typed: a new sidecar in the kit's overlay is bundled too."""
    variant = tmp_path / "manifests"
    shutil.copytree(MANIFESTS, variant)
    (variant / "kfp" / "laptop" / "sidecar.yaml").write_text(
        "- op: add\n  path: /spec/template/spec/containers/-\n"
        "  value: {name: proxy, image: 'registry.example/proxy:1.2.3'}\n"
    )
    with (variant / "kfp" / "laptop" / "kustomization.yaml").open("a") as kustomization:
        kustomization.write("  - path: sidecar.yaml\n    target: {kind: Deployment, name: ml-pipeline}\n")
    planned = {image.reference for image in planned_images(mirror, manifests=variant)}
    assert "registry.example/proxy:1.2.3" in planned
    assert "registry.example/proxy:1.2.3" not in {image.reference for image in planned_images(mirror)}


def _bundle_with(tmp_path: Path, mirror: Path, leave_out: str) -> Path:
    bundle = tmp_path / "bundle"
    shutil.copytree(mirror, bundle / "upstream")
    (bundle / "images").mkdir()
    manifest = BundleManifest(KFP_MANIFESTS_REF, "test", "now")
    for image in planned_images(mirror):
        if image.reference == leave_out:
            continue
        archive = f"{len(manifest.images)}.tar"
        (bundle / "images" / archive).write_bytes(b"")
        manifest.images.append(
            BundledImage(image.reference, image.role, local_name(image.reference), archive, "sha256:x", 0)
        )
    write_manifest(bundle, manifest)
    return bundle


def test_a_bundle_missing_the_launcher_cannot_install(kubectl: str, mirror: Path, tmp_path: Path) -> None:
    from labkit.bundle import read_manifest

    launcher = f"ghcr.io/kubeflow/kfp-launcher:{KFP_MANIFESTS_REF}"
    bundle = _bundle_with(tmp_path, mirror, leave_out=launcher)
    assert bundle_problems(bundle, read_manifest(bundle)) == [f"{launcher} (kfp) is needed but not in the bundle"]
    (bundle / "images" / "0.tar").unlink()
    problems = bundle_problems(bundle, read_manifest(bundle))
    assert any(p.startswith(f"{KIND_NODE_IMAGE}: archive images/0.tar is missing") for p in problems)


def test_local_names_keep_tags_and_drop_digests() -> None:
    assert local_name(KIND_NODE_IMAGE) == KIND_NODE_IMAGE.split("@")[0]
    assert local_name("ghcr.io/containerd/busybox") == "ghcr.io/containerd/busybox:latest"
    assert local_name("repo/x@sha256:abc") == "repo/x:pinned"
    assert local_name("localhost:5000/x:1") == "localhost:5000/x:1"


def _git(*args: str, cwd: Path) -> None:
    subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True)


def _serve_as_git(mirror: Path, root: Path) -> str:
    """Each repository@ref of the mirror as a real git repository tagged at the ref, served by file://."""
    for repo_dir in (mirror / "github.com").glob("*/*@*"):
        name, ref = repo_dir.name.split("@")
        work = root / "work" / repo_dir.parent.name / name
        shutil.copytree(repo_dir, work)
        _git("init", "-q", "-b", "main", cwd=work)
        _git("-c", "user.name=t", "-c", "user.email=t@t", "add", ".", cwd=work)
        _git("-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "upstream", cwd=work)
        _git("tag", ref, cwd=work)
        bare = root / "served" / repo_dir.parent.name / f"{name}.git"
        _git("clone", "-q", "--bare", str(work), str(bare), cwd=root)
        _git("config", "uploadpack.allowFilter", "true", cwd=bare)
    return f"file://{root / 'served'}"


def test_mirror_by_git_follows_upstreams_own_references(kubectl: str, mirror: Path, tmp_path: Path) -> None:
    """Sparse clones at the pinned tags, and the argo-workflows bases that KFP's manifests name by URL."""
    if not shutil.which("git"):
        pytest.fail("git is needed to mirror upstream")
    out = tmp_path / "mirror"
    followed = fetch_mirror(out, git_base=_serve_as_git(mirror, tmp_path))
    assert {r.repository for r in followed} == {"kubeflow/pipelines", "argoproj/argo-workflows"}
    assert all(reference.in_mirror(out).is_dir() for _, reference in remote_references(out))
    assert render_from_mirror(MANIFESTS / "kfp", out) == render_from_mirror(MANIFESTS / "kfp", mirror)
