"""Turn what a student hands in (a folder or a .zip) into a clean folder the sandbox can mount read-only."""

from __future__ import annotations

import errno
import hashlib
import json
import os
import shutil
import stat
import zipfile
from pathlib import Path, PurePosixPath
from typing import Any

PIPELINE_FILE = "pipeline.py"
MAX_FILES = 200
MAX_BYTES = 20 * 1024 * 1024
SKIPPED_NAMES = {"__pycache__", ".git", ".ipynb_checkpoints", "__MACOSX"}


class SubmissionError(ValueError):
    """The submission cannot be graded as handed in; the message says what to change."""


class RefusedFile(ValueError):
    """A file the submission wrote that the grader will not read; the message is a feedback line."""


class MissingFile(RefusedFile):
    """The file is not there at all."""


def inside(path: Path, root: Path) -> bool:
    """``path`` is no symlink and resolves under ``root``: safe to read from a folder a submission wrote."""
    try:
        return not path.is_symlink() and path.resolve().is_relative_to(root.resolve())
    except (OSError, RuntimeError):  # RuntimeError: a symlink loop, on Python 3.11
        return False


_DIRECTORY = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
_FILE = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_NOCTTY | os.O_CLOEXEC


def _open_plain(path: Path, root: Path) -> int:
    """A read-only descriptor of ``path``, reached from ``root`` one folder at a time without following any link,
    and only if it is a regular file with a single name: never a FIFO, a device, a /proc file or a hard link.

    Stat before open, so that opening never has a side effect (a device, a FIFO), then fstat the descriptor,
    so that what is read is what was checked.
    """
    shown = path.name
    try:
        relative = path.relative_to(root)
        shown = relative.as_posix()
    except ValueError:
        relative = None
    if relative is None or not relative.parts or ".." in relative.parts:
        raise RefusedFile(f"{shown} está fuera de la carpeta de salida")
    try:
        folder = os.open(root, _DIRECTORY)
    except OSError:
        raise RefusedFile(f"la carpeta de {shown} no es una carpeta común") from None
    try:
        for part in relative.parts[:-1]:
            try:
                below = os.open(part, _DIRECTORY, dir_fd=folder)
            except FileNotFoundError:
                raise MissingFile(f"{shown} no existe") from None
            except OSError:
                raise RefusedFile(f"{shown} pasa por un enlace simbólico o algo que no es una carpeta") from None
            os.close(folder)
            folder = below
        try:
            before = os.stat(relative.parts[-1], dir_fd=folder, follow_symlinks=False)
        except FileNotFoundError:
            raise MissingFile(f"{shown} no existe") from None
        except OSError as exc:
            raise RefusedFile(f"{shown} no se pudo leer ({errno.errorcode.get(exc.errno or 0, exc.errno)})") from None
        if stat.S_ISLNK(before.st_mode):
            raise RefusedFile(f"{shown} es un enlace simbólico: el corrector no sigue enlaces")
        if not stat.S_ISREG(before.st_mode):
            raise RefusedFile(f"{shown} no es un archivo común (¿una carpeta, una FIFO o un dispositivo?)")
        if before.st_nlink != 1:
            raise RefusedFile(f"{shown} es un enlace duro a otro archivo: el corrector no lo lee")
        try:
            fd = os.open(relative.parts[-1], _FILE, dir_fd=folder)
        except OSError:
            raise RefusedFile(f"{shown} no se pudo abrir") from None
    finally:
        os.close(folder)
    after = os.fstat(fd)
    if (after.st_dev, after.st_ino) != (before.st_dev, before.st_ino):
        os.close(fd)
        raise RefusedFile(f"{shown} cambió mientras el corrector lo leía")
    return fd


def plain_file(path: Path, root: Path) -> bool:
    """``path`` is a regular file under ``root`` that ``read_limited`` would open."""
    try:
        os.close(_open_plain(path, root))
    except RefusedFile:
        return False
    return True


def read_limited(path: Path, root: Path, limit: int) -> bytes:
    """At most ``limit`` bytes of a file the submission wrote, or RefusedFile saying why not.

    Sizes are counted while reading, not taken from ``st_size`` (0 for a /proc file, whatever length it reads).
    """
    fd = _open_plain(path, root)
    shown = path.relative_to(root).as_posix()
    try:
        if os.fstat(fd).st_size > limit:
            raise RefusedFile(f"{shown} ocupa más de {_size(limit)}")
        chunks, total = [], 0
        while total <= limit:
            try:
                chunk = os.read(fd, min(1 << 20, limit + 1 - total))
            except OSError:
                raise RefusedFile(f"{shown} no se pudo leer") from None
            if not chunk:
                break
            chunks.append(chunk)
            total += len(chunk)
    finally:
        os.close(fd)
    if total > limit:
        raise RefusedFile(f"{shown} ocupa más de {_size(limit)}")
    return b"".join(chunks)


def read_text_limited(path: Path, root: Path, limit: int) -> str:
    try:
        return read_limited(path, root, limit).decode("utf-8")
    except UnicodeDecodeError:
        raise RefusedFile(f"{path.relative_to(root).as_posix()} no es texto UTF-8") from None


def read_json_limited(path: Path, root: Path, limit: int) -> Any:
    """JSON from a file the submission wrote; nesting deep enough to exhaust the parser's stack is refused too."""
    text = read_text_limited(path, root, limit)
    try:
        return json.loads(text)
    except (ValueError, RecursionError):
        raise RefusedFile(f"{path.relative_to(root).as_posix()} no es JSON válido") from None


def _size(limit: int) -> str:
    return f"{limit // 2**20} MiB" if limit >= 2**20 else f"{limit // 1024} KiB" if limit >= 1024 else f"{limit} bytes"


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
