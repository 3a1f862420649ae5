"""The course around a batch: due dates, extensions and the late policy (``course.toml``), and the
roster (``roster.csv``).

``course.toml`` (TOML; every table optional)::

    timezone = "Europe/Berlin"        # for due dates written without an offset (default UTC)

    [labs.lab2]
    due = 2026-03-01T23:59:00         # a TOML date-time
    canvas = "Lab 1.7.2: Operations (4471)"   # the Canvas column (default: the lab's title)
    moodle = "Lab 1.7.2"              # the Moodle column (default: the lab's title)

    [late]
    policy = "per-day"                # "none" (default), "per-day" or "cutoff"
    percent_per_day = 10              # per-day: per started day late, of the score earned
    cap_percent = 50                  # per-day: at most this much
    grace_minutes = 15                # not late within this
    zero_after_days = 7               # per-day or cutoff: 0 points past this many days
    flagged_days = 1                  # a file the LMS marks late without a time (Canvas's
                                      # "late"): charged as this many days late; 0 charges
                                      # nothing (Canvas applies its own late policy)

    [extensions."12345"]             # a student id
    lab2 = 2026-03-05T23:59:00        # a new due date, or a number of extra days
    lab3 = 2

``roster.csv``: a header row naming the columns ``id`` (required), ``name``, ``email``,
``sis_id``, ``sis_login_id``, ``section`` (any order, case and spaces ignored, others ignored);
Canvas's gradebook export serves as it is (``Student``, ``ID``, ``SIS User ID``, ``SIS Login ID``,
``Section``), and so does Moodle's grading worksheet (``Identifier`` ``Participant <id>`` read as
the participant id of the download's folder names, ``Full name``, ``Email address``, ``ID
number``). :func:`roster_kind` tells them apart: the Canvas and Moodle imports need theirs.
"""

from __future__ import annotations

import csv
import datetime as dt
import math
import re
import zoneinfo
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import tomllib

from grader.labs import resolve_lab

POLICIES = ("none", "per-day", "cutoff")
ALIASES = {
    "student": "name",
    "sis_user_id": "sis_id",
    "email_address": "email",
    "full_name": "name",
    "id_number": "sis_id",
    "identifier": "id",
}
"""Roster columns under the names Canvas's gradebook export, Moodle's participants and Moodle's
grading worksheet use."""
CANVAS_EXPORT = ("student", "id", "sis user id", "sis login id", "section")
"""The first columns of Canvas's gradebook export (and import)."""
PARTICIPANT = "Participant "
"""How Moodle's grading worksheet writes an identifier: ``Participant <participant id>``."""
DAY = dt.timedelta(days=1)


@dataclass
class Course:
    """Due dates, extensions and the late policy of a course."""

    due: dict[str, dt.datetime] = field(default_factory=dict)
    extensions: dict[str, dict[str, dt.datetime | float]] = field(default_factory=dict)
    policy: str = "none"
    percent_per_day: float = 0.0
    cap_percent: float = 100.0
    grace: dt.timedelta = dt.timedelta(0)
    zero_after: dt.timedelta | None = None
    flagged_days: float = 1.0
    """Days a file the LMS flags late without a time counts as (0: no penalty here)."""
    columns: dict[str, dict[str, str]] = field(default_factory=dict)
    """lab -> {"canvas": column, "moodle": column} chosen in the course file."""
    zone: dt.tzinfo = dt.timezone.utc
    """The course's timezone (due dates and LMS times written without an offset)."""

    def due_for(self, student: str, lab: str) -> dt.datetime | None:
        """The lab's due date for this student (an extension moves it)."""
        due = self.due.get(lab)
        extension = self.extensions.get(student, {}).get(lab)
        if isinstance(extension, dt.datetime):
            return extension
        if extension is not None and due is not None:
            return due + extension * DAY
        return due

    def penalty(
        self, student: str, lab: str, raw: float, submitted: dt.datetime | None, late: bool
    ) -> tuple[float, str]:
        """Points taken off ``raw`` and why (empty when on time or no policy applies).

        A submission the LMS marked late without a time (Canvas) counts as ``flagged_days``
        late, unless the student has an extension for the lab (the LMS flags against its own
        due date, which the extension moved).
        """
        due = self.due_for(student, lab)
        if self.policy == "none" or raw <= 0:
            return 0.0, ""
        if submitted is not None and due is not None:
            overdue = submitted - due
            if overdue <= self.grace:
                return 0.0, ""
        elif late:
            if self.flagged_days <= 0 or lab in self.extensions.get(student, {}):
                return 0.0, ""
            overdue = self.flagged_days * DAY
        else:
            return 0.0, ""
        days = max(1, math.ceil(overdue / DAY))
        if self.zero_after is not None and overdue > self.zero_after:
            return raw, f"{days} day(s) late, past the cutoff: 0 points"
        if self.policy == "cutoff":
            return 0.0, ""
        percent = min(self.percent_per_day * days, self.cap_percent)
        return round(raw * percent / 100, 4), f"{days} day(s) late: -{percent:g}%"


def parse_time(text: str, zone: dt.tzinfo = dt.timezone.utc) -> dt.datetime | None:
    """A time as nbgrader (``2026-03-01 12:00:00.123456 UTC``), Blackboard
    (``2026-03-01-12-00-00``) or ISO 8601 write it; in ``zone`` unless an offset is given."""
    text = text.strip()
    blackboard = re.fullmatch(r"(\d{4}-\d{2}-\d{2})-(\d{2})-(\d{2})-(\d{2})", text)
    if blackboard:
        text = f"{blackboard[1]} {blackboard[2]}:{blackboard[3]}:{blackboard[4]}"
    text = re.sub(r"\s*(UTC|GMT|Z)$", "+00:00", text)
    try:
        when = dt.datetime.fromisoformat(text)
    except ValueError:
        return None
    return when if when.tzinfo else when.replace(tzinfo=zone)


def _when(value: Any, zone: dt.tzinfo, where: str) -> dt.datetime:
    if isinstance(value, dt.datetime):
        return value if value.tzinfo else value.replace(tzinfo=zone)
    if isinstance(value, dt.date):
        return dt.datetime.combine(value, dt.time(23, 59, 59), zone)
    raise ValueError(f"course file: {where} must be a TOML date-time, not {value!r}")


def load_course(path: Path | None) -> Course:
    """Read ``course.toml``; an empty course (no due dates, no penalty) when ``path`` is None.

    Raises:
        ValueError: the file is not TOML, or names an unknown lab or policy.
    """
    if path is None:
        return Course()
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise ValueError(f"{path} is not valid TOML: {exc}") from exc
    zone: dt.tzinfo = zoneinfo.ZoneInfo(data["timezone"]) if "timezone" in data else dt.timezone.utc
    course = Course(zone=zone)
    for name, lab in data.get("labs", {}).items():
        lab_id = resolve_lab(name).id
        if "due" in lab:
            course.due[lab_id] = _when(lab["due"], zone, f"labs.{name}.due")
        course.columns[lab_id] = {k: str(lab[k]) for k in ("canvas", "moodle") if k in lab}
    late = data.get("late", {})
    course.policy = str(late.get("policy", "none"))
    if course.policy not in POLICIES:
        raise ValueError(f"course file: late.policy must be one of {', '.join(POLICIES)}")
    course.percent_per_day = float(late.get("percent_per_day", 0))
    course.cap_percent = float(late.get("cap_percent", 100))
    course.grace = dt.timedelta(minutes=float(late.get("grace_minutes", 0)))
    course.flagged_days = float(late.get("flagged_days", 1))
    if course.flagged_days < 0:
        raise ValueError("course file: late.flagged_days must be 0 or more")
    if "zero_after_days" in late:
        course.zero_after = float(late["zero_after_days"]) * DAY
    elif course.policy == "cutoff":
        course.zero_after = dt.timedelta(0)
    for student, labs in data.get("extensions", {}).items():
        moved: dict[str, dt.datetime | float] = {}
        for name, value in labs.items():
            lab_id = resolve_lab(name).id
            where = f"extensions.{student}.{name}"
            moved[lab_id] = (
                float(value) if isinstance(value, int | float) else _when(value, zone, where)
            )
        course.extensions[str(student)] = moved
    return course


@dataclass(frozen=True)
class Person:
    """One roster line."""

    id: str
    name: str = ""
    email: str = ""
    sis_id: str = ""
    sis_login_id: str = ""
    section: str = ""


def load_roster(path: Path | None) -> dict[str, Person]:
    """Student id -> roster line (empty when ``path`` is None).

    Raises:
        ValueError: no ``id`` column, or one id twice.
    """
    if path is None:
        return {}
    with open(path, newline="", encoding="utf-8-sig") as handle:
        reader = csv.DictReader(handle)
        columns = {
            ALIASES.get(key, key): c
            for c in reader.fieldnames or []
            if (key := c.strip().lower().replace(" ", "_"))
        }
        if "id" not in columns:
            raise ValueError(f"{path}: the roster needs an 'id' column")
        people: dict[str, Person] = {}
        for line in reader:
            values = {key: (line.get(column) or "").strip() for key, column in columns.items()}
            values["id"] = values["id"].removeprefix(PARTICIPANT)
            fields = Person.__dataclass_fields__
            person = Person(**{k: v for k, v in values.items() if k in fields})
            if not person.id:
                continue
            if person.id in people:
                raise ValueError(f"{path}: the id {person.id!r} is on the roster twice")
            people[person.id] = person
    return people


def roster_kind(path: Path | None) -> str:
    """``canvas`` (Canvas's gradebook export), ``moodle-worksheet`` (Moodle's grading
    worksheet), ``plain`` (any other roster) or ``none``."""
    if path is None or not path.is_file():
        return "none"
    with open(path, newline="", encoding="utf-8-sig") as handle:
        header = [c.strip().lower() for c in next(csv.reader(handle), [])]
    if tuple(header[: len(CANVAS_EXPORT)]) == CANVAS_EXPORT:
        return "canvas"
    if "identifier" in header and "full name" in header and "grade" in header:
        return "moodle-worksheet"
    return "plain"
