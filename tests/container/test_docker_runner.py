"""The docker runner: the session-5 pipeline in the components image, with no network, same numbers."""

from __future__ import annotations

import errno
import json
from pathlib import Path
from typing import Any

import pytest

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
