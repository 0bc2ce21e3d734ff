"""The data a submission's runs get, and the held-out rows the grader keeps for itself.

A rubric's ``grading.data`` names CSV files the grader writes into the read-only data folder (``{data}`` in run
arguments) before the sandbox starts. Each is a batch of ``labkit.data``'s drifting stream, sampled from the
grader's *visible* rows. For every file the grader also draws, the same way, a held-out set from its held-out
rows — penguins it generated (``grading.heldout``), never rows of the public table: a model trained on
``drifted.csv`` is scored on held-out rows with the same drift. Both are shifted in standard deviations of the
public table, so the drift is the same.
Everything is deterministic from the rubric's ``heldout_seed`` (the real one is in the hidden rubric)::

    data:
      stable.csv: {batch: 0, rows: 200}       # drift level 0: the reference distribution
      drifted.csv: {batch: 3, rows: 200}      # drift level 3 (default knobs; `knobs:` overrides DriftKnobs)

Run arguments may name ``{data}`` (read-only, ``/scratch/data`` in the docker sandbox) and ``{out}`` (the
writable output folder, ``/scratch/out`` there); the docker sandbox rewrites the grader's scratch paths.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

PLACEHOLDERS = ("data", "out")
DATA_FILE = re.compile(r"^[A-Za-z0-9][\w.-]*\.csv$")
_PLACEHOLDER = re.compile(r"\{([^{}]*)\}")
DATA_KEYS = {"batch", "rows", "knobs"}
HELDOUT_STREAM = 1_000_003  # offset of the held-out rows' random stream from the batches' one


@dataclass(frozen=True)
class DataFile:
    given: pd.DataFrame  # what the sandbox reads
    held_out: pd.DataFrame  # drawn the same way from rows the sandbox never receives


def check_spec(name: str, spec: Any) -> str | None:
    """Why a ``data`` entry is malformed, or None."""
    if not DATA_FILE.match(name):
        return f"data file {name!r} must be a plain .csv file name"
    if not isinstance(spec, dict) or "batch" not in spec or set(spec) - DATA_KEYS:
        return f"data file {name!r} needs batch: N and may have only {sorted(DATA_KEYS)}"
    try:
        _knobs(spec)
    except (TypeError, ValueError) as exc:
        return f"data file {name!r}: {exc}"
    return None


def check_placeholders(value: Any) -> list[str]:
    """Placeholders in ``value`` (strings, nested in lists/dicts) that the grader does not fill."""
    if isinstance(value, str):
        return [name for name in _PLACEHOLDER.findall(value) if name not in PLACEHOLDERS]
    if isinstance(value, dict):
        return [bad for item in value.values() for bad in check_placeholders(item)]
    if isinstance(value, list):
        return [bad for item in value for bad in check_placeholders(item)]
    return []


def expand(value: Any, places: dict[str, Path]) -> Any:
    """``value`` with ``{data}`` and ``{out}`` replaced by the given folders (in strings, lists and dicts)."""
    if isinstance(value, str):
        for name, path in places.items():
            value = value.replace("{" + name + "}", str(path))
        return value
    if isinstance(value, dict):
        return {key: expand(item, places) for key, item in value.items()}
    if isinstance(value, list):
        return [expand(item, places) for item in value]
    return value


def _knobs(spec: dict[str, Any]):
    from labkit.data import DriftKnobs

    knobs = dict(spec.get("knobs") or {})
    if "numeric" in knobs:
        knobs["numeric"] = tuple(knobs["numeric"])
    return DriftKnobs(**knobs)


def write_data(
    specs: dict[str, dict[str, Any]], folder: Path, visible: pd.DataFrame, held_out: pd.DataFrame, seed: int
) -> dict[str, DataFile]:
    """Write each file of ``specs`` into ``folder``; return what was written and its held-out twin."""
    if not specs:
        return {}
    from components.ingest.logic import load_penguins_clean
    from labkit.data import make_batch

    whole = load_penguins_clean()  # the drift's scale: the same for the given and the held-out rows
    files = {}
    for name, spec in specs.items():
        knobs, index = _knobs(spec), int(spec["batch"])
        given = make_batch(index, visible, rows=int(spec.get("rows", 200)), seed=seed, knobs=knobs, scale=whole)
        twin = make_batch(index, held_out, rows=len(held_out), seed=seed + HELDOUT_STREAM, knobs=knobs, scale=whole)
        given.to_csv(folder / name, index=False)
        files[name] = DataFile(given, twin)
    return files
