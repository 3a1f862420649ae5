"""How each LMS names what it hands the instructor: file and folder names parsed into ids.

Each ``parse_*`` function reads one name and returns who submitted it (a stable id and,
where the name carries one, a display name), the file's own name, when it was submitted
and whether the LMS marked it late; :func:`detect` chooses the layout of a folder.

* Canvas ("Download Submissions"): ``<name>[_late]_<user id>_<attachment id>_<file>``;
  the id is Canvas's numeric user id; a higher attachment id is a later upload.
* Moodle ("Download all submissions"): folders ``<Full Name>_<participant id>_assignsubmission_
  <plugin>_`` (``file`` holds the notebooks; ``onlinetext`` and others are ignored), or flat files
  ``<Full Name>_<participant id>_assignsubmission_file_<file>``.
* Blackboard ("Download assignment"): ``<assignment>_<username>_attempt_<YYYY-MM-DD-HH-MM-SS>
  [_<file>]``; the latest attempt wins.
* nbgrader: the course root (``submitted/<id>/<assignment>/``), ``submitted/`` itself, or the
  exchange's ``inbound/<id>+<assignment>+<timestamp>[+<random>]/``; ``timestamp.txt`` is read.
* folders: ``<id>/<notebook>`` or the flat ``<id>_<anything>_<notebook>`` of earlier releases.
"""

from __future__ import annotations

import datetime as dt
import os
import re
from dataclasses import dataclass
from pathlib import Path

LAYOUTS = ("canvas", "moodle", "blackboard", "nbgrader", "folders")

CANVAS = re.compile(
    r"^(?P<name>[^_]+?)(?P<late>_late)?_(?P<user>\d+)_(?P<order>\d+)_(?P<file>.+)$", re.I
)
MOODLE = re.compile(
    r"^(?P<name>.+)_(?P<user>\d+)_assignsubmission_(?P<plugin>[a-z]+)_(?P<file>.*)$"
)
BLACKBOARD = re.compile(
    r"^(?P<assignment>.+)_(?P<user>[^_]+)_attempt_"
    r"(?P<when>\d{4}-\d{2}-\d{2}-\d{2}-\d{2}-\d{2})(?:_(?P<file>.+))?$"
)
INBOUND = re.compile(r"^(?P<user>[^+]+)\+(?P<assignment>[^+]+)\+(?P<when>[^+]+)(?:\+.*)?$")
COPY_SUFFIX = re.compile(r"^(?P<base>.+?)(?:-(?P<n>\d+)| \((?P<p>\d+)\)|-Copy(?P<c>\d+))$")


@dataclass(frozen=True)
class Name:
    """What one LMS name says: the submitter's id, display name, the file, time and late flag."""

    student: str
    file: str
    name: str = ""
    submitted: dt.datetime | None = None
    late: bool = False
    order: int = 0
    """Rank among one student's uploads when there is no time (Canvas's attachment id)."""


def lab_of(filename: str, notebooks: dict[str, str]) -> tuple[str, int] | None:
    """``(lab, copy number)`` for a notebook file name, accepting the copy and resubmission
    suffixes ``-1``, `` (1)`` and ``-Copy1`` (number 0 for the exact name), else None."""
    if filename in notebooks:
        return notebooks[filename], 0
    if not filename.endswith(".ipynb"):
        return None
    match = COPY_SUFFIX.match(filename.removesuffix(".ipynb"))
    if match is None:
        return None
    lab = notebooks.get(match["base"] + ".ipynb")
    number = int(match["n"] or match["p"] or match["c"])
    return (lab, number) if lab is not None else None


def parse_time(text: str) -> dt.datetime | None:
    """A time as nbgrader (``2026-03-01 12:00:00.123456 UTC``), Blackboard
    (``2026-03-01-12-00-00``) or ISO 8601 write it; UTC unless an offset is given."""
    text = text.strip()
    blackboard = re.fullmatch(r"(\d{4}-\d{2}-\d{2})-(\d{2})-(\d{2})-(\d{2})", text)
    if blackboard:
        text = f"{blackboard[1]} {blackboard[2]}:{blackboard[3]}:{blackboard[4]}"
    text = re.sub(r"\s*(UTC|GMT|Z)$", "+00:00", text)
    try:
        when = dt.datetime.fromisoformat(text)
    except ValueError:
        return None
    return when if when.tzinfo else when.replace(tzinfo=dt.timezone.utc)


def read_timestamp(folder: Path) -> dt.datetime | None:
    """The time in ``folder/timestamp.txt`` (nbgrader), if it is a regular file that parses."""
    path = folder / "timestamp.txt"
    try:
        if not os.path.isfile(path) or os.path.islink(path) or path.stat().st_size > 1000:
            return None
        return parse_time(path.read_text(encoding="utf-8", errors="replace"))
    except OSError:
        return None


def parse_canvas(filename: str) -> Name | None:
    match = CANVAS.match(filename)
    if match is None:
        return None
    return Name(
        match["user"],
        match["file"],
        match["name"],
        late=bool(match["late"]),
        order=int(match["order"]),
    )


def parse_moodle(name: str) -> tuple[Name, str] | None:
    """``(who, plugin)`` for a Moodle folder or flat file name."""
    match = MOODLE.match(name)
    if match is None:
        return None
    return Name(match["user"], match["file"], match["name"]), match["plugin"]


def parse_blackboard(filename: str) -> Name | None:
    match = BLACKBOARD.match(filename)
    if match is None:
        return None
    return Name(match["user"], match["file"] or "", submitted=parse_time(match["when"]))


def parse_inbound(folder: str) -> Name | None:
    """An nbgrader exchange ``inbound`` folder: ``<id>+<assignment>+<timestamp>[+<random>]``."""
    match = INBOUND.match(folder)
    if match is None:
        return None
    return Name(match["user"], match["assignment"], submitted=parse_time(match["when"]))


def nbgrader_root(root: Path) -> tuple[Path, str] | None:
    """The folder of nbgrader submissions under ``root`` and its kind (``submitted`` or
    ``inbound``): a course root, an exchange course folder, or either folder itself."""
    for child, kind in (("submitted", "submitted"), ("inbound", "inbound")):
        path = root / child
        if path.is_dir() and not path.is_symlink():
            return path, kind
    return None


def _entries(root: Path) -> list[tuple[str, bool]]:
    try:
        names = sorted(os.listdir(root))
    except OSError:
        return []
    return [
        (name, os.path.isdir(root / name) and not os.path.islink(root / name))
        for name in names
        if not name.startswith(".") and name != "__MACOSX"
    ]


def detect(root: Path, assignments: set[str]) -> str:
    """The layout of ``root``: the one whose naming rule the most entries follow (nbgrader
    when a ``submitted/`` or ``inbound/`` folder is there), ``folders`` when none does."""
    if nbgrader_root(root) is not None:
        return "nbgrader"
    entries = _entries(root)
    votes = dict.fromkeys(LAYOUTS, 0)
    for name, is_dir in entries:
        if is_dir:
            if parse_moodle(name) is not None:
                votes["moodle"] += 1
            elif parse_inbound(name) is not None:
                votes["nbgrader"] += 1
            elif any(sub in assignments for sub, sub_dir in _entries(root / name) if sub_dir):
                votes["nbgrader"] += 1
            else:
                votes["folders"] += 1
        elif parse_moodle(name) is not None:
            votes["moodle"] += 1
        elif parse_blackboard(name) is not None:
            votes["blackboard"] += 1
        elif parse_canvas(name) is not None:
            votes["canvas"] += 1
        else:
            votes["folders"] += 1
    best = max(LAYOUTS, key=lambda layout: (votes[layout], layout == "folders"))
    return best if votes[best] else "folders"
