"""The kit's images build, hold what the runners and the TFX pipeline need, and stay within their size goals."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from labkit import images
from labkit.versions import BASE_IMAGE, KIT_VERSION, kfp_version

pytestmark = pytest.mark.container

SIZE_GOALS_GB = {"components": 1.5, "tfx": 3.0}


def test_components_image_rebuild_uses_the_cache_and_reports_steps(docker_client: Any, components_image: str) -> None:
    """A build with nothing changed must be a cache hit: the layers CI built are what a student rebuilds on."""
    events: list[images.BuildEvent] = []
    base, _ = images.choose_base(docker_client)
    result = images.build_image(docker_client, "components", base, events.append)
    steps = [event for event in events if event.kind == "step"]
    assert steps, "a build reports its Dockerfile steps as progress"
    assert steps[-1].step == steps[-1].total
    assert result.tag == components_image
    assert result.seconds < 60, f"a cached rebuild took {result.seconds} s: a layer is not cached"
    labels = docker_client.images.get(result.tag).labels
    assert labels[images.LABEL_KIT_VERSION] == KIT_VERSION
    assert labels[images.LABEL_BASE] == base


def test_tags_follow_the_kit_version() -> None:
    for spec in images.IMAGES.values():
        assert spec.tag.endswith(f":{KIT_VERSION}"), spec.tag
        assert not spec.tag.endswith(":latest")


def test_image_sizes_are_reported_and_within_goals(docker_client: Any, components_image: str, tfx_image: str) -> None:
    listed = {info.name: info for info in images.list_images(docker_client)}
    report = {name: round(listed[name].size_bytes / 1e9, 3) for name in SIZE_GOALS_GB}
    print(f"image sizes (GB): {json.dumps(report)}")
    for name, goal in SIZE_GOALS_GB.items():
        assert listed[name].present
        assert report[name] <= goal, f"{listed[name].tag} is {report[name]} GB, over its {goal} GB goal"


def test_components_image_has_the_hosts_kfp_and_the_component_code(docker_client: Any, components_image: str) -> None:
    code, output = images.run_in_image(
        docker_client,
        components_image,
        [
            "python3",
            "-c",
            "import sys, kfp, tensorflow, components.train.logic; "
            "print(kfp.__version__, tensorflow.__version__, sys.executable)",
        ],
    )
    assert code == 0, output
    kfp, tensorflow, executable = output.split()[-3:]
    assert kfp == kfp_version(), "host and image kfp must match, or tasks would try to pip install kfp"
    assert tensorflow == "2.21.0"
    assert executable == "/opt/venv/bin/python3", "kfp.local runs `python3`: it must be the venv's"


def test_tfx_image_imports_tfx_and_the_kubeflow_v2_runner(docker_client: Any, tfx_image: str) -> None:
    script = (
        "import os, tfx, kfp, tf_keras, tensorboard\n"
        "from tfx.orchestration.kubeflow.v2 import kubeflow_v2_dag_runner\n"
        "from tfx.orchestration.local.local_dag_runner import LocalDagRunner\n"
        "print(tfx.__version__, kfp.__version__, os.environ['TF_USE_LEGACY_KERAS'])\n"
    )
    code, output = images.run_in_image(docker_client, tfx_image, ["python3", "-c", script])
    assert code == 0, output
    assert output.split()[-3:] == ["1.21.0", kfp_version(), "1"]


def test_tfx_image_carries_the_session6_code_and_data_for_the_cluster(docker_client: Any, tfx_image: str) -> None:
    """A cluster mounts nothing: the compiled spec's module files and CSVs must be inside the image."""
    script = (
        "import pandas, pipelines.tfx_penguin.preprocessing, components.common.schema\n"
        "rows = [len(pandas.read_csv(f'/opt/labkit/data/tfx-penguin/{s}/penguins.csv')) for s in ('train', 'eval')]\n"
        "print(sum(rows))\n"
    )
    code, output = images.run_in_image(docker_client, tfx_image, ["python3", "-c", script])
    assert code == 0, output
    assert output.split()[-1] == "333"


def test_save_and_load_archive_round_trip(docker_client: Any, tmp_path: Path) -> None:
    """What a teacher hands out on a USB stick loads back with the same tag (done on the small base image)."""
    if not images.image_exists(docker_client, BASE_IMAGE):
        pytest.fail(f"{BASE_IMAGE} is not built; run `labkit image base`")
    tag = f"labkit-archive-test:{KIT_VERSION}"
    docker_client.images.get(BASE_IMAGE).tag(tag)
    archive = tmp_path / "images.tar.gz"
    seen: list[int] = []
    try:
        size = images.save_images([tag], archive, seen.append)
        assert size == archive.stat().st_size > 10_000_000
        assert sum(seen) > size, "progress counts the uncompressed bytes docker save streams"
        docker_client.images.remove(tag)
        assert not images.image_exists(docker_client, tag)
        loaded = images.load_archive(docker_client, archive)
        assert loaded == [tag]
        assert images.image_exists(docker_client, tag)
    finally:
        if images.image_exists(docker_client, tag):
            docker_client.images.remove(tag)


def test_image_list_cli_reports_name_tag_size_and_age(components_image: str) -> None:
    from typer.testing import CliRunner

    from labkit.cli import app

    result = CliRunner().invoke(app, ["image", "list", "--output", "json"])
    assert result.exit_code == 0, result.output
    rows = {row["name"]: row for row in json.loads(result.output)}
    assert rows["components"]["tag"] == components_image
    assert rows["components"]["size"] > 500_000_000
    assert rows["components"]["age"] != "not built"
