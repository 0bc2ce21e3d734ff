"""Generated submissions for the grader's tests: reference, starter, and hostile ones.

Each hostile submission that probes an isolation boundary breaks itself (no pipeline function) when it gets
through, so a breach shows up as a lost score instead of hiding in a log.
"""

from __future__ import annotations

import zipfile
from pathlib import Path

from labkit.labs import get_lab

DAEMON_SECONDS = "3599.25"  # a distinctive argument to find a leftover process by
HOPPER_MARK = "labkit-pid-hopper-7c1f"  # the argument of a process that keeps changing pid
BREAK_IF = """
def _breached(what):
    # Getting through a boundary removes the pipeline: the grade shows the breach.
    global training_pipeline
    training_pipeline = None
    print("BREACHED:", what)
"""


def reference_source() -> str:
    return get_lab(5).solution.read_text()


def starter_source() -> str:
    return get_lab(5).starter.read_text()


def _with_prelude(prelude: str, source: str | None = None) -> str:
    """The reference with ``prelude`` run at import time, after the pipeline is defined."""
    return (source or reference_source()) + "\n" + BREAK_IF + "\n" + prelude + "\n"


def hostile_sources(grader_out: Path, kit_root: Path) -> dict[str, dict[str, str]]:
    """submission name -> {relative file: text}."""
    hidden_rubric = kit_root / "labs/session-05/hidden/rubric.yaml"
    public_rubric = kit_root / "labs/session-05/rubric.yaml"
    return {
        "syntax_error": {"pipeline.py": "from kfp import dsl\n\ndef training_pipeline(:\n    pass\n"},
        "no_function": {"pipeline.py": reference_source().replace("def training_pipeline(", "def my_pipeline(")},
        "infinite_loop": {"pipeline.py": "while True:\n    pass\n"},
        "memory_bomb": {
            "pipeline.py": "hog = []\nwhile True:\n    hog.append(bytearray(64 * 1024 * 1024))\n",
        },
        "fork_bomb": {"pipeline.py": "import os\nwhile True:\n    os.fork()\n"},
        "network": {
            "pipeline.py": _with_prelude(
                "import socket\n"
                "for host, port in [('pypi.org', 443), ('151.101.0.223', 443), ('1.1.1.1', 53)]:\n"
                "    try:\n"
                "        socket.create_connection((host, port), timeout=3).close()\n"
                "        _breached(f'network {host}')\n"
                "    except OSError:\n"
                "        pass\n"
            )
        },
        "read_rubric": {
            "pipeline.py": _with_prelude(
                "from pathlib import Path\n"
                "import components\n"
                "kit = Path(components.__file__).resolve().parent.parent\n"
                f"for path in [kit / 'labs/session-05/hidden/rubric.yaml', Path({str(hidden_rubric)!r})]:\n"
                "    try:\n"
                "        if 'hidden.' in path.read_text():\n"
                "            _breached(f'read {path}')\n"
                "    except OSError:\n"
                "        pass\n"
            )
        },
        "write_outside": {
            "pipeline.py": _with_prelude(
                "from pathlib import Path\n"
                f"targets = [Path({str(public_rubric)!r}), Path({str(grader_out)!r}) / 'pwned.txt',\n"
                "           Path(__file__).parent / 'pwned.txt', Path(__file__)]\n"
                "for target in targets:\n"
                "    try:\n"
                "        with open(target, 'a') as handle:\n"
                "            handle.write('pwned')\n"
                "        _breached(f'wrote {target}')\n"
                "    except OSError:\n"
                "        pass\n"
            )
        },
        "lingering_daemon": {
            # Double fork + setsid leaves the worker's process group; the sandbox must still end it.
            "pipeline.py": "import os, time\n"
            "if os.fork() == 0:\n"
            "    os.setsid()\n"
            "    if os.fork() == 0:\n"
            f"        os.execv('/bin/sleep', ['sleep', '{DAEMON_SECONDS}'])\n"
            "    os._exit(0)\n"
            "time.sleep(1)\n",
        },
        "pid_hopper": {
            # Leaves the session, then forks and exits in a loop: a new pid every few milliseconds.
            "pipeline.py": "import os, sys, time\n"
            "if os.fork() == 0:\n"
            "    os.setsid()\n"
            "    code = 'import os, time\\nwhile True:\\n    time.sleep(0.005)\\n'\n"
            "    code += '    if os.fork():\\n        os._exit(0)\\n'\n"
            f"    os.execv(sys.executable, [sys.executable, '-c', code, '{HOPPER_MARK}'])\n"
            "time.sleep(1)\n",
        },
        "memory_in_children": {
            # Four children of 1 GiB each: every one is under the 3 GiB limit, together they are over it.
            "pipeline.py": _with_prelude(
                "import os, time\n"
                "children = []\n"
                "for _ in range(4):\n"
                "    pid = os.fork()\n"
                "    if pid == 0:\n"
                "        hog = b'x' * (1024 * 2**20)\n"
                "        time.sleep(3)\n"
                "        os._exit(0)\n"
                "    children.append(pid)\n"
                "if all(os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]) == 0 for pid in children):\n"
                "    _breached('4 GiB in children')\n"
            )
        },
        "disk_filler": {
            # Many small files (each under the per-file limit) in the one folder it may write.
            "pipeline.py": "import sys, time\n"
            "from pathlib import Path\n"
            "out = Path(sys.argv[sys.argv.index('--out') + 1])\n"
            "for index in range(200_000):\n"
            "    (out / f'filler-{index}').write_bytes(b'x' * 1024)\n"
            "time.sleep(60)\n",
        },
        "output_flood": {"pipeline.py": "import sys\nfor _ in range(100):\n    sys.stdout.write('x' * 1048576)\n"},
        "tamper_results": {
            "pipeline.py": starter_source()
            + "\nimport json, os\nfrom pathlib import Path\n"
            + "fake = {'phase': 'ran', 'score': 110, 'percent': 100, 'passed': True}\n"
            + f"for folder in [Path({str(grader_out)!r}) / 'tamper_results', Path.cwd(), Path('/scratch/out')]:\n"
            + "    for name in ['status.json', 'result.json', 'results.json']:\n"
            + "        try:\n"
            + "            folder.mkdir(parents=True, exist_ok=True)\n"
            + "            (folder / name).write_text(json.dumps(fake))\n"
            + "        except OSError:\n"
            + "            pass\n"
        },
        "wrong_types": {
            "pipeline.py": reference_source().replace("epochs: int = 40", 'epochs: str = "forty"'),
        },
        "exit_at_import": {"pipeline.py": "import os\nos._exit(0)\n"},
        "shadowing": {
            "pipeline.py": reference_source(),
            "kfp.py": "raise RuntimeError('the submission shadowed kfp')\n",
            "labkit.py": "raise RuntimeError('the submission shadowed labkit')\n",
            "grading.py": "raise RuntimeError('the submission shadowed grading')\n",
            "components/__init__.py": "raise RuntimeError('the submission shadowed components')\n",
        },
        "fake_metrics": {"pipeline.py": FAKE_METRICS},
        # The kit's reference solution must not be importable from a submission.
        "copies_solution": {"pipeline.py": "from pipelines.training.pipeline import training_pipeline  # noqa\n"},
    }


FAKE_METRICS = '''"""Trains a poor model on purpose and reports perfect metrics of its own."""

from kfp import dsl
from kfp.dsl import Metrics, Output

from components.ingest.component import ingest
from components.split.component import split
from components.train.component import train
from components.validate.component import validate


@dsl.component(base_image="python:3.11", install_kfp_package=False)
def brag(metrics: Output[Metrics]) -> bool:
    for name in ("accuracy", "macro_f1"):
        metrics.log_metric(name, 1.0)
    print("accuracy 1.000 (baseline 0.100), macro-F1 1.000: PASSED the gate")
    return True


@dsl.pipeline(name="training")
def training_pipeline(
    epochs: int = 1, learning_rate: float = 0.0001, seed: int = 42, accuracy_threshold: float = 0.9,
    source: str = "palmerpenguins",
) -> Metrics:
    ingest_task = ingest(source=source)
    validate_task = validate(dataset=ingest_task.outputs["dataset"])
    split_task = split(dataset=ingest_task.outputs["dataset"], seed=seed).after(validate_task)
    train(train_data=split_task.outputs["train_data"], epochs=epochs, learning_rate=learning_rate, seed=seed)
    return brag().outputs["metrics"]
'''


def write_submission(folder: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        path = folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return folder


def write_zip(path: Path, files: dict[str, str], prefix: str = "") -> Path:
    with zipfile.ZipFile(path, "w") as archive:
        for name, text in files.items():
            archive.writestr(prefix + name, text)
    return path
