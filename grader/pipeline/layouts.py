"""How each LMS names what it hands the instructor: file and folder names parsed into ids.

Each ``parse_*`` function reads one name and returns who submitted it (a stable id and,
where the name carries one, a display name), the file's own name, when it was submitted
and whether the LMS marked it late; :func:`owner` applies the chosen layout's rule to an entry
of a download and :func:`submitter` reads any LMS user off a file's name, so that who a name
belongs to is decided here alone (:mod:`grader.pipeline.discover` walks the folders);
:func:`detect` chooses the layout of a folder.

* Canvas ("Download Submissions"): ``<name>[_late]_<user id>_<attachment id>_<file>``;
  the id is Canvas's numeric user id; a higher attachment id is a later upload.
* Moodle ("Download all submissions"): folders ``<Full Name>_<participant id>_assignsubmission_
  <plugin>`` (a trailing ``_`` before Moodle 4.1; ``file`` holds the notebooks; ``onlinetext``
  and others are ignored), or flat files ``<Full Name>_<participant id>_assignsubmission_file_
  <file>``; a team submission is named ``<group name>_<group id>_…`` and read as one learner.
* Blackboard ("Assignment File Download"): ``<assignment>_<username>_attempt_<YYYY-MM-DD-HH-MM-SS>
  [_<file>]`` beside a receipt ``<assignment>_<username>_attempt_<time>.txt`` per attempt; the
  time is the server's local time (read in the course's timezone); the latest attempt wins. The
  assignment name is the prefix every entry shares (:func:`blackboard_users`), so usernames and
  assignment names holding ``_`` split correctly.
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

from grader.course import parse_time

LAYOUTS = ("canvas", "moodle", "blackboard", "nbgrader", "folders")

CANVAS = re.compile(
    r"^(?P<name>[^_]+?)(?P<late>_late)?_(?P<user>\d+)_(?P<order>\d+)_(?P<file>.+)$", re.I
)
MOODLE = re.compile(
    r"^(?P<name>.+)_(?P<user>\d+)_assignsubmission_(?P<plugin>[a-z]+)(?:_(?P<file>.*))?$"
)
"""Moodle's names: ``<Full Name>_<participant id>_assignsubmission_<plugin>`` (a folder; Moodle
4.1 and later, ``mod/assign/classes/downloader.php``), with a trailing ``_`` (earlier
releases), or ``…_<plugin>_<file>`` (flat). A team submission is named after the group:
``<group name>_<group id>_…``, once per group."""
BLACKBOARD = re.compile(
    r"^(?P<head>(?P<assignment>.+)_(?P<user>[^_]+))_attempt_"
    r"(?P<when>\d{4}-\d{2}-\d{2}-\d{2}-\d{2}-\d{2})(?:_(?P<file>.+)|(?P<receipt>\.txt))?$"
)
RECEIPT_NAME = re.compile(r"^Name:\s*(?P<name>.*?)\s*\((?P<user>[^()]+)\)\s*$", re.M)
"""The first line of a Blackboard receipt: ``Name: Jane Smith (jsmith)``."""
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
    return Name(match["user"], match["file"] or "", match["name"]), match["plugin"]


def parse_blackboard(
    filename: str, zone: dt.tzinfo = dt.timezone.utc, users: dict[str, str] | None = None
) -> Name | None:
    """An attempt's file (``file`` its own name) or receipt (``file`` empty); ``users`` maps
    ``<assignment>_<username>`` heads to usernames (:func:`blackboard_users`)."""
    match = BLACKBOARD.match(filename)
    if match is None:
        return None
    user = (users or {}).get(match["head"], match["user"])
    return Name(user, match["file"] or "", submitted=parse_time(match["when"], zone))


def owner(layout: str, entry: str, zone: dt.tzinfo, users: dict[str, str]) -> Name | str | None:
    """Who an entry of an LMS download belongs to, by ``layout``'s naming rule; a string says
    why it is ignored; None for the ``folders`` layout (or a name that follows no rule of the
    layout)."""
    if layout == "canvas":
        return parse_canvas(entry)
    if layout == "blackboard":
        return parse_blackboard(entry, zone, users)
    if layout == "moodle":
        parsed = parse_moodle(entry)
        if parsed is None:
            return None
        who, plugin = parsed
        if plugin != "file":
            return f"a Moodle {plugin} submission, not a file submission"
        return who
    return None


def submitter(filename: str) -> str | None:
    """The LMS user a file's own name carries (Blackboard, Canvas or Moodle naming), if any:
    files of several users in one learner's folder mean the layout was misread."""
    for parse in (parse_blackboard, parse_canvas):
        who = parse(filename)
        if who is not None:
            return who.student
    moodle = parse_moodle(filename)
    return moodle[0].student if moodle is not None else None


def blackboard_users(heads: list[str], known: dict[str, str] | None = None) -> dict[str, str]:
    """``<assignment>_<username>`` -> username. One download is one assignment: its name is
    read off a head whose username a receipt gives (``known``), else it is the longest prefix
    ending in ``_`` that every head shares and leaves a username after; a single head without
    a receipt splits at its last ``_``."""
    unique = sorted(set(heads))
    for head, user in (known or {}).items():
        assignment = head.removesuffix("_" + user)
        if assignment != head and all(h.startswith(assignment + "_") for h in unique):
            return {h: h[len(assignment) + 1 :] for h in unique}
    if len(unique) < 2:
        return {head: head.rsplit("_", 1)[-1] for head in unique}
    first, last = unique[0], unique[-1]  # sorted: their common prefix is everyone's
    same = (i for i, (a, b) in enumerate(zip(first, last, strict=False)) if a != b)
    prefix = first[: next(same, len(first))]
    cut = prefix.rfind("_") + 1
    while cut > 0 and any(len(head) <= cut for head in unique):
        cut = prefix.rfind("_", 0, cut - 1) + 1
    return {head: head[cut:] for head in unique}


def receipt_user(text: str) -> tuple[str, str] | None:
    """``(display name, username)`` from a Blackboard receipt's ``Name:`` line."""
    match = RECEIPT_NAME.search(text[:2000])
    return (match["name"], match["user"].strip()) if match else None


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


class AmbiguousLayout(ValueError):
    """A download that more than one layout could describe, read differently by each: the
    instructor names the layout (``--layout``) instead of the grader guessing."""

    def __init__(self, why: str, candidates: list[str]) -> None:
        self.candidates = candidates
        super().__init__(
            f"{why}; the candidates are {', '.join(candidates)}: pass --layout "
            f"{' or --layout '.join(candidates)} to say which"
        )


def _vote(root: Path, name: str, is_dir: bool, assignments: set[str]) -> str | None:
    """The layout one entry of a download follows; None for a file no rule reads (a README,
    a stray file: it votes for nothing)."""
    if is_dir:
        if parse_moodle(name) is not None:
            return "moodle"
        if parse_inbound(name) is not None:
            return "inbound"
        if any(sub in assignments for sub, sub_dir in _entries(root / name) if sub_dir):
            return "nbgrader"
        return "folders"
    if parse_moodle(name) is not None:
        return "moodle"
    if parse_blackboard(name) is not None:
        return "blackboard"
    if parse_canvas(name) is not None:
        return "canvas"
    if name.endswith((".ipynb", ".zip")):
        return "folders"
    return None


def detect(root: Path, assignments: set[str]) -> str:
    """The layout of ``root``: nbgrader when a ``submitted/`` or ``inbound/`` folder is there,
    else the one layout whose naming rule the entries follow (``folders`` when none does).

    ``<id>/<assignment>/`` folders read the same as plain folders and count as them beside
    plain folders (nbgrader alone otherwise).

    Raises:
        AmbiguousLayout: entries follow the rules of two layouts that read ids differently.
    """
    if nbgrader_root(root) is not None:
        return "nbgrader"
    votes: dict[str, list[str]] = {}
    for name, is_dir in _entries(root):
        layout = _vote(root, name, is_dir, assignments)
        if layout is not None:
            votes.setdefault(layout, []).append(name)
    if "nbgrader" in votes and "folders" in votes:
        votes["folders"] += votes.pop("nbgrader")
    if "inbound" in votes:
        votes.setdefault("nbgrader", []).extend(votes.pop("inbound"))
    if len(votes) > 1:
        seen = "; ".join(
            f"{len(names)} as {layout} (e.g. {names[0]!r})"
            for layout, names in sorted(votes.items())
        )
        raise AmbiguousLayout(f"{root} holds entries named as more than one layout: {seen}",
                              sorted(votes))  # fmt: skip
    return next(iter(votes), "folders")


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


def download_users(root: Path, entries: list[str]) -> dict[str, str]:
    """``<assignment>_<username>`` -> username for a Blackboard download, told apart by the
    receipts' ``Name: … (username)`` lines where they are readable."""
    heads, known = [], {}
    for entry in entries:
        match = BLACKBOARD.match(entry)
        if match is None:
            continue
        heads.append(match["head"])
        path = root / entry
        if match["receipt"] and os.path.isfile(path) and not os.path.islink(path):
            try:
                with open(path, encoding="utf-8", errors="replace") as handle:
                    told = receipt_user(handle.read(2000))
            except OSError:
                told = None
            if told is not None:
                known[match["head"]] = told[1]
    return blackboard_users(heads, known)


def read_receipt(path: Path) -> tuple[str, str] | None:
    try:
        if not os.path.isfile(path) or os.path.islink(path):
            return None
        with open(path, encoding="utf-8", errors="replace") as handle:
            return receipt_user(handle.read(2000))
    except OSError:
        return None
