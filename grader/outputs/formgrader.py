"""Scores an instructor entered in formgrader, read back from ``OUT/gradebook.db`` as overrides.

The gradebook is written afresh after every batch (:mod:`grader.outputs.gradebook`), so a
manual score typed into formgrader would be lost, and two sources of truth would disagree.
Before a batch's outputs are written, and before ``report``, :func:`import_manual_scores` reads
the gradebook as it stands (plain SQLite, nbgrader's schema; nbgrader is not imported) and,
for each learner and lab whose total with formgrader's manual scores differs from the total the
grader wrote there (``OUT/gradebook-written.json``, else the lab's raw score in ``grades.csv``),
records a lab override (:mod:`grader.outputs.overrides`) with the formgrader comments of that
notebook, or "score entered in formgrader". An override recorded later with ``override`` is
never undone by the older gradebook: only what changed in formgrader is taken.
"""

from __future__ import annotations

import csv
import json
import logging
import sqlite3
from pathlib import Path

import grader.outputs.overrides as overrides
from grader.labs import get_lab

log = logging.getLogger("grader")

WRITTEN = "gradebook-written.json"
"""What the grader last wrote into the gradebook: ``<student>\t<lab>`` -> the lab's total."""


def _key(student: str, lab: str) -> str:
    return student.lstrip("'") + "\t" + lab


def remember_written(out: Path, rows: list[dict[str, str]], labs: list[str]) -> None:
    """Record the totals about to be written into ``gradebook.db`` (finalised rows)."""
    written = {
        _key(row["student_id"], lab): float(row.get(f"{lab}_raw") or 0)
        for row in rows
        for lab in labs
        if row.get(f"{lab}_status", "missing") != "missing"
    }
    (out / WRITTEN).write_text(json.dumps(written, indent=1, sort_keys=True), encoding="utf-8")


GRADES = """
SELECT sa.student_id, a.name, g.auto_score, g.manual_score
FROM grade g
JOIN submitted_notebook sn ON g.notebook_id = sn.id
JOIN submitted_assignment sa ON sn.assignment_id = sa.id
JOIN assignment a ON sa.assignment_id = a.id
"""
COMMENTS = """
SELECT sa.student_id, a.name, c.manual_comment
FROM comment c
JOIN submitted_notebook sn ON c.notebook_id = sn.id
JOIN submitted_assignment sa ON sn.assignment_id = sa.id
JOIN assignment a ON sa.assignment_id = a.id
WHERE c.manual_comment IS NOT NULL AND c.manual_comment != ''
"""


def manual_totals(db: Path) -> dict[tuple[str, str], tuple[float, str]]:
    """(student, assignment) -> (total with manual scores, comments) for every notebook where
    formgrader holds a manual score."""
    totals: dict[tuple[str, str], float] = {}
    manual: set[tuple[str, str]] = set()
    comments: dict[tuple[str, str], list[str]] = {}
    connection = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        for student, assignment, auto, hand in connection.execute(GRADES):
            key = (student, assignment)
            totals[key] = totals.get(key, 0.0) + float(hand if hand is not None else auto or 0)
            if hand is not None:
                manual.add(key)
        for student, assignment, text in connection.execute(COMMENTS):
            comments.setdefault((student, assignment), []).append(str(text))
    finally:
        connection.close()
    return {key: (totals[key], " / ".join(comments.get(key, []))) for key in sorted(manual)}


def import_manual_scores(out: Path) -> list[overrides.Override]:
    """Record formgrader's manual scores that differ from ``grades.csv`` as lab overrides;
    returns the decisions recorded (a gradebook that cannot be read is logged and skipped)."""
    db, grades, meta_path = out / "gradebook.db", out / "grades.csv", out / "grading.json"
    if not (db.is_file() and grades.is_file() and meta_path.is_file()):
        return []
    try:
        found = manual_totals(db)
    except sqlite3.Error as exc:
        log.warning("formgrader's scores in %s not read: %s", db, exc)
        return []
    if not found:
        return []
    meta = json.loads(meta_path.read_text(encoding="utf-8"))
    labs = {get_lab(lab).assignment: lab for lab in meta.get("labs", [])}
    with open(grades, newline="", encoding="utf-8") as handle:
        rows = {row["student_id"].lstrip("'"): row for row in csv.DictReader(handle)}
    written_path = out / WRITTEN
    written = json.loads(written_path.read_text(encoding="utf-8")) if written_path.is_file() else {}
    made = []
    for (student, assignment), (total, comment) in found.items():
        lab, row = labs.get(assignment), rows.get(student)
        if lab is None or row is None:
            continue
        before = written.get(_key(student, lab), float(row.get(f"{lab}_raw") or 0))
        if abs(float(before) - total) <= 1e-9:
            continue  # what the grader wrote there: nothing entered in formgrader
        text = f"formgrader: {comment}" if comment else "score entered in formgrader"
        try:
            made += overrides.record(
                out=out, student=student, target=lab, points=round(total, 4), comment=text
            )
        except ValueError as exc:
            log.warning("formgrader's score for %s %s not taken: %s", student, lab, exc)
    for decision in made:
        log.info("formgrader: %s %s = %g", decision.student, decision.target, decision.points)
    return made
