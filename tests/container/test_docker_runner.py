"""The docker runner: the session-5 pipeline in the components image, with no network, same numbers."""

from __future__ import annotations

import errno
import json
from pathlib import Path
from typing import Any

import pytest

from components.text_corpus.logic import build_corpus
from labkit import images
from labkit.registry import get_pipeline
from labkit.runners import get_runner
from labkit.runners.base import RunnerUnavailableError, RunResult
from labkit.runners.local import DockerRunner

pytestmark = pytest.mark.container

# Few epochs to keep it quick. The penguins are easy (accuracy is 1.0 even so), so the test also compares the
# training loss curve, which any difference in data, split, seed or weights would move.
PARAMS = {"epochs": 5, "seed": 7}


def _run(runner: str, runs_dir: Path) -> RunResult:
    run_dir = runs_dir / runner
    run_dir.mkdir()
    events = []
    result = get_runner(runner).run(get_pipeline("training"), PARAMS, run_dir, events.append)
    assert result.succeeded, f"{runner}: {result.failed_task}: {result.error} (log: {result.log_file})"
    assert {event.task for event in events if event.state == "succeeded"} >= {"ingest", "train", "evaluate"}
    return result


def _history(result: RunResult) -> dict[str, list[float]]:
    return json.loads((Path(result.artifacts["train/model"]) / "history.json").read_text())


@pytest.mark.slow
def test_docker_runner_gives_the_subprocess_runners_metrics(components_image: str, runs_dir: Path) -> None:
    docker = _run("docker", runs_dir)
    subprocess = _run("subprocess", runs_dir)
    assert "Found image" in Path(docker.log_file or "").read_text(), "tasks ran in the local image, nothing pulled"
    assert set(docker.metrics) == set(subprocess.metrics)
    for key, value in subprocess.metrics.items():
        if isinstance(value, float):
            assert docker.metrics[key] == pytest.approx(value, abs=1e-6), key
        else:
            assert docker.metrics[key] == value, key
    assert _history(docker)["loss"] == pytest.approx(_history(subprocess)["loss"], abs=1e-6)


def test_task_containers_have_no_network(docker_client: Any, components_image: str) -> None:
    """Run the image with the runner's own container arguments and try to reach out."""
    run_args = dict(DockerRunner()._kfp_runner().container_run_args)
    assert run_args.pop("network_mode") == "none"
    script = (
        "import os, socket\n"
        "print('interfaces', sorted(os.listdir('/sys/class/net')))\n"
        "s = socket.socket(socket.AF_INET, socket.SOCK_STREAM); s.settimeout(5)\n"
        # TEST-NET-1 (RFC 5737): a documentation address; with no interface but lo nothing is ever sent.
        "print('connect', s.connect_ex(('192.0.2.1', 80)))\n"
    )
    code, output = images.run_in_image(docker_client, components_image, ["python3", "-c", script], **run_args)
    assert code == 0, output
    assert "interfaces ['lo']" in output
    assert f"connect {errno.ENETUNREACH}" in output, output


def test_missing_image_names_the_build_command(docker_client: Any) -> None:
    with pytest.raises(RunnerUnavailableError, match="labkit image build components"):
        DockerRunner(image="labkit-components:0.0.0-missing").check()


def test_host_paths_in_parameters_are_mounted_for_the_tasks(components_image: str, tmp_path: Path) -> None:
    """A batch CSV and a registry folder outside the run folder are seen (and written) by the task containers."""
    from components.champion.logic import champion_version
    from labkit.data import write_batches

    batch = write_batches(tmp_path / "batches", 4)[3].path  # a drifted batch
    registry = tmp_path / "registry"
    registry.mkdir()
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    params = {"batch": str(batch), "registry": str(registry), "epochs": 5}
    result = DockerRunner().run(get_pipeline("continuous-training"), params, run_dir, lambda _: None)
    assert result.succeeded, f"{result.failed_task}: {result.error} (log: {result.log_file})"
    assert result.metrics["drifted"] is True
    assert champion_version(registry) is not None, "the container registered the model in the host's folder"


def test_host_path_params_are_absolute_and_bare_words_are_left_alone(tmp_path: Path, monkeypatch) -> None:
    from labkit.runners.local import host_path_params

    (tmp_path / "registry").mkdir()
    (tmp_path / "data.csv").write_text("x\n")
    (tmp_path / "penguins").mkdir()  # a folder named like a parameter value that is not a path
    monkeypatch.chdir(tmp_path)
    params, mounts = host_path_params({"source": "data.csv", "registry": "./registry", "name": "penguins", "n": 3})
    assert params == {
        "source": str(tmp_path / "data.csv"),
        "registry": str(tmp_path / "registry"),
        "name": "penguins",
        "n": 3,
    }
    assert mounts == [str(tmp_path / "data.csv"), str(tmp_path / "registry")]


@pytest.mark.slow
def test_the_genai_pipeline_reads_the_guides_the_image_carries(
    docker_client: Any, components_image: str, tmp_path: Path
) -> None:
    """Session 8's corpus is the kit's guides: the components image carries them (never starters or hidden
    rubrics), so `--runner docker` needs no corpus folder; the registry, a host folder, is mounted."""
    registry = tmp_path / "registry"
    registry.mkdir()
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    params = {"epochs": 1, "units": 16, "registry": str(registry)}
    result = get_runner("docker").run(get_pipeline("genai"), params, run_dir, lambda event: None)
    assert result.succeeded, f"{result.failed_task}: {result.error} (log: {result.log_file})"
    sources = json.loads((Path(result.artifacts["text-corpus/corpus"]) / "sources.json").read_text())["sources"]
    guides = {s["file"]: s["sha256"] for s in sources}
    assert guides == {s["file"]: s["sha256"] for s in build_corpus().sources}  # the image's copy is this checkout's
    assert (registry / "guides-index" / "v0001" / "chunks.jsonl").is_file()  # written on the host through the mount
    listing = docker_client.containers.run(components_image, ["find", "/opt/labkit/labs", "-type", "f"], remove=True)
    files = listing.decode().split()
    assert files and all(Path(f).name in ("README.md", "GRADING.md") for f in files), files
