"""The cohort's picture from ``OUT/grades.csv``: statuses, scores, per-check pass rates, LMS export.

Everything here reads the files a batch wrote (``grades.csv`` and
``grading.json``), so ``python -m grader report OUT`` gives the same summary
later, on another machine, without regrading; ``autograde`` writes the same
files from the merged table after every batch. Every CSV cell is neutralised
against formula injection (:func:`grader.safetext.neutralise`).
"""

from __future__ import annotations

import csv
import json
import re
import statistics
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from grader import config
from grader.checking.misconceptions import get, parse_cell

if TYPE_CHECKING:
    from grader.batch import LabKey

FEEDBACK_TARGETS = ("canvas", "moodle", "nbgrader")


@dataclass
class Summary:
    """What a batch amounts to.

    Attributes:
        students: number of rows.
        statuses: student status -> count.
        lab_statuses: lab -> status -> count.
        scores: every student's total.
        max_score: the batch's maximum total.
        pass_rates: check id -> (learners who passed it, learners graded on its lab).
    """

    students: int
    statuses: Counter[str]
    lab_statuses: dict[str, Counter[str]]
    scores: list[float]
    max_score: float
    pass_rates: dict[str, tuple[int, int]] = field(default_factory=dict)
    misconceptions: dict[str, tuple[int, list[str]]] = field(default_factory=dict)
    """misconception id -> (students diagnosed with it, the checks where it showed)."""
    graded: int | None = None
    """Learners with a graded notebook (the misconceptions' share divides by them, not by
    the roster); ``scores`` are theirs only."""
    seed: int | None = None
    isolation: str | None = None
    sandbox: str | None = None
    not_graded: list[tuple[str, str, str]] = field(default_factory=list)
    """Every handed-in file not graded: (student, file, reason), from the ``ignored-file`` and
    ``renamed`` flags and the files no learner owns."""
    stale: list[str] = field(default_factory=list)
    """The summary's lines on overrides made against an earlier submission."""
    review: list[str] = field(default_factory=list)
    """The summary's lines on code the integrity scan flagged (advisory: scores stand)."""

    @property
    def mean(self) -> float:
        return statistics.fmean(self.scores) if self.scores else 0.0

    @property
    def median(self) -> float:
        return statistics.median(self.scores) if self.scores else 0.0


def summarize(out: Path) -> Summary:
    """Read ``out/grades.csv`` (and ``out/grading.json`` for the labs and the seed)."""
    meta = json.loads((out / "grading.json").read_text()) if (out / "grading.json").exists() else {}
    with open(out / "grades.csv", newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    header = list(rows[0]) if rows else []
    labs = meta.get("labs") or [h.removesuffix("_status") for h in header if h.endswith("_status")]
    checks: dict[str, str] = meta.get("check_labs") or {}
    lab_statuses = {lab: Counter(r[f"{lab}_status"] for r in rows) for lab in labs}
    pass_rates = {}
    for check_id, lab in checks.items():
        graded = [r for r in rows if r.get(f"{lab}_status") == "graded"]
        passed = sum(1 for r in graded if float(r.get(check_id) or 0) > 0)
        pass_rates[check_id] = (passed, len(graded))
    max_score = float(meta.get("max_score") or (rows[0]["max_score"] if rows else 0))
    graded_rows = [r for r in rows if is_graded(r, labs)]
    students: Counter[str] = Counter()
    where: dict[str, set[str]] = {}
    for row in rows:
        for mid, found in parse_cell(row.get("diagnoses", "")).items():
            students[mid] += 1
            where.setdefault(mid, set()).update(found)
    return Summary(
        students=len(rows),
        statuses=Counter(r["status"] for r in rows),
        lab_statuses=lab_statuses,
        scores=[float(r["score"]) for r in graded_rows],
        max_score=max_score,
        pass_rates=pass_rates,
        misconceptions={mid: (n, sorted(where[mid])) for mid, n in students.items()},
        seed=meta.get("seed"),
        isolation=meta.get("isolation"),
        graded=len(graded_rows),
        sandbox=meta.get("sandbox"),
        not_graded=not_graded(rows, meta),
        stale=stale_lines(rows),
        review=review_lines(rows),
    )


def not_graded(rows: list[dict[str, str]], meta: dict[str, Any]) -> list[tuple[str, str, str]]:
    """(student, file, reason) of every handed-in file not graded as handed in: the
    ``ignored-file:<reason>:<file>`` flags, ``renamed:<file>`` (graded for the lab asked for)
    and the files no learner owns (``grading.json``)."""
    found = []
    for row in rows:
        for flag in row.get("flags", "").split("; "):
            if flag.startswith("ignored-file:"):
                reason, _, name = flag.removeprefix("ignored-file:").partition(":")
                found.append((row["student_id"], name, reason))
            elif flag.startswith("renamed:"):
                found.append((row["student_id"], flag.removeprefix("renamed:"), "renamed, graded"))
    unowned = meta.get("not_graded_unowned") or []
    return found + [("-", str(name), str(reason)) for name, reason in unowned]


def stale_lines(rows: list[dict[str, str]]) -> list[str]:
    """The overrides made against an earlier submission (``override-stale:<target>``)."""
    stale = [
        f"- {row['student_id']}: {flag.removeprefix('override-stale:')} (override-stale:"
        f"{flag.removeprefix('override-stale:')})"
        for row in rows
        for flag in row.get("flags", "").split("; ")
        if flag.startswith("override-stale:")
    ]
    if not stale:
        return []
    head = "Made against an earlier submission; still applied until re-recorded or removed:"
    return ["", "## Overrides to re-confirm", "", head, "", *stale]


SCAN_FLAG = re.compile(r"^(?P<lab>[\w.-]+):(?P<kind>[a-z][a-z-]*) \(cell \d+, line \d+\)$")
"""An integrity-scan flag as ``grades.csv`` writes it: ``lab3:introspection (cell 40, line 8)``."""


def review_lines(rows: list[dict[str, str]]) -> list[str]:
    """The learners whose code the integrity scan flagged, with what it saw (advisory)."""
    flagged = [
        f"- {row['student_id']}: {', '.join(found)}"
        for row in rows
        if (found := [f for f in row.get("flags", "").split("; ") if SCAN_FLAG.match(f)])
    ]
    if not flagged:
        return []
    head = (
        "The scan saw code that can change how checks run (scores stand until you decide; "
        "`python -m grader override` records a decision):"
    )
    return ["", "## Code to review", "", head, "", *flagged]


def not_graded_table(summary: Summary) -> list[str]:
    """The "not graded" table: each handed-in file the grader did not grade, and why."""
    lines = ["", "## Not graded", ""]
    if not summary.not_graded:
        return [*lines, "Every handed-in file was graded."]
    lines += ["| student | file | reason |", "|---|---|---|"]
    for student, name, reason in sorted(summary.not_graded):
        student, name = (text.replace("|", "\\|") for text in (student, name))
        lines.append(f"| {student} | {name} | {reason} |")
    return lines


def is_graded(row: dict[str, str], labs: list[str]) -> bool:
    """Whether a learner has a graded notebook (a missing or ungradable one is no score)."""
    if any(f"{lab}_status" in row for lab in labs):
        return any(row.get(f"{lab}_status") == "graded" for lab in labs)
    return row.get("status") == "graded"


def format_summary(summary: Summary) -> str:
    """The summary as Markdown (also printed by ``report``)."""
    lines = ["# Autograde summary", ""]
    lines.append(f"Students: {summary.students}; seed: {summary.seed}")
    if summary.isolation == "reduced":
        lines += [
            "",
            "**Graded with REDUCED isolation** (resource limits only, no bubblewrap sandbox): "
            "learner code could read this machine's files and reach the grader's process.",
            "",
        ]
    elif summary.isolation:
        binary = f", sandboxes run by {summary.sandbox}" if summary.sandbox else ""
        lines.append(f"Isolation: {summary.isolation}{binary}")
    lines.append(
        f"Score: mean {summary.mean:.2f}, median {summary.median:g} of {summary.max_score:g}"
    )
    lines += ["", "## Statuses", "", "| status | students |", "|---|---|"]
    lines += [f"| {s} | {n} |" for s, n in sorted(summary.statuses.items())]
    lines += ["", "## Labs", "", "| lab | status | notebooks |", "|---|---|---|"]
    for lab, counts in summary.lab_statuses.items():
        lines += [f"| {lab} | {s} | {n} |" for s, n in sorted(counts.items())]
    lines += not_graded_table(summary) + summary.stale + summary.review
    lines += [
        "",
        "## Checks, least passed first",
        "",
        "| check | passed | graded | rate |",
        "|---|---|---|---|",
    ]
    for check_id, (passed, graded) in sorted(
        summary.pass_rates.items(), key=lambda kv: (kv[1][0] / kv[1][1] if kv[1][1] else 0.0, kv[0])
    ):
        rate = f"{100 * passed / graded:.0f}%" if graded else "-"
        lines.append(f"| {check_id} | {passed} | {graded} | {rate} |")
    lines += misconception_table(summary)
    lines += ["", "![score histogram](score_histogram.png)", ""]
    return "\n".join(lines)


def misconception_table(summary: Summary) -> list[str]:
    """The cohort's misconceptions, most frequent first: what to teach again."""
    lines = ["", "## Misconceptions, most frequent first", ""]
    if not summary.misconceptions:
        return [*lines, "No failing check matched a known misconception."]
    lines += ["| misconception | what it is | students | share | checks |", "|---|---|---|---|---|"]
    for mid, (count, checks) in sorted(
        summary.misconceptions.items(), key=lambda kv: (-kv[1][0], kv[0])
    ):
        try:
            what = get(mid).summary.replace("|", "\\|")
        except KeyError:
            what = ""
        graded = summary.students if summary.graded is None else summary.graded
        share = f"{100 * count / graded:.0f}%" if graded else "-"
        lines.append(f"| {mid} | {what} | {count} | {share} | {', '.join(checks)} |")
    return lines


def histogram(path: Path, summary: Summary) -> None:
    """A PNG of the score distribution (matplotlib's Agg canvas, no display needed)."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=(6, 3.5))
    ax = fig.add_subplot()
    top = summary.max_score or 1.0
    ax.hist(summary.scores, bins=config.HISTOGRAM_BINS, range=(0, top), color="#36c")
    ax.set_xlabel(f"score (of {top:g})")
    ax.set_ylabel("students")
    left_out = summary.students - len(summary.scores)
    title = f"Scores of {len(summary.scores)} graded learners"
    ax.set_title(title + (f" ({left_out} missing or ungradable not shown)" if left_out else ""))
    fig.tight_layout()
    fig.savefig(path, dpi=100)


def write_summary(out: Path) -> Summary:
    """Write ``summary.md`` and ``score_histogram.png`` next to ``grades.csv``."""
    summary = summarize(out)
    (out / "summary.md").write_text(format_summary(summary), encoding="utf-8")
    histogram(out / "score_histogram.png", summary)
    return summary


def check_meta(keys: dict[str, LabKey]) -> dict[str, Any]:
    """What reports need to know of the checks, recorded in ``grading.json``: each check's
    points and test cell, each lab's maximum."""
    return {
        "check_points": {
            i: p for k in keys.values() for t in k.cells for i, p in t.check_points.items()
        },
        "check_cells": {c.id: t.grade_id for k in keys.values() for t in k.cells for c in t.checks},
        "lab_max": {lab: key.max_score for lab, key in keys.items()},
    }


def refresh(out: Path) -> list[Path]:
    """Apply the course file, roster and overrides in ``out`` to ``grades.csv``, then write the
    imports (``lms.csv``, ``canvas.csv``, ``moodle.csv``), the head of every feedback page, the
    summary, the histogram and the course report (``report.html``, ``report.json``); returns
    the imports' paths."""
    import grader.outputs.course_report as course_report
    import grader.outputs.exports as exports
    import grader.outputs.feedback as feedback

    paths = exports.write_all(out)
    feedback.refresh_heads(out)
    write_summary(out)
    course_report.write(out)
    return paths


def report(
    *,
    out: Path,
    course: Path | None = None,
    roster: Path | None = None,
    feedback_for: str | None = None,
) -> Summary:
    """Print the summary and write the imports (:func:`refresh`); with ``course`` or
    ``roster``, those files replace the ones kept in ``out`` first; with ``feedback_for``,
    lay the feedback pages out for that system's bulk upload
    (:func:`grader.outputs.feedback.bundle`).
    """
    import grader.outputs.exports as exports
    import grader.outputs.feedback as feedback
    import grader.outputs.formgrader as formgrader

    exports.keep_course_files(out, course=course, roster=roster)
    for decision in formgrader.import_manual_scores(out):
        print(f"from formgrader: {decision.student} {decision.target} = {decision.points:g}")
    paths = refresh(out)
    summary = summarize(out)
    print(format_summary(summary))
    for path in paths:
        print(f"wrote {path}")
    for name, why in exports.problems_in(out).items():
        print(f"not written: {name}: {why}")
    if feedback_for is not None:
        print(f"wrote {feedback.bundle(out, feedback_for)}")
    return summary
