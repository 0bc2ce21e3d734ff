"""Turn what a student hands in (a folder or a .zip) into a clean folder the sandbox can mount read-only."""

from __future__ import annotations

import hashlib
import os
import shutil
import stat
import zipfile
from pathlib import Path, PurePosixPath

PIPELINE_FILE = "pipeline.py"
MAX_FILES = 200
MAX_BYTES = 20 * 1024 * 1024
SKIPPED_NAMES = {"__pycache__", ".git", ".ipynb_checkpoints", "__MACOSX"}


class SubmissionError(ValueError):
    """The submission cannot be graded as handed in; the message says what to change."""


def inside(path: Path, root: Path) -> bool:
    """``path`` is no symlink and resolves under ``root``: safe to read from a folder a submission wrote."""
    try:
        return not path.is_symlink() and path.resolve().is_relative_to(root.resolve())
    except OSError:
        return False


def submission_id(path: Path) -> str:
    return path.name.removesuffix(".zip") if path.suffix == ".zip" else path.name


def _root_of(files: list[PurePosixPath]) -> PurePosixPath:
    """Where pipeline.py sits: at the top, or inside the one folder a zip tool wrapped around it."""
    if PurePosixPath(PIPELINE_FILE) in files:
        return PurePosixPath(".")
    candidates = sorted({f.parent for f in files if f.name == PIPELINE_FILE}, key=lambda p: len(p.parts))
    if not candidates:
        raise SubmissionError(f"no {PIPELINE_FILE} in the submission: put your completed starter at its top level")
    return candidates[0]


def _check_sizes(count: int, total: int) -> None:
    if count > MAX_FILES:
        raise SubmissionError(f"the submission has {count} files (at most {MAX_FILES}); hand in only your code")
    if total > MAX_BYTES:
        raise SubmissionError(f"the submission holds {total // 2**20} MiB (at most {MAX_BYTES // 2**20} MiB)")


def _skipped(relative: PurePosixPath) -> bool:
    return any(part in SKIPPED_NAMES for part in relative.parts)


def unpack(source: Path, dest: Path) -> None:
    """Copy regular files only: no symlinks, no paths outside ``dest``, limited count and size."""
    dest.mkdir(parents=True)
    if source.is_file() and source.suffix == ".zip":
        try:
            archive = zipfile.ZipFile(source)
        except zipfile.BadZipFile:
            raise SubmissionError(f"{source.name} is not a valid zip file") from None
        with archive:
            members = []
            for info in archive.infolist():
                name = PurePosixPath(info.filename)
                if info.is_dir() or _skipped(name):
                    continue
                if name.is_absolute() or ".." in name.parts:
                    raise SubmissionError(f"the zip holds an unsafe path {info.filename!r}")
                if stat.S_ISLNK(info.external_attr >> 16):
                    continue
                members.append((name, info))
            _check_sizes(len(members), sum(info.file_size for _, info in members))
            root = _root_of([name for name, _ in members])
            for name, info in members:
                if root != PurePosixPath(".") and root not in name.parents:
                    continue
                target = dest / name.relative_to(root)
                target.parent.mkdir(parents=True, exist_ok=True)
                with archive.open(info) as reader, target.open("wb") as writer:
                    shutil.copyfileobj(reader, writer, length=MAX_BYTES)
        return
    if not source.is_dir():
        raise SubmissionError(f"{source} is neither a folder nor a .zip file")
    files = []
    for folder, dirs, names in os.walk(source):  # os.walk does not follow symlinked folders
        dirs[:] = [d for d in dirs if d not in SKIPPED_NAMES]
        for name in names:
            path = Path(folder) / name
            if path.is_file() and not path.is_symlink():
                files.append(path)
        _check_sizes(len(files), 0)
    _check_sizes(len(files), sum(p.stat().st_size for p in files))
    relative = [PurePosixPath(p.relative_to(source).as_posix()) for p in files]
    root = _root_of(relative)
    for path, rel in zip(files, relative, strict=True):
        if root != PurePosixPath(".") and root not in rel.parents:
            continue
        target = dest / rel.relative_to(root)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, target)


def digest(folder: Path) -> str:
    """A fingerprint of the unpacked files, so a batch regrades only submissions that changed."""
    hasher = hashlib.sha256()
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        hasher.update(path.relative_to(folder).as_posix().encode() + b"\0" + path.read_bytes() + b"\0")
    return hasher.hexdigest()[:16]
