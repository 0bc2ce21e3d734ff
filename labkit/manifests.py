"""Offline checks of the kit's Kubernetes manifests: render, policy, schemas, resource sums.

Shared by the cluster commands, the test suite (tests/manifests) and benchmarks/manifest_resources.py.
Rendering uses ``kubectl kustomize``; upstream bases come from GitHub, or with no network from a mirror laid out
by URL (``render_from_mirror``).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile
import urllib.parse
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
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


def node_port_problems(docs: list[dict[str, Any]], wanted: dict[tuple[str, int], int]) -> list[str]:
    """Where the render does not expose ``(service, port)`` on the wanted NodePort (the one kind maps)."""
    services = {d["metadata"]["name"]: d for d in docs if d.get("kind") == "Service"}
    found = []
    for (name, port), node_port in sorted(wanted.items()):
        service = services.get(name)
        if service is None:
            found.append(f"service {name} is not in the render")
            continue
        spec = service.get("spec", {})
        entry = next((p for p in spec.get("ports", []) if p.get("port") == port), None)
        if spec.get("type") != "NodePort":
            found.append(f"service {name} is type {spec.get('type', 'ClusterIP')}, not NodePort")
        elif entry is None:
            found.append(f"service {name} has no port {port}")
        elif entry.get("nodePort") != node_port:
            got = entry.get("nodePort") or "none (Kubernetes picks a random one that kind does not map)"
            found.append(f"service {name} port {port}: nodePort {got}, want {node_port}")
    return found


def _env_value(env: dict[str, Any], config_maps: dict[str, dict[str, Any]]) -> str | None:
    if "value" in env:
        return str(env["value"])
    ref = (env.get("valueFrom") or {}).get("configMapKeyRef")
    if ref:
        return (config_maps.get(ref.get("name", "")) or {}).get("data", {}).get(ref.get("key", ""))
    return None


def images_in_render(docs: list[dict[str, Any]]) -> set[str]:
    """Every image a rendered install will run, those the backend starts later included.

    Besides the pods' own containers, KFP's API server starts driver and launcher containers from its
    ``V2_DRIVER_IMAGE``/``V2_LAUNCHER_IMAGE`` env (backend/src/v2/compiler/argocompiler/container.go,
    GetDriverImage/GetLauncherImage), the cache server's webhook uses ``CACHE_IMAGE``, and Argo's controller
    injects its ``--executor-image`` (argoexec) into every workflow pod. Each is read from the render.
    """
    config_maps = {d["metadata"]["name"]: d for d in docs if d.get("kind") == "ConfigMap"}
    found: set[str] = set()
    for container in containers(docs):
        if container.spec.get("image"):
            found.add(container.spec["image"])
        for env in container.spec.get("env") or []:
            if env.get("name", "").endswith("_IMAGE"):
                value = _env_value(env, config_maps)
                if value:
                    found.add(value)
        words = [*(container.spec.get("command") or []), *(container.spec.get("args") or [])]
        for index, word in enumerate(words):
            if word == "--executor-image" and index + 1 < len(words):
                found.add(words[index + 1])
            elif word.startswith("--executor-image="):
                found.add(word.split("=", 1)[1])
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
    # "workload/container" -> its requests as [millicores, MiB], limits as [millicores, MiB] (0 where unset)
    per_container: dict[str, list[float]] = field(default_factory=dict)


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
            total.per_container[f"{doc['metadata']['name']}/{container['name']}"] = [
                cpu_millicores(requests.get("cpu", 0)),
                memory_mib(requests.get("memory", 0)),
                cpu_millicores(limits.get("cpu", 0)),
                memory_mib(limits.get("memory", 0)),
            ]
    return total


# ---------------------------------------------------------------------------------------------- upstream mirror
# The kit's kustomizations reference upstream by URL (`https://github.com/ORG/REPO//PATH?ref=REF`), and so do
# upstream's own (KFP's third-party/argo pulls argo-workflows). A mirror lays those trees out by URL, as
# `MIRROR/github.com/ORG/REPO@REF/PATH`, so that the very same references render with no network: in tests
# (../shared/upstream), and in a classroom from an offline bundle (`labkit cluster bundle`).
MIRROR_ENV = "LABKIT_UPSTREAM_MIRROR"
_REMOTE = re.compile(
    r"^(?:https://|git::https://)?github\.com/(?P<org>[\w.-]+)/(?P<repo>[\w-]+(?:\.[\w-]+)*?)(?:\.git)?"
    r"/+(?P<path>[^?]*)\?(?P<query>.+)$"
)
_REFERENCE_KEYS = ("resources", "components", "bases")


class MirrorError(RenderError):
    pass


@dataclass(frozen=True)
class RemoteReference:
    """A kustomize remote base: repository, path in it and the git ref it is pinned to."""

    org: str
    repo: str
    path: str
    ref: str

    def repository_in(self, mirror: Path) -> Path:
        return mirror / "github.com" / self.org / f"{self.repo}@{self.ref}"

    def in_mirror(self, mirror: Path) -> Path:
        return self.repository_in(mirror) / self.path

    @property
    def repository(self) -> str:
        return f"{self.org}/{self.repo}"


def parse_remote(entry: str) -> RemoteReference | None:
    """The remote reference in a kustomization entry, or None for a local path.

    A remote entry without ``ref=`` floats with the default branch; it is refused rather than mirrored.
    """
    match = _REMOTE.match(entry)
    if not match:
        if entry.startswith(("https://", "http://", "git::", "github.com/")):
            raise MirrorError(f"remote reference {entry!r} is not a pinned GitHub reference (…?ref=TAG)")
        return None
    query = urllib.parse.parse_qs(match["query"])
    if "ref" not in query:
        raise MirrorError(f"remote reference {entry!r} has no ref=: it would float with the default branch")
    return RemoteReference(match["org"], match["repo"], match["path"].strip("/"), query["ref"][0])


def kustomization_file(directory: Path) -> Path | None:
    for name in ("kustomization.yaml", "kustomization.yml", "Kustomization"):
        if (directory / name).is_file():
            return directory / name
    return None


class _KustomizeLoader(yaml.SafeLoader):
    """PyYAML reads a bare ``=`` as its value tag, which kustomize files use as a plain string (a delimiter)."""


_KustomizeLoader.add_constructor("tag:yaml.org,2002:value", lambda loader, node: loader.construct_scalar(node))


def _entries(kustomization: Path) -> list[tuple[str, RemoteReference]]:
    document = yaml.load(kustomization.read_text(), Loader=_KustomizeLoader) or {}
    found = []
    for key in _REFERENCE_KEYS:
        for entry in document.get(key) or []:
            reference = parse_remote(str(entry))
            if reference:
                found.append((str(entry), reference))
    return found


def remote_references(root: Path) -> list[tuple[Path, RemoteReference]]:
    """Every remote reference in the kustomizations under ``root``: (kustomization file, reference)."""
    return [(path, reference) for path in sorted(root.rglob("kustomization.y*ml")) for _, reference in _entries(path)]


def default_mirror() -> Path | None:
    """``$LABKIT_UPSTREAM_MIRROR``, else the course's shared mirror beside the checkout, if there is one."""
    from labkit.paths import REPO_ROOT

    configured = os.environ.get(MIRROR_ENV)
    if configured:
        return Path(configured)
    beside = REPO_ROOT.parent / "shared" / "upstream"
    return beside if beside.is_dir() else None


def _rewrite_references(kustomization: Path, mirror: Path) -> list[RemoteReference]:
    """Point every remote entry of one kustomization at the mirror, by a relative path; the rest stays byte-equal."""
    text = kustomization.read_text()
    entries = _entries(kustomization)
    for entry, reference in entries:
        target = reference.in_mirror(mirror)
        if not target.exists():
            raise MirrorError(
                f"{entry} (in {kustomization}) is not in the mirror: expected {target.relative_to(mirror.parent)}"
            )
        item = re.compile(rf"^(\s*-\s*[\"']?){re.escape(entry)}([\"']?\s*)$", re.MULTILINE)
        local = os.path.relpath(target, kustomization.parent)
        text = item.sub(lambda m, local=local: m[1] + local + m[2], text)
    if entries:
        kustomization.write_text(text)
    return [reference for _, reference in entries]


def localize(source: Path, mirror: Path, workdir: Path) -> Path:
    """Copy ``source`` (a folder of kustomizations) and ``mirror`` into ``workdir``, remote references rewritten.

    Returns the copy of ``source``. Both are copied because upstream's kustomizations refer to further remote
    bases and kustomize renders them in place; the originals are never written.
    """
    if not (mirror / "github.com").is_dir():
        raise MirrorError(f"{mirror} is not an upstream mirror (no github.com/ folder in it)")
    local_mirror = workdir / "upstream"
    shutil.copytree(mirror, local_mirror, symlinks=True)
    local_source = workdir / "source"
    shutil.copytree(source, local_source, symlinks=True)
    for root in (local_mirror, local_source):
        for path in sorted(root.rglob("kustomization.y*ml")):
            _rewrite_references(path, local_mirror)
    return local_source


@contextmanager
def localized(path: Path, mirror: Path, source: Path | None = None) -> Iterator[Path]:
    """A temporary, mirror-backed copy of the kustomization at ``path`` (inside ``source``, default its own folder)."""
    source = source or path
    with tempfile.TemporaryDirectory(prefix="labkit-render-") as tmp:
        copy = localize(source, mirror, Path(tmp))
        yield copy / path.relative_to(source)


def render_from_mirror(
    path: Path, mirror: Path, source: Path | None = None, patch: Callable[[Path], None] | None = None
) -> list[dict[str, Any]]:
    """Render a kustomization whose remote bases come from ``mirror``, with no network.

    ``patch`` may edit the temporary copy first (tests render variants of the kit's overlay that way).
    """
    with localized(path, mirror, source) as local:
        if patch:
            patch(local)
        return render(local)


def without_components(copy: Path) -> None:
    """A ``patch`` for render_from_mirror: the kustomization without its components (upstream as shipped)."""
    kustomization = copy / "kustomization.yaml"
    document = yaml.safe_load(kustomization.read_text())
    document.pop("components", None)
    kustomization.write_text(yaml.safe_dump(document))
