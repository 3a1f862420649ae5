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

One pass: :mod:`grader.pipeline.walk` reads each entry (its kind by ``lstat``, its owning
account, its side file's text), :func:`grader.pipeline.claims.claim` says whose it is and what
it holds by the layout's naming rule (:mod:`grader.pipeline.layouts`), and one loop here
(:func:`_take`) acts on each claim: a learner's folder or zip is read for lab notebooks, each
added to the :class:`~grader.pipeline.discovery.Discovery` record with its
:class:`~grader.batch.Handin` (time, late flag, upload order).

Every file a learner handed in is accounted for: a file that is not graded leaves the flag
``ignored-file:<reason>:<name>`` on its learner's row, the reason one of :data:`REASONS`. With
one lab asked for (``lone``), a learner's only notebook under another name is graded for that
lab and flagged ``renamed:<name>``.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import grader.pipeline.claims as claims
import grader.pipeline.layouts as layouts
import grader.pipeline.walk as walk
from grader.pipeline.claims import Claim
from grader.pipeline.discovery import (
    Discovery,
    lone_notebooks,
    one_learner_each,
)
from grader.pipeline.layouts import Name
from grader.pipeline.walk import Entry


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
    if walk.is_file(root):
        if not walk.reads_as_zip(root):
            raise ValueError(f"{root} is neither a folder nor a zip")
        root = walk.unpacked(root, unpack_to / "download", max_bytes, found)
        found.depth = 1
    root = _unwrap(found, root)
    top = walk.listing(root, subfolders=True, texts=True)
    assignments = {name.removesuffix(".ipynb") for name in notebooks}
    chosen = layout
    if layout is None:
        layout = layouts.detect(str(root), top, assignments)
        found.notes.append(f"layout: {layout} (detected)")
    elif layout not in layouts.LAYOUTS:
        raise ValueError(f"unknown layout {layout!r}; known: {', '.join(layouts.LAYOUTS)}")
    else:
        found.notes.append(f"layout: {layout} (chosen)")
    found.layout = layout
    if layout == "nbgrader":
        located = layouts.nbgrader_root(top)
        folder = root / located if located else root
        entries = walk.listing(folder) if located else top
        kind = located or layouts.nbgrader_kind(top)
        trusted = walk.trusted_uids(folder)
        rule = claims.Rule(layout, notebooks, zone, kind=kind, trusted=trusted)
    else:
        entries = top
        users = layouts.download_users(top) if layout == "blackboard" else {}
        rule = claims.Rule(layout, notebooks, zone, users)
    for entry in entries:
        _take(found, entry, claims.claim(rule, entry), rule, assignments)
    if chosen is None and layout == "folders":
        one_learner_each(found)
    if lone:
        lone_notebooks(found, next(iter(notebooks.values())))
    return found


def _unwrap(found: Discovery, root: Path) -> Path:
    """A download zipped again (the only entry is a zip): the folder it unpacks to."""
    while True:
        entries = walk.listing(root)
        if len(entries) != 1 or not entries[0].name.lower().endswith(".zip"):
            return root
        path = entries[0].path
        if not walk.is_zip(path):
            return root
        inner = found.open_zip(None, path)
        if inner is None:
            return root
        found.notes.append(f"{path}: a zip holding the download, read inside")
        found.depth += 1
        root = inner


def _take(
    found: Discovery, entry: Entry, claim: Claim, rule: claims.Rule, assignments: set[str]
) -> None:
    """Act on what ``entry`` was claimed to be: a learner's hand-ins are found, the rest is
    logged or ignored with its reason."""
    path, holds = entry.path, claim.holds
    every_lab = list(dict.fromkeys(rule.notebooks.values()))
    student = found.student_id(claim.student) if claim.student is not None else None
    if holds == "note":
        found.notes.append(f"ignored {path}: {claim.why}")
    elif holds == "ignored":
        found.ignore(student, path, claim.reason, claim.why)
    elif student is None:
        found.ignore(None, path, claim.reason, claim.why)  # a flat file naming nobody
    elif holds == "link":
        found.symlink(student, path, every_lab if claim.labs is None else claim.labs)
    elif holds == "folder":
        if claim.who is not None and claim.who.name:
            found.names[student] = claim.who.name
        _student_folder(found, student, path, rule.notebooks, every_lab)
    elif holds == "zip":
        inner = found.open_zip(student, path)
        found.student(student)
        if inner is not None:
            found.notes.append(f"{path}: read as the folder of {student}")
            _student_folder(found, student, inner, rule.notebooks, every_lab, zipped=True)
    elif holds == "lms-file":
        assert claim.who is not None
        _lms_file(found, student, entry, claim.who, rule.notebooks)
    elif holds == "flat":
        _flat_file(found, student, entry, claim, rule.notebooks)
    elif holds == "inbound":
        assert claim.who is not None
        when = layouts.timestamp(walk.timestamp(path)) or claim.who.submitted
        _student_folder(found, student, path, rule.notebooks, every_lab, when)
    else:  # submitted: nbgrader's <id>/<assignment>/
        found.student(student)
        for assignment in walk.listing(path):
            if assignment.name not in assignments:
                found.notes.append(f"ignored {assignment.path}: not an assignment of this batch")
                continue
            when = layouts.timestamp(walk.timestamp(assignment.path))
            _student_folder(found, student, assignment.path, rule.notebooks, every_lab, when)


def _flat_file(
    found: Discovery, student: str, entry: Entry, claim: Claim, notebooks: dict[str, str]
) -> None:
    """``<id>_<anything>_<notebook>.ipynb`` directly in SUBMISSIONS (plain folders)."""
    found.lms_user(student, entry.name)
    if claim.lab is None:
        found.ignore(student, entry.path, claim.reason, claim.why)
        return
    _hand_in(found, student, entry, claims.flat_file(entry.name, claim.lab, notebooks))


def _lms_file(
    found: Discovery, student: str, entry: Entry, who: Name, notebooks: dict[str, str]
) -> None:
    """A file of an LMS learner: a notebook, a zip of their files, or a Blackboard receipt."""
    path = entry.path
    if who.name:
        found.names.setdefault(student, who.name)
    found.student(student)
    if not who.file:  # a Blackboard receipt: the LMS's, not the learner's
        receipt = layouts.receipt_user(entry.side) if entry.side is not None else None
        if receipt is not None and receipt[0]:
            found.names.setdefault(student, receipt[0])
        return
    if who.file.lower().endswith(".zip") and entry.is_regular:
        inner = found.open_zip(student, path)
        if inner is not None:
            found.depth += 1
            try:
                for member in walk.tree(inner):
                    if not member.is_dir:
                        shown = f"{path.name}/{member.path.relative_to(inner).as_posix()}"
                        file = claims.learner_file(member.name, shown, notebooks, who)
                        _hand_in(found, student, member, file)
            finally:
                found.depth -= 1
        return
    _hand_in(found, student, entry, claims.learner_file(who.file, path.name, notebooks, who))


def _hand_in(found: Discovery, student: str, entry: Entry, file: claims.File) -> bool:
    """One file of ``student`` added as its claim says: graded for its lab (the later of two
    kept), ignored with its reason, or a link flagged; True for a link standing for no lab."""
    path = entry.path
    if entry.is_link:
        found.symlink(student, path, [file.lab] if file.lab is not None else [])
        return file.lab is None
    if file.lab is None or file.handin is None:
        found.ignore(student, path, file.reason, name=file.shown, handin=file.handin)
        return False
    found.add(student, file.lab, path if entry.is_regular else "ungradable:unreadable", file.handin)
    if file.handin.late:
        found.flags[student].append(f"late:{file.lab}")
    return False


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
        for entry in walk.tree(folder):
            path, name = entry.path, entry.name
            if entry.is_link:
                file = claims.learner_file(name, name, notebooks, when=when)
                linked = _hand_in(found, student, entry, file) or linked
            elif entry.is_dir:
                found.lms_user(student, name)  # a Moodle folder carries its learner
            elif name.lower().endswith(".zip") and entry.is_regular:  # never a lab's name
                inner = found.open_zip(student, path)
                if inner is not None:
                    _student_folder(found, student, inner, notebooks, every_lab, when, True)
            elif name == "timestamp.txt":
                continue  # nbgrader's own file
            else:
                found.lms_user(student, name)
                file = claims.learner_file(name, name, notebooks, when=when, side=entry.side)
                _hand_in(found, student, entry, file)
    finally:
        if zipped:
            found.depth -= 1
    if linked:  # a linked folder may have held any lab: those not handed in count as symlinks
        for lab in every_lab:
            found.found[student].setdefault(lab, "ungradable:symlink")
