"""Fixtures of the launcher-conformance harness: one real SeaweedFS per module, a Harness per test."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from labkit.artifacts import ObjectStoreConfig, make_client
from tests.conformance.launcher import Harness, load_spec
from tests.seaweedfs import running_seaweedfs

ACCESS, SECRET = "conformance", "conformance-secret"
GOLDEN = Path(__file__).resolve().parent.parent / "golden"


@pytest.fixture(scope="module")
def object_store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ObjectStoreConfig]:
    """The cluster's store stand-in, with the bucket KFP's install creates (``mlpipeline``)."""
    with running_seaweedfs(tmp_path_factory.mktemp("seaweedfs"), ACCESS, SECRET) as cfg:
        client = make_client(cfg)
        if not client.bucket_exists(cfg.bucket):
            client.make_bucket(cfg.bucket)
        yield cfg


@pytest.fixture
def store_client(object_store: ObjectStoreConfig) -> Any:
    return make_client(object_store)


@pytest.fixture
def harness(store_client: Any, object_store: ObjectStoreConfig, tmp_path: Path) -> Iterator[Harness]:
    workdir = tmp_path / "pods"
    workdir.mkdir()
    made = Harness(store=store_client, workdir=workdir, bucket=object_store.bucket)
    yield made
    if made.docker_client is not None:
        made.docker_client.close()


@pytest.fixture(scope="session")
def golden() -> Callable[[str], dict[str, Any]]:
    """The committed compiled spec of a pipeline (tests/compile keeps them equal to a fresh compile)."""
    return lambda name: load_spec(GOLDEN / f"{name}.yaml")
