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
  by the same rules; a single wrapping folder is looked through.
"""

from __future__ import annotations

import datetime as dt
import os
import re
import stat
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

from grader.pipeline import layouts
from grader.pipeline.layouts import Name, lab_of
from grader.pipeline.unpack import Unpacked, skipped, unpack
from grader.safetext import escape

RESUBMISSION = re.compile(r"-\d+$")


@dataclass
class Discovery(Unpacked):
    """Students and their notebooks.

    Attributes:
        found: student id -> lab id -> notebook path, or a status decided here
            (``ungradable:too-large``, ``ungradable:unreadable``, ``ungradable:symlink``).
        flags: student id -> flags (ignored files, duplicates, symlinks).
        notes: lines for the log (and :class:`~grader.pipeline.unpack.Unpacked`'s placeholders).
        folders: folder or file name -> the student id it was read as (ids are the
            names with control characters and undecodable bytes escaped, one per name).
    """

    found: dict[str, dict[str, Path | str]] = field(default_factory=dict)
    flags: dict[str, list[str]] = field(default_factory=dict)
    folders: dict[str, str] = field(default_factory=dict)
    layout: str = "folders"
    handins: dict[tuple[str, str], Handin] = field(default_factory=dict)
    """(student id, lab) -> when and how the graded notebook was handed in."""
    names: dict[str, str] = field(default_factory=dict)
    """Student id -> the display name the LMS gave (Canvas's name slug, Moodle's full name)."""

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

    def add(
        self, student_id: str, lab: str, path: Path | str, handin: Handin | None = None
    ) -> None:
        """Record a notebook; of two for one lab the later (:meth:`Handin.rank`) is kept."""
        labs = self.student(student_id)
        handin = handin or Handin(file=Path(str(path)).name)
        if isinstance(path, Path) and path in self.placeholders:
            path = self.placeholders[path]
        if lab in labs:
            self.flags[student_id].append(f"duplicate-submission:{lab}")
            previous = self.handins.get((student_id, lab), Handin())
            if previous.rank() > handin.rank():
                path, handin = labs[lab], previous
            self.notes.append(f"{student_id}: two submissions for {lab}; grading {handin.file}")
        labs[lab] = path
        self.handins[student_id, lab] = handin

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


@dataclass(frozen=True)
class Handin:
    """How one graded notebook was handed in: its file name (escaped), time and late flag."""

    file: str = ""
    submitted: dt.datetime | None = None
    late: bool = False
    order: tuple[int, ...] = ()

    def rank(self) -> tuple[bool, dt.datetime, tuple[int, ...], str]:
        """Later submissions rank higher: by time, then upload order or copy number, then name."""
        when = self.submitted or dt.datetime.min.replace(tzinfo=dt.timezone.utc)
        return (self.submitted is not None, when, self.order, self.file)


def flat_match(name: str, notebooks: dict[str, str]) -> tuple[str, str] | None:
    """``(student name, lab)`` for a flat file name ``<id>_<anything>_<notebook>``, or None."""
    if "_" not in name or not name.endswith(".ipynb"):
        return None
    student = name.split("_", 1)[0]
    for notebook, lab in notebooks.items():
        stem = notebook.removesuffix(".ipynb")
        tail = name.removesuffix(".ipynb")
        while "_" in tail:
            tail = tail.split("_", 1)[1]
            found = lab_of(tail + ".ipynb", {notebook: lab})
            if found is not None and student and tail.startswith(stem):
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
) -> Discovery:
    """Find the submissions under ``root`` (a folder or a zip).

    Args:
        root: SUBMISSIONS.
        notebooks: notebook file name -> lab id, for the labs being graded.
        unpack_to: an empty folder to unpack a zip into.
        max_bytes: the notebook size cap (zip members above it are not unpacked).
        layout: one of :data:`grader.pipeline.layouts.LAYOUTS`, or None to detect it.

    Raises:
        ValueError: ``root`` is a file but not a readable zip, or an unknown layout.
    """
    found = Discovery()
    if root.is_file():
        if not zipfile.is_zipfile(root):
            raise ValueError(f"{root} is neither a folder nor a zip")
        root = unpack(root, unpack_to, max_bytes, found)
    assignments = {name.removesuffix(".ipynb") for name in notebooks}
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
        return found
    every_lab = list(dict.fromkeys(notebooks.values()))
    for entry in sorted(os.listdir(root)):
        if skipped(entry):
            continue
        path = root / entry
        info = os.lstat(path)
        who = _parse(layout, entry)
        if isinstance(who, str):
            found.notes.append(f"ignored {path}: {who}")
            continue
        if stat.S_ISLNK(info.st_mode):
            if who is not None:
                match = lab_of(who.file, notebooks)
                linked = [match[0]] if match else every_lab
                found.symlink(found.student_id(who.student), path, linked)
            elif (linked_flat := flat_match(entry, notebooks)) is not None:
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
        elif entry.endswith(".ipynb") and layout == "folders":
            flat = flat_match(entry, notebooks)
            if flat is None:
                owner = entry.split("_", 1)[0] if "_" in entry else ""
                why = "does not match <student>_<anything>_<notebook>.ipynb"
                found.ignore(found.student_id(owner) if owner else None, path, why)
                continue
            number = lab_of(entry.rsplit("_", 1)[-1], notebooks)
            handin = Handin(escape(entry), order=(number[1] if number else 0,))
            regular = stat.S_ISREG(info.st_mode)
            found.add(
                found.student_id(flat[0]),
                flat[1],
                path if regular else "ungradable:unreadable",
                handin,
            )
        elif entry.endswith(".ipynb"):
            found.notes.append(f"ignored {path}: does not follow the {layout} naming rule")
        else:
            found.notes.append(f"ignored {path}: not a notebook")
    return found


def _parse(layout: str, entry: str) -> Name | str | None:
    """Who an entry of an LMS download belongs to; a string says why it is ignored; None
    for the ``folders`` layout (or a name that follows no rule of the layout)."""
    if layout == "canvas":
        return layouts.parse_canvas(entry)
    if layout == "blackboard":
        return layouts.parse_blackboard(entry)
    if layout == "moodle":
        parsed = layouts.parse_moodle(entry)
        if parsed is None:
            return None
        who, plugin = parsed
        if plugin != "file":
            return f"a Moodle {plugin} submission, not a file submission"
        return who
    return None


def _lms_file(
    found: Discovery, path: Path, info: os.stat_result, who: Name, notebooks: dict[str, str]
) -> None:
    student = found.student_id(who.student)
    if who.name:
        found.names.setdefault(student, who.name)
    match = lab_of(who.file, notebooks)
    if match is None:
        if who.file.endswith(".ipynb"):
            found.ignore(student, path, "not a lab notebook name (renamed?)")
        else:
            found.notes.append(f"ignored {path}: not a notebook")
            found.student(student)
        return
    lab, number = match
    handin = Handin(escape(path.name), who.submitted, who.late, (who.order, number))
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
                found.notes.append(f"ignored {path}: not a submission folder")
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
) -> None:
    found.student(student)
    linked = False
    for path, info in _walk(folder):
        match = lab_of(path.name, notebooks)
        if stat.S_ISLNK(info.st_mode):
            if match is not None:
                found.symlink(student, path, [match[0]])
            else:
                found.symlink(student, path, [])
                linked = True
        elif stat.S_ISDIR(info.st_mode):
            continue
        elif match is not None:
            regular = stat.S_ISREG(info.st_mode)
            stamp = when or layouts.read_timestamp(path.parent)
            handin = Handin(escape(path.name), stamp, order=(match[1],))
            found.add(student, match[0], path if regular else "ungradable:unreadable", handin)
        elif path.suffix == ".ipynb":
            found.ignore(student, path, "not a lab notebook name (renamed?)")
    if linked:  # a linked folder may have held any lab: those not handed in count as symlinks
        for lab in every_lab:
            found.found[student].setdefault(lab, "ungradable:symlink")
