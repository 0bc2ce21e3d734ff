"""The student bundle: the kit with starters and public rubrics, without solutions or hidden checks."""

from __future__ import annotations

import shutil
from pathlib import Path

from grading.rubric import HIDDEN_DIR
from labkit.labs import list_labs
from labkit.paths import REPO_ROOT

TOP_LEVEL = (
    "labkit",
    "components",
    "pipelines",
    "labs",
    "manifests",
    "scripts",
    "benchmarks",
    "README.md",
    "pyproject.toml",
    "Makefile",
)
# The grader ships to students too: `labkit lab check` runs the public checks on their machine.
TOP_LEVEL_GRADER = ("grading",)
IGNORED = shutil.ignore_patterns("__pycache__", "*.pyc", ".pytest_cache", "runs", "build", "*.egg-info")


def excluded_paths(root: Path = REPO_ROOT) -> set[Path]:
    """Every lab's solution file and hidden folder, relative to ``root``."""
    excluded: set[Path] = set()
    for lab in list_labs(root / "labs"):
        if lab.solution.is_file() and lab.solution.resolve().is_relative_to(root.resolve()):
            excluded.add(lab.solution.resolve().relative_to(root.resolve()))
        excluded.add((lab.folder / HIDDEN_DIR).resolve().relative_to(root.resolve()))
    return excluded


def build_handout(out: Path, root: Path = REPO_ROOT) -> list[Path]:
    """Copy the kit into ``out`` (which must not exist) and return the paths left out."""
    if out.exists():
        raise FileExistsError(f"{out} already exists; pass a new folder or delete it first")
    excluded = excluded_paths(root)
    root_resolved = root.resolve()

    def ignore(folder: str, names: list[str]) -> set[str]:
        skipped = set(IGNORED(folder, names))
        for name in names:
            relative = (Path(folder) / name).resolve().relative_to(root_resolved)
            if relative in excluded:
                skipped.add(name)
        return skipped

    out.mkdir(parents=True)
    for name in (*TOP_LEVEL, *TOP_LEVEL_GRADER):
        source = root / name
        if source.is_dir():
            shutil.copytree(source, out / name, ignore=ignore)
        elif source.is_file():
            shutil.copy2(source, out / name)
    # A solution that is one of the kit's registered pipelines is replaced by the lab's starter, so the
    # handout's `make demo` and `labkit pipeline run` still work: they run the student's own version.
    for lab in list_labs(root / "labs"):
        solution = lab.solution.resolve()
        if solution.is_relative_to(root_resolved / "pipelines") and lab.starter.is_file():
            shutil.copy2(lab.starter, out / solution.relative_to(root_resolved))
    return sorted(excluded)
