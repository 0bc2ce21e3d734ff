"""The kit's images build, hold what the runners and the TFX pipeline need, and stay within their size goals."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import pytest

from labkit import images
from labkit.labs import list_labs
from labkit.paths import REPO_ROOT
from labkit.registry import PIPELINES
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


# ---------------------------------------------------------------- no reference solution in a handed-out image


def _solution_files() -> dict[Path, str]:
    """Every reference solution of the kit -> its sha256: each registry pipeline's file and each lab's solution."""
    files = {lab.solution for lab in list_labs()}
    for entry in PIPELINES.values():
        files.add(entry.file or REPO_ROOT / (entry.module.replace(".", "/") + ".py"))
    missing = [str(path) for path in files if not path.is_file()]
    assert not missing, f"the registry or a lab.yaml names a solution that does not exist: {missing}"
    assert len(files) >= 3, f"sessions 5-7 each have a solution; found {sorted(map(str, files))}"
    return {path.resolve(): hashlib.sha256(path.read_bytes()).hexdigest() for path in sorted(files)}


@pytest.mark.parametrize("image", ["components", "tfx"])
def test_image_carries_no_reference_solution(docker_client: Any, image: str, request: pytest.FixtureRequest) -> None:
    """Students get these images (labkit image save, offline bundles): no solution may be in them, renamed or not.

    The kit's code lives under /opt/labkit (the checkout's layout); a solution file is looked for there by its
    path and its name, and in the whole image by content (any file of a solution's exact size is hashed).
    """
    tag = request.getfixturevalue(f"{image}_image")
    solutions = _solution_files()
    code, output = images.run_in_image(docker_client, tag, ["find", "/opt/labkit", "-type", "f"])
    assert code == 0, output
    listed = {line.strip() for line in output.splitlines() if line.startswith("/opt/labkit/")}
    assert any(path.endswith(".py") for path in listed), f"{tag}: nothing listed under /opt/labkit:\n{output}"
    relative = {path.relative_to(REPO_ROOT).as_posix() for path in solutions if path.is_relative_to(REPO_ROOT)}
    by_path = sorted(path for path in listed if path.removeprefix("/opt/labkit/") in relative)
    assert not by_path, f"{tag} carries reference solutions: {by_path}"
    names = {path.name for path in solutions}
    by_name = sorted(path for path in listed if path.rsplit("/", 1)[-1] in names)
    assert not by_name, f"{tag} carries files named like a reference solution ({sorted(names)}): {by_name}"

    sizes = sorted({path.stat().st_size for path in solutions})
    size_tests = " -o ".join(f"-size {size}c" for size in sizes)
    script = f"find / -xdev -type f \\( {size_tests} \\) -exec sha256sum {{}} + 2>/dev/null; true"
    code, output = images.run_in_image(docker_client, tag, ["sh", "-c", script])
    assert code == 0, output
    wanted = {digest: path for path, digest in solutions.items()}
    copies = sorted(
        f"{fields[1]} == {wanted[fields[0]].relative_to(REPO_ROOT)}"
        for fields in (line.split(maxsplit=1) for line in output.splitlines())
        if len(fields) == 2 and fields[0] in wanted
    )
    assert not copies, f"{tag} holds a byte-identical copy of a reference solution: {copies}"


def test_tfx_image_holds_only_the_session6_module_files_and_no_labkit(docker_client: Any, tfx_image: str) -> None:
    """From pipelines/ only what the compiled spec's executors load by path; labkit/ only lived in the build step."""
    code, output = images.run_in_image(docker_client, tfx_image, ["find", "/opt/labkit/pipelines", "-type", "f"])
    assert code == 0, output
    listed = {line.strip() for line in output.splitlines() if line.startswith("/opt/labkit/")}
    module_dir = "/opt/labkit/pipelines/tfx_penguin"
    assert listed == {
        "/opt/labkit/pipelines/__init__.py",
        f"{module_dir}/__init__.py",
        f"{module_dir}/preprocessing.py",
        f"{module_dir}/trainer.py",
    }
    spec = (REPO_ROOT / "tests" / "golden" / "tfx-penguin.yaml").read_text()
    for name in ("preprocessing.py", "trainer.py"):
        assert f"{module_dir}/{name}" in spec, f"the compiled spec no longer loads {name} from the image"
    script = "import importlib.util, os; print(importlib.util.find_spec('labkit'), os.path.exists('/tmp/labkit-build'))"
    code, output = images.run_in_image(docker_client, tfx_image, ["python3", "-c", script])
    assert code == 0, output
    assert output.split()[-2:] == ["None", "False"], f"the labkit CLI was left in {tfx_image}: {output}"
