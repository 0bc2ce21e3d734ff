"""Where submission code runs: a locked-down container, or a rlimited subprocess where Docker is missing.

The grader process never imports submission code. Both backends run ``worker.py`` with a wall-time limit,
a cap on captured output and resource limits, and return what happened; neither interprets it.
"""

from __future__ import annotations

import contextlib
import ctypes
import functools
import itertools
import os
import secrets
import shutil
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from components.common.images import COMPONENTS_IMAGE, TFX_IMAGE
from labkit.paths import REPO_ROOT

WORKER = Path(__file__).resolve().parent / "worker.py"
NOBODY = 65534
SANDBOX_UID_BASE = 200_000  # above any real account; see _sandbox_uid
CLONE_NEWNET = 0x40000000
TFX_IMAGE_ROOT = "/opt/labkit"  # where the TFX image keeps the session-6 module files (no solution)
TFX_MODULES = "/grader/modules"


@dataclass(frozen=True)
class Limits:
    wall_seconds: float = 120.0
    memory_mb: int = 3072
    cpus: float = 1.0
    pids: int = 256
    output_bytes: int = 256 * 1024  # kept for the report
    output_kill_bytes: int = 16 * 1024 * 1024  # a run printing more than this is stopped
    file_mb: int = 256
    open_files: int = 512


@dataclass
class SandboxRun:
    exit_code: int | None
    timed_out: bool
    output: str
    output_bytes: int
    output_flooded: bool
    wall_seconds: float
    backend: str


class Sandbox(Protocol):
    name: str
    description: str
    engines: tuple[str, ...]

    def run_worker(self, submission: Path, scratch: Path, worker_args: list[str], limits: Limits) -> SandboxRun: ...


class _OutputPump(threading.Thread):
    """Keeps the head of a stream, counts the rest, and flags a flood so the caller can stop the run."""

    def __init__(self, stream, keep: int, kill_at: int) -> None:
        super().__init__(daemon=True)
        self._stream, self._keep, self._kill_at = stream, keep, kill_at
        self.head = bytearray()
        self.total = 0
        self.flooded = threading.Event()

    def run(self) -> None:
        while chunk := self._stream.read1(65536) if hasattr(self._stream, "read1") else self._stream.read(65536):
            self.total += len(chunk)
            if len(self.head) < self._keep:
                self.head.extend(chunk[: self._keep - len(self.head)])
            if self.total > self._kill_at:
                self.flooded.set()


def _supervise(command: list[str], limits: Limits, backend: str, kill, preexec=None, env=None, cwd=None) -> SandboxRun:
    start = time.monotonic()
    process = subprocess.Popen(
        command,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,
        preexec_fn=preexec,
        env=env,
        cwd=cwd,
    )
    pump = _OutputPump(process.stdout, limits.output_bytes, limits.output_kill_bytes)
    pump.start()
    timed_out = False
    while process.poll() is None:
        if time.monotonic() - start > limits.wall_seconds:
            timed_out = True
            break
        if pump.flooded.is_set():
            break
        time.sleep(0.05)
    if process.poll() is None:
        kill(process)
        process.wait()
    else:
        kill(process)  # children the worker left behind (a fork bomb's, say) die with their group
    pump.join(timeout=5)
    text = pump.head.decode("utf-8", "replace")
    if pump.total > len(pump.head):
        text += f"\n[... {pump.total - len(pump.head)} more bytes of output dropped by the grader]\n"
    return SandboxRun(
        exit_code=None if timed_out or pump.flooded.is_set() else process.returncode,
        timed_out=timed_out,
        output=text,
        output_bytes=pump.total,
        output_flooded=pump.flooded.is_set(),
        wall_seconds=round(time.monotonic() - start, 2),
        backend=backend,
    )


def _kill_group(process: subprocess.Popen) -> None:
    with contextlib.suppress(OSError):
        os.killpg(process.pid, signal.SIGKILL)


def _processes_of(uid: int) -> int:
    count = 0
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError):
                if entry.stat().st_uid == uid:
                    count += 1
    return count


def _kill_uid(uid: int, rounds: int = 5) -> None:
    for _ in range(rounds):
        pids = []
        for entry in Path("/proc").iterdir():
            if entry.name.isdigit():
                with contextlib.suppress(OSError):
                    if entry.stat().st_uid == uid:
                        pids.append(int(entry.name))
        if not pids:
            return
        for pid in pids:
            with contextlib.suppress(OSError):
                os.kill(pid, signal.SIGKILL)
        time.sleep(0.05)


@functools.cache
def _can_unshare_network() -> bool:
    probe = "import ctypes, sys; sys.exit(ctypes.CDLL(None, use_errno=True).unshare(0x40000000) != 0)"
    return subprocess.run([sys.executable, "-I", "-c", probe], capture_output=True).returncode == 0


_uid_counter = itertools.count()


def _sandbox_uid() -> int:
    """A user id no account owns, different for each concurrent run.

    RLIMIT_NPROC counts every process of a user: with one shared ``nobody``, a fork bomb in one submission
    would starve the submission graded next to it. Per-run ids keep their process budgets apart.
    """
    return SANDBOX_UID_BASE + (os.getpid() % 4096) * 64 + next(_uid_counter) % 64


def _world_executable(path: Path) -> bool:
    """Whether user ``nobody`` can run ``path``: every parent folder must be world-searchable."""
    path = path.resolve()
    if not path.is_file() or not path.stat().st_mode & 0o001:
        return False
    return all(parent.stat().st_mode & 0o001 for parent in path.parents)


def _interpreter_for_nobody() -> tuple[str, list[str]] | None:
    """A Python that ``nobody`` may execute, with this environment's site-packages if it must borrow them.

    A venv whose base interpreter sits under a private home (e.g. pyenv in /root) cannot be run by another
    user; the system interpreter of the same minor version can load the same wheels.
    """
    import site
    import sysconfig

    if _world_executable(Path(sys.executable)):
        return sys.executable, []
    version = f"python{sys.version_info.major}.{sys.version_info.minor}"
    for candidate in (Path("/usr/bin") / version, Path("/usr/local/bin") / version):
        if _world_executable(candidate):
            site_dirs = [sysconfig.get_paths()["purelib"], *site.getsitepackages()]
            readable = [d for d in dict.fromkeys(site_dirs) if Path(d).is_dir()]
            return str(candidate), readable
    return None


def hide_from_other_users() -> None:
    """Make every lab's hidden folder and solution file private to their owner (the grader, as root).

    A submission running as another uid then cannot read the hidden checks or import the reference solution.
    Only what the grader's own user owns is touched; git does not track these modes.
    """
    from labkit.labs import list_labs

    for lab in list_labs():
        for path, mode in ((lab.folder / "hidden", 0o700), (lab.solution, 0o600)):
            with contextlib.suppress(OSError):
                if path.exists() and path.stat().st_uid == os.geteuid() and path.stat().st_mode & 0o077:
                    path.chmod(mode)


class SubprocessSandbox:
    """rlimits + a new session + a clean environment. As root it also drops to ``nobody`` and, where the
    kernel allows, enters an empty network namespace. Without root neither is possible, and the report says so.
    """

    name = "subprocess"
    engines = ("kfp",)

    def __init__(self) -> None:
        self.python, self.site_dirs = sys.executable, []
        self.drop_to_nobody = False
        if os.geteuid() == 0:
            found = _interpreter_for_nobody()
            if found:
                self.python, self.site_dirs = found
                self.drop_to_nobody = True

    @property
    def description(self) -> str:
        if self.drop_to_nobody:
            network = "no network (own namespace)" if _can_unshare_network() else "network NOT blocked"
            return (
                f"subprocess (weaker than a container: rlimits, an unprivileged uid, {network}; hidden rubrics "
                "and solutions are made private to the grader, but it can read other world-readable files and "
                "write to /tmp)"
            )
        return "subprocess (weaker: no network or filesystem isolation, only rlimits and a time limit)"

    def run_worker(self, submission: Path, scratch: Path, worker_args: list[str], limits: Limits) -> SandboxRun:
        import resource

        cwd = scratch / "cwd"  # empty and not writable: `python -m` puts the cwd first on sys.path in every task
        cwd.mkdir(exist_ok=True)
        home = scratch / "home"
        home.mkdir(exist_ok=True)
        out = scratch / "out"
        out.mkdir(exist_ok=True)
        uid = _sandbox_uid()
        if self.drop_to_nobody:
            hide_from_other_users()
            for path in (home, out):
                os.chown(path, uid, uid)
            nproc = limits.pids
        else:
            nproc = _processes_of(os.getuid()) + limits.pids
        as_root = self.drop_to_nobody
        memory = limits.memory_mb * 1024 * 1024
        cpu = int(limits.wall_seconds * max(1.0, limits.cpus)) + 5

        def preexec() -> None:
            resource.setrlimit(resource.RLIMIT_AS, (memory, memory))
            resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu))
            resource.setrlimit(resource.RLIMIT_FSIZE, (limits.file_mb * 1024 * 1024,) * 2)
            resource.setrlimit(resource.RLIMIT_NOFILE, (limits.open_files, limits.open_files))
            resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
            if as_root:
                libc = ctypes.CDLL(None, use_errno=True)
                libc.unshare(CLONE_NEWNET)  # best effort; failure leaves the network reachable
                os.setgroups([])
                os.setgid(uid)
                os.setuid(uid)
            resource.setrlimit(resource.RLIMIT_NPROC, (nproc, nproc))

        env = {
            "PATH": f"{Path(self.python).parent}:/usr/bin:/bin",
            "HOME": str(home),
            "TMPDIR": str(home),
            "LANG": "C.UTF-8",
            "PYTHONPATH": os.pathsep.join(
                [str(REPO_ROOT), *self.site_dirs]
            ),  # for kfp.local's task subprocesses (the worker itself runs with -I)
            "PYTHONDONTWRITEBYTECODE": "1",
            "PYTHONUNBUFFERED": "1",
            "TF_CPP_MIN_LOG_LEVEL": "2",
            "CUDA_VISIBLE_DEVICES": "",
            "OMP_NUM_THREADS": str(max(1, int(limits.cpus))),
        }
        command = [
            self.python,
            "-I",
            *(["-S"] if self.site_dirs else []),  # no system dist-packages ahead of the kit's environment
            str(WORKER),
            "--submission",
            str(submission),
            "--out",
            str(out),
            "--kit",
            str(REPO_ROOT),
            *[arg for directory in self.site_dirs for arg in ("--site", directory)],
            *worker_args,
        ]
        run = _supervise(command, limits, self.name, _kill_group, preexec=preexec, env=env, cwd=str(cwd))
        if self.drop_to_nobody:
            _kill_uid(uid)  # processes that left the session (setsid, double fork) still carry the run's uid
        return run


def docker_available(image: str = COMPONENTS_IMAGE) -> str | None:
    """None when a Docker engine and ``image`` are usable, else the reason."""
    if not shutil.which("docker"):
        return "no docker CLI on PATH"
    done = subprocess.run(["docker", "image", "inspect", image, "--format", "{{.Id}}"], capture_output=True, text=True)
    if done.returncode != 0:
        if "Cannot connect" in done.stderr or "daemon" in done.stderr:
            return "no Docker engine reachable"
        return f"image {image} is not built (labkit image build --all)"
    return None


Mount = tuple[Path, str]  # host path -> container path, always read-only


def docker_run(
    name: str, image: str, limits: Limits, mounts: list[Mount], writable: Path | None, masked: tuple[str, ...] = ()
) -> list[str]:
    """``docker run`` of ``image`` with no network, a read-only root, user nobody and every limit applied.

    ``masked`` folders of the image are hidden under an empty read-only tmpfs.
    """
    command = ["docker", "run", "--rm", "--name", name, "--network", "none", "--read-only"]
    command += ["--user", f"{NOBODY}:{NOBODY}", "--cap-drop", "ALL", "--security-opt", "no-new-privileges"]
    command += ["--memory", f"{limits.memory_mb}m", "--memory-swap", f"{limits.memory_mb}m"]
    command += ["--cpus", str(limits.cpus), "--pids-limit", str(limits.pids)]
    command += ["--ulimit", f"fsize={limits.file_mb * 1024 * 1024}", "--ulimit", f"nofile={limits.open_files}"]
    command += ["--tmpfs", "/tmp:rw,size=256m,mode=1777", "--env", "HOME=/tmp"]
    command += ["--env", f"OMP_NUM_THREADS={max(1, int(limits.cpus))}", "--env", "TF_CPP_MIN_LOG_LEVEL=2"]
    for source, target in mounts:
        command += ["-v", f"{source}:{target}:ro"]
    if writable is not None:
        command += ["-v", f"{writable}:/scratch/out"]
    for folder in masked:
        command += ["--tmpfs", f"{folder}:ro,size=1m"]
    return [*command, "-w", "/grader", image]


def _docker_supervised(command: list[str], name: str, limits: Limits, backend: str) -> SandboxRun:
    def kill(process: subprocess.Popen) -> None:
        if process.poll() is None:  # the container dies with its first process; only a live one needs this
            subprocess.run(["docker", "kill", name], capture_output=True)
            _kill_group(process)

    return _supervise(command, limits, backend, kill)


class DockerSandbox:
    """A kit image: no network, read-only root, the submission read-only, one writable scratch.

    ``engine`` is what the worker runs: ``kfp`` in the components image, ``tfx`` in the TFX image.
    """

    name = "docker"
    description = "docker (no network, read-only root, non-root user, memory/CPU/pids limits)"

    def __init__(
        self,
        image: str = COMPONENTS_IMAGE,
        engine: str = "kfp",
        mounts: tuple[Mount, ...] = (),
        masked: tuple[str, ...] = (),
        worker_args: tuple[str, ...] = (),
    ) -> None:
        self.image, self.engines = image, (engine,)
        self.mounts, self.masked, self.worker_args = list(mounts), masked, list(worker_args)

    @classmethod
    def for_tfx(cls) -> DockerSandbox:
        """The TFX image with the checkout's module files mounted, and the image's own copies of them hidden."""
        from pipelines.tfx_penguin.local_runner import BEAM_ARGS

        modules = REPO_ROOT / "pipelines" / "tfx_penguin"
        return cls(
            TFX_IMAGE,
            engine="tfx",
            mounts=tuple((modules / name, f"{TFX_MODULES}/{name}") for name in ("preprocessing.py", "trainer.py")),
            masked=(f"{TFX_IMAGE_ROOT}/pipelines",),
            worker_args=("--engine", "tfx", "--modules", TFX_MODULES, *[f"--beam-arg={a}" for a in BEAM_ARGS]),
        )

    def run_worker(self, submission: Path, scratch: Path, worker_args: list[str], limits: Limits) -> SandboxRun:
        out = scratch / "out"
        out.mkdir(exist_ok=True)
        os.chmod(out, 0o777)  # the container user is nobody; the folder is private to this grading run
        name = f"labkit-grade-{secrets.token_hex(6)}"
        mounts = [(submission, "/submission"), (scratch / "data", "/scratch/data"), (WORKER, "/grader/worker.py")]
        command = docker_run(name, self.image, limits, [*mounts, *self.mounts], writable=out, masked=self.masked)
        command += ["python3", "-I", "/grader/worker.py", "--submission", "/submission", "--out", "/scratch/out"]
        command += [*self.worker_args, *[arg.replace(str(scratch), "/scratch") for arg in worker_args]]
        return _docker_supervised(command, name, limits, self.name)

    def run_script(self, script: Path, args: list[str], mounts: list[Mount], limits: Limits) -> SandboxRun:
        """A grader-owned script in a fresh container of the same image (e.g. scoring a submission's model)."""
        name = f"labkit-score-{secrets.token_hex(6)}"
        mounts = [(script, f"/grader/{script.name}"), *mounts]
        command = docker_run(name, self.image, limits, mounts, writable=None, masked=self.masked)
        return _docker_supervised([*command, "python3", "-I", f"/grader/{script.name}", *args], name, limits, "docker")


def pick_sandbox(preference: str = "auto", engine: str = "kfp") -> Sandbox:
    """``docker`` when asked or available, else the subprocess fallback (kfp labs only: TFX needs its image)."""
    if engine == "tfx":
        reason = docker_available(TFX_IMAGE)
        if preference == "subprocess" or reason:
            why = "--sandbox subprocess was asked for" if preference == "subprocess" else reason
            raise RuntimeError(
                f"TFX labs are graded only in the {TFX_IMAGE} container (TFX does not install on this host), and {why}"
            )
        return DockerSandbox.for_tfx()
    if preference == "subprocess":
        return SubprocessSandbox()
    reason = docker_available()
    if preference == "docker" and reason:
        raise RuntimeError(f"the docker sandbox cannot run: {reason}. Use --sandbox subprocess (weaker).")
    return DockerSandbox() if reason is None else SubprocessSandbox()
