"""The order and idempotence of `labkit cluster up/down`, with stand-in `kind`/`kubectl` executables.

kind cannot run on this machine, so two small shell scripts play it: they log every call and keep the
"cluster exists" state in a file. The waits on real objects (CRDs, deployments) are replaced by recorders.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from labkit import cluster
from labkit.doctor import Check
from tests.conftest import kind_calls


def _calls(log: Path) -> list[str]:
    return kind_calls(log)


def test_up_creates_then_installs_in_order(fake_tools: Path) -> None:
    events: list[cluster.ClusterEvent] = []
    assert cluster.cluster_up(events.append) == "http://127.0.0.1:30080"
    calls = [c for c in _calls(fake_tools) if not c.startswith("kind get")]
    assert calls == [
        "kind create cluster --name labkit --config M/kind/kind-config.yaml --wait 180s",
        "kubectl --context kind-labkit apply --server-side --force-conflicts -k M/kfp/cluster-scoped",
        "kubectl --context kind-labkit wait --for condition=established --timeout 120s crd --all",
        "kubectl --context kind-labkit apply --server-side --force-conflicts -k M/kfp",
        "kubectl --context kind-labkit apply --server-side --force-conflicts -k M/environments/dev",
        "kubectl --context kind-labkit apply --server-side --force-conflicts -k M/environments/test",
        "kubectl --context kind-labkit apply --server-side --force-conflicts -k M/environments/prod",
    ]


def test_second_up_reuses_the_cluster(fake_tools: Path) -> None:
    cluster.cluster_up(lambda event: None)
    fake_tools.write_text("")
    events: list[cluster.ClusterEvent] = []
    cluster.cluster_up(events.append)
    calls = _calls(fake_tools)
    assert not any(c.startswith("kind create") for c in calls)
    assert "kubectl --context kind-labkit get --raw /readyz" in calls
    assert any("reusing" in e.message for e in events)


def test_failed_prerequisites_stop_before_any_change(fake_tools: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    missing = Check("inotify limits", False, "max_user_watches=8192", "sudo sysctl ...", required=True)
    monkeypatch.setattr(cluster, "run_prerequisite_checks", lambda cluster_exists: [missing])
    with pytest.raises(cluster.PrerequisiteError) as caught:
        cluster.cluster_up(lambda event: None)
    assert caught.value.failed == [missing]
    assert all(c.startswith("kind get") for c in _calls(fake_tools))


def test_down_twice_is_harmless(fake_tools: Path) -> None:
    cluster.cluster_up(lambda event: None)
    assert cluster.cluster_down() is True
    assert cluster.cluster_down() is False
    assert sum(c.startswith("kind delete") for c in _calls(fake_tools)) == 1


def test_a_failing_kubectl_step_names_the_command(fake_tools: Path) -> None:
    kubectl = Path(os.environ["PATH"].split(os.pathsep)[0]) / "kubectl"
    kubectl.write_text('#!/bin/sh\necho "kubectl $*" >> "$FAKE_LOG"\necho "error: no matches for kind" >&2\nexit 1\n')
    with pytest.raises(cluster.ClusterError, match=r"(?s)apply --server-side.*failed:.*no matches for kind"):
        cluster.cluster_up(lambda event: None)


FAKE_DOCKER = """#!/bin/sh
echo "docker $*" >> "$FAKE_LOG"
[ "$1 $2" = "image inspect" ] && [ "$3" = "labkit-components:0.1.0" ] && exit 0
exit 1
"""


def test_load_images_skips_unbuilt_defaults_but_not_named_ones(fake_tools: Path) -> None:
    docker = Path(os.environ["PATH"].split(os.pathsep)[0]) / "docker"
    docker.write_text(FAKE_DOCKER)
    docker.chmod(0o755)
    cluster.cluster_up(lambda event: None)
    events: list[cluster.ClusterEvent] = []
    loaded = cluster.load_images_into_kind(
        ["labkit-components:0.1.0", "labkit-tfx:0.1.0"], "labkit", events.append, skip_missing=True
    )
    assert loaded == ["labkit-components:0.1.0"]
    assert "kind load docker-image labkit-components:0.1.0 --name labkit" in _calls(fake_tools)
    assert any("skipping images not built locally: labkit-tfx:0.1.0" in e.message for e in events)
    with pytest.raises(cluster.ClusterError, match=r"not built locally: labkit-tfx:0\.1\.0") as caught:
        cluster.load_images_into_kind(["labkit-tfx:0.1.0"], "labkit", lambda event: None)
    assert "labkit image build" in caught.value.fix
