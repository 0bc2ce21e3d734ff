"""Where submission code runs: a locked-down container, or a rlimited subprocess where Docker is missing.

The grader process never imports submission code. Both backends run ``worker.py`` with a wall-time limit,
a cap on captured output and resource limits, and return what happened; neither interprets it.
"""

from __future__ import annotations

import contextlib
import ctypes
import functools
import itertools
import json
import os
import secrets
import shutil
import signal
import socket
import struct
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
IDENTITY = Path(__file__).resolve().parent / "identity.py"
NOBODY = 65534
SANDBOX_UID_BASE = 200_000  # above any real account; see _sandbox_uid
CLONE_NEWNET = 0x40000000
TAIL_BYTES = 64 * 1024
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
    disk_mb: int = 1024  # everything a run writes, together
    max_files: int = 20_000


@dataclass
class SandboxRun:
    exit_code: int | None
    timed_out: bool
    output: str
    output_bytes: int
    output_flooded: bool
    wall_seconds: float
    backend: str
    disk_exceeded: bool = False  # the run wrote more than Limits.disk_mb or Limits.max_files and was stopped
    tail: str = ""  # the last TAIL_BYTES of output, where the worker's evidence lines are


class Sandbox(Protocol):
    name: str
    description: str
    engines: tuple[str, ...]

    def run_worker(
        self, submission: Path, scratch: Path, worker_args: list[str], limits: Limits, stdin: bytes = b""
    ) -> SandboxRun: ...


class _OutputPump(threading.Thread):
    """Keeps the head and the tail of a stream, counts the rest, and flags a flood so the caller can stop the run."""

    def __init__(self, stream, keep: int, kill_at: int) -> None:
        super().__init__(daemon=True)
        self._stream, self._keep, self._kill_at = stream, keep, kill_at
        self.head = bytearray()
        self.tail = bytearray()
        self.total = 0
        self.flooded = threading.Event()

    def run(self) -> None:
        while chunk := self._stream.read1(65536) if hasattr(self._stream, "read1") else self._stream.read(65536):
            self.total += len(chunk)
            if len(self.head) < self._keep:
                self.head.extend(chunk[: self._keep - len(self.head)])
            self.tail.extend(chunk)
            del self.tail[:-TAIL_BYTES]
            if self.total > self._kill_at:
                self.flooded.set()


def _over_disk(folder: Path, limits: Limits) -> bool:
    """Whether ``folder`` holds more than the run may write (links are counted, never followed)."""
    size = files = 0
    for root, dirs, names in os.walk(folder):
        files += len(dirs) + len(names)
        for name in names:
            with contextlib.suppress(OSError):
                size += os.lstat(os.path.join(root, name)).st_blocks * 512
        if files > limits.max_files or size > limits.disk_mb * 2**20:
            return True
    return False


def _supervise(
    command: list[str],
    limits: Limits,
    backend: str,
    kill,
    preexec=None,
    env=None,
    cwd=None,
    watch: Path | None = None,
    stdin: bytes = b"",
) -> SandboxRun:
    """Run ``command`` to the end or until a limit: wall time, output, or what it wrote under ``watch``.
    ``stdin`` is written to it and closed (how the grader hands the worker a secret)."""
    start = time.monotonic()
    process = subprocess.Popen(
        command,
        stdin=subprocess.PIPE if stdin else subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,
        preexec_fn=preexec,
        env=env,
        cwd=cwd,
    )
    if stdin and process.stdin is not None:
        with contextlib.suppress(OSError):
            process.stdin.write(stdin)
        with contextlib.suppress(OSError):
            process.stdin.close()
    pump = _OutputPump(process.stdout, limits.output_bytes, limits.output_kill_bytes)
    pump.start()
    timed_out = disk_exceeded = False
    next_disk_check = start + 0.5
    while process.poll() is None:
        now = time.monotonic()
        if now - start > limits.wall_seconds:
            timed_out = True
            break
        if pump.flooded.is_set():
            break
        if watch is not None and now >= next_disk_check:
            if _over_disk(watch, limits):
                disk_exceeded = True
                break
            next_disk_check = time.monotonic() + 0.5
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
    stopped = timed_out or pump.flooded.is_set() or disk_exceeded
    return SandboxRun(
        exit_code=None if stopped else process.returncode,
        timed_out=timed_out,
        output=text,
        output_bytes=pump.total,
        output_flooded=pump.flooded.is_set(),
        wall_seconds=round(time.monotonic() - start, 2),
        backend=backend,
        disk_exceeded=disk_exceeded,
        tail=bytes(pump.tail).decode("utf-8", "replace"),
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


def _kill_uid(uid: int, rounds: int = 10) -> None:
    """Kill every process of ``uid``, those that left the session (setsid) or keep forking new pids included.

    A helper that takes the uid sends ``kill(-1, SIGKILL)``: the kernel then signals every process that uid
    owns in one pass, which a fork loop cannot outrun the way it outruns a list of pids.
    """
    for _ in range(rounds):
        if not _processes_of(uid):
            return
        helper = os.fork()
        if helper == 0:  # pragma: no cover (child)
            try:
                os.setgid(uid)
                os.setuid(uid)
                os.kill(-1, signal.SIGKILL)
            finally:
                os._exit(0)
        os.waitpid(helper, 0)
        time.sleep(0.02)


class _MemoryCgroup:
    """A memory cgroup (v1) of one run: the limit holds for all its processes together, not each one.

    Made under the grader's own memory cgroup when that hierarchy is writable (as root); elsewhere ``path`` is
    None and the limit stays per process (RLIMIT_AS).
    """

    def __init__(self, limit_bytes: int) -> None:
        self.path: Path | None = None
        with contextlib.suppress(OSError, ValueError):
            for line in Path("/proc/self/cgroup").read_text().splitlines():
                _, controllers, where = line.split(":", 2)
                if "memory" in controllers.split(","):
                    path = Path("/sys/fs/cgroup/memory") / where.lstrip("/") / f"labkit-{secrets.token_hex(6)}"
                    path.mkdir()
                    self.path = path
                    (path / "memory.limit_in_bytes").write_text(str(limit_bytes))
                    with contextlib.suppress(OSError):  # swap counts too where swap accounting is on
                        (path / "memory.memsw.limit_in_bytes").write_text(str(limit_bytes))

    @staticmethod
    @functools.cache
    def available() -> bool:
        if os.geteuid() != 0:
            return False
        probe = _MemoryCgroup(64 * 2**20)
        probe.remove()
        return probe.path is not None

    def join(self) -> None:
        """Called in the child before it drops privileges: it and every descendant belong to the cgroup."""
        if self.path is not None:
            (self.path / "cgroup.procs").write_text(str(os.getpid()))

    def remove(self) -> None:
        if self.path is not None:
            for _ in range(50):
                with contextlib.suppress(OSError):
                    self.path.rmdir()
                    return
                time.sleep(0.05)


@functools.cache
def _loopback_up() -> None:
    """Bring up ``lo`` of a new network namespace (it starts down), as Docker's ``--network none`` does: a run
    may talk to itself on 127.0.0.1 (session 8 serves its model there), never to another host."""
    import fcntl

    get_flags, set_flags, up = 0x8913, 0x8914, 0x1  # SIOCGIFFLAGS, SIOCSIFFLAGS, IFF_UP (linux/sockios.h, if.h)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as handle:
        request = struct.pack("16sH14s", b"lo", 0, b"")
        flags = struct.unpack("16sH14s", fcntl.ioctl(handle, get_flags, request))[1]
        fcntl.ioctl(handle, set_flags, struct.pack("16sH14s", b"lo", flags | up, b""))


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


def hidden_material() -> list[Path]:
    """What a submission must not read: each lab's hidden folder, its solution and the solution's bytecode, the
    golden IRs (compiled solutions) and the git objects (which hold all of these, hidden seeds included)."""
    from labkit.labs import list_labs

    found = [REPO_ROOT / ".git", REPO_ROOT / "tests" / "golden"]
    for lab in list_labs():
        found += [lab.folder / "hidden", lab.solution]
        found += sorted((lab.solution.parent / "__pycache__").glob(f"{lab.solution.stem}.*.pyc"))
    return found


def hide_from_other_users() -> None:
    """Make the hidden material private to its owner (the grader, as root): a submission running as another uid
    then cannot read it. Only what the grader's own user owns is touched; git does not track these modes."""
    for path in hidden_material():
        with contextlib.suppress(OSError):
            if path.exists() and path.stat().st_uid == os.geteuid() and path.stat().st_mode & 0o077:
                path.chmod(0o700 if path.is_dir() else 0o600)


class SubprocessSandbox:
    """rlimits + a new session + a clean environment. As root it also drops to ``nobody`` and, where the
    kernel allows, enters an empty network namespace. Without root neither is possible, and the report says so.
    """

    name = "subprocess"
    engines = ("kfp",)  # the worker kinds it runs (grading.engines: Engine.worker)

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
            memory = "one memory limit for the whole run" if _MemoryCgroup.available() else "memory limit per process"
            return (
                f"subprocess (weaker than a container: rlimits, {memory}, an unprivileged uid per run, {network}; "
                "hidden rubrics and solutions are made private to the grader, but it can read other world-readable "
                "files and write to /tmp)"
            )
        return "subprocess (weaker: no network or filesystem isolation, only rlimits and a time limit)"

    def run_worker(
        self, submission: Path, scratch: Path, worker_args: list[str], limits: Limits, stdin: bytes = b""
    ) -> SandboxRun:
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
        cgroup = _MemoryCgroup(memory) if as_root else None

        def preexec() -> None:
            if cgroup is not None:
                cgroup.join()
            resource.setrlimit(resource.RLIMIT_AS, (memory, memory))
            resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu))
            resource.setrlimit(resource.RLIMIT_FSIZE, (limits.file_mb * 1024 * 1024,) * 2)
            resource.setrlimit(resource.RLIMIT_NOFILE, (limits.open_files, limits.open_files))
            resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
            if as_root:
                libc = ctypes.CDLL(None, use_errno=True)
                if libc.unshare(CLONE_NEWNET) == 0:  # best effort; failure leaves the network reachable
                    _loopback_up()
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
        try:
            return _supervise(
                command,
                limits,
                self.name,
                _kill_group,
                preexec=preexec,
                env=env,
                cwd=str(cwd),
                watch=scratch,
                stdin=stdin,
            )
        finally:
            if self.drop_to_nobody:
                _kill_uid(uid)  # processes that left the session (setsid, fork loops) still carry the run's uid
            if cgroup is not None:
                cgroup.remove()


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


def _docker_supervised(
    command: list[str], name: str, limits: Limits, backend: str, watch: Path | None = None, stdin: bytes = b""
) -> SandboxRun:
    def kill(process: subprocess.Popen) -> None:
        if process.poll() is None:  # the container dies with its first process; only a live one needs this
            subprocess.run(["docker", "kill", name], capture_output=True)
            _kill_group(process)

    return _supervise(command, limits, backend, kill, watch=watch, stdin=stdin)


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

    def run_worker(
        self, submission: Path, scratch: Path, worker_args: list[str], limits: Limits, stdin: bytes = b""
    ) -> SandboxRun:
        out = scratch / "out"
        out.mkdir(exist_ok=True)
        os.chmod(out, 0o777)  # the container user is nobody; the folder is private to this grading run
        name = f"labkit-grade-{secrets.token_hex(6)}"
        mounts = [(submission, "/submission"), (scratch / "data", "/scratch/data"), (WORKER, "/grader/worker.py")]
        command = docker_run(name, self.image, limits, [*mounts, *self.mounts], writable=out, masked=self.masked)
        if stdin:
            command.insert(2, "--interactive")
        command += ["python3", "-I", "/grader/worker.py", "--submission", "/submission", "--out", "/scratch/out"]
        command += [*self.worker_args, *[arg.replace(str(scratch), "/scratch") for arg in worker_args]]
        return _docker_supervised(command, name, limits, self.name, watch=out, stdin=stdin)

    def kit_problem(self) -> str | None:
        """Why the image's kit components differ from this checkout's, or None. The grader knows a kit step by
        its code (``grading.identity``) and the submission compiles in the image: an image built from another
        version of the kit would make every kit step look like one of the submission's own."""
        from grading.identity import kit_components

        run = self.run_script(IDENTITY, [], [], Limits(wall_seconds=120, memory_mb=1024))
        try:
            in_image = json.loads(run.output.strip().splitlines()[-1])
        except (IndexError, ValueError):
            return f"could not list the components in {self.image} (exit {run.exit_code}): {run.output[-300:]}"
        here = kit_components()
        differ = sorted(
            {name for d, name in here.items() if d not in in_image}
            | {name for d, name in in_image.items() if d not in here}
        )
        if not differ:
            return None
        return f"{self.image} was built from another version of the kit (components differ: {', '.join(differ)})"

    def run_script(self, script: Path, args: list[str], mounts: list[Mount], limits: Limits) -> SandboxRun:
        """A grader-owned script in a fresh container of the same image (e.g. scoring a submission's model)."""
        name = f"labkit-score-{secrets.token_hex(6)}"
        mounts = [(script, f"/grader/{script.name}"), *mounts]
        command = docker_run(name, self.image, limits, mounts, writable=None, masked=self.masked)
        return _docker_supervised([*command, "python3", "-I", f"/grader/{script.name}", *args], name, limits, "docker")


class StaleImageError(RuntimeError):
    """The components image was built from another version of the kit's components."""


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
    if reason is not None:
        return SubprocessSandbox()
    sandbox = DockerSandbox()
    if stale := sandbox.kit_problem():
        raise StaleImageError(f"{stale}: rebuild it with `labkit image build components`")
    return sandbox
