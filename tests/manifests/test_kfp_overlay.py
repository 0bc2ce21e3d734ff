"""The kit's KFP install rendered from the real upstream 2.17.0 files (a mirror, no stand-in), and its pins."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from labkit import cluster
from labkit.artifacts import ARTIFACT_BUCKET, ARTIFACT_SECRET
from labkit.manifests import (
    MirrorError,
    images_in_render,
    node_port_problems,
    parse_remote,
    policy_violations,
    remote_references,
    render_from_mirror,
    resource_sums,
)
from labkit.paths import REPO_ROOT
from labkit.versions import KFP_MANIFESTS_REF

KFP = REPO_ROOT / "manifests" / "kfp"
UPSTREAM = "https://github.com/kubeflow/pipelines//manifests/kustomize"
BACKEND = f"github.com/kubeflow/pipelines@{KFP_MANIFESTS_REF}/backend/src"


def _by_name(docs: list[dict], kind: str) -> dict[str, dict]:
    return {d["metadata"]["name"]: d for d in docs if d["kind"] == kind}


def test_overlays_reference_upstream_by_url_at_the_pinned_ref() -> None:
    main = yaml.safe_load((KFP / "kustomization.yaml").read_text())
    scoped = yaml.safe_load((KFP / "cluster-scoped" / "kustomization.yaml").read_text())
    assert main["resources"] == [f"{UPSTREAM}/env/platform-agnostic?ref={KFP_MANIFESTS_REF}"]
    assert scoped["resources"] == [f"{UPSTREAM}/cluster-scoped-resources?ref={KFP_MANIFESTS_REF}"]
    assert main["components"] == ["laptop"]


def test_no_upstream_object_is_copied_into_the_repo() -> None:
    """Only the kit's own objects and patches live here; upstream comes by URL (or from a mirror in tests)."""
    kinds = set()
    for path in (REPO_ROOT / "manifests").rglob("*.yaml"):
        for doc in yaml.safe_load_all(path.read_text()):
            if isinstance(doc, dict) and doc.get("metadata", {}).get("namespace") == "kubeflow":
                kinds.add(f"{path.name}:{doc['kind']}")
    assert kinds == {"networkpolicy-nodeports.yaml:NetworkPolicy"}


def test_every_remote_reference_is_pinned_and_in_the_mirror(mirror: Path) -> None:
    """The kit's references and upstream's own (KFP pulls argo-workflows by URL) all resolve offline."""
    references = remote_references(REPO_ROOT / "manifests") + remote_references(mirror)
    repositories = {r.repository for _, r in references}
    assert {"kubeflow/pipelines", "argoproj/argo-workflows"} <= repositories
    for where, reference in references:
        assert reference.in_mirror(mirror).is_dir(), f"{where}: {reference} missing from the mirror"


@pytest.mark.parametrize(
    ("entry", "expected"),
    [
        (
            f"{UPSTREAM}/env/platform-agnostic?ref=2.17.0",
            ("kubeflow", "pipelines", "manifests/kustomize/env/platform-agnostic", "2.17.0"),
        ),
        (
            "https://github.com/argoproj/argo-workflows/manifests/base/workflow-controller?ref=v4.0.5&timeout=60s",
            ("argoproj", "argo-workflows", "manifests/base/workflow-controller", "v4.0.5"),
        ),
        ("../../base/installs/generic", None),
    ],
)
def test_remote_references_map_to_mirror_paths(entry: str, expected: tuple[str, ...] | None) -> None:
    reference = parse_remote(entry)
    assert (reference and (reference.org, reference.repo, reference.path, reference.ref)) == expected


def test_an_unpinned_remote_reference_is_refused() -> None:
    with pytest.raises(MirrorError, match="not a pinned GitHub reference"):
        parse_remote(f"{UPSTREAM}/env/platform-agnostic")


def test_a_reference_missing_from_the_mirror_names_the_path(kubectl: str, mirror: Path, tmp_path: Path) -> None:
    (tmp_path / "kustomization.yaml").write_text(yaml.safe_dump({"resources": [f"{UPSTREAM}/env/gcp?ref=9.9.9"]}))
    with pytest.raises(
        MirrorError, match=r"not in the mirror: expected .*pipelines@9\.9\.9/manifests/kustomize/env/gcp"
    ):
        render_from_mirror(tmp_path, mirror)


KIT_NODE_PORTS = {
    ("ml-pipeline-ui", 80): cluster.UI_PORT,
    ("ml-pipeline", 8888): cluster.API_PORT,
    ("seaweedfs", 8333): cluster.OBJECT_STORE_PORT,
}


def test_nodeports_are_the_ones_kind_maps(kfp_render: list[dict]) -> None:
    assert node_port_problems(kfp_render, KIT_NODE_PORTS) == []
    assert set(KIT_NODE_PORTS.values()) | {cluster.SERVING_PORT} == set(cluster.kind_host_ports())


def test_nodeport_patches_without_protocol_match_nothing_upstream(kubectl: str, mirror: Path) -> None:
    """Upstream declares `protocol: TCP` and kustomize merges Service ports on (port, protocol): a patch entry
    without it is a different port, dropped silently. The check above must catch that, as it did the kit's
    first patches."""

    def drop_protocol(copy: Path) -> None:
        for patch in (copy / "laptop").glob("service-*-nodeport.yaml"):
            patch.write_text(re.sub(r"\n\s+protocol: TCP[^\n]*", "", patch.read_text()))

    problems = node_port_problems(render_from_mirror(KFP, mirror, patch=drop_protocol), KIT_NODE_PORTS)
    assert len(problems) == 3 and all("nodePort none" in p for p in problems), problems


def test_every_container_has_requests_limits_and_a_pinned_image(kfp_render: list[dict]) -> None:
    assert policy_violations(kfp_render) == []
    api = _by_name(kfp_render, "Deployment")["ml-pipeline"]["spec"]["template"]["spec"]["containers"][0]
    assert api["image"] == f"ghcr.io/kubeflow/kfp-api-server:{KFP_MANIFESTS_REF}"


def test_the_policy_bites_on_upstream_as_shipped(upstream_render: list[dict]) -> None:
    """Upstream sets limits on no main container: the kit's patches are what makes the policy pass."""
    problems = policy_violations(upstream_render)
    assert "Deployment/ml-pipeline container ml-pipeline-api-server: no limits.memory" in problems


def test_trimmed_requests_fit_an_8_gb_laptop(kfp_render: list[dict], upstream_render: list[dict]) -> None:
    kit, upstream = resource_sums(kfp_render), resource_sums(upstream_render)
    assert kit.containers == upstream.containers
    assert kit.requests_memory_mib < upstream.requests_memory_mib / 2
    assert kit.requests_memory_mib < 1536 and kit.limits_memory_mib < 6144
    assert kit.without_limits == 0 and upstream.without_limits > 0


def test_seaweedfs_keeps_room_for_its_own_probe(kfp_render: list[dict], upstream_render: list[dict]) -> None:
    """The startup probe and postStart hook run `weed shell` in the server's container: ~230 MiB together
    (benchmarks/seaweedfs_memory.py)."""
    from labkit.manifests import memory_mib

    def resources(docs: list[dict]) -> dict[str, Any]:
        return _by_name(docs, "Deployment")["seaweedfs"]["spec"]["template"]["spec"]["containers"][0]["resources"]

    ours, theirs = resources(kfp_render), resources(upstream_render)
    assert "weed shell" in str(_by_name(upstream_render, "Deployment")["seaweedfs"])
    assert memory_mib(ours["limits"]["memory"]) >= 640
    assert memory_mib(ours["requests"]["memory"]) >= memory_mib(theirs["requests"]["memory"])


def _go_constant(source: str, name: str) -> str:
    match = re.search(rf'\b{name}\s*=\s*"([^"]+)"', source)
    assert match, f"{name} not found in the backend source"
    return match[1]


def test_artifact_secret_is_what_the_launcher_reads(kfp_render: list[dict], mirror: Path) -> None:
    """Names read from backend/src/v2/config/env.go, not restated: the render and labkit.artifacts agree."""
    env_go = (mirror / BACKEND / "v2/config/env.go").read_text()
    name = _go_constant(env_go, "minioArtifactSecretName")
    keys = {_go_constant(env_go, "minioArtifactAccessKeyKey"), _go_constant(env_go, "minioArtifactSecretKeyKey")}
    secret = _by_name(kfp_render, "Secret")[name]
    assert name == ARTIFACT_SECRET and keys <= set(secret.get("stringData") or secret.get("data") or {})
    root = _by_name(kfp_render, "ConfigMap")["pipeline-install-config"]["data"]["bucketName"]
    assert root == ARTIFACT_BUCKET


def test_seaweedfs_networkpolicy_admits_the_node_port(kfp_render: list[dict]) -> None:
    policies = _by_name(kfp_render, "NetworkPolicy")
    ours = policies["labkit-seaweedfs-s3"]
    assert ours["metadata"]["namespace"] == "kubeflow"
    assert ours["spec"]["ingress"][0]["ports"] == [{"port": 8333, "protocol": "TCP"}]
    assert ours["spec"]["podSelector"]["matchLabels"].items() <= _pod_labels(kfp_render, "seaweedfs").items()
    assert "seaweedfs" in policies  # upstream's own policy stays; policies add up


def _pod_labels(docs: list[dict], deployment: str) -> dict[str, str]:
    return _by_name(docs, "Deployment")[deployment]["spec"]["template"]["metadata"]["labels"]


def test_backend_started_images_are_read_from_the_render(kfp_render: list[dict], mirror: Path) -> None:
    """Driver, launcher and argoexec are started at the first run, not at install; the render names them."""
    images = images_in_render(kfp_render)
    container_go = (mirror / BACKEND / "v2/compiler/argocompiler/container.go").read_text()
    for variable in ("LauncherImageEnvVar", "DriverImageEnvVar"):
        env = _go_constant(container_go, variable)
        assert any(
            e.get("name") == env and e.get("value") in images
            for e in _by_name(kfp_render, "Deployment")["ml-pipeline"]["spec"]["template"]["spec"]["containers"][0][
                "env"
            ]
        )
    assert {
        f"ghcr.io/kubeflow/kfp-driver:{KFP_MANIFESTS_REF}",
        f"ghcr.io/kubeflow/kfp-launcher:{KFP_MANIFESTS_REF}",
    } <= images
    assert any(image.startswith("quay.io/argoproj/argoexec:") for image in images)


def test_cluster_scoped_resources_render_from_the_mirror(kubectl: str, mirror: Path) -> None:
    docs = render_from_mirror(KFP / "cluster-scoped", mirror)
    crds = {d["metadata"]["name"] for d in docs if d["kind"] == "CustomResourceDefinition"}
    assert {"applications.app.k8s.io", "workflows.argoproj.io"} <= crds
