"""Credentials and endpoint from the cluster's objects, fed as real kubernetes client models."""

from __future__ import annotations

import base64

import pytest
from kubernetes.client import V1ObjectMeta, V1Secret, V1Service, V1ServicePort, V1ServiceSpec

from labkit.artifacts import ArtifactStoreError, credentials_from_secret, node_port_of


def _b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def test_credentials_are_decoded_from_the_secrets_data() -> None:
    secret = V1Secret(
        metadata=V1ObjectMeta(name="mlpipeline-minio-artifact", namespace="kubeflow"),
        data={"accesskey": _b64("minio"), "secretkey": _b64("minio123")},
    )
    assert credentials_from_secret(secret) == ("minio", "minio123")


def test_string_data_wins_when_present() -> None:
    secret = V1Secret(metadata=V1ObjectMeta(name="s"), string_data={"accesskey": "a", "secretkey": "b"})
    assert credentials_from_secret(secret) == ("a", "b")


def test_a_secret_without_the_keys_says_which_is_missing() -> None:
    secret = V1Secret(metadata=V1ObjectMeta(name="mlpipeline-minio-artifact"), data={"accesskey": _b64("x")})
    with pytest.raises(ArtifactStoreError, match=r"no key 'secretkey'.*labkit cluster up"):
        credentials_from_secret(secret)


def test_endpoint_port_is_the_s3_node_port() -> None:
    service = V1Service(
        metadata=V1ObjectMeta(name="seaweedfs"),
        spec=V1ServiceSpec(
            type="NodePort",
            ports=[
                V1ServicePort(name="http-iam", port=8111, node_port=31111),
                V1ServicePort(name="http-s3", port=8333, node_port=30833),
                V1ServicePort(name="http-s3-compat", port=9000, node_port=32000),
            ],
        ),
    )
    assert node_port_of(service) == 30833


def test_a_clusterip_store_means_the_overlay_is_missing() -> None:
    service = V1Service(metadata=V1ObjectMeta(name="seaweedfs"), spec=V1ServiceSpec(ports=[V1ServicePort(port=8333)]))
    with pytest.raises(ArtifactStoreError, match="overlay was not applied"):
        node_port_of(service)
