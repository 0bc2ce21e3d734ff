"""`labkit cluster` prerequisite checks against the real machine state (sockets, /proc), and its fast failure."""

from __future__ import annotations

import socket
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from labkit import cluster
from labkit.cli import app
from labkit.versions import KIND_VERSION, KUBECTL_VERSION


def test_port_check_sees_a_really_bound_socket() -> None:
    with socket.socket() as held:
        held.bind(("127.0.0.1", 0))
        held.listen()
        port = held.getsockname()[1]
        check = cluster.check_ports([port])
        assert not check.ok and str(port) in check.detail and f":{port}" in check.fix
    assert cluster.check_ports([port]).ok  # released


def test_inotify_limits_are_read_from_proc(tmp_path: Path) -> None:
    real = cluster.check_inotify()
    watches = int(Path("/proc/sys/fs/inotify/max_user_watches").read_text())
    assert f"max_user_watches={watches}" in real.detail
    (tmp_path / "max_user_watches").write_text("8192\n")
    (tmp_path / "max_user_instances").write_text("128\n")
    low = cluster.check_inotify(tmp_path)
    assert not low.ok and "sudo sysctl fs.inotify.max_user_watches=524288" in low.fix
    (tmp_path / "max_user_watches").write_text("1048576\n")
    (tmp_path / "max_user_instances").write_text("8192\n")
    assert cluster.check_inotify(tmp_path).ok


def test_memory_reads_memavailable(tmp_path: Path) -> None:
    meminfo = tmp_path / "meminfo"
    meminfo.write_text("MemTotal:       8000000 kB\nMemAvailable:   2097152 kB\n")
    low = cluster.check_memory(meminfo)
    assert not low.ok and "2.0 GiB available" in low.detail and "Docker" in low.fix
    assert cluster.check_memory(Path("/proc/meminfo")).detail.endswith("available")


def test_missing_kind_names_the_exact_pinned_install_command() -> None:
    check = cluster.check_tool("kind", which=lambda name: None)
    assert not check.ok
    url = f"https://kind.sigs.k8s.io/dl/{KIND_VERSION}/kind-linux-amd64"
    assert cluster.kind_install_command("Linux", "x86_64") == (
        f"curl -Lo ./kind {url} && chmod +x ./kind && sudo mv ./kind /usr/local/bin/kind"
    )
    assert KIND_VERSION in check.fix
    assert "kind-darwin-arm64" in cluster.kind_install_command("Darwin", "arm64")
    assert "kind-linux-amd64" in cluster.kind_install_command("Windows", "AMD64")  # run it inside WSL2
    kubectl = cluster.check_tool("kubectl", which=lambda name: None)
    assert f"https://dl.k8s.io/release/{KUBECTL_VERSION}/bin/" in kubectl.fix


def test_arm_is_a_warning_with_the_rosetta_fix_not_a_blocker() -> None:
    arm = cluster.check_architecture("arm64")
    assert not arm.ok and not arm.required and "Rosetta" in arm.fix
    assert cluster.check_architecture("x86_64").ok


def test_docker_check_reports_an_unreachable_engine() -> None:
    def no_engine(command: list[str]) -> subprocess.CompletedProcess:
        return subprocess.CompletedProcess(command, 1, "", "Cannot connect to the Docker daemon")

    check = cluster.check_docker(run=no_engine)
    assert not check.ok and "start Docker" in check.fix


def test_kind_ports_come_from_the_kind_config() -> None:
    assert cluster.kind_host_ports() == [
        cluster.UI_PORT,
        cluster.API_PORT,
        cluster.OBJECT_STORE_PORT,
        cluster.SERVING_PORT,
    ]


@pytest.mark.skipif(cluster.shutil.which("kind") is not None, reason="kind is installed: up would really run")
def test_cluster_up_fails_fast_with_the_fix_when_kind_is_missing() -> None:
    """On a machine without kind, `up` must stop at the checks in well under a second, not hang."""
    done = subprocess.run([sys.executable, "-m", "labkit", "cluster", "up"], capture_output=True, text=True, timeout=60)
    assert done.returncode == 1
    assert "kind: not found on PATH" in done.stderr
    assert f"https://kind.sigs.k8s.io/dl/{KIND_VERSION}/" in done.stderr
    assert "cannot be created until the checks above pass" in done.stderr


def test_down_and_status_without_a_cluster_are_harmless() -> None:
    runner = CliRunner()
    if cluster.shutil.which("kind") is None:
        down = runner.invoke(app, ["cluster", "down"])
        assert down.exit_code == 0 and "nothing to do" in down.output
        status = runner.invoke(app, ["cluster", "status"])
        assert status.exit_code == 1 and "labkit cluster up" in status.output
    help_text = runner.invoke(app, ["cluster", "--help"]).output
    assert "load-images" in help_text and "up" in help_text


@pytest.mark.skipif(cluster.shutil.which("kind") is not None, reason="kind is installed")
def test_loading_images_without_a_cluster_says_to_create_it() -> None:
    with pytest.raises(cluster.ClusterError, match="no kind cluster named 'labkit'") as caught:
        cluster.load_images_into_kind(cluster.kit_images(), "labkit", lambda event: None)
    assert caught.value.fix == "labkit cluster up"
    result = CliRunner().invoke(app, ["cluster", "load-images"])
    assert result.exit_code == 1 and "labkit cluster up" in result.output
