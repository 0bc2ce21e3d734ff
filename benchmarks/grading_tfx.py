"""Grading one session-6 (TFX) submission vs just running the same pipeline, side by side.

    PYTHONPATH=. .venv/bin/python benchmarks/grading_tfx.py [--runs 2]

Grade side: ``grading.grader.grade`` of the reference solution in the TFX sandbox (load, compile with
KubeflowV2DagRunner, LocalDagRunner with ``--cpus 1``, a second container scoring the SavedModel on held-out
rows). Run side: ``labkit pipeline run tfx-penguin --runner docker`` (LocalDagRunner, no CPU cap). The two
alternate; the ratio of medians is what to compare across machines.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from grading.grader import grade
from grading.rubric import load_rubric
from grading.sandbox import pick_sandbox
from labkit.labs import get_lab
from labkit.paths import REPO_ROOT

RUN_COMMAND = ["labkit", "pipeline", "run", "tfx-penguin", "--runner", "docker", "--output", "json"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=2)
    args = parser.parse_args()
    lab = get_lab(6)
    rubric = load_rubric(lab)
    sandbox = pick_sandbox("docker", "tfx")
    labkit = str(Path(sys.executable).parent / "labkit")
    grade_times, run_times, stage_notes = [], [], []
    with tempfile.TemporaryDirectory(prefix="bench-grade-tfx-") as tmp:
        submission = Path(tmp) / "reference"
        submission.mkdir()
        (submission / "pipeline.py").write_text(lab.solution.read_text())
        for index in range(args.runs):
            start = time.perf_counter()
            result = grade(submission, rubric, sandbox)
            grade_times.append(time.perf_counter() - start)
            stage_notes.append(f"{result.score:g}/{result.max_score:g}")
            start = time.perf_counter()
            command = [labkit, *RUN_COMMAND[1:], "--runs-dir", f"{tmp}/runs-{index}"]
            subprocess.run(command, check=True, capture_output=True, cwd=REPO_ROOT)
            run_times.append(time.perf_counter() - start)
            print(f"round {index + 1}: grade {grade_times[-1]:.1f} s ({stage_notes[-1]}), run {run_times[-1]:.1f} s")
    grade_median, run_median = statistics.median(grade_times), statistics.median(run_times)
    print(f"load average: {os.getloadavg()[0]:.1f}")
    print(f"grade a session-6 submission: median {grade_median:.1f} s; plain pipeline run: median {run_median:.1f} s")
    print(f"ratio grade/run: {grade_median / run_median:.2f}x")


if __name__ == "__main__":
    main()
