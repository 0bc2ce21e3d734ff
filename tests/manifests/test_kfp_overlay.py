"""The kit's KFP overlay: its component rendered offline over a stand-in of upstream, and its pins."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import yaml

from labkit import cluster
from labkit.manifests import policy_violations, render, resource_sums
from labkit.paths import REPO_ROOT
from labkit.versions import KFP_MANIFESTS_REF

KFP = REPO_ROOT / "manifests" / "kfp"
UPSTREAM = "https://github.com/kubeflow/pipelines//manifests/kustomize"


def _by_name(docs: list[dict], kind: str) -> dict[str, dict]:
    return {d["metadata"]["name"]: d for d in docs if d["kind"] == kind}


def test_overlays_reference_upstream_by_url_at_the_pinned_ref() -> None:
    main = yaml.safe_load((KFP / "kustomization.yaml").read_text())
    scoped = yaml.safe_load((KFP / "cluster-scoped" / "kustomization.yaml").read_text())
    assert main["resources"] == [f"{UPSTREAM}/env/platform-agnostic?ref={KFP_MANIFESTS_REF}"]
    assert scoped["resources"] == [f"{UPSTREAM}/cluster-scoped-resources?ref={KFP_MANIFESTS_REF}"]
    assert main["components"] == ["laptop"]


def test_no_upstream_workload_is_copied_into_the_repo() -> None:
    """Only the kit's own objects live here (patches are not objects); upstream comes by URL."""
    kinds = set()
    for path in KFP.rglob("*.yaml"):
        for doc in yaml.safe_load_all(path.read_text()):
            if isinstance(doc, dict) and "metadata" in doc and "spec" in doc and "template" in doc["spec"]:
                kinds.add(f"{path.name}:{doc['kind']}")
    assert kinds == set()


def test_nodeports_match_the_kind_config_and_the_cli(laptop_overlay: Path) -> None:
    services = _by_name(render(laptop_overlay), "Service")
    node_ports = {
        name: {p["port"]: p.get("nodePort") for p in svc["spec"]["ports"]}
        for name, svc in services.items()
        if svc["spec"].get("type") == "NodePort"
    }
    assert node_ports["ml-pipeline-ui"][80] == cluster.UI_PORT
    assert node_ports["ml-pipeline"][8888] == cluster.API_PORT
    assert node_ports["seaweedfs"][8333] == cluster.OBJECT_STORE_PORT
    assert node_ports["seaweedfs"][9000] is None  # only the S3 port is pinned; the alias stays internal
    mapped = set(cluster.kind_host_ports())
    assert {cluster.UI_PORT, cluster.API_PORT, cluster.OBJECT_STORE_PORT, cluster.SERVING_PORT} == mapped


def test_every_deployment_gets_requests_and_limits_and_pinned_images(laptop_overlay: Path) -> None:
    docs = render(laptop_overlay)
    assert policy_violations(docs) == []
    deployments = _by_name(docs, "Deployment")
    api = deployments["ml-pipeline"]["spec"]["template"]["spec"]["containers"][0]
    assert api["resources"] == {"requests": {"cpu": "50m", "memory": "128Mi"}, "limits": {"cpu": 1, "memory": "512Mi"}}
    assert api["image"] == "ghcr.io/kubeflow/kfp-api-server:2.17.0"
    scheduled = deployments["ml-pipeline-scheduledworkflow"]["spec"]["template"]["spec"]["containers"][0]
    assert scheduled["resources"]["limits"] == {"cpu": "500m", "memory": "192Mi"}  # the default reached it


def test_trimmed_requests_fit_an_8_gb_laptop(laptop_overlay: Path, upstream_standin: list[dict]) -> None:
    kit = resource_sums(render(laptop_overlay))
    upstream = resource_sums(upstream_standin)
    assert kit.requests_memory_mib < upstream.requests_memory_mib / 2
    assert kit.requests_memory_mib < 1024 and kit.limits_memory_mib < 4096
    assert kit.without_limits == 0 and upstream.without_limits == upstream.containers


def test_seaweedfs_networkpolicy_admits_the_node_port(laptop_overlay: Path) -> None:
    policy = _by_name(render(laptop_overlay), "NetworkPolicy")["labkit-seaweedfs-s3"]
    assert policy["metadata"]["namespace"] == "kubeflow"
    assert policy["spec"]["ingress"][0]["ports"] == [{"port": 8333, "protocol": "TCP"}]


@pytest.mark.skipif(
    os.environ.get("LABKIT_ONLINE") != "1", reason="needs network: set LABKIT_ONLINE=1 to fetch upstream"
)
def test_full_overlay_renders_from_upstream(kubectl: str) -> None:
    docs = render(KFP, timeout=600)
    deployments = _by_name(docs, "Deployment")
    assert {"ml-pipeline", "ml-pipeline-ui", "seaweedfs", "mysql"} <= set(deployments)
    assert policy_violations([d for d in docs if d["kind"] == "Deployment"]) == []
    assert _by_name(docs, "Service")["ml-pipeline-ui"]["spec"]["type"] == "NodePort"
