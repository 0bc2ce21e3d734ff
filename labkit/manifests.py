"""Offline checks of the kit's Kubernetes manifests: render, policy, schemas, resource sums.

Shared by the test suite (tests/manifests) and benchmarks/manifest_resources.py. Rendering uses
``kubectl kustomize``, which works offline for local directories; the upstream KFP bases need network.
"""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

WORKLOAD_KINDS = {"Deployment", "StatefulSet", "DaemonSet", "Job", "ReplicaSet"}


class RenderError(RuntimeError):
    pass


def render(path: Path, timeout: float = 300) -> list[dict[str, Any]]:
    kubectl = shutil.which("kubectl")
    if not kubectl:
        raise RenderError("kubectl is not on PATH; it renders kustomizations (`kubectl kustomize DIR`)")
    done = subprocess.run([kubectl, "kustomize", str(path)], capture_output=True, text=True, timeout=timeout)
    if done.returncode != 0:
        raise RenderError(f"kubectl kustomize {path} failed: {done.stderr.strip()}")
    return [doc for doc in yaml.safe_load_all(done.stdout) if doc]


def load_documents(path: Path) -> list[dict[str, Any]]:
    return [doc for doc in yaml.safe_load_all(path.read_text()) if doc]


@dataclass(frozen=True)
class Container:
    owner: str  # Kind/name
    name: str
    spec: dict[str, Any]
    init: bool


def pod_spec(doc: dict[str, Any]) -> dict[str, Any] | None:
    kind = doc.get("kind")
    if kind == "Pod":
        return doc.get("spec", {})
    if kind == "CronJob":
        return doc["spec"]["jobTemplate"]["spec"]["template"].get("spec", {})
    if kind in WORKLOAD_KINDS:
        return doc.get("spec", {}).get("template", {}).get("spec", {})
    return None


def containers(docs: list[dict[str, Any]]) -> Iterator[Container]:
    for doc in docs:
        spec = pod_spec(doc)
        if spec is None:
            continue
        owner = f"{doc['kind']}/{doc['metadata']['name']}"
        for init, key in ((True, "initContainers"), (False, "containers")):
            for container in spec.get(key) or []:
                yield Container(owner, container["name"], container, init)


def image_violation(image: str) -> str | None:
    """Why an image reference is not pinned, or None. A digest pins; otherwise a tag other than latest/master."""
    if "@sha256:" in image:
        return None
    last = image.rsplit("/", 1)[-1]
    if ":" not in last:
        return "has no tag (means :latest)"
    tag = last.split(":", 1)[1]
    if tag in {"latest", "master", "main", "dummy"}:
        return f"uses the floating tag :{tag}"
    return None


def policy_violations(docs: list[dict[str, Any]]) -> list[str]:
    """The kit's rules: every container has cpu+memory requests and limits; every image is pinned."""
    found: list[str] = []
    for c in containers(docs):
        where = f"{c.owner} container {c.name}"
        resources = c.spec.get("resources") or {}
        for section in ("requests", "limits"):
            for resource in ("cpu", "memory"):
                if resource not in (resources.get(section) or {}):
                    found.append(f"{where}: no {section}.{resource}")
        problem = image_violation(c.spec.get("image", ""))
        if problem:
            found.append(f"{where}: image {c.spec.get('image')!r} {problem}")
    return found


def kind_config_violations(config: dict[str, Any]) -> list[str]:
    found = []
    for index, node in enumerate(config.get("nodes", [])):
        image = node.get("image", "")
        if "@sha256:" not in image:
            found.append(f"node {index}: image {image!r} is not pinned by digest")
        for mapping in node.get("extraPortMappings", []):
            if mapping.get("listenAddress") != "127.0.0.1":
                found.append(
                    f"node {index}: hostPort {mapping.get('hostPort')} listens on "
                    f"{mapping.get('listenAddress', '0.0.0.0 (default)')}, not 127.0.0.1"
                )
    return found


def schema_errors(docs: list[dict[str, Any]], kubernetes_version: str) -> list[str]:
    """kubernetes-validate (bundled OpenAPI schemas, strict: unknown fields are errors)."""
    import kubernetes_validate

    errors = []
    for doc in docs:
        try:
            kubernetes_validate.validate(doc, kubernetes_version, strict=True)
        except kubernetes_validate.ValidationError as exc:
            errors.append(f"{doc.get('kind')}/{doc.get('metadata', {}).get('name')}: {exc.message}")
    return errors


_SUFFIX = {"Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40, "k": 1e3, "M": 1e6, "G": 1e9, "T": 1e12}


def cpu_millicores(value: str | int | float) -> float:
    text = str(value)
    return float(text[:-1]) if text.endswith("m") else float(text) * 1000


def memory_mib(value: str | int | float) -> float:
    text = str(value)
    for suffix, factor in _SUFFIX.items():
        if text.endswith(suffix):
            return float(text[: -len(suffix)]) * factor / 2**20
    return float(text) / 2**20


@dataclass
class ResourceSum:
    containers: int = 0
    requests_cpu_m: float = 0
    requests_memory_mib: float = 0
    limits_cpu_m: float = 0
    limits_memory_mib: float = 0
    without_requests: int = 0
    without_limits: int = 0


def resource_sums(docs: list[dict[str, Any]], include_init: bool = False) -> ResourceSum:
    """Sum of the long-running containers' requests and limits, times replicas."""
    total = ResourceSum()
    for doc in docs:
        spec = pod_spec(doc)
        if spec is None or doc["kind"] in {"Job", "CronJob"}:
            continue
        replicas = doc.get("spec", {}).get("replicas", 1) or 1
        keys = ["containers", "initContainers"] if include_init else ["containers"]
        for container in (c for key in keys for c in spec.get(key) or []):
            resources = container.get("resources") or {}
            requests, limits = resources.get("requests") or {}, resources.get("limits") or {}
            total.containers += replicas
            total.requests_cpu_m += replicas * cpu_millicores(requests.get("cpu", 0))
            total.requests_memory_mib += replicas * memory_mib(requests.get("memory", 0))
            total.limits_cpu_m += replicas * cpu_millicores(limits.get("cpu", 0))
            total.limits_memory_mib += replicas * memory_mib(limits.get("memory", 0))
            total.without_requests += replicas * (not requests)
            total.without_limits += replicas * (not limits)
    return total


# ---------------------------------------------------------------------------------------------- upstream stand-in
# What the kit's patches touch in upstream KFP 2.17.0's env/platform-agnostic: upstream's deployment and service
# names, ports and container requests (read from kubeflow/pipelines manifests/kustomize). KFP images carry the base's
# placeholder tag `dummy` (upstream's own `images:` replaces it); third-party image tags here are illustrative.
# It lets the kit's component render offline, in tests and in benchmarks/manifest_resources.py. Written for that
# purpose, not copied. Deployments whose requests were not read are listed without them (counted as "none").
# name -> (container image, upstream requests or None)
UPSTREAM_DEPLOYMENTS: dict[str, tuple[str, dict[str, str] | None]] = {
    "ml-pipeline": ("ghcr.io/kubeflow/kfp-api-server:dummy", {"cpu": "250m", "memory": "500Mi"}),
    "ml-pipeline-ui": ("ghcr.io/kubeflow/kfp-frontend:dummy", {"cpu": "10m", "memory": "70Mi"}),
    "ml-pipeline-persistenceagent": (
        "ghcr.io/kubeflow/kfp-persistence-agent:dummy",
        {"cpu": "120m", "memory": "500Mi"},
    ),
    "ml-pipeline-scheduledworkflow": ("ghcr.io/kubeflow/kfp-scheduled-workflow-controller:dummy", None),
    "ml-pipeline-viewer-crd": ("ghcr.io/kubeflow/kfp-viewer-crd-controller:dummy", None),
    "metadata-writer": ("ghcr.io/kubeflow/kfp-metadata-writer:dummy", None),
    "metadata-envoy-deployment": ("ghcr.io/kubeflow/kfp-metadata-envoy:dummy", None),
    "cache-server": ("ghcr.io/kubeflow/kfp-cache-server:dummy", None),
    "mysql": ("mysql:8.4", {"cpu": "100m", "memory": "800Mi"}),
    "seaweedfs": ("chrislusf/seaweedfs:3.92", {"cpu": "32m", "memory": "128Mi"}),
    "workflow-controller": ("quay.io/argoproj/workflow-controller:v3.6.7", None),
}
UPSTREAM_SERVICES: dict[str, list[dict[str, Any]]] = {
    "ml-pipeline": [{"name": "http", "port": 8888}, {"name": "grpc", "port": 8887}],
    "ml-pipeline-ui": [{"port": 80, "targetPort": 3000}],
    "seaweedfs": [
        {"name": "http-s3", "port": 8333},
        {"name": "http-s3-compat", "port": 9000, "targetPort": 8333},
        {"name": "http-filer", "port": 8888},
    ],
}


def upstream_standin_documents() -> list[dict[str, Any]]:
    docs: list[dict[str, Any]] = []
    for name, (image, requests) in UPSTREAM_DEPLOYMENTS.items():
        container: dict[str, Any] = {"name": "main", "image": image}
        if requests:
            container["resources"] = {"requests": requests}
        docs.append(
            {
                "apiVersion": "apps/v1",
                "kind": "Deployment",
                "metadata": {"name": name, "namespace": "kubeflow"},
                "spec": {
                    "selector": {"matchLabels": {"app": name}},
                    "template": {"metadata": {"labels": {"app": name}}, "spec": {"containers": [container]}},
                },
            }
        )
    for name, ports in UPSTREAM_SERVICES.items():
        docs.append(
            {
                "apiVersion": "v1",
                "kind": "Service",
                "metadata": {"name": name, "namespace": "kubeflow"},
                "spec": {"selector": {"app": name}, "ports": ports},
            }
        )
    return docs
