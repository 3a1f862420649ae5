"""Read the submissions folder: every listing, ``lstat``, side file and zip of discovery.

Discovery reads the filesystem here alone: :mod:`grader.pipeline.claims` and the naming rules
of :mod:`grader.pipeline.layouts` are given what is read (names, kinds, owning accounts, the
text of ``timestamp.txt`` and of Blackboard receipts) and parse it, and
:mod:`grader.pipeline.discover` acts on their answers.
Symbolic links are listed, never followed; hidden files, macOS resource forks and Jupyter
checkpoints are never read.
"""

from __future__ import annotations

import functools
import os
import pwd
import stat
import zipfile
from dataclasses import dataclass, replace
from pathlib import Path

from grader.pipeline.unpack import Unpacked, unpack

MAX_ZIP_DEPTH = 3
"""Zips inside zips are unpacked this many levels deep (the outer download is level 1)."""
SIDE_FILE_BYTES = 2000
"""How much of a side file (``timestamp.txt``, a Blackboard receipt) is read."""
SKIPPED_PARTS = ("__MACOSX", ".ipynb_checkpoints")


def skipped(name: str) -> bool:
    """A name discovery never reads: hidden files, macOS resource forks, Jupyter checkpoints."""
    return name.startswith(".") or name in SKIPPED_PARTS


@dataclass(frozen=True)
class Entry:
    """One file or folder as read: its path and name, its kind by its own ``lstat`` (a link is
    never followed), its owner, and the text of its side file (a Blackboard receipt's own; for
    a file in a learner's folder, the ``timestamp.txt`` beside it)."""

    path: Path
    name: str
    is_dir: bool = False
    is_link: bool = False
    is_regular: bool = False
    uid: int = -1
    account: str | None = None
    """The owning account's name; None where the uid has no passwd entry."""
    side: str | None = None
    subfolders: tuple[str, ...] = ()
    """A folder's own folders' names (what tells an nbgrader course from plain folders)."""


def _entry(
    path: Path, info: os.stat_result, side: str | None, subfolders: tuple[str, ...]
) -> Entry:
    mode = info.st_mode
    return Entry(
        path,
        path.name,
        stat.S_ISDIR(mode),
        stat.S_ISLNK(mode),
        stat.S_ISREG(mode),
        info.st_uid,
        account(info.st_uid),
        side,
        subfolders,
    )


def listing(folder: Path, *, subfolders: bool = False, texts: bool = False) -> list[Entry]:
    """The entries of ``folder`` itself, in name order, each with its own ``lstat``; where
    ``texts``, the text of each regular ``.txt`` file (a receipt, perhaps); where
    ``subfolders``, a folder's own folders' names. Empty where ``folder`` cannot be read."""
    try:
        names = sorted(os.listdir(folder))
    except OSError:
        return []
    entries = []
    for name in names:
        if skipped(name):
            continue
        path = folder / name
        try:
            info = os.lstat(path)
        except OSError:
            continue
        inner: tuple[str, ...] = ()
        if subfolders and stat.S_ISDIR(info.st_mode):
            inner = tuple(entry.name for entry in listing(path) if entry.is_dir)
        text = None
        if texts and stat.S_ISREG(info.st_mode) and name.endswith(".txt"):
            text = side_text(path)
        entries.append(_entry(path, info, text, inner))
    return entries


def tree(folder: Path) -> list[Entry]:
    """Every entry under ``folder`` at any depth, in path order (links listed, not followed);
    a file's side text is the ``timestamp.txt`` beside it (nbgrader's), where there is one."""
    entries = []
    pending = [folder]
    while pending:
        current = pending.pop()
        stamp = timestamp(current)
        for entry in listing(current):
            if entry.is_dir:
                pending.append(entry.path)
            elif stamp is not None:
                entry = replace(entry, side=stamp)
            entries.append(entry)
    return sorted(entries, key=lambda entry: entry.path.parts)


def side_text(path: Path) -> str | None:
    """The start of a small side file, if it is a regular file (never a link) and readable."""
    try:
        info = os.lstat(path)
        if not stat.S_ISREG(info.st_mode):
            return None
        with open(path, encoding="utf-8", errors="replace") as handle:
            return handle.read(SIDE_FILE_BYTES)
    except OSError:
        return None


def timestamp(folder: Path) -> str | None:
    """The text of nbgrader's ``folder/timestamp.txt`` (None above 1000 bytes)."""
    path = folder / "timestamp.txt"
    try:
        if os.lstat(path).st_size > 1000:
            return None
    except OSError:
        return None
    return side_text(path)


@functools.lru_cache(maxsize=256)
def account(uid: int) -> str | None:
    """The account name of ``uid``; None where it has no passwd entry (a copied exchange)."""
    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError:
        return None


def trusted_uids(folder: Path) -> frozenset[int]:
    """The uids that may hand in under any learner's name in ``folder``: its owner (the
    instructor, for an exchange's ``inbound/``) and this process's."""
    return frozenset({os.lstat(folder).st_uid, os.geteuid()})


def head(path: Path) -> bytes:
    """The first 4 KiB of a regular file (never a link); empty where it cannot be read."""
    try:
        if not stat.S_ISREG(os.lstat(path).st_mode):
            return b""
        with open(path, "rb") as handle:
            return handle.read(4096)
    except OSError:
        return b""


def is_file(path: Path) -> bool:
    """``path`` is a file (SUBMISSIONS given as a zip, a link to one followed)."""
    return path.is_file()


def reads_as_zip(path: Path) -> bool:
    """``path`` (a link to one followed) reads as a zip."""
    return zipfile.is_zipfile(path)


def is_zip(path: Path) -> bool:
    """A regular file (not a link) that reads as a zip."""
    try:
        return stat.S_ISREG(os.lstat(path).st_mode) and zipfile.is_zipfile(path)
    except OSError:
        return False


def unpacked(archive: Path, into: Path, max_bytes: int, found: Unpacked) -> Path:
    """Unpack a zip safely (:func:`grader.pipeline.unpack.unpack`) into ``into``; returns the
    folder to read, looking through one wrapping folder (not one learner's own folder)."""
    unpack(archive, into, max_bytes, found)
    children = [p for p in into.iterdir() if not skipped(p.name)]
    if len(children) == 1 and children[0].is_dir() and not children[0].is_symlink():
        inner = children[0]
        grandchildren = list(inner.iterdir())
        zips = len(grandchildren) > 1  # learners' zips (one alone may be a learner's own)
        if grandchildren and all(
            p.is_dir() or "_" in p.name or (zips and p.suffix.lower() == ".zip")
            for p in grandchildren
        ):
            return inner
    return into


def open_zip(path: Path, scratch: Path, depth: int, found: Unpacked, max_bytes: int) -> Path | str:
    """Unpack a zip found inside the submissions into a folder of its own under ``scratch``
    (the outer download's caps), ``depth`` zips deep now; the folder, or why it was not."""
    if depth + 1 > MAX_ZIP_DEPTH:
        return f"a zip more than {MAX_ZIP_DEPTH} deep"
    into = scratch / f"zip-{len(list(scratch.iterdir())) + 1}"
    into.mkdir()
    try:
        return unpacked(path, into, max_bytes, found)
    except ValueError as exc:
        return str(exc)
