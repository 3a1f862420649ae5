"""What discovery found: learners, their notebooks, how each was handed in, and every file
that is not graded with its reason.

:class:`Discovery` is the record :func:`grader.pipeline.discover.discover` fills while it walks
a download; the checks here run on the whole record once the walk is done (several LMS users
read as one learner, a lone notebook under another name).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

import grader.pipeline.layouts as layouts
from grader.batch import Handin
from grader.labs import LABS
from grader.pipeline.layouts import AmbiguousLayout
from grader.pipeline.unpack import Unpacked, unpack
from grader.safetext import escape

REASONS = ("renamed", "not-a-notebook", "other-lab", "unreadable", "duplicate")
"""Why a handed-in file was not graded (the ``ignored-file`` flag and summary's table)."""
MAX_ZIP_DEPTH = 3
"""Zips inside zips are unpacked this many levels deep (the outer download is level 1)."""
OTHER_LAB_NOTEBOOKS = {lab.notebook for lab in LABS.values()}
NOTEBOOK_SNIFF = re.compile(rb'^\s*\{.*"(cells|nbformat)"\s*:', re.S)


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
    ignored: list[Ignored] = field(default_factory=list)
    """Every handed-in file not graded, with its learner (None where no learner owns it)."""
    scratch: Path | None = None
    """Where zips inside the submissions are unpacked (each into a folder of its own)."""
    max_bytes: int = 0
    depth: int = 0
    """How many zips deep the entries read now are."""
    submitters: dict[str, set[str]] = field(default_factory=dict)
    """Student id -> the LMS users its files' names carry (two: a class read as one learner)."""

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
            superseded = handin
            if previous.rank() > handin.rank():
                path, handin, superseded = labs[lab], previous, handin
            else:
                superseded = previous
            self.flags[student_id].append(f"ignored-file:duplicate:{superseded.file}")
            self.ignored.append(Ignored(student_id, superseded.file, "duplicate"))
            self.notes.append(f"{student_id}: two submissions for {lab}; grading {handin.file}")
        labs[lab] = path
        self.handins[student_id, lab] = handin

    def ignore(
        self,
        student_id: str | None,
        path: Path,
        reason: str,
        why: str = "",
        name: str = "",
        handin: Handin | None = None,
    ) -> None:
        """A handed-in file not graded: logged, and flagged on its learner's row (``handin``:
        its time and late flag, should it be graded after all)."""
        name = escape(name or path.name)
        self.notes.append(f"ignored {path}: {why or reason}")
        self.ignored.append(Ignored(student_id, name, reason, path, handin))
        if student_id is not None:
            self.student(student_id)
            self.flags[student_id].append(f"ignored-file:{reason}:{name}")

    def open_zip(self, student: str | None, path: Path) -> Path | None:
        """Unpack a zip found inside the submissions (same caps as the outer one) into a
        folder of its own; None, with the file ignored, when it cannot be or is too deep."""
        if self.scratch is None or self.depth + 1 > MAX_ZIP_DEPTH:
            self.ignore(student, path, "unreadable", f"a zip more than {MAX_ZIP_DEPTH} deep")
            return None
        into = self.scratch / f"zip-{len(list(self.scratch.iterdir())) + 1}"
        into.mkdir()
        try:
            return unpack(path, into, self.max_bytes, self)
        except ValueError as exc:
            self.ignore(student, path, "unreadable", str(exc))
            return None

    def lms_user(self, student: str, filename: str) -> None:
        """Note the LMS user a file's own name carries (for :func:`_one_learner_each`)."""
        user = layouts.submitter(filename)
        if user is not None:
            self.submitters.setdefault(student, set()).add(user)

    def symlink(self, student_id: str, path: Path, labs: list[str]) -> None:
        """A symbolic link: never followed; flagged, and the labs it could stand for are
        ``ungradable:symlink`` unless the student handed them in otherwise."""
        self.notes.append(f"not followed: {path} is a symbolic link")
        found = self.student(student_id)
        self.flags[student_id].append(f"symlink:{escape(path.name)}")
        for lab in labs:
            found.setdefault(lab, "ungradable:symlink")


@dataclass(frozen=True)
class Ignored:
    """A handed-in file that is not graded: its learner, name (escaped), reason and path."""

    student: str | None
    name: str
    reason: str
    path: Path | None = None
    handin: Handin | None = None


def reason_for(filename: str) -> str:
    """Why a file that names no lab of this batch is not graded."""
    if layouts.lab_of(filename, {name: name for name in OTHER_LAB_NOTEBOOKS}) is not None:
        return "other-lab"
    return "renamed" if filename.endswith(".ipynb") else "not-a-notebook"


def one_learner_each(found: Discovery) -> None:
    """Plain folders read from a download whose file names carry two LMS users under one
    learner: a class would be graded as one student, so nothing is graded.

    Raises:
        AmbiguousLayout: naming the learner, the users and the layouts to choose from.
    """
    for student, users in sorted(found.submitters.items()):
        if len(users) > 1:
            some = ", ".join(sorted(users)[:3])
            raise AmbiguousLayout(
                f"the files read as learner {student!r} carry {len(users)} LMS users' names "
                f"({some}, …): one folder would hold several learners' attempts",
                ["blackboard", "canvas", "moodle", "folders"],
            )


def lone_notebooks(found: Discovery, lab: str) -> None:
    """One lab asked for: a learner without it whose only other notebook (or notebook JSON
    under another extension) was ignored has that file graded, flagged ``renamed``."""
    by_student: dict[str, list[Ignored]] = {}
    for item in found.ignored:
        if item.student is not None and item.path is not None:
            by_student.setdefault(item.student, []).append(item)
    for student, items in sorted(by_student.items()):
        if lab in found.found.get(student, {}):
            continue
        candidates = [i for i in items if i.reason == "renamed" or looks_like_notebook(i)]
        if len(candidates) != 1:
            continue
        item = candidates[0]
        assert item.path is not None
        flags = found.flags[student]
        flags.remove(f"ignored-file:{item.reason}:{item.name}")
        flags.append(f"renamed:{item.name}")
        found.ignored.remove(item)
        handin = item.handin or Handin(item.name)
        found.add(student, lab, item.path, handin)
        if handin.late:
            found.flags[student].append(f"late:{lab}")
        found.notes.append(f"{student}: the only notebook, {item.name}, graded for {lab}")


def looks_like_notebook(item: Ignored) -> bool:
    """A file not named ``.ipynb`` whose text starts like a notebook's JSON."""
    if item.reason != "not-a-notebook" or item.path is None or item.path.is_symlink():
        return False
    try:
        with open(item.path, "rb") as handle:
            head = handle.read(4096)
    except OSError:
        return False
    return NOTEBOOK_SNIFF.match(head) is not None
