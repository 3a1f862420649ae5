"""Find who submitted what in an LMS download, an nbgrader course, plain folders, or a zip of any.

The layout (:mod:`grader.pipeline.layouts`: ``canvas``, ``moodle``, ``blackboard``, ``nbgrader``,
``folders``) is detected or chosen; each gives stable, unique ids (the LMS's user id where it
has one), and the submission time and late flag where the names or ``timestamp.txt`` carry
them. A notebook's name may carry a copy or resubmission suffix (``-1``, `` (1)``, ``-Copy1``).

Naming rules of the ``folders`` layout:

* ``<student_id>/<notebook>.ipynb`` (at any depth inside the student's folder):
  the notebook's name must be exactly a lab's notebook name, e.g.
  ``lab-1.7.2-operations.ipynb``; anything else is logged and ignored.
* ``<student_id>_<anything>_<notebook>.ipynb`` directly in SUBMISSIONS (flat LMS
  export): the student id is the text before the first underscore, and the name
  must end with ``_<notebook>.ipynb``; a resubmission suffix ``-<n>`` before
  ``.ipynb`` (``..._lab-1.7.2-operations-2.ipynb``) is accepted.
* When a student has two files for one lab, the latest is graded (by submission time where
  one is known, else by the LMS's upload order or the copy number, else the last in name
  order) and the student is flagged ``duplicate-submission:<lab>``.
* A zip is unpacked (safely: no absolute paths or ``..``, size caps) and read
  by the same rules; a single wrapping folder is looked through. Zips inside it (a download
  zipped again, ``<id>.zip`` per learner, a learner's own zip among their files) are unpacked
  with the same caps, :data:`MAX_ZIP_DEPTH` deep.

Every file a learner handed in is accounted for: a file that is not graded leaves the flag
``ignored-file:<reason>:<name>`` on its learner's row, the reason one of :data:`REASONS`. With
one lab asked for (``lone``), a learner's only notebook under another name is graded for that
lab and flagged ``renamed:<name>``.
"""

from __future__ import annotations

import datetime as dt
import os
import re
import stat
import zipfile
from pathlib import Path

import grader.pipeline.layouts as layouts
from grader.batch import Handin
from grader.pipeline.discovery import (
    Discovery,
    lone_notebooks,
    one_learner_each,
    reason_for,
)
from grader.pipeline.layouts import Name, lab_of
from grader.pipeline.unpack import skipped, unpack
from grader.safetext import escape

RESUBMISSION = re.compile(r"-\d+$")


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
            if skipped(name):
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
    root: Path,
    notebooks: dict[str, str],
    *,
    unpack_to: Path,
    max_bytes: int,
    layout: str | None = None,
    zone: dt.tzinfo = dt.timezone.utc,
    lone: bool = False,
) -> Discovery:
    """Find the submissions under ``root`` (a folder or a zip).

    Args:
        root: SUBMISSIONS.
        notebooks: notebook file name -> lab id, for the labs being graded.
        unpack_to: an empty folder to unpack zips into.
        max_bytes: the notebook size cap (zip members above it are not unpacked).
        layout: one of :data:`grader.pipeline.layouts.LAYOUTS`, or None to detect it.
        zone: the timezone of times in file names that carry no offset (Blackboard's).
        lone: one lab is graded and was asked for: a learner's only notebook under another
            name is graded for it (flagged ``renamed:<name>``).

    Raises:
        ValueError: ``root`` is a file but not a readable zip, or an unknown layout.
        AmbiguousLayout: the layout was not given and the names fit two, or a learner read
            from plain folders would hold several LMS users' files.
    """
    found = Discovery(scratch=unpack_to / "nested", max_bytes=max_bytes)
    found.scratch.mkdir(parents=True)  # type: ignore[union-attr]
    if root.is_file():
        if not zipfile.is_zipfile(root):
            raise ValueError(f"{root} is neither a folder nor a zip")
        root = unpack(root, unpack_to / "download", max_bytes, found)
        found.depth = 1
    root = _unwrap(found, root)
    assignments = {name.removesuffix(".ipynb") for name in notebooks}
    chosen = layout
    if layout is None:
        layout = layouts.detect(root, assignments)
        found.notes.append(f"layout: {layout} (detected)")
    elif layout not in layouts.LAYOUTS:
        raise ValueError(f"unknown layout {layout!r}; known: {', '.join(layouts.LAYOUTS)}")
    else:
        found.notes.append(f"layout: {layout} (chosen)")
    found.layout = layout
    if layout == "nbgrader":
        _nbgrader(found, root, notebooks, assignments)
    else:
        _download(found, root, layout, notebooks, zone)
    if chosen is None and layout == "folders":
        one_learner_each(found)
    if lone:
        lone_notebooks(found, next(iter(notebooks.values())))
    return found


def _unwrap(found: Discovery, root: Path) -> Path:
    """A download zipped again (the only entry is a zip): the folder it unpacks to."""
    while True:
        entries = [name for name in sorted(os.listdir(root)) if not skipped(name)]
        if len(entries) != 1 or not entries[0].lower().endswith(".zip"):
            return root
        path = root / entries[0]
        if path.is_symlink() or not zipfile.is_zipfile(path):
            return root
        inner = found.open_zip(None, path)
        if inner is None:
            return root
        found.notes.append(f"{path}: a zip holding the download, read inside")
        found.depth += 1
        root = inner


def _download(
    found: Discovery, root: Path, layout: str, notebooks: dict[str, str], zone: dt.tzinfo
) -> None:
    """An LMS download or plain folders: one entry of ``root`` per file or learner."""
    every_lab = list(dict.fromkeys(notebooks.values()))
    entries = [entry for entry in sorted(os.listdir(root)) if not skipped(entry)]
    users = layouts.download_users(root, entries) if layout == "blackboard" else {}
    for entry in entries:
        path = root / entry
        info = os.lstat(path)
        who = layouts.owner(layout, entry, zone, users)
        if isinstance(who, str):
            found.notes.append(f"ignored {path}: {who}")
            continue
        if stat.S_ISLNK(info.st_mode):
            if who is not None:
                match = lab_of(who.file, notebooks)
                linked = [match[0]] if match else every_lab
                found.symlink(found.student_id(who.student), path, linked)
            elif (linked_flat := layouts.flat_match(entry, notebooks)) is not None:
                found.symlink(found.student_id(linked_flat[0]), path, [linked_flat[1]])
            else:
                found.symlink(found.student_id(entry), path, every_lab)
        elif stat.S_ISDIR(info.st_mode):
            if layout in ("canvas", "blackboard"):
                found.notes.append(f"ignored {path}: a folder in a {layout} download")
                continue
            student = found.student_id(who.student if who else entry)
            if who is not None and who.name:
                found.names[student] = who.name
            _student_folder(found, student, path, notebooks, every_lab)
        elif who is not None:
            _lms_file(found, path, info, who, notebooks)
        elif layout == "folders" and entry.lower().endswith(".zip"):
            student = found.student_id(entry[: -len(".zip")])
            inner = found.open_zip(student, path)
            found.student(student)
            if inner is not None:
                found.notes.append(f"{path}: read as the folder of {student}")
                _student_folder(found, student, inner, notebooks, every_lab, zipped=True)
        elif entry.endswith(".ipynb") and layout == "folders":
            _flat_file(found, path, info, notebooks)
        elif entry.endswith(".ipynb"):
            found.ignore(None, path, "renamed", f"does not follow the {layout} naming rule")
        else:
            found.ignore(None, path, "not-a-notebook", "not a notebook, and no learner's")


def _flat_file(found: Discovery, path: Path, info: os.stat_result, notebooks: dict[str, str]):
    """``<id>_<anything>_<notebook>.ipynb`` directly in SUBMISSIONS (plain folders)."""
    entry = path.name
    flat = layouts.flat_match(entry, notebooks)
    if flat is None:
        owner = entry.split("_", 1)[0] if "_" in entry else ""
        student = found.student_id(owner) if owner else None
        if student is not None:
            found.lms_user(student, entry)
        why = "does not match <student>_<anything>_<notebook>.ipynb"
        found.ignore(student, path, reason_for(entry), why)
        return
    student = found.student_id(flat[0])
    found.lms_user(student, entry)
    number = lab_of(entry.rsplit("_", 1)[-1], notebooks)
    handin = Handin(escape(entry), order=(number[1] if number else 0,))
    regular = stat.S_ISREG(info.st_mode)
    found.add(student, flat[1], path if regular else "ungradable:unreadable", handin)


def _lms_file(
    found: Discovery, path: Path, info: os.stat_result, who: Name, notebooks: dict[str, str]
) -> None:
    student = found.student_id(who.student)
    if who.name:
        found.names.setdefault(student, who.name)
    found.student(student)
    if not who.file:  # a Blackboard receipt: the LMS's, not the learner's
        receipt = layouts.read_receipt(path)
        if receipt is not None and receipt[0]:
            found.names.setdefault(student, receipt[0])
        return
    if who.file.lower().endswith(".zip") and stat.S_ISREG(info.st_mode):
        inner = found.open_zip(student, path)
        if inner is not None:
            found.depth += 1
            try:
                for member, member_info in _walk(inner):
                    if not stat.S_ISDIR(member_info.st_mode):
                        shown = f"{path.name}/{member.relative_to(inner).as_posix()}"
                        _lms_notebook(
                            found, student, member, member_info, who, notebooks, member.name, shown
                        )
            finally:
                found.depth -= 1
        return
    _lms_notebook(found, student, path, info, who, notebooks, who.file, path.name)


def _lms_notebook(
    found: Discovery,
    student: str,
    path: Path,
    info: os.stat_result,
    who: Name,
    notebooks: dict[str, str],
    own: str,
    shown: str,
) -> None:
    """One file of an LMS learner: ``own`` its name as the learner gave it, ``shown`` its
    name in the download (``<zip>/<member>`` inside a learner's zip)."""
    match = lab_of(own, notebooks)
    if stat.S_ISLNK(info.st_mode):
        found.symlink(student, path, [match[0]] if match else [])
        return
    if match is None:
        handin = Handin(escape(shown), who.submitted, who.late, (who.order,))
        found.ignore(student, path, reason_for(own), name=shown, handin=handin)
        return
    lab, number = match
    handin = Handin(escape(shown), who.submitted, who.late, (who.order, number))
    regular = stat.S_ISREG(info.st_mode)
    found.add(student, lab, path if regular else "ungradable:unreadable", handin)
    if who.late:
        found.flags[student].append(f"late:{lab}")


def _nbgrader(
    found: Discovery, root: Path, notebooks: dict[str, str], assignments: set[str]
) -> None:
    """``submitted/<id>/<assignment>/`` (a course root or ``submitted/`` itself) or the
    exchange's ``inbound/<id>+<assignment>+<time>/``; ``timestamp.txt`` gives the time."""
    located = layouts.nbgrader_root(root)
    folder, kind = located if located else (root, "submitted")
    if located is None and any(layouts.parse_inbound(n) for n in os.listdir(root)):
        kind = "inbound"
    every_lab = list(dict.fromkeys(notebooks.values()))
    for entry in sorted(os.listdir(folder)):
        path = folder / entry
        if skipped(entry):
            continue
        if not stat.S_ISDIR(os.lstat(path).st_mode):
            if os.path.islink(path):
                found.symlink(found.student_id(entry), path, every_lab)
            else:
                found.ignore(None, path, reason_for(entry), "not a submission folder")
            continue
        if kind == "inbound":
            who = layouts.parse_inbound(entry)
            if who is None:
                found.notes.append(f"ignored {path}: not <id>+<assignment>+<timestamp>")
                continue
            student = found.student_id(who.student)
            when = layouts.read_timestamp(path) or who.submitted
            _student_folder(found, student, path, notebooks, every_lab, when)
            continue
        student = found.student_id(entry)
        found.student(student)
        for assignment in sorted(os.listdir(path)):
            inner = path / assignment
            if skipped(assignment):
                continue
            if assignment not in assignments:
                found.notes.append(f"ignored {inner}: not an assignment of this batch")
                continue
            when = layouts.read_timestamp(inner)
            _student_folder(found, student, inner, notebooks, every_lab, when)


def _student_folder(
    found: Discovery,
    student: str,
    folder: Path,
    notebooks: dict[str, str],
    every_lab: list[str],
    when: dt.datetime | None = None,
    zipped: bool = False,
) -> None:
    """Every file in one learner's folder (or unpacked zip): lab notebooks are added, zips
    opened, everything else ignored with its reason."""
    found.student(student)
    if zipped:
        found.depth += 1
    linked = False
    try:
        for path, info in _walk(folder):
            match = lab_of(path.name, notebooks)
            if stat.S_ISLNK(info.st_mode):
                if match is not None:
                    found.symlink(student, path, [match[0]])
                else:
                    found.symlink(student, path, [])
                    linked = True
            elif stat.S_ISDIR(info.st_mode):
                found.lms_user(student, path.name)  # a Moodle folder carries its learner
            elif match is not None:
                found.lms_user(student, path.name)
                regular = stat.S_ISREG(info.st_mode)
                stamp = when or layouts.read_timestamp(path.parent)
                handin = Handin(escape(path.name), stamp, order=(match[1],))
                found.add(student, match[0], path if regular else "ungradable:unreadable", handin)
            elif path.name.lower().endswith(".zip") and stat.S_ISREG(info.st_mode):
                inner = found.open_zip(student, path)
                if inner is not None:
                    _student_folder(found, student, inner, notebooks, every_lab, when, True)
            elif path.name == "timestamp.txt":
                continue  # nbgrader's own file
            else:
                found.lms_user(student, path.name)
                found.ignore(student, path, reason_for(path.name))
    finally:
        if zipped:
            found.depth -= 1
    if linked:  # a linked folder may have held any lab: those not handed in count as symlinks
        for lab in every_lab:
            found.found[student].setdefault(lab, "ungradable:symlink")
