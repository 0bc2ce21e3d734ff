"""The course cluster: kind + Kubeflow Pipelines 2.17 from the kit's manifests.

Everything here is idempotent so ``labkit cluster up`` can be run again after an interruption: the cluster is
created only when absent, manifests are server-side applied, and waits watch object state (``kubectl wait`` and
Kubernetes watches) instead of sleeping. Nothing prints: progress goes to the ``on_event`` callback.
"""

from __future__ import annotations

import platform
import shutil
import socket
import subprocess
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from labkit.doctor import Check
from labkit.manifests import localized
from labkit.paths import REPO_ROOT
from labkit.versions import COMPONENTS_IMAGE, KIND_NODE_IMAGE, KIND_VERSION, KUBECTL_VERSION, TFX_IMAGE

CLUSTER_NAME = "labkit"
KFP_NAMESPACE = "kubeflow"
MANIFESTS = REPO_ROOT / "manifests"
KIND_CONFIG = MANIFESTS / "kind" / "kind-config.yaml"
KFP_CLUSTER_SCOPED = MANIFESTS / "kfp" / "cluster-scoped"
KFP_OVERLAY = MANIFESTS / "kfp"
ENVIRONMENTS = MANIFESTS / "environments"

# NodePorts of the kit's overlay; kind maps each to the same port on 127.0.0.1 (manifests/kind/kind-config.yaml).
UI_PORT = 30080
API_PORT = 30888
OBJECT_STORE_PORT = 30833
SERVING_PORT = 30501
UI_URL = f"http://127.0.0.1:{UI_PORT}"
API_URL = f"http://127.0.0.1:{API_PORT}"

# Installing KFP pulls ~2 GB of images; kind's node, KFP (requests ~1.4 GiB after the kit's trim, from
# `python -m benchmarks.manifest_resources`) and one TensorFlow task need about this much memory free.
MIN_AVAILABLE_MEMORY_GIB = 4.0
# kind's known-issues page: below these, pods fail with "too many open files".
MIN_INOTIFY_WATCHES = 524288
MIN_INOTIFY_INSTANCES = 512
CRD_TIMEOUT = "120s"
DEPLOYMENT_TIMEOUT_SECONDS = 900

Runner = Callable[[list[str]], subprocess.CompletedProcess]


@dataclass(frozen=True)
class ClusterEvent:
    """One step of progress: ``done``/``total`` are set for steps that count (deployments ready, images)."""

    step: str
    message: str
    done: int | None = None
    total: int | None = None
    finished: bool = False


ClusterEventSink = Callable[[ClusterEvent], None]


class ClusterError(RuntimeError):
    """A step failed; ``fix`` says what to do."""

    def __init__(self, problem: str, fix: str = "") -> None:
        super().__init__(problem)
        self.fix = fix


class PrerequisiteError(ClusterError):
    def __init__(self, failed: list[Check]) -> None:
        self.failed = failed
        problems = "; ".join(f"{c.name}: {c.detail}" for c in failed)
        super().__init__(f"prerequisites missing: {problems}", "\n".join(f"{c.name}: {c.fix}" for c in failed))


@dataclass
class ClusterStatus:
    name: str
    exists: bool
    reachable: bool = False
    deployments: dict[str, tuple[int, int]] = field(default_factory=dict)
    ui_url: str = UI_URL

    @property
    def ready(self) -> bool:
        return self.reachable and bool(self.deployments) and all(r >= d for r, d in self.deployments.values())


# ---------------------------------------------------------------------------------------------- prerequisites


def _platform_arch(machine: str | None = None) -> str:
    machine = (machine or platform.machine()).lower()
    return "arm64" if machine in {"arm64", "aarch64"} else "amd64"


def kind_install_command(system: str | None = None, machine: str | None = None) -> str:
    """The exact command that installs the pinned kind (Windows users run it inside WSL2)."""
    system = (system or platform.system()).lower()
    system = "linux" if system == "windows" else system
    url = f"https://kind.sigs.k8s.io/dl/{KIND_VERSION}/kind-{system}-{_platform_arch(machine)}"
    return f"curl -Lo ./kind {url} && chmod +x ./kind && sudo mv ./kind /usr/local/bin/kind"


def kubectl_install_command(system: str | None = None, machine: str | None = None) -> str:
    system = (system or platform.system()).lower()
    system = "linux" if system == "windows" else system
    url = f"https://dl.k8s.io/release/{KUBECTL_VERSION}/bin/{system}/{_platform_arch(machine)}/kubectl"
    return f"curl -LO {url} && chmod +x kubectl && sudo mv kubectl /usr/local/bin/kubectl"


def check_tool(name: str, which: Callable[[str], str | None] = shutil.which) -> Check:
    installers = {"kind": kind_install_command, "kubectl": kubectl_install_command}
    path = which(name)
    if path:
        return Check(name, True, path, required=True)
    return Check(name, False, "not found on PATH", f"install it: {installers[name]()}", required=True)


def check_docker(run: Runner | None = None) -> Check:
    fix = "start Docker (Docker Desktop, or `sudo systemctl start docker`) and make sure `docker info` works"
    if run is None and not shutil.which("docker"):
        return Check("docker", False, "no docker CLI", "install Docker: https://docs.docker.com/get-docker/", True)
    run = run or _capture
    try:
        done = run(["docker", "info", "--format", "{{.ServerVersion}}"])
    except subprocess.TimeoutExpired:
        return Check("docker", False, "`docker info` did not answer in 20 s", fix, True)
    if done.returncode != 0:
        return Check("docker", False, "engine not reachable", fix, True)
    return Check("docker", True, f"engine {done.stdout.strip()}", required=True)


def check_memory(meminfo: Path = Path("/proc/meminfo"), docker_total_bytes: int | None = None) -> Check:
    """MemAvailable on Linux; elsewhere (Docker Desktop's VM) the engine's total memory is what counts."""
    fix = (
        f"free memory (close browsers/IDEs) or give Docker at least {MIN_AVAILABLE_MEMORY_GIB:.0f} GiB "
        "(Docker Desktop > Settings > Resources; WSL2: memory= in %UserProfile%\\.wslconfig)"
    )
    if meminfo.exists():
        fields = dict(line.split(":", 1) for line in meminfo.read_text().splitlines() if ":" in line)
        available = int(fields["MemAvailable"].split()[0]) / 2**20
        what = "available"
    elif docker_total_bytes:
        available = docker_total_bytes / 2**30
        what = "given to Docker"
    else:
        return Check("memory", True, "unknown (no /proc/meminfo); make sure Docker has 6+ GiB", required=False)
    ok = available >= MIN_AVAILABLE_MEMORY_GIB
    return Check("memory", ok, f"{available:.1f} GiB {what}", "" if ok else fix, required=True)


def check_inotify(proc_sys: Path = Path("/proc/sys/fs/inotify")) -> Check:
    if not proc_sys.exists():  # macOS/Windows hosts: the limits live in Docker's Linux VM, which sets them high
        return Check("inotify limits", True, "not a Linux host; Docker's VM manages them")
    watches = int((proc_sys / "max_user_watches").read_text())
    instances = int((proc_sys / "max_user_instances").read_text())
    ok = watches >= MIN_INOTIFY_WATCHES and instances >= MIN_INOTIFY_INSTANCES
    fix = (
        f"sudo sysctl fs.inotify.max_user_watches={MIN_INOTIFY_WATCHES} "
        f"fs.inotify.max_user_instances={MIN_INOTIFY_INSTANCES} "
        "(add both to /etc/sysctl.conf to keep them after a reboot)"
    )
    detail = f"max_user_watches={watches}, max_user_instances={instances}"
    return Check("inotify limits", ok, detail, "" if ok else fix, required=True)


def check_architecture(machine: str | None = None) -> Check:
    arch = (machine or platform.machine()).lower()
    if _platform_arch(arch) == "amd64":
        return Check("cpu architecture", True, arch)
    fix = (
        "KFP 2.17's images are amd64-only: on Apple Silicon turn on 'Use Rosetta for x86_64/amd64 emulation' "
        "in Docker Desktop (Settings > General); expect slower start-up (see manifests/README.md)"
    )
    return Check("cpu architecture", False, f"{arch}: images run under emulation", fix, required=False)


def port_is_free(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        try:
            sock.bind((host, port))
        except OSError:
            return False
    return True


def check_ports(ports: Iterable[int]) -> Check:
    busy = [port for port in ports if not port_is_free(port)]
    if not busy:
        return Check("host ports", True, f"free: {', '.join(map(str, ports))}", required=True)
    listing = ", ".join(map(str, busy))
    fix = (
        f"stop what listens on 127.0.0.1:{busy[0]} (find it with `sudo ss -ltnp 'sport = :{busy[0]}'` or "
        f"`lsof -iTCP:{busy[0]} -sTCP:LISTEN`); a different kind cluster may hold them: `kind get clusters`"
    )
    return Check("host ports", False, f"in use: {listing}", fix, required=True)


def kind_host_ports(config: Path = KIND_CONFIG) -> list[int]:
    """Host ports the kind config binds, so the port check and the config can never disagree."""
    document = yaml.safe_load(config.read_text())
    return [
        int(mapping["hostPort"]) for node in document.get("nodes", []) for mapping in node.get("extraPortMappings", [])
    ]


def run_prerequisite_checks(cluster_exists: bool = False) -> list[Check]:
    docker = check_docker()
    checks = [docker, check_tool("kind"), check_tool("kubectl"), check_memory(), check_inotify(), check_architecture()]
    if not cluster_exists:  # once the cluster runs, the ports are its own
        checks.append(check_ports(kind_host_ports()))
    return checks


# ---------------------------------------------------------------------------------------------- orchestration


def _capture(command: list[str]) -> subprocess.CompletedProcess:
    return subprocess.run(command, capture_output=True, text=True, timeout=20)


def _run(command: list[str], fix: str = "", timeout: float | None = None) -> str:
    """Run a tool; on failure raise with the command and the tail of its error output."""
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=timeout)
    except FileNotFoundError as exc:
        raise ClusterError(f"{command[0]} is not installed", fix) from exc
    except subprocess.TimeoutExpired as exc:
        raise ClusterError(f"`{' '.join(command)}` did not finish in {timeout:.0f} s", fix) from exc
    if done.returncode != 0:
        tail = "\n".join((done.stderr or done.stdout).strip().splitlines()[-8:])
        raise ClusterError(f"`{' '.join(command)}` failed:\n{tail}", fix)
    return done.stdout


def kube_context(name: str = CLUSTER_NAME) -> str:
    return f"kind-{name}"


def cluster_exists(name: str = CLUSTER_NAME) -> bool:
    if not shutil.which("kind"):
        return False
    return name in _run(["kind", "get", "clusters"]).split()


def create_cluster(name: str, on_event: ClusterEventSink, node_image: str | None = None) -> None:
    """Create the kind cluster, or check the existing one answers. ``node_image`` overrides the config's node
    image; an offline bundle passes its loaded copy, since ``docker load`` keeps no registry digest to match."""
    if cluster_exists(name):
        # A `kind create` interrupted half-way leaves a node container whose API never answers.
        try:
            kubectl(kube_context(name), "get", "--raw", "/readyz", timeout=30)
        except ClusterError as exc:
            raise ClusterError(
                f"kind cluster {name!r} exists but its API server does not answer",
                f"recreate it: `labkit cluster down --name {name}` then `labkit cluster up --name {name}`",
            ) from exc
        on_event(ClusterEvent("cluster", f"kind cluster {name!r} exists; reusing it", finished=True))
        return
    on_event(
        ClusterEvent("cluster", f"creating kind cluster {name!r} ({(node_image or KIND_NODE_IMAGE).split('@')[0]})")
    )
    _run(
        ["kind", "create", "cluster", "--name", name, "--config", str(KIND_CONFIG), "--wait", "180s"]
        + (["--image", node_image] if node_image else []),
        fix=f"read the error above; `kind delete cluster --name {name}` and retry if a half-made cluster remains",
    )
    on_event(ClusterEvent("cluster", f"kind cluster {name!r} created", finished=True))


def kubectl(context: str, *args: str, timeout: float | None = None) -> str:
    return _run(["kubectl", "--context", context, *args], fix="check `labkit cluster status`", timeout=timeout)


def apply_kustomization(context: str, path: Path) -> None:
    # Server-side apply: idempotent, and no 256 KiB last-applied annotation (Argo's CRDs exceed it).
    kubectl(context, "apply", "--server-side", "--force-conflicts", "-k", str(path), timeout=600)


def wait_for_crds(context: str) -> None:
    # KFP's install docs: the Application CRD must be established before env/platform-agnostic is applied.
    kubectl(context, "wait", "--for", "condition=established", "--timeout", CRD_TIMEOUT, "crd", "--all", timeout=180)


def _deployment_progress(deployment: Any) -> tuple[int, int]:
    desired = deployment.spec.replicas if deployment.spec.replicas is not None else 1
    return (deployment.status.available_replicas or 0), desired


def wait_for_deployments(
    context: str,
    on_event: ClusterEventSink,
    namespace: str = KFP_NAMESPACE,
    timeout_seconds: int = DEPLOYMENT_TIMEOUT_SECONDS,
) -> dict[str, tuple[int, int]]:
    """Watch every deployment in ``namespace`` until all are available, reporting each change."""
    from kubernetes import client, config, watch

    apps = client.AppsV1Api(config.new_client_from_config(context=context))
    listing = apps.list_namespaced_deployment(namespace)
    state = {d.metadata.name: _deployment_progress(d) for d in listing.items}
    if not state:
        raise ClusterError(f"no deployments in namespace {namespace!r}", "re-run `labkit cluster up`")

    def report() -> None:
        ready = sum(1 for r, d in state.values() if r >= d)
        waiting = sorted(name for name, (r, d) in state.items() if r < d)
        message = "all deployments available" if not waiting else f"waiting for {', '.join(waiting[:3])}"
        on_event(ClusterEvent("deployments", message, ready, len(state), finished=not waiting))

    report()
    if all(r >= d for r, d in state.values()):
        return state
    stream = watch.Watch().stream(
        apps.list_namespaced_deployment,
        namespace,
        resource_version=listing.metadata.resource_version,
        timeout_seconds=timeout_seconds,
    )
    for change in stream:
        deployment = change["object"]
        state[deployment.metadata.name] = _deployment_progress(deployment)
        report()
        if all(r >= d for r, d in state.values()):
            return state
    waiting = sorted(name for name, (r, d) in state.items() if r < d)
    raise ClusterError(
        f"deployments not available after {timeout_seconds} s: {', '.join(waiting)}",
        f"see why with `kubectl --context {context} -n {namespace} get pods` and "
        f"`kubectl --context {context} -n {namespace} describe deployment {waiting[0]}`; "
        "then run `labkit cluster up` again (it resumes)",
    )


def cluster_up(
    on_event: ClusterEventSink,
    name: str = CLUSTER_NAME,
    with_environments: bool = True,
    bundle: Path | None = None,
) -> str:
    """Create (or resume) the cluster and install KFP; returns the UI URL.

    With ``bundle`` (made by ``labkit cluster bundle``) nothing is pulled: the node image and every image of the
    install are loaded from the bundle's archives, and upstream's manifests come from its mirror.
    """
    from labkit.bundle import MIRROR_DIR, BundleError, bundle_problems, load_image, read_manifest

    manifest = None
    if bundle is not None:
        try:
            manifest = read_manifest(bundle)
            problems = bundle_problems(bundle, manifest)
        except BundleError as exc:
            raise ClusterError(str(exc), exc.fix) from exc
        if problems:
            raise ClusterError(
                f"the bundle {bundle} cannot install offline: " + "; ".join(problems),
                "complete it on a connected machine: `labkit cluster bundle --out DIR` resumes where it stopped",
            )
    exists = cluster_exists(name) if shutil.which("kind") else False
    checks = run_prerequisite_checks(cluster_exists=exists)
    for check in checks:
        on_event(ClusterEvent("check", f"{check.name}: {check.detail}", finished=check.ok))
    failed = [c for c in checks if c.required and not c.ok]
    if failed:
        raise PrerequisiteError(failed)
    node_image = None
    if manifest is not None and bundle is not None:
        node = manifest.node_image
        on_event(ClusterEvent("bundle", f"loading the kind node image {node.local_name} from the bundle"))
        try:
            load_image(bundle, node)
        except BundleError as exc:
            raise ClusterError(str(exc), exc.fix) from exc
        on_event(ClusterEvent("bundle", f"kind node image {node.local_name} loaded", finished=True))
        node_image = node.local_name
    create_cluster(name, on_event, node_image)
    context = kube_context(name)
    if manifest is not None and bundle is not None:
        load_bundle_images(bundle, [i.archive for i in manifest.images if i.role != "kind node"], name, on_event)
        with localized(KFP_OVERLAY, bundle / MIRROR_DIR) as overlay:
            install_kfp(context, overlay, overlay / "cluster-scoped", on_event)
    else:
        install_kfp(context, KFP_OVERLAY, KFP_CLUSTER_SCOPED, on_event)
    if with_environments:
        for env in ("dev", "test", "prod"):
            apply_kustomization(context, ENVIRONMENTS / env)
        on_event(ClusterEvent("kfp", "namespaces labkit-dev, labkit-test, labkit-prod ready", finished=True))
    wait_for_deployments(context, on_event)
    return UI_URL


def install_kfp(context: str, overlay: Path, cluster_scoped: Path, on_event: ClusterEventSink) -> None:
    on_event(ClusterEvent("kfp", "applying KFP cluster-scoped resources (CRDs, namespace)"))
    apply_kustomization(context, cluster_scoped)
    on_event(ClusterEvent("kfp", "waiting for the CRDs to be established"))
    wait_for_crds(context)
    on_event(ClusterEvent("kfp", "applying the kit's KFP overlay (env/platform-agnostic + laptop patches)"))
    apply_kustomization(context, overlay)


def load_bundle_images(bundle: Path, archives: list[str], cluster_name: str, on_event: ClusterEventSink) -> None:
    """``kind load image-archive`` each archive, so no pod of the install or of a run ever pulls."""
    from labkit.bundle import IMAGES_DIR

    for done, archive in enumerate(archives):
        on_event(ClusterEvent("load", f"loading {archive} into kind", done, len(archives)))
        _run(["kind", "load", "image-archive", str(bundle / IMAGES_DIR / archive), "--name", cluster_name], timeout=900)
    on_event(ClusterEvent("load", f"loaded {len(archives)} image archive(s)", len(archives), len(archives), True))


def cluster_down(name: str = CLUSTER_NAME) -> bool:
    """Delete the cluster; False when there was none (deleting twice is harmless)."""
    if not cluster_exists(name):
        return False
    _run(["kind", "delete", "cluster", "--name", name], fix="`docker ps` shows the node container; remove it")
    return True


def cluster_status(name: str = CLUSTER_NAME) -> ClusterStatus:
    status = ClusterStatus(name=name, exists=cluster_exists(name))
    if not status.exists:
        return status
    try:
        from kubernetes import client, config

        apps = client.AppsV1Api(config.new_client_from_config(context=kube_context(name)))
        listing = apps.list_namespaced_deployment(KFP_NAMESPACE, _request_timeout=10)
    except Exception:  # any failure here means "not reachable"; status must never raise
        return status
    status.reachable = True
    status.deployments = {d.metadata.name: _deployment_progress(d) for d in listing.items}
    return status


# ---------------------------------------------------------------------------------------------- images


def kit_images() -> list[str]:
    return [COMPONENTS_IMAGE, TFX_IMAGE]


def load_images_into_kind(
    images: Iterable[str], cluster_name: str, on_event: ClusterEventSink, skip_missing: bool = False
) -> list[str]:
    """``kind load docker-image`` each local image so pipeline tasks start without a registry pull.

    With ``skip_missing`` images not built locally are left out (reported in an event) instead of failing: the
    default set includes the TFX image, which only session 6 needs. Returns the images loaded.
    """
    images = list(images)
    if not cluster_exists(cluster_name):
        raise ClusterError(f"no kind cluster named {cluster_name!r}", "labkit cluster up")
    missing = [image for image in images if _capture(["docker", "image", "inspect", image]).returncode != 0]
    fix = "build them first with `labkit image build` (see `labkit image --help`)"
    if missing and (not skip_missing or len(missing) == len(images)):
        raise ClusterError(f"image(s) not built locally: {', '.join(missing)}", fix)
    if missing:
        on_event(ClusterEvent("images", f"skipping images not built locally: {', '.join(missing)}", finished=True))
    present = [image for image in images if image not in missing]
    for done, image in enumerate(present):
        on_event(ClusterEvent("load", f"loading {image}", done, len(present)))
        _run(["kind", "load", "docker-image", image, "--name", cluster_name], timeout=900)
    on_event(ClusterEvent("load", f"loaded {len(present)} image(s)", len(present), len(present), finished=True))
    return present
