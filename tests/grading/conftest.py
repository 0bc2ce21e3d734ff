"""A recorded session-5 run, made once: the replay sandbox lays it out again for each hostile variant."""

from __future__ import annotations

from pathlib import Path

import pytest

from grading.rubric import Rubric, load_rubric
from labkit.labs import get_lab
from tests.grading.replay import record_session5_run


@pytest.fixture(scope="session")
def rubric() -> Rubric:
    return load_rubric(get_lab(5))


@pytest.fixture(scope="session")
def recorded(tmp_path_factory: pytest.TempPathFactory, rubric: Rubric) -> Path:
    return record_session5_run(tmp_path_factory.mktemp("recorded") / "out", rubric)
