"""Unpack a zip of submissions safely, member by member, into a folder to read.

:func:`unpack` writes the members; the walker (:func:`grader.pipeline.walk.unpacked`) then
reads the folder, looking through one wrapping folder.

No absolute paths or ``..``, no file where the zip also has a folder of that name, size caps
per member and in total; a member that cannot be read stands as an empty placeholder file
with its status (``ungradable:unreadable``, ``ungradable:too-large``).
"""

from __future__ import annotations

import zipfile
import zlib
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath


@dataclass
class Unpacked:
    """What unpacking noted: lines for the log, and placeholder files with their status."""

    notes: list[str] = field(default_factory=list)
    placeholders: dict[Path, str] = field(default_factory=dict)
    unpacked_bytes: int = 0
    """Bytes unpacked so far, by every zip of one batch together (capped at MAX_ZIP_TOTAL)."""


MAX_ZIP_TOTAL = 4 * 1024**3


MAX_ZIP_MEMBERS = 100_000


ZIP_ERRORS = (zipfile.BadZipFile, zlib.error, EOFError, OSError, RuntimeError, NotImplementedError)
"""What reading one zip member can raise (bad CRC, truncated data, encryption, odd methods)."""


def unpack(archive: Path, into: Path, max_bytes: int, found: Unpacked) -> None:
    """Unpack a zip safely into the folder ``into``.

    Members with an absolute path or ``..`` are skipped; a member that cannot be read (bad
    CRC, truncated, encrypted) leaves an empty file standing for ``ungradable:unreadable``, one
    over the size cap for ``ungradable:too-large``; a file whose name is also a folder of the
    zip is skipped (the folder wins). Each is logged.
    """
    try:
        zf = zipfile.ZipFile(archive)
    except ZIP_ERRORS as exc:
        raise ValueError(f"{archive} is not a readable zip: {exc}") from exc
    with zf:
        members = zf.infolist()
        if len(members) > MAX_ZIP_MEMBERS:
            found.notes.append(f"{archive}: only the first {MAX_ZIP_MEMBERS} members are read")
            members = members[:MAX_ZIP_MEMBERS]
        folders = {
            parent
            for info in members
            for parent in PurePosixPath(info.filename).parents
            if parent != PurePosixPath(".")
        }
        for info in members:
            name = PurePosixPath(info.filename)
            if info.is_dir() or not name.parts:
                continue
            if name.is_absolute() or ".." in name.parts:
                found.notes.append(f"not unpacked (absolute path or '..'): {info.filename}")
                continue
            if name in folders:
                found.notes.append(f"not unpacked (a folder has the same name): {info.filename}")
                continue
            target = into.joinpath(*name.parts)
            try:
                target.parent.mkdir(parents=True, exist_ok=True)
                if info.file_size > max_bytes and name.suffix == ".ipynb":
                    _placeholder(found, target, "ungradable:too-large")
                    found.notes.append(f"not unpacked (over the size cap): {info.filename}")
                    continue
                if (
                    info.file_size > max_bytes
                    or found.unpacked_bytes + info.file_size > MAX_ZIP_TOTAL
                ):
                    found.notes.append(f"not unpacked (size cap): {info.filename}")
                    continue
                found.unpacked_bytes += info.file_size
                with zf.open(info) as src:
                    data = src.read(max_bytes + 1)
                target.write_bytes(data)
                found.placeholders.pop(target, None)
            except ZIP_ERRORS as exc:
                found.notes.append(f"not unpacked ({type(exc).__name__}: {exc}): {info.filename}")
                if name.suffix == ".ipynb":
                    try:
                        _placeholder(found, target, "ungradable:unreadable")
                    except OSError:
                        pass


def _placeholder(found: Unpacked, target: Path, status: str) -> None:
    target.write_bytes(b"")
    found.placeholders[target] = status
