"""An instructor's decisions on scores, kept in ``OUT/overrides.csv`` beside the results.

``python -m grader override OUT STUDENT CHECK_OR_LAB POINTS --comment "…"`` appends one line
(``student,target,points,comment,recorded``); the last line for a (student, target) wins.
A target is a check id (that check earns POINTS) or a lab (the lab's raw score is POINTS,
whatever its checks earned). Every regrade, report and export reads the file and applies it
(:func:`grader.outputs.exports.finalise`), so a decision survives regrading; ``--replace`` keeps it.
"""

from __future__ import annotations

import csv
import datetime as dt
import json
from dataclasses import dataclass
from pathlib import Path

from grader.labs import resolve_lab
from grader.safetext import escape, neutralise, write_csv

FILE = "overrides.csv"
COLUMNS = ["student", "target", "points", "comment", "recorded"]


@dataclass(frozen=True)
class Override:
    """One decision: ``target`` (a check id or a lab id) of ``student`` earns ``points``."""

    student: str
    target: str
    points: float
    comment: str = ""
    recorded: str = ""


def read(out: Path) -> dict[tuple[str, str], Override]:
    """(student, target) -> the latest decision recorded in ``out/overrides.csv``."""
    path = out / FILE
    if not path.is_file():
        return {}
    decisions: dict[tuple[str, str], Override] = {}
    with open(path, newline="", encoding="utf-8") as handle:
        for line in csv.DictReader(handle):
            student = line["student"]
            decisions[student, line["target"]] = Override(
                student, line["target"], float(line["points"]), line["comment"], line["recorded"]
            )
    return decisions


def record(*, out: Path, student: str, target: str, points: float, comment: str) -> Override:
    """Check the decision against the batch in ``out`` and append it to ``out/overrides.csv``.

    Raises:
        ValueError: no batch in ``out``, an unknown student or target, or points outside
            0 … the target's maximum.
    """
    meta_path, grades = out / "grading.json", out / "grades.csv"
    if not meta_path.is_file() or not grades.is_file():
        raise ValueError(f"{out} holds no graded batch: run autograde first")
    meta = json.loads(meta_path.read_text(encoding="utf-8"))
    with open(grades, newline="", encoding="utf-8") as handle:
        students = {line["student_id"] for line in csv.DictReader(handle)}
    if neutralise(student) not in students:
        raise ValueError(f"{student!r} is not a student of the batch in {out}")
    check_points: dict[str, float] = meta.get("check_points", {})
    lab_max: dict[str, float] = meta.get("lab_max", {})
    if target in check_points:
        top = check_points[target]
    else:
        try:
            target = resolve_lab(target).id
        except KeyError:
            target = target  # reported below
        if target not in lab_max:
            raise ValueError(f"{target!r} is neither a check nor a lab of the batch in {out}")
        top = lab_max[target]
    if not 0 <= points <= top:
        raise ValueError(f"{target} earns between 0 and {top:g} points, not {points:g}")
    decision = Override(
        student,
        target,
        points,
        escape(comment),
        dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
    )
    decisions = [*read(out).values(), decision]
    rows = [[d.student, d.target, f"{d.points:g}", d.comment, d.recorded] for d in decisions]
    write_csv(out / FILE, COLUMNS, rows)
    return decision
