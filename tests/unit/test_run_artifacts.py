"""What a local run lists as its artifacts: HTML outputs as pages a browser opens."""

from __future__ import annotations

import json
from pathlib import Path

from labkit.registry import get_pipeline
from labkit.runners.local import _artifacts_of, html_outputs


def test_html_outputs_are_found_in_every_dag_of_the_spec() -> None:
    assert ("train", "training_curve") in html_outputs(get_pipeline("training").load().pipeline_spec)
    # detect-drift is in the root DAG; train and register-model sit inside dsl.If sub-DAGs.
    continuous = html_outputs(get_pipeline("continuous-training").load().pipeline_spec)
    assert ("detect-drift", "report") in continuous
    assert all(output != "model" for _, output in continuous)


def test_an_html_output_gets_an_html_twin_and_other_outputs_stay(tmp_path: Path) -> None:
    task = tmp_path / "run-1" / "train"
    task.mkdir(parents=True)
    (task / "training_curve").write_text("<html>curve</html>")
    (task / "model").mkdir()
    listing = {name: {"artifacts": [{"name": name, "uri": str(task / name)}]} for name in ("training_curve", "model")}
    (task / "executor_output.json").write_text(json.dumps({"artifacts": listing}))
    found = _artifacts_of(tmp_path, {("train", "training_curve")})
    page = Path(found["train/training_curve"])
    assert page.name == "training_curve.html" and page.read_text() == "<html>curve</html>"
    assert found["train/model"] == str(task / "model")
    assert _artifacts_of(tmp_path, {("train", "training_curve")}) == found  # a second listing reuses the page
