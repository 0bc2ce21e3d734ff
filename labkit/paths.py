"""Where things live: the checkout the kit runs from, and per-run folders."""

from __future__ import annotations

import os
import secrets
from datetime import datetime
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
RUNS_ENV = "LABKIT_RUNS_DIR"


def runs_root() -> Path:
    """``$LABKIT_RUNS_DIR`` or ``./runs``: students find their runs next to where they typed the command."""
    return Path(os.environ.get(RUNS_ENV, "runs")).resolve()


def new_run_dir(pipeline: str, root: Path | None = None) -> Path:
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    run_dir = (root or runs_root()) / pipeline / f"{stamp}-{secrets.token_hex(2)}"
    run_dir.mkdir(parents=True)
    return run_dir
