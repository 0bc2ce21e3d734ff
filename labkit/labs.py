"""The course labs (sessions 5-7): where their guide, starter, solution and rubric live."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import yaml

from labkit.paths import REPO_ROOT

LABS_DIR = REPO_ROOT / "labs"


class UnknownLabError(LookupError):
    pass


@dataclass(frozen=True)
class Lab:
    session: int
    title: str
    folder: Path
    pipeline_function: str
    starter: Path
    solution: Path
    guide: Path
    kind: str = "kfp"  # "tfx": the starter is a TFX create_pipeline, run in the TFX image

    @classmethod
    def from_folder(cls, folder: Path) -> Lab:
        spec = yaml.safe_load((folder / "lab.yaml").read_text())
        return cls(
            session=int(spec["session"]),
            title=spec["title"],
            folder=folder,
            pipeline_function=spec["pipeline_function"],
            starter=(folder / spec["starter"]).resolve(),
            solution=(folder / spec["solution"]).resolve(),
            guide=folder / "README.md",
            kind=spec.get("kind", "kfp"),
        )


def list_labs(labs_dir: Path = LABS_DIR) -> list[Lab]:
    return [Lab.from_folder(f) for f in sorted(labs_dir.glob("session-*")) if (f / "lab.yaml").is_file()]


def get_lab(session: int, labs_dir: Path = LABS_DIR) -> Lab:
    for lab in list_labs(labs_dir):
        if lab.session == session:
            return lab
    known = ", ".join(str(lab.session) for lab in list_labs(labs_dir))
    raise UnknownLabError(f"no lab for session {session}; labs exist for sessions: {known}")
