"""Deployment waits, status and object-store discovery against a stand-in Kubernetes API server.

No kube-apiserver runs on this machine, so a small HTTP server answers the few endpoints the kit calls
(list + watch deployments, read a secret and a service) with the JSON shapes of the Kubernetes API. The real
`kubernetes` client, kubeconfig loading and Watch machinery run against it.
"""

from __future__ import annotations

import base64
import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlparse

import pytest
import yaml
from kubernetes.config import kube_config

from labkit import cluster
from labkit.artifacts import ArtifactStoreError, config_from_cluster


def _deployment(name: str, available: int, replicas: int = 1, version: str = "1") -> dict[str, Any]:
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "namespace": "kubeflow", "resourceVersion": version},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app": name}},
            "template": {"metadata": {"labels": {"app": name}}, "spec": {"containers": []}},
        },
        "status": {"availableReplicas": available} if available else {},
    }


class FakeApi:
    def __init__(self) -> None:
        self.deployments: list[dict[str, Any]] = []
        self.watch_events: list[dict[str, Any]] = []
        self.objects: dict[str, dict[str, Any]] = {}
        self.watch_requests: list[dict[str, list[str]]] = []


def _handler(api: FakeApi) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.0"  # the body ends when the connection closes, as a finished watch does

        def log_message(self, *args: Any) -> None:
            pass

        def _send(self, status: int, body: bytes) -> None:
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(body)

        def do_GET(self) -> None:
            url = urlparse(self.path)
            query = parse_qs(url.query)
            if url.path == "/apis/apps/v1/namespaces/kubeflow/deployments":
                if query.get("watch") == ["true"] or query.get("watch") == ["True"]:
                    api.watch_requests.append(query)
                    lines = b"".join(json.dumps(e).encode() + b"\n" for e in api.watch_events)
                    self._send(200, lines)
                    return
                body = {"kind": "DeploymentList", "metadata": {"resourceVersion": "1"}, "items": api.deployments}
                self._send(200, json.dumps(body).encode())
                return
            if url.path in api.objects:
                self._send(200, json.dumps(api.objects[url.path]).encode())
                return
            self._send(404, json.dumps({"kind": "Status", "code": 404, "reason": "NotFound"}).encode())

    return Handler


@pytest.fixture
def fake_api(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeApi]:
    api = FakeApi()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(api))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    kubeconfig = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": "kind-labkit", "cluster": {"server": f"http://127.0.0.1:{server.server_port}"}}],
        "users": [{"name": "kind-labkit", "user": {"token": "t"}}],
        "contexts": [{"name": "kind-labkit", "context": {"cluster": "kind-labkit", "user": "kind-labkit"}}],
        "current-context": "kind-labkit",
    }
    path = tmp_path / "kubeconfig"
    path.write_text(yaml.safe_dump(kubeconfig))
    monkeypatch.setattr(kube_config, "KUBE_CONFIG_DEFAULT_LOCATION", str(path))
    yield api
    server.shutdown()
    server.server_close()


def test_wait_follows_the_watch_until_every_deployment_is_available(fake_api: FakeApi) -> None:
    fake_api.deployments = [_deployment("ml-pipeline", 0), _deployment("mysql", 0)]
    fake_api.watch_events = [
        {"type": "MODIFIED", "object": _deployment("mysql", 1, version="2")},
        {"type": "MODIFIED", "object": _deployment("ml-pipeline", 1, version="3")},
    ]
    events: list[cluster.ClusterEvent] = []
    state = cluster.wait_for_deployments("kind-labkit", events.append, timeout_seconds=30)
    assert state == {"ml-pipeline": (1, 1), "mysql": (1, 1)}
    assert [(e.done, e.total, e.finished) for e in events] == [(0, 2, False), (1, 2, False), (2, 2, True)]
    assert events[1].message == "waiting for ml-pipeline"
    assert fake_api.watch_requests[0]["resourceVersion"] == ["1"]  # resumes from the listing, misses nothing


def test_wait_that_runs_out_names_the_stuck_deployment_and_how_to_look(fake_api: FakeApi) -> None:
    fake_api.deployments = [_deployment("ml-pipeline", 1), _deployment("mysql", 0)]
    fake_api.watch_events = []  # the watch ends (its timeout) with mysql still unavailable
    with pytest.raises(cluster.ClusterError, match="not available after 5 s: mysql") as caught:
        cluster.wait_for_deployments("kind-labkit", lambda event: None, timeout_seconds=5)
    assert "describe deployment mysql" in caught.value.fix and "labkit cluster up" in caught.value.fix


def test_already_available_deployments_need_no_watch(fake_api: FakeApi) -> None:
    fake_api.deployments = [_deployment("ml-pipeline", 1)]
    cluster.wait_for_deployments("kind-labkit", lambda event: None, timeout_seconds=5)
    assert fake_api.watch_requests == []


def test_object_store_config_comes_from_the_secret_and_the_node_port(fake_api: FakeApi) -> None:
    def b64(text: str) -> str:
        return base64.b64encode(text.encode()).decode()

    fake_api.objects["/api/v1/namespaces/kubeflow/secrets/mlpipeline-minio-artifact"] = {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": "mlpipeline-minio-artifact", "namespace": "kubeflow"},
        "data": {"accesskey": b64("minio"), "secretkey": b64("minio123")},
    }
    fake_api.objects["/api/v1/namespaces/kubeflow/services/seaweedfs"] = {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": "seaweedfs", "namespace": "kubeflow"},
        "spec": {"type": "NodePort", "ports": [{"name": "http-s3", "port": 8333, "nodePort": 30833}]},
    }
    cfg = config_from_cluster(context="kind-labkit")
    assert (cfg.endpoint, cfg.access_key, cfg.secret_key, cfg.bucket) == (
        "127.0.0.1:30833",
        "minio",
        "minio123",
        "mlpipeline",
    )


def test_a_missing_secret_is_explained(fake_api: FakeApi) -> None:
    with pytest.raises(ArtifactStoreError, match="cannot read kubeflow/mlpipeline-minio-artifact"):
        config_from_cluster(context="kind-labkit")
