"""Policy and schema checks over every kit-authored manifest, and proof that the checks bite."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from labkit import cluster
from labkit.manifests import kind_config_violations, load_documents, policy_violations, render, schema_errors
from labkit.paths import REPO_ROOT
from labkit.versions import KIND_NODE_IMAGE, KUBERNETES_VERSION

MANIFESTS = REPO_ROOT / "manifests"
KIT_KUSTOMIZATIONS = ["environments/dev", "environments/test", "environments/prod", "serving"]
# kubernetes-validate ships schemas per minor; the node runs 1.32.x.
SCHEMA_VERSION = ".".join(KUBERNETES_VERSION.split(".")[:2]) + ".0"


@pytest.fixture(scope="module", params=KIT_KUSTOMIZATIONS)
def rendered(request: pytest.FixtureRequest, kubectl: str) -> list[dict]:
    return render(MANIFESTS / request.param)


def test_kit_manifests_pass_the_policy(rendered: list[dict]) -> None:
    assert policy_violations(rendered) == []


def test_kit_manifests_match_the_kubernetes_schemas(rendered: list[dict]) -> None:
    assert schema_errors(rendered, SCHEMA_VERSION) == []


def test_kfp_install_matches_the_schemas(kfp_render: list[dict]) -> None:
    assert schema_errors(kfp_render, SCHEMA_VERSION) == []


def test_environments_are_the_namespaces_the_cli_uses(kubectl: str) -> None:
    for env in ("dev", "test", "prod"):
        docs = render(MANIFESTS / "environments" / env)
        kinds = {d["kind"]: d for d in docs}
        assert kinds["Namespace"]["metadata"]["name"] == f"labkit-{env}"
        assert {d["metadata"].get("namespace") for d in docs if d["kind"] != "Namespace"} == {f"labkit-{env}"}
        assert {"ResourceQuota", "LimitRange"} <= set(kinds)


def test_serving_uses_the_mapped_port_and_the_model_name(kubectl: str) -> None:
    docs = {d["kind"]: d for d in render(MANIFESTS / "serving")}
    ports = {p["name"]: p for p in docs["Service"]["spec"]["ports"]}
    assert ports["rest"]["nodePort"] == cluster.SERVING_PORT and ports["rest"]["port"] == 8501
    args = docs["Deployment"]["spec"]["template"]["spec"]["containers"][0]["args"]
    assert "--model_name=penguins" in args and "--rest_api_port=8501" in args
    assert docs["Deployment"]["metadata"]["namespace"] == "labkit-prod"


def test_kind_config_binds_loopback_only_and_pins_the_node_by_digest() -> None:
    config = yaml.safe_load(cluster.KIND_CONFIG.read_text())
    assert kind_config_violations(config) == []
    assert config["nodes"][0]["image"] == KIND_NODE_IMAGE
    assert KIND_NODE_IMAGE.startswith(f"kindest/node:v{KUBERNETES_VERSION}@sha256:")


BAD_DEPLOYMENT = """
apiVersion: apps/v1
kind: Deployment
metadata: {name: careless}
spec:
  selector: {matchLabels: {app: careless}}
  template:
    metadata: {labels: {app: careless}}
    spec:
      containers:
        - name: app
          image: tensorflow/serving
          resources: {requests: {cpu: 10m}}
        - name: sidecar
          image: busybox:latest
          resources: {requests: {cpu: 1m, memory: 1Mi}, limits: {cpu: 1m, memory: 1Mi}}
          portz: [8080]
"""


def test_the_checks_bite_on_a_careless_manifest(tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(BAD_DEPLOYMENT)
    docs = load_documents(path)
    problems = policy_violations(docs)
    assert "Deployment/careless container app: no requests.memory" in problems
    assert "Deployment/careless container app: no limits.cpu" in problems
    assert any("'tensorflow/serving' has no tag" in p for p in problems)
    assert any("busybox:latest" in p and ":latest" in p for p in problems)
    errors = schema_errors(docs, SCHEMA_VERSION)
    assert len(errors) == 1 and "portz" in errors[0]


def test_the_kind_check_bites_on_an_open_port_and_a_floating_image() -> None:
    config = {
        "nodes": [
            {
                "image": "kindest/node:v1.32.2",
                "extraPortMappings": [{"containerPort": 30080, "hostPort": 30080}],
            }
        ]
    }
    problems = kind_config_violations(config)
    assert any("not pinned by digest" in p for p in problems)
    assert any("0.0.0.0" in p for p in problems)


def test_ci_and_devcontainer_use_the_kits_tool_pins() -> None:
    from labkit.versions import KIND_VERSION, KUBECTL_VERSION

    workflow = yaml.safe_load((REPO_ROOT / ".github" / "workflows" / "cluster-e2e.yml").read_text())
    assert workflow["env"] == {"KIND_VERSION": KIND_VERSION, "KUBECTL_VERSION": KUBECTL_VERSION}
    devcontainer = (REPO_ROOT / ".devcontainer" / "devcontainer.json").read_text()
    assert f'"version": "{KUBECTL_VERSION.lstrip("v")}"' in devcontainer
