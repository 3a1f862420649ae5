"""Final scores and the files an LMS imports, all from ``OUT/grades.csv``.

:func:`finalise` applies the course's late policy (``OUT/course.toml``), the instructor's
overrides (``OUT/overrides.csv``) and the roster (``OUT/roster.csv``) to the rows of
``grades.csv``: the check columns always hold what the autograder measured, and ``<lab>_raw``,
``<lab>_penalty``, ``<lab>`` (final), ``raw_score``, ``penalty``, ``score`` and ``overrides``
are derived from them afresh every time, so regrading, reporting and exporting agree.

The imports (documented in ``docs/instructor-guide.md``, with their sources):

* ``canvas.csv``: Canvas's gradebook import. Columns ``Student``, ``ID``, ``SIS User ID``,
  ``SIS Login ID``, ``Section``, then one per lab; the second row is Canvas's
  ``Points Possible`` row with each lab's points. ``ID`` is the Canvas user id. Written only
  from a Canvas roster (the gradebook CSV Canvas exports).
* ``moodle.csv``: Moodle's CSV grade import: an identifier column (``Email address`` or
  ``ID number``, whichever the roster fills for everyone; never the participant id of a
  download's names, which is per assignment) and one per lab.
* ``moodle-worksheet.csv``: Moodle's grading worksheet (when it is the roster) written back
  in its own layout with ``Grade`` and ``Feedback comments`` filled.
* ``lms.csv``: :data:`LMS_COLUMNS` (``status`` says why a 0 is a 0: ``missing``,
  ``ungradable:<reason>``).
"""

from __future__ import annotations

import csv
import json
import shutil
from pathlib import Path

import grader.outputs.overrides as overrides
from grader.course import (
    PARTICIPANT,
    Course,
    Person,
    load_course,
    load_roster,
    parse_time,
    roster_kind,
)
from grader.labs import get_lab
from grader.safetext import neutralise, write_csv

COURSE, ROSTER = "course.toml", "roster.csv"
WORKSHEET = "moodle-worksheet.csv"
CANVAS_COLUMNS = ["Student", "ID", "SIS User ID", "SIS Login ID", "Section"]
DERIVED_FLAGS = ("not-on-roster", "override-stale:")
"""Flags :func:`finalise` derives afresh each time (a prefix ending in ``:`` covers a family)."""
LMS_COLUMNS = (
    "student_id",
    "name",
    "score",
    "raw_score",
    "penalty",
    "max_score",
    "percent",
    "status",
)


def fmt(points: float) -> str:
    return f"{round(points, 4):g}"


def read_rows(out: Path) -> tuple[list[str], list[dict[str, str]]]:
    with open(out / "grades.csv", newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        return list(reader.fieldnames or []), list(reader)


def lab_column(lab: str, course: Course, system: str) -> str:
    """The column a lab gets in an LMS import: the course file's choice, else its title."""
    chosen = course.columns.get(lab, {}).get(system)
    if chosen:
        return chosen
    info = get_lab(lab)
    return info.title if info.number == 0 else f"Lab 1.7.{info.number}: {info.title}"


def finalise(
    out: Path, header: list[str], rows: list[dict[str, str]], meta: dict | None = None
) -> list[dict[str, str]]:
    """The rows with late penalties, overrides and roster names applied (roster students with
    no submission added as ``missing``, except in one shard of a batch: the merge adds them,
    once); sorted by student id. ``meta`` (``labs`` and ``check_labs``) is read from
    ``out/grading.json`` when not given."""
    if meta is None:
        meta = json.loads((out / "grading.json").read_text(encoding="utf-8"))
    course = load_course(out / COURSE if (out / COURSE).is_file() else None)
    roster = load_roster(out / ROSTER if (out / ROSTER).is_file() else None)
    decisions = overrides.read(out)
    labs: list[str] = meta["labs"]
    checks: dict[str, str] = meta["check_labs"]
    table = {row["student_id"]: row for row in rows}
    for listed in [] if meta.get("shard") else roster.values():
        student = neutralise(listed.id)
        if student not in table:
            table[student] = {h: "" for h in header}
            table[student].update(student_id=student, status="missing", flags="")
            for lab in labs:
                table[student][f"{lab}_status"] = "missing"
    for student, row in table.items():
        _finalise_row(row, student, labs, checks, course, decisions)
        flags = [f for f in row.get("flags", "").split("; ") if f and not _derived(f)]
        flags += _stale(out, row, student, decisions, meta)
        person = roster.get(student.removeprefix("'"))
        if roster and person is None:
            flags.append("not-on-roster")
        row["flags"] = "; ".join(flags)
        if person is not None and person.name:
            row["name"] = person.name
    return [table[s] for s in sorted(table)]


def _derived(flag: str) -> bool:
    return any(flag == d or (d.endswith(":") and flag.startswith(d)) for d in DERIVED_FLAGS)


def _stale(
    out: Path,
    row: dict[str, str],
    student: str,
    decisions: dict[tuple[str, str], overrides.Override],
    meta: dict,
) -> list[str]:
    """``override-stale:<target>`` for each decision on ``student`` made against another
    submission than the one graded now."""
    return [
        f"override-stale:{d.target}" + ("" if d.kind == "points" else f":{d.kind}")
        for (who, _), d in sorted(decisions.items())
        if who == student and overrides.stale(out, row, d, meta)
    ]


def _finalise_row(
    row: dict[str, str],
    student: str,
    labs: list[str],
    checks: dict[str, str],
    course: Course,
    decisions: dict[tuple[str, str], overrides.Override],
) -> None:
    totals = {"score": 0.0, "raw_score": 0.0, "penalty": 0.0}
    shown = []
    for lab in labs:
        status = row.get(f"{lab}_status", "missing")
        raw = 0.0
        for check, check_lab in checks.items():
            if check_lab != lab:
                continue
            points = float(row.get(check) or 0) if status == "graded" else 0.0
            decision = decisions.get((student, check))
            if decision is not None:
                points = decision.points
                shown.append(f"{check}={fmt(points)}: {decision.comment}")
            raw += points
        decision = decisions.get((student, lab))
        if decision is not None:
            raw = decision.points
            shown.append(f"{lab}={fmt(raw)}: {decision.comment}")
        when = parse_time(row.get(f"{lab}_submitted") or "")
        late = row.get(f"{lab}_late") == "late"
        penalty, _ = course.penalty(student.lstrip("'"), lab, raw, when, late)
        waiver = decisions.get((student, f"{lab}:waive-late"))
        if waiver is not None:
            if penalty:
                shown.append(f"{lab}: late penalty waived: {waiver.comment}")
            penalty = 0.0
        final = max(raw - penalty, 0.0)
        row[f"{lab}_raw"], row[f"{lab}_penalty"], row[lab] = fmt(raw), fmt(penalty), fmt(final)
        totals["score"] += final
        totals["raw_score"] += raw
        totals["penalty"] += penalty
    row.update({key: fmt(value) for key, value in totals.items()})
    row["overrides"] = "; ".join(shown)


def late_reason(out: Path, row: dict[str, str], lab: str) -> str:
    """Why a lab lost points for lateness (for the feedback page), or empty."""
    if float(row.get(f"{lab}_penalty") or 0) == 0:
        return ""
    course = load_course(out / COURSE if (out / COURSE).is_file() else None)
    when = parse_time(row.get(f"{lab}_submitted") or "")
    late = row.get(f"{lab}_late") == "late"
    raw = float(row.get(f"{lab}_raw") or 0)
    return course.penalty(row["student_id"].lstrip("'"), lab, raw, when, late)[1]


def write_all(out: Path) -> list[Path]:
    """Finalise ``grades.csv`` in place and write ``lms.csv`` and the LMS imports the roster
    allows (:func:`import_problems` says why one is not written; a stale one is removed)."""
    header, rows = read_rows(out)
    rows = finalise(out, header, rows)
    write_csv(out / "grades.csv", header, ([row.get(h, "") for h in header] for row in rows))
    meta = json.loads((out / "grading.json").read_text(encoding="utf-8"))
    course = load_course(out / COURSE if (out / COURSE).is_file() else None)
    roster = load_roster(out / ROSTER if (out / ROSTER).is_file() else None)
    problems = import_problems(out, rows, meta, roster)
    written = [write_lms(out, rows)]
    writers = {
        "canvas.csv": lambda: write_canvas(out, rows, meta, course, roster),
        "moodle.csv": lambda: write_moodle(out, rows, meta, course, roster),
        WORKSHEET: lambda: write_worksheet(out, rows, meta),
    }
    for name, write in writers.items():
        if name in problems:
            (out / name).unlink(missing_ok=True)
        else:
            written.append(write())
    return written


def problems_in(out: Path) -> dict[str, str]:
    """:func:`import_problems` for the batch in ``out`` as its files hold it now."""
    _, rows = read_rows(out)
    meta = json.loads((out / "grading.json").read_text(encoding="utf-8"))
    roster = load_roster(out / ROSTER if (out / ROSTER).is_file() else None)
    return import_problems(out, rows, meta, roster)


def import_problems(
    out: Path, rows: list[dict[str, str]], meta: dict, roster: dict[str, Person]
) -> dict[str, str]:
    """Import file -> why it cannot be written from what ``out`` holds (none: all written)."""
    kind = roster_kind(out / ROSTER if (out / ROSTER).is_file() else None)
    problems = {}
    if kind != "canvas":
        problems["canvas.csv"] = (
            "Canvas imports grades by its own user ids and names: pass --roster with the "
            "gradebook CSV exported from Canvas (Grades, Export) to write it"
        )
    people = [_person(roster, row) for row in rows]
    if roster and moodle_identifier(people)[0] == "":
        problems["moodle.csv"] = (
            "Moodle's grade import maps learners by email address or ID number, and the roster "
            "does not give one of them for everyone"
        )
    elif not roster:
        problems["moodle.csv"] = (
            "Moodle's grade import maps learners by email address or ID number: pass --roster "
            "(Moodle's grading worksheet or participants export) to write it"
        )
    if kind != "moodle-worksheet":
        problems[WORKSHEET] = "written only when the roster is Moodle's grading worksheet"
    elif len(meta["labs"]) != 1:
        problems[WORKSHEET] = "a grading worksheet is one assignment: grade one lab per batch"
    return problems


def write_lms(out: Path, rows: list[dict[str, str]]) -> Path:
    lines = []
    for row in rows:
        top = float(row["max_score"] or 0) or 1.0
        percent = 100 * float(row["score"] or 0) / top
        cells = [row.get(k, "") for k in ("student_id", "name", "score", "raw_score", "penalty")]
        lines.append([*cells, row["max_score"], f"{percent:.1f}", row.get("status", "")])
    head = [*LMS_COLUMNS]
    write_csv(out / "lms.csv", head, lines)
    return out / "lms.csv"


def _lab_cell(row: dict[str, str], lab: str) -> str:
    """A lab's final score for an import; empty when nothing was handed in and no override
    set it (so the import leaves the LMS's grade alone)."""
    missing = row.get(f"{lab}_status") == "missing"
    return "" if missing and lab not in row.get("overrides", "") else row.get(lab, "")


def _person(roster: dict[str, Person], row: dict[str, str]) -> Person:
    student = row["student_id"]
    return roster.get(student.lstrip("'")) or Person(student, row.get("name", ""))


def write_canvas(
    out: Path, rows: list[dict[str, str]], meta: dict, course: Course, roster: dict[str, Person]
) -> Path:
    labs: list[str] = meta["labs"]
    lab_max: dict[str, float] = meta.get("lab_max", {})
    header = CANVAS_COLUMNS + [lab_column(lab, course, "canvas") for lab in labs]
    points = ["Points Possible", "", "", "", ""] + [fmt(lab_max.get(lab, 0)) for lab in labs]
    lines = [points]
    for row in rows:
        person = _person(roster, row)
        name = person.name or row.get("name") or person.id
        lines.append(
            [name, person.id, person.sis_id, person.sis_login_id, person.section]
            + [_lab_cell(row, lab) for lab in labs]
        )
    write_csv(out / "canvas.csv", header, lines)
    return out / "canvas.csv"


def moodle_identifier(people: list[Person]) -> tuple[str, str]:
    """The identifier column Moodle's grade import maps users by: (header, Person attribute);
    ``("", "")`` when neither email nor ID number is known for everyone (the participant id
    in a download's names is per assignment and maps to no user)."""
    for header, attribute in (("Email address", "email"), ("ID number", "sis_id")):
        if people and all(getattr(p, attribute) for p in people):
            return header, attribute
    return "", ""


def write_moodle(
    out: Path, rows: list[dict[str, str]], meta: dict, course: Course, roster: dict[str, Person]
) -> Path:
    labs: list[str] = meta["labs"]
    people = [_person(roster, row) for row in rows]
    column, attribute = moodle_identifier(people)
    header = [column] + [lab_column(lab, course, "moodle") for lab in labs]
    lines = [
        [getattr(person, attribute)] + [_lab_cell(row, lab) for lab in labs]
        for person, row in zip(people, rows, strict=True)
    ]
    write_csv(out / "moodle.csv", header, lines)
    return out / "moodle.csv"


def write_worksheet(out: Path, rows: list[dict[str, str]], meta: dict) -> Path:
    """Moodle's grading worksheet (the roster) written back in its own layout, every column
    kept, with ``Grade`` and ``Feedback comments`` filled for each learner graded (Moodle's
    *Upload grading worksheet*, which matches rows by ``Identifier``)."""
    lab = meta["labs"][0]
    by_id = {row["student_id"].lstrip("'"): row for row in rows}
    with open(out / ROSTER, newline="", encoding="utf-8-sig") as handle:
        reader = csv.reader(handle)
        header = next(reader)
        lines = list(reader)
    lower = [c.strip().lower() for c in header]
    ident, grade = lower.index("identifier"), lower.index("grade")
    if "feedback comments" not in lower:
        header.append("Feedback comments")
        lower.append("feedback comments")
    comments = lower.index("feedback comments")
    for line in lines:
        line += [""] * (len(header) - len(line))
        row = by_id.get(line[ident].strip().removeprefix(PARTICIPANT))
        if row is None or _lab_cell(row, lab) == "":
            continue
        line[grade] = _lab_cell(row, lab)
        line[comments] = worksheet_comment(row, lab)
    write_csv(out / WORKSHEET, header, lines)
    return out / WORKSHEET


def worksheet_comment(row: dict[str, str], lab: str) -> str:
    """The feedback comment for Moodle: score, status, late penalty and decisions."""
    parts = [f"Autograded: {row.get(lab, '')} points ({row.get(f'{lab}_status', '')})"]
    if float(row.get(f"{lab}_penalty") or 0):
        parts.append(f"late penalty -{row[f'{lab}_penalty']}")
    parts += [d for d in row.get("overrides", "").split("; ") if d]
    return "; ".join(parts)


def keep_course_files(out: Path, *, course: Path | None, roster: Path | None) -> None:
    """Copy the course file and the roster into ``out``, where reports and regrades read them
    (checked first: a file that does not parse is refused before anything is graded)."""
    load_course(course)
    load_roster(roster)
    for source, name in ((course, COURSE), (roster, ROSTER)):
        if source is not None:
            shutil.copyfile(source, out / name)
