"""Find who submitted what: ``<student_id>/<notebook>.ipynb`` folders, flat LMS exports, or a zip.

Naming rules:

* ``<student_id>/<notebook>.ipynb`` (at any depth inside the student's folder):
  the notebook's name must be exactly a lab's notebook name, e.g.
  ``lab-1.7.2-operations.ipynb``; anything else is logged and ignored.
* ``<student_id>_<anything>_<notebook>.ipynb`` directly in SUBMISSIONS (flat LMS
  export): the student id is the text before the first underscore, and the name
  must end with ``_<notebook>.ipynb``; a resubmission suffix ``-<n>`` before
  ``.ipynb`` (``..._lab-1.7.2-operations-2.ipynb``) is accepted.
* When a student has two files for one lab, the last in name order is graded
  (highest resubmission number) and the student is flagged ``duplicate-submission:<lab>``.
* A zip is unpacked (safely: no absolute paths or ``..``, size caps) and read
  by the same rules; a single wrapping folder is looked through.
"""

from __future__ import annotations

import os
import re
import stat
import zipfile
import zlib
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from grader.safetext import escape

RESUBMISSION = re.compile(r"-\d+$")
SKIPPED_PARTS = ("__MACOSX", ".ipynb_checkpoints")
MAX_ZIP_TOTAL = 4 * 1024**3
MAX_ZIP_MEMBERS = 100_000
ZIP_ERRORS = (zipfile.BadZipFile, zlib.error, EOFError, OSError, RuntimeError, NotImplementedError)
"""What reading one zip member can raise (bad CRC, truncated data, encryption, odd methods)."""


@dataclass
class Discovery:
    """Students and their notebooks.

    Attributes:
        found: student id -> lab id -> notebook path, or a status decided here
            (``ungradable:too-large``, ``ungradable:unreadable``, ``ungradable:symlink``).
        flags: student id -> flags (ignored files, duplicates, symlinks).
        notes: lines for the log.
        folders: folder or file name -> the student id it was read as (ids are the
            names with control characters and undecodable bytes escaped, one per name).
    """

    found: dict[str, dict[str, Path | str]] = field(default_factory=dict)
    flags: dict[str, list[str]] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    folders: dict[str, str] = field(default_factory=dict)
    placeholders: dict[Path, str] = field(default_factory=dict)
    """Files unpacked from a zip that stand for a status (a member over the cap, unreadable)."""

    def student_id(self, name: str) -> str:
        """The one id for a folder (or flat-export) name; a second name escaping to a taken
        id gets a numbered one, and the log says so."""
        if name in self.folders:
            return self.folders[name]
        student = escape(name)
        taken = set(self.folders.values())
        if student in taken:
            number = 2
            while f"{student}~{number}" in taken:
                number += 1
            self.notes.append(
                f"{student}: a second folder with this id is read as {student}~{number}"
            )
            student = f"{student}~{number}"
        self.folders[name] = student
        return student

    def student(self, student_id: str) -> dict[str, Path | str]:
        self.flags.setdefault(student_id, [])
        return self.found.setdefault(student_id, {})

    def add(self, student_id: str, lab: str, path: Path | str) -> None:
        labs = self.student(student_id)
        if isinstance(path, Path) and path in self.placeholders:
            path = self.placeholders[path]
        if lab in labs:
            self.flags[student_id].append(f"duplicate-submission:{lab}")
            self.notes.append(
                f"{student_id}: two submissions for {lab}; grading {Path(str(path)).name}"
            )
        labs[lab] = path

    def ignore(self, student_id: str | None, path: Path, why: str) -> None:
        self.notes.append(f"ignored {path}: {why}")
        if student_id is not None:
            self.student(student_id)
            self.flags[student_id].append(f"ignored-file:{escape(path.name)}")

    def symlink(self, student_id: str, path: Path, labs: list[str]) -> None:
        """A symbolic link: never followed; flagged, and the labs it could stand for are
        ``ungradable:symlink`` unless the student handed them in otherwise."""
        self.notes.append(f"not followed: {path} is a symbolic link")
        found = self.student(student_id)
        self.flags[student_id].append(f"symlink:{escape(path.name)}")
        for lab in labs:
            found.setdefault(lab, "ungradable:symlink")


def _skipped(name: str) -> bool:
    return name.startswith(".") or name in SKIPPED_PARTS


def flat_match(name: str, notebooks: dict[str, str]) -> tuple[str, str] | None:
    """``(student name, lab)`` for a flat LMS file name, or None."""
    if "_" not in name or not name.endswith(".ipynb"):
        return None
    student = name.split("_", 1)[0]
    stem = name.removesuffix(".ipynb")
    for candidate in (stem, RESUBMISSION.sub("", stem)):
        for notebook, lab in notebooks.items():
            if candidate.endswith("_" + notebook.removesuffix(".ipynb")) and student:
                return student, lab
    return None


def _walk(folder: Path) -> list[tuple[Path, os.stat_result]]:
    """Every entry under ``folder`` (hidden ones and checkpoints left out), in name order,
    with its own ``lstat``: symbolic links are listed, never followed."""
    entries = []
    pending = [folder]
    while pending:
        current = pending.pop()
        try:
            names = sorted(os.listdir(current))
        except OSError:
            continue
        for name in names:
            if _skipped(name):
                continue
            path = current / name
            try:
                info = os.lstat(path)
            except OSError:
                continue
            entries.append((path, info))
            if stat.S_ISDIR(info.st_mode):
                pending.append(path)
    return sorted(entries, key=lambda entry: entry[0].parts)


def discover(
    root: Path, notebooks: dict[str, str], *, unpack_to: Path, max_bytes: int
) -> Discovery:
    """Find the submissions under ``root`` (a folder or a zip).

    Args:
        root: SUBMISSIONS.
        notebooks: notebook file name -> lab id, for the labs being graded.
        unpack_to: an empty folder to unpack a zip into.
        max_bytes: the notebook size cap (zip members above it are not unpacked).

    Raises:
        ValueError: ``root`` is a file but not a readable zip.
    """
    found = Discovery()
    if root.is_file():
        if not zipfile.is_zipfile(root):
            raise ValueError(f"{root} is neither a folder nor a zip")
        root = unpack(root, unpack_to, max_bytes, found)
    every_lab = list(dict.fromkeys(notebooks.values()))
    for entry in sorted(os.listdir(root)):
        if _skipped(entry):
            continue
        path = root / entry
        info = os.lstat(path)
        if stat.S_ISLNK(info.st_mode):
            match = flat_match(entry, notebooks)
            if match is not None:
                found.symlink(found.student_id(match[0]), path, [match[1]])
            else:
                found.symlink(found.student_id(entry), path, every_lab)
        elif stat.S_ISDIR(info.st_mode):
            _student_folder(found, root, path, notebooks, every_lab)
        elif entry.endswith(".ipynb"):
            match = flat_match(entry, notebooks)
            if match is None:
                owner = entry.split("_", 1)[0] if "_" in entry else ""
                why = "does not match <student>_<anything>_<notebook>.ipynb"
                found.ignore(found.student_id(owner) if owner else None, path, why)
            elif not stat.S_ISREG(info.st_mode):
                found.add(found.student_id(match[0]), match[1], "ungradable:unreadable")
            else:
                found.add(found.student_id(match[0]), match[1], path)
        else:
            found.notes.append(f"ignored {path}: not a notebook")
    return found


def _student_folder(
    found: Discovery, root: Path, folder: Path, notebooks: dict[str, str], every_lab: list[str]
) -> None:
    student = found.student_id(folder.name)
    found.student(student)
    linked = False
    for path, info in _walk(folder):
        if stat.S_ISLNK(info.st_mode):
            if path.name in notebooks:
                found.symlink(student, path, [notebooks[path.name]])
            else:
                found.symlink(student, path, [])
                linked = True
        elif stat.S_ISDIR(info.st_mode):
            continue
        elif path.name in notebooks:
            regular = stat.S_ISREG(info.st_mode)
            found.add(student, notebooks[path.name], path if regular else "ungradable:unreadable")
        elif path.suffix == ".ipynb":
            found.ignore(student, path, "not a lab notebook name (renamed?)")
    if linked:  # a linked folder may have held any lab: those not handed in count as symlinks
        for lab in every_lab:
            found.found[student].setdefault(lab, "ungradable:symlink")


def unpack(archive: Path, into: Path, max_bytes: int, found: Discovery) -> Path:
    """Unpack a zip safely; returns the folder to read (looking through one wrapping folder).

    Members with an absolute path or ``..`` are skipped; a member that cannot be read (bad
    CRC, truncated, encrypted) leaves an empty file standing for ``ungradable:unreadable``, one
    over the size cap for ``ungradable:too-large``; a file whose name is also a folder of the
    zip is skipped (the folder wins). Each is logged.
    """
    total = 0
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
                total += info.file_size
                if info.file_size > max_bytes or total > MAX_ZIP_TOTAL:
                    found.notes.append(f"not unpacked (size cap): {info.filename}")
                    continue
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
    children = [p for p in into.iterdir() if not _skipped(p.name)]
    if len(children) == 1 and children[0].is_dir() and not children[0].is_symlink():
        inner = children[0]
        grandchildren = list(inner.iterdir())
        if grandchildren and all(p.is_dir() or "_" in p.name for p in grandchildren):
            return inner
    return into


def _placeholder(found: Discovery, target: Path, status: str) -> None:
    target.write_bytes(b"")
    found.placeholders[target] = status
