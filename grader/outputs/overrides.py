"""An instructor's decisions on scores, kept in ``OUT/overrides.csv`` beside the results.

``python -m grader override OUT STUDENT CHECK_OR_LAB POINTS --comment "…"`` appends one line
(:data:`COLUMNS`); the last line for a (student, target, kind) wins. A target is a check id (that
check earns POINTS) or a lab (the lab's raw score is POINTS, whatever its checks earned);
``--waive-late`` on a lab (POINTS then optional) lifts its late penalty; ``--remove`` drops the
student's decisions on the target. Every regrade, report and export reads the file and applies
it (:func:`grader.outputs.exports.finalise`), so a decision survives regrading; ``--replace``
keeps it.

Each decision records the submission it was made against (:func:`fingerprint`: the graded
notebook's sha256, else its file name and time). When the learner's graded submission later
differs, the decision is ``stale``: still applied, flagged ``override-stale:<target>`` on the
row and listed in the summary, until the instructor records it again (re-confirms) or removes it.
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

from grader.labs import get_lab, resolve_lab
from grader.safetext import escape, neutralise, write_csv

FILE = "overrides.csv"
AUTOGRADED = "autograded"
"""Where a batch keeps the notebooks it graded (:data:`grader.outputs.gradebook.AUTOGRADED`;
not imported: the gradebook's module reaches this one through the exports)."""
COLUMNS = ["student", "target", "points", "comment", "recorded", "kind", "submission"]
KINDS = ("points", "waive-late")


@dataclass(frozen=True)
class Override:
    """One decision: ``target`` (a check id or a lab id) of ``student`` earns ``points``, or
    (``kind`` ``waive-late``) the lab's late penalty is lifted."""

    student: str
    target: str
    points: float
    comment: str = ""
    recorded: str = ""
    kind: str = "points"
    submission: str = ""
    """:func:`fingerprint` of the submission graded when the decision was recorded."""

    @property
    def key(self) -> tuple[str, str]:
        """``(student, target)`` for points; ``(student, "<lab>:waive-late")`` for a waiver."""
        suffix = "" if self.kind == "points" else f":{self.kind}"
        return self.student, self.target + suffix


def read(out: Path) -> dict[tuple[str, str], Override]:
    """:attr:`Override.key` -> the latest decision recorded in ``out/overrides.csv`` (files
    written before waivers and fingerprints existed read as points decisions)."""
    path = out / FILE
    if not path.is_file():
        return {}
    decisions: dict[tuple[str, str], Override] = {}
    with open(path, newline="", encoding="utf-8") as handle:
        for line in csv.DictReader(handle):
            kind = line.get("kind") or "points"
            decision = Override(
                line["student"],
                line["target"],
                float(line["points"] or 0),
                line["comment"],
                line["recorded"],
                kind,
                line.get("submission") or "",
            )
            decisions[decision.key] = decision
    return decisions


def fingerprint(out: Path, row: dict[str, str], lab: str) -> str:
    """What identifies the submission of ``lab`` graded in ``row``: the sha256 of the notebook
    kept in ``out/autograded`` where there is one, else its file name and submission time."""
    info = get_lab(lab)
    student = row.get("student_id", "").removeprefix("'")
    kept = out / AUTOGRADED / student / info.assignment / info.notebook
    if row.get(f"{lab}_status") == "missing":
        return "missing"
    try:
        if kept.is_file() and not kept.is_symlink():
            return "sha256:" + hashlib.sha256(kept.read_bytes()).hexdigest()[:16]
    except OSError:
        pass
    return f"{row.get(f'{lab}_file', '')}@{row.get(f'{lab}_submitted', '')}"


def lab_of_target(target: str, meta: dict[str, object]) -> str:
    """The lab a decision's target belongs to (a check's lab, or the lab itself)."""
    checks = meta.get("check_labs")
    if isinstance(checks, dict) and target in checks:
        return str(checks[target])
    return target


def record(
    *,
    out: Path,
    student: str,
    target: str,
    points: float | None,
    comment: str,
    waive_late: bool = False,
    remove: bool = False,
) -> list[Override]:
    """Check the decision against the batch in ``out`` and append it to ``out/overrides.csv``.

    Args:
        points: the target's points (None with ``waive_late`` or ``remove`` alone).
        waive_late: lift the lab's late penalty (the target must be a lab).
        remove: drop the student's decisions on the target instead.

    Returns:
        The decisions recorded (a removal returns none).

    Raises:
        ValueError: no batch in ``out``, an unknown student or target, points outside
            0 … the target's maximum, a waiver on a check, or nothing to record.
    """
    meta_path, grades = out / "grading.json", out / "grades.csv"
    if not meta_path.is_file() or not grades.is_file():
        raise ValueError(f"{out} holds no graded batch: run autograde first")
    meta = json.loads(meta_path.read_text(encoding="utf-8"))
    with open(grades, newline="", encoding="utf-8") as handle:
        rows = {line["student_id"]: line for line in csv.DictReader(handle)}
    row = rows.get(neutralise(student))
    if row is None:
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
    if waive_late and target in check_points:
        raise ValueError(f"--waive-late lifts a lab's penalty: name the lab, not {target!r}")
    previous = read(out)
    if remove:
        kept = [d for d in previous.values() if (d.student, d.target) != (student, target)]
        _write(out, kept)
        return []
    if points is None and not waive_late:
        raise ValueError("give POINTS, --waive-late, or --remove")
    if points is not None and not 0 <= points <= top:
        raise ValueError(f"{target} earns between 0 and {top:g} points, not {points:g}")
    now = dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")
    submission = fingerprint(out, row, lab_of_target(target, meta))
    made = []
    if points is not None:
        made.append(Override(student, target, points, escape(comment), now, "points", submission))
    if waive_late:
        made.append(Override(student, target, 0.0, escape(comment), now, "waive-late", submission))
    decisions = {**previous, **{d.key: d for d in made}}
    _write(out, list(decisions.values()))
    return made


def _write(out: Path, decisions: list[Override]) -> None:
    rows = [
        [d.student, d.target, f"{d.points:g}", d.comment, d.recorded, d.kind, d.submission]
        for d in decisions
    ]
    write_csv(out / FILE, COLUMNS, rows)


def stale(out: Path, row: dict[str, str], decision: Override, meta: dict[str, object]) -> bool:
    """Was ``decision`` made against another submission than the one graded in ``row``?"""
    if not decision.submission:
        return False  # recorded before fingerprints: nothing to compare
    return decision.submission != fingerprint(out, row, lab_of_target(decision.target, meta))
