"""Artifacts of cluster runs, read from the cluster's object store with the ``minio`` client.

KFP 2.15+ stores artifacts in SeaweedFS (service ``seaweedfs`` in namespace ``kubeflow``, S3 API on 8333) and
keeps the credentials in the secret ``mlpipeline-minio-artifact`` (keys ``accesskey``/``secretkey``), the same
names KFP used with MinIO. The kit's overlay exposes the S3 port as a NodePort that kind maps to the same port on
127.0.0.1, so the laptop reaches the store without a port-forward.
"""

from __future__ import annotations

import base64
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

KFP_NAMESPACE = "kubeflow"
ARTIFACT_SECRET = "mlpipeline-minio-artifact"
OBJECT_STORE_SERVICE = "seaweedfs"
OBJECT_STORE_S3_PORT = 8333
ARTIFACT_BUCKET = "mlpipeline"
# KFP's default pipeline root is minio://mlpipeline/v2/artifacts: every v2 artifact lives under this prefix.
ARTIFACT_PREFIX = "v2/artifacts/"


class ArtifactStoreError(RuntimeError):
    """The object store or its credentials cannot be reached; the message says what to do."""


@dataclass(frozen=True)
class ObjectStoreConfig:
    endpoint: str
    access_key: str
    secret_key: str
    bucket: str = ARTIFACT_BUCKET
    secure: bool = False


@dataclass(frozen=True)
class ArtifactObject:
    key: str
    size: int
    task: str
    name: str


def credentials_from_secret(secret: Any) -> tuple[str, str]:
    """(access key, secret key) from a ``V1Secret``; ``data`` is base64 as the API returns it."""
    data = dict(secret.data or {})
    plain = dict(getattr(secret, "string_data", None) or {})
    values: list[str] = []
    for key in ("accesskey", "secretkey"):
        if key in plain:
            values.append(plain[key])
        elif key in data:
            values.append(base64.b64decode(data[key]).decode())
        else:
            name = getattr(secret.metadata, "name", "?") if secret.metadata else "?"
            raise ArtifactStoreError(
                f"secret {name!r} has no key {key!r} (it has: {', '.join(sorted(data) or ['nothing'])}); "
                "reinstall Kubeflow Pipelines with `labkit cluster up`"
            )
    return values[0], values[1]


def node_port_of(service: Any, target_port: int = OBJECT_STORE_S3_PORT) -> int:
    """The NodePort a ``V1Service`` exposes for ``target_port``."""
    for port in service.spec.ports or []:
        if port.port == target_port and port.node_port:
            return int(port.node_port)
    raise ArtifactStoreError(
        f"service {service.metadata.name!r} exposes no NodePort for {target_port}; "
        "the kit's overlay was not applied: run `labkit cluster up`"
    )


def config_from_cluster(context: str | None = None, namespace: str = KFP_NAMESPACE) -> ObjectStoreConfig:
    """Credentials from the cluster's secret and the endpoint from the store's NodePort on 127.0.0.1."""
    from kubernetes import client, config
    from kubernetes.client.exceptions import ApiException
    from kubernetes.config.config_exception import ConfigException

    try:
        api_client = config.new_client_from_config(context=context)
    except (ConfigException, FileNotFoundError) as exc:
        raise ArtifactStoreError(f"no kubeconfig for the cluster ({exc}); run `labkit cluster up` first") from exc
    core = client.CoreV1Api(api_client)
    try:
        secret = core.read_namespaced_secret(ARTIFACT_SECRET, namespace)
        service = core.read_namespaced_service(OBJECT_STORE_SERVICE, namespace)
    except ApiException as exc:
        raise ArtifactStoreError(
            f"cannot read {namespace}/{ARTIFACT_SECRET} or service {OBJECT_STORE_SERVICE}: {exc.reason}; "
            "check `labkit cluster status`"
        ) from exc
    except Exception as exc:  # urllib3 connection errors: the API server is down
        raise ArtifactStoreError(f"the cluster's API server does not answer ({exc}); run `labkit cluster up`") from exc
    access, secret_key = credentials_from_secret(secret)
    return ObjectStoreConfig(f"127.0.0.1:{node_port_of(service)}", access, secret_key)


def make_client(cfg: ObjectStoreConfig) -> Any:
    """A minio client that gives up on a dead endpoint in seconds (its default retries take ~10 s)."""
    import urllib3
    from minio import Minio

    http = urllib3.PoolManager(
        timeout=urllib3.Timeout(connect=5, read=120),
        retries=urllib3.Retry(total=2, backoff_factor=0.2, status_forcelist=[500, 502, 503, 504]),
    )
    return Minio(
        cfg.endpoint, access_key=cfg.access_key, secret_key=cfg.secret_key, secure=cfg.secure, http_client=http
    )


def _split_key(key: str, run_id: str) -> tuple[str, str] | None:
    """(task, name inside the task) when ``key`` belongs to ``run_id``, else None."""
    parts = PurePosixPath(key).parts
    if run_id not in parts:
        return None
    rest = parts[parts.index(run_id) + 1 :]
    if not rest:
        return None
    return rest[0], "/".join(rest[1:]) or rest[0]


def list_run_artifacts(client: Any, run_id: str, bucket: str = ARTIFACT_BUCKET) -> list[ArtifactObject]:
    """Every object a run wrote: KFP puts the run id as one path segment under the pipeline root."""
    from minio.error import S3Error
    from urllib3.exceptions import HTTPError

    found: list[ArtifactObject] = []
    try:
        objects: Iterator[Any] = client.list_objects(bucket, prefix=ARTIFACT_PREFIX, recursive=True)
        for obj in objects:
            split = _split_key(obj.object_name, run_id)
            if split:
                found.append(ArtifactObject(obj.object_name, int(obj.size or 0), *split))
    except S3Error as exc:
        raise ArtifactStoreError(f"object store refused the listing of bucket {bucket!r}: {exc.code}") from exc
    except (OSError, HTTPError) as exc:  # refused connection, after urllib3's retries
        raise ArtifactStoreError(f"object store not reachable ({exc}); is the cluster up?") from exc
    return sorted(found, key=lambda a: a.key)


def download_run_artifacts(
    client: Any, run_id: str, dest: Path, task: str | None = None, bucket: str = ARTIFACT_BUCKET
) -> list[Path]:
    """Download a run's artifacts (optionally one task's) to ``dest/<task>/<name>``."""
    written: list[Path] = []
    for artifact in list_run_artifacts(client, run_id, bucket):
        if task and artifact.task != task:
            continue
        target = dest / artifact.task / artifact.name
        target.parent.mkdir(parents=True, exist_ok=True)
        client.fget_object(bucket, artifact.key, str(target))
        written.append(target)
    return written
