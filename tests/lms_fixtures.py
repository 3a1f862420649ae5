"""Build one download of each LMS layout from the fixture lab's source notebook.

``build(layout, root)`` writes what Canvas, Moodle, Blackboard, an nbgrader course (course
root and exchange) or plain folders (zipped) hand an instructor, and returns what grading it
must give: student id -> (score before penalties, late flag from the LMS, submission time).
Every learner is the fixture's solution (4 points) or its released stub (0 points), so a
wrong pick between two uploads shows in the score.
"""

from __future__ import annotations

import datetime as dt
import zipfile
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

COURSE = f"""
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
    """Two students with one name slug (ids from the user id), a late one, a resubmission."""
    _nb(root / f"smithjohn_11111_901_{NOTEBOOK}", SOLUTION)
    _nb(root / f"smithjohn_late_22222_902_{NOTEBOOK}", SOLUTION)
    _nb(root / f"lovelaceada_33333_903_{NOTEBOOK}", SOLUTION)
    _nb(root / f"lovelaceada_33333_804_{ASSIGNMENT}-1.ipynb", STUB)  # an earlier upload
    return {"11111": (4, False, None), "22222": (4, True, None), "33333": (4, False, None)}


def moodle(root: Path) -> Expected:
    """Folders per participant; an online-text folder beside a file folder; a copy suffix."""
    _nb(root / "Ada Lovelace_12345_assignsubmission_file_" / NOTEBOOK, SOLUTION)
    text = root / "Ada Lovelace_12345_assignsubmission_onlinetext_" / "onlinetext.html"
    text.parent.mkdir(parents=True)
    text.write_text("<p>see my notebook</p>")
    _nb(root / "Bob Smith_23456_assignsubmission_file_" / f"{ASSIGNMENT} (1).ipynb", STUB)
    return {"12345": (4, False, None), "23456": (0, False, None)}


def blackboard(root: Path) -> Expected:
    """Attempts named with their time: the latest wins; receipts beside them."""
    early = dt.datetime(2026, 3, 1, 10, 0, tzinfo=UTC)
    late = dt.datetime(2026, 3, 4, 9, 0, tzinfo=UTC)
    _nb(root / f"Lab 0_jsmith_attempt_2026-03-01-10-00-00_{NOTEBOOK}", STUB)
    _nb(root / f"Lab 0_jsmith_attempt_2026-03-04-09-00-00_{NOTEBOOK}", SOLUTION)
    (root / "Lab 0_jsmith_attempt_2026-03-04-09-00-00.txt").write_text("Name: J Smith\n")
    _nb(root / f"Lab 0_akhan_attempt_2026-03-01-10-00-00_{ASSIGNMENT}-Copy1.ipynb", SOLUTION)
    _nb(root / f"Lab 0_bkim_attempt_2026-03-04-09-00-00_{NOTEBOOK}", SOLUTION)
    return {"jsmith": (4, False, late), "akhan": (4, False, early), "bkim": (4, False, late)}


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
    """Plain folders, zipped, with the copy suffixes browsers and Jupyter add."""
    files = root / "files"
    _nb(files / "ada" / f"{ASSIGNMENT} (1).ipynb", SOLUTION)
    _nb(files / "bob" / f"{ASSIGNMENT}-Copy1.ipynb", SOLUTION)
    _nb(files / "cy" / NOTEBOOK, STUB)
    _nb(files / "cy" / f"{ASSIGNMENT}-1.ipynb", SOLUTION)  # the resubmission wins
    with zipfile.ZipFile(root / "submissions.zip", "w") as archive:
        for path in sorted(files.rglob("*.ipynb")):
            archive.write(path, Path("export") / path.relative_to(files))
    return {"ada": (4, False, None), "bob": (4, False, None), "cy": (4, False, None)}


BUILDERS = {
    "canvas": canvas,
    "moodle": moodle,
    "blackboard": blackboard,
    "nbgrader": nbgrader,
    "exchange": exchange,
    "folders": folders,
}
SUBMISSIONS = {"folders": "submissions.zip"}
"""What to hand autograde, relative to the built folder (the folder itself by default)."""
LAYOUT = {"exchange": "nbgrader"}
"""The layout autograde must detect (the builder's name by default)."""


def build(layout: str, root: Path) -> tuple[Path, Expected]:
    """Write the ``layout`` download under ``root``; returns (SUBMISSIONS, expected)."""
    root.mkdir(parents=True, exist_ok=True)
    expected = BUILDERS[layout](root)
    return root / SUBMISSIONS.get(layout, ""), expected
