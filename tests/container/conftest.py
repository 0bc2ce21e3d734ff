"""Fixtures of the container tier: a Docker client, and the kit's images (built by CI before the tests)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from labkit import images


@pytest.fixture(scope="session")
def docker_client() -> Iterator[Any]:
    client = images.docker_client()
    yield client
    client.close()


def _require(client: Any, tag: str, command: str) -> str:
    if not images.image_exists(client, tag):
        pytest.fail(f"{tag} is not built; run `{command}` (.ci/run builds it before the tests)")
    return tag


@pytest.fixture(scope="session")
def components_image(docker_client: Any) -> str:
    return _require(docker_client, images.IMAGES["components"].tag, "labkit image build components")


@pytest.fixture(scope="session")
def tfx_image(docker_client: Any) -> str:
    return _require(docker_client, images.IMAGES["tfx"].tag, "labkit image build tfx")
