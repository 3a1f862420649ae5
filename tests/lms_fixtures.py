"""Build one download of each LMS layout from the fixture lab's source notebook.

``build(layout, root)`` writes what Canvas, Moodle, Blackboard, an nbgrader course (course
root and exchange) or plain folders (zipped) hand an instructor, and returns what grading it
must give: student id -> (score before penalties, late flag from the LMS, submission time).
Every learner is the fixture's solution (4 points) or its released stub (0 points), so a
wrong pick between two uploads shows in the score.

Each download follows its LMS's documented naming (cited in its builder), receipts, late
flags, resubmissions and files that are no notebook included. Every file a learner handed in
that is not graded is listed in :data:`NOT_GRADED` (layout -> {(student, reason)}).
"""

from __future__ import annotations

import datetime as dt
import io
import zipfile
import zoneinfo
from pathlib import Path
from typing import Any

import nbformat

from grader.checking.specs import fixture

NOTEBOOK = fixture.LAB.notebook
ASSIGNMENT = fixture.LAB.assignment
SOLUTION = fixture.solution()
STUB = fixture.released()
UTC = dt.timezone.utc
DUE = dt.datetime(2026, 3, 2, 23, 59, tzinfo=UTC)
"""The fixture lab's due date in :data:`COURSE`."""
ZONE = zoneinfo.ZoneInfo("America/New_York")
"""The course's timezone: Blackboard's times in file names are read in it."""

COURSE = f"""
timezone = "America/New_York"

[labs.fixture]
due = {DUE.isoformat()}
canvas = "Lab 0 (4471)"

[late]
policy = "per-day"
percent_per_day = 10
cap_percent = 50

[extensions."jsmith"]
fixture = 3
"""

Expected = dict[str, tuple[float, bool, dt.datetime | None]]


def _nb(path: Path, nb: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, path)


def canvas(root: Path) -> Expected:
    """Canvas's "Download Submissions" (Canvas Instructor Guide, "How do I download all student
    submissions for an assignment?"; canvas-lms ``lib/content_zipper.rb``): one file per
    upload, ``<lastfirst slug>[_late]_<user id>_<attachment id>_<file>``.

    Two students with one name slug (ids from the user id), a late one, a resubmission (a
    higher attachment id is later), a notebook under the learner's own name inside the learner's
    zip, and a PDF beside a notebook.
    """
    _nb(root / f"smithjohn_11111_901_{NOTEBOOK}", SOLUTION)
    _nb(root / f"smithjohn_late_22222_902_{NOTEBOOK}", SOLUTION)
    _nb(root / f"lovelaceada_33333_903_{NOTEBOOK}", SOLUTION)
    _nb(root / f"lovelaceada_33333_804_{ASSIGNMENT}-1.ipynb", STUB)  # an earlier upload
    (root / "lovelaceada_33333_905_report.pdf").write_bytes(b"%PDF-1.4\n")
    _zip(root / "okaforchi_55555_906_work.zip", {f"work/{NOTEBOOK}": SOLUTION})
    return {
        "11111": (4, False, None),
        "22222": (4, True, None),
        "33333": (4, False, None),
        "55555": (4, False, None),
    }


def _zip(path: Path | io.BytesIO, members: dict[str, Any]) -> None:
    """A zip of notebooks (or bytes) as a learner or an LMS makes one."""
    with zipfile.ZipFile(path, "w") as archive:
        for name, content in members.items():
            data = content if isinstance(content, bytes) else nbformat.writes(content).encode()
            archive.writestr(name, data)


def moodle(root: Path) -> Expected:
    """Moodle's "Download all submissions" with "Download submissions in folders" (Moodle
    ``mod/assign/locallib.php``, ``assign::download_submissions``): a folder per participant and
    plugin, ``<Full Name>_<participant id>_assignsubmission_<plugin>_``; the participant id is
    Moodle's per-assignment unique id (``get_uniqueid_for_user``), not the user's id.

    An online-text folder beside a file folder; a copy suffix; a notebook of another lab; a
    folder as Moodle 4.1 and later name it (``mod/assign/classes/downloader.php``: no trailing
    ``_``); a team submission, named after its group (``<group name>_<group id>``) and read as
    one learner.
    """
    _nb(root / "Ada Lovelace_12345_assignsubmission_file_" / NOTEBOOK, SOLUTION)
    _nb(root / "Cy Young_34567_assignsubmission_file" / NOTEBOOK, SOLUTION)
    _nb(root / "Team Rocket_7_assignsubmission_file" / "sub" / NOTEBOOK, STUB)
    text = root / "Ada Lovelace_12345_assignsubmission_onlinetext_" / "onlinetext.html"
    text.parent.mkdir(parents=True)
    text.write_text("<p>see my notebook</p>")
    _nb(root / "Bob Smith_23456_assignsubmission_file_" / f"{ASSIGNMENT} (1).ipynb", STUB)
    _nb(root / "Bob Smith_23456_assignsubmission_file_" / "lab-1.7.2-operations.ipynb", STUB)
    return {
        "12345": (4, False, None),
        "23456": (0, False, None),
        "34567": (4, False, None),
        "7": (0, False, None),
    }


def _receipt(name: str, user: str, when: str, files: list[str]) -> str:
    """A Blackboard attempt's receipt as "Assignment File Download" writes it."""
    listed = "".join(f"\tOriginal filename: {f}\n\tFilename: {f}\n" for f in files)
    return (
        f"Name: {name} ({user})\nAssignment: Lab 0\nDate Submitted: {when}\n"
        f"Current Grade: Needs Grading\n\nSubmission Field:\nThere is no student submission "
        f"text data for this assignment.\n\nComments:\nThere are no student comments for this "
        f"assignment.\n\nFiles:\n{listed}"
    )


def blackboard(root: Path) -> Expected:
    """Blackboard Learn's "Assignment File Download" (Grade Centre, the column's menu; Blackboard
    Help "Download assignments"; the receipts' text as BBGradebookOrganiser's README describes
    them): per attempt ``<assignment>_<username>_attempt_<YYYY-MM-DD-HH-MM-SS>_<file>`` and a
    receipt ``<assignment>_<username>_attempt_<time>.txt``; times in the server's timezone.

    The latest attempt wins; a username holding ``_`` (told apart by its receipt); a Word file
    beside a notebook; every attempt has its receipt.
    """
    attempts = [
        ("jsmith", "J Smith", "2026-03-01-10-00-00", NOTEBOOK, STUB),
        ("jsmith", "J Smith", "2026-03-04-09-00-00", NOTEBOOK, SOLUTION),
        ("akhan", "A Khan", "2026-03-01-10-00-00", f"{ASSIGNMENT}-Copy1.ipynb", SOLUTION),
        ("bkim", "B Kim", "2026-03-04-09-00-00", NOTEBOOK, SOLUTION),
        ("s_lee", "S Lee", "2026-03-02-12-00-00", NOTEBOOK, SOLUTION),
    ]
    for user, name, when, file, nb in attempts:
        _nb(root / f"Lab 0_{user}_attempt_{when}_{file}", nb)
        receipt = _receipt(name, user, when, [file])
        (root / f"Lab 0_{user}_attempt_{when}.txt").write_text(receipt)
    (root / "Lab 0_bkim_attempt_2026-03-04-09-00-00_notes.docx").write_bytes(b"PK\x03\x04")

    def at(text: str) -> dt.datetime:
        return dt.datetime.strptime(text, "%Y-%m-%d-%H-%M-%S").replace(tzinfo=ZONE)

    return {
        "jsmith": (4, False, at("2026-03-04-09-00-00")),
        "akhan": (4, False, at("2026-03-01-10-00-00")),
        "bkim": (4, False, at("2026-03-04-09-00-00")),
        "s_lee": (4, False, at("2026-03-02-12-00-00")),
    }


def nbgrader(root: Path) -> Expected:
    """A course root: ``submitted/<id>/<assignment>/`` with ``timestamp.txt``."""
    times = {"ada": "2026-03-01 12:00:00.000000 UTC", "bob": "2026-03-03 12:00:00.000000 UTC"}
    for student, nb in (("ada", SOLUTION), ("bob", STUB)):
        folder = root / "submitted" / student / ASSIGNMENT
        _nb(folder / NOTEBOOK, nb)
        (folder / "timestamp.txt").write_text(times[student])
    (root / "source" / ASSIGNMENT).mkdir(parents=True)  # the rest of a course root
    return {
        "ada": (4, False, dt.datetime(2026, 3, 1, 12, tzinfo=UTC)),
        "bob": (0, False, dt.datetime(2026, 3, 3, 12, tzinfo=UTC)),
    }


def exchange(root: Path) -> Expected:
    """The exchange's ``inbound/``: two submissions of one learner, the later one wins."""
    inbound = root / "inbound"
    _nb(inbound / f"ada+{ASSIGNMENT}+2026-03-01 09:00:00.000000 UTC+x1" / NOTEBOOK, STUB)
    _nb(inbound / f"ada+{ASSIGNMENT}+2026-03-01 10:00:00.000000 UTC+x2" / NOTEBOOK, SOLUTION)
    _nb(inbound / f"cy+{ASSIGNMENT}+2026-03-02 10:00:00.000000 UTC" / NOTEBOOK, SOLUTION)
    return {
        "ada": (4, False, dt.datetime(2026, 3, 1, 10, tzinfo=UTC)),
        "cy": (4, False, dt.datetime(2026, 3, 2, 10, tzinfo=UTC)),
    }


def folders(root: Path) -> Expected:
    """Plain folders, zipped, with the copy suffixes browsers and Jupyter add; a learner's own
    zip (``dee.zip``) among the folders."""
    files = root / "files"
    _nb(files / "ada" / f"{ASSIGNMENT} (1).ipynb", SOLUTION)
    _nb(files / "bob" / f"{ASSIGNMENT}-Copy1.ipynb", SOLUTION)
    _nb(files / "cy" / NOTEBOOK, STUB)
    _nb(files / "cy" / f"{ASSIGNMENT}-1.ipynb", SOLUTION)  # the resubmission wins
    inner = io.BytesIO()
    _zip(inner, {f"dee/{NOTEBOOK}": SOLUTION})
    with zipfile.ZipFile(root / "submissions.zip", "w") as archive:
        for path in sorted(files.rglob("*.ipynb")):
            archive.write(path, Path("export") / path.relative_to(files))
        archive.writestr("export/dee.zip", inner.getvalue())
    return {
        "ada": (4, False, None),
        "bob": (4, False, None),
        "cy": (4, False, None),
        "dee": (4, False, None),
    }


BUILDERS = {
    "canvas": canvas,
    "moodle": moodle,
    "blackboard": blackboard,
    "nbgrader": nbgrader,
    "exchange": exchange,
    "folders": folders,
}
NOT_GRADED = {
    "canvas": {("33333", "not-a-notebook"), ("33333", "duplicate")},
    "moodle": {("23456", "other-lab")},
    "blackboard": {("bkim", "not-a-notebook"), ("jsmith", "duplicate")},
    "nbgrader": set(),
    "exchange": {("ada", "duplicate")},
    "folders": {("cy", "duplicate")},
}
"""layout -> (student, reason) of every handed-in file that is not graded."""
SUBMISSIONS = {"folders": "submissions.zip"}
"""What to hand autograde, relative to the built folder (the folder itself by default)."""
LAYOUT = {"exchange": "nbgrader"}
"""The layout autograde must detect (the builder's name by default)."""


def build(layout: str, root: Path) -> tuple[Path, Expected]:
    """Write the ``layout`` download under ``root``; returns (SUBMISSIONS, expected)."""
    root.mkdir(parents=True, exist_ok=True)
    expected = BUILDERS[layout](root)
    return root / SUBMISSIONS.get(layout, ""), expected
