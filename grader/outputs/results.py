"""The results folder: ``grades.csv``'s rows and columns, reading a batch back, writing outputs.

A batch's rows (:class:`StudentRow`) become ``grades.csv`` (:func:`csv_header`,
:func:`csv_line`) merged with the rows a previous batch left in the folder
(:func:`previous_batch`); :func:`write_outputs` then writes the feedback pages, the
gradebook, ``grading.json`` and, through :func:`grader.outputs.report.refresh`, the imports,
summary and histogram.
"""

from __future__ import annotations

import csv
import datetime as dt
import json
import logging
import platform
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path

import grader.outputs.exports as exports
import grader.outputs.feedback as feedback
import grader.outputs.formgrader as formgrader
import grader.outputs.gradebook as gradebook
import grader.outputs.report as report
from grader import config
from grader.batch import Handin, LabKey, LabResult
from grader.checking import misconceptions
from grader.course import load_course
from grader.safetext import escape, neutralise, write_csv
from grader.sandbox import sandbox_binary

log = logging.getLogger("grader")

HEAD = ("student_id", "name", "status", "score", "raw_score", "penalty", "max_score", "flags")


OVERRIDES = "overrides"


DIAGNOSES = "diagnoses"
"""The last column: the misconceptions failing checks recognised, each with its checks."""


LAB_DETAILS = ("raw", "penalty", "submitted", "late", "file")
"""Per lab after ``<lab>`` and ``<lab>_status``: ``<lab>_raw``, ``<lab>_penalty``, …"""


@dataclass
class StudentRow:
    """One line of ``grades.csv``."""

    student: str
    labs: dict[str, LabResult]
    flags: list[str] = field(default_factory=list)
    name: str = ""
    handins: dict[str, Handin] = field(default_factory=dict)

    @property
    def status(self) -> str:
        results = list(self.labs.values())
        if all(r.status == "missing" for r in results):
            return "ungradable:no-notebooks"
        bad = [r.status for r in results if r.status.startswith("ungradable")]
        return bad[0] if bad else "graded"

    @property
    def score(self) -> float:
        return sum(r.score for r in self.labs.values())

    def all_flags(self) -> list[str]:
        """Every flag, lab flags prefixed with their lab, escaped to one line each."""
        lab_flags = [f"{r.lab}:{f}" for r in self.labs.values() for f in r.flags]
        return [escape(flag) for flag in self.flags + lab_flags]


@dataclass
class Batch:
    """A finished batch: its labs (keys), rows, seed and settings."""

    keys: dict[str, LabKey]
    rows: list[StudentRow]
    seed: int
    out: Path
    isolation: str
    limits: config.Limits
    unowned: list[tuple[str, str]] = field(default_factory=list)
    """Handed-in files no learner owns (name, reason): the summary's "not graded" table."""

    @property
    def max_score(self) -> float:
        return sum(key.max_score for key in self.keys.values())


def fmt(points: float) -> str:
    return f"{points:g}"


def csv_header(keys: dict[str, LabKey]) -> list[str]:
    """The columns of ``grades.csv``: :data:`HEAD` and the overrides; per lab its points, status,
    :data:`LAB_DETAILS` and checks; the diagnoses last."""
    header = [*HEAD, OVERRIDES]
    for lab, key in keys.items():
        header += [lab, f"{lab}_status", *(f"{lab}_{d}" for d in LAB_DETAILS), *key.spec_ids]
    return [*header, DIAGNOSES]


def csv_line(row: StudentRow, batch: Batch) -> list[str]:
    """One student's line of ``grades.csv`` (cells as written, before neutralising)."""
    score = fmt(row.score)  # raw here; exports.finalise applies penalties and overrides
    line = [row.student, escape(row.name), row.status, score, score, "0", fmt(batch.max_score)]
    line += ["; ".join(row.all_flags()), ""]
    for lab, key in batch.keys.items():
        result = row.labs[lab]
        handin = row.handins.get(lab, Handin())
        when = handin.submitted.isoformat() if handin.submitted else ""
        late = "late" if handin.late else ""
        line += [fmt(result.score), result.status, fmt(result.score), "0", when, late, handin.file]
        graded = result.status == "graded"
        line += [fmt(result.checks.get(i, 0.0)) if graded else "" for i in key.spec_ids]
    graded_labs = [r for r in row.labs.values() if r.status == "graded"]
    outcomes = {i: o for r in graded_labs for i, o in r.outcomes.items()}
    return [*line, misconceptions.cell(outcomes)]


SHARD_KEY = "shard"
"""The key of ``grading.json`` that records which shard (``K/N``) a folder holds."""


class MergeError(ValueError):
    """``OUT`` holds a batch this run cannot be merged into (the message says what to do)."""


@dataclass
class Previous:
    """The batch already in a results folder: its rows and what it was graded with."""

    out: Path
    header: list[str]
    rows: list[dict[str, str]]
    meta: dict[str, object]

    def fit(self, seed: int | None, lab_ids: list[str]) -> int | None:
        """The seed to regrade with: the recorded one (raises MergeError on another seed
        or other labs)."""
        recorded = self.meta.get("seed")
        labs = self.meta.get("labs")
        advice = "grade into another folder, or pass --replace to start it afresh"
        if labs is not None and labs != lab_ids:
            raise MergeError(
                f"{self.out} holds a batch of labs {labs}, not {lab_ids}: a regrade merges only "
                f"into a batch of the same labs; {advice}"
            )
        if seed is not None and recorded is not None and seed != recorded:
            raise MergeError(
                f"{self.out} holds a batch graded with seed {recorded}: regrade with --seed "
                f"{recorded} (or no --seed) to merge into it, or {advice}"
            )
        return seed if recorded is None else int(str(recorded))

    def check_columns(self, header: list[str]) -> None:
        if header != self.header:
            raise MergeError(
                f"{self.out / 'grades.csv'} has other columns than this batch (its labs' checks "
                "changed?): grade into another folder, or pass --replace to start it afresh"
            )


def previous_batch(out: Path) -> Previous | None:
    """The batch in ``out`` (None when there is none to merge into)."""
    grades = out / "grades.csv"
    if not grades.is_file():
        return None
    try:
        with open(grades, newline="", encoding="utf-8") as handle:
            reader = csv.reader(handle)
            header = next(reader, [])
            rows = [dict(zip(header, line, strict=True)) for line in reader]
        meta_path = out / "grading.json"
        meta = json.loads(meta_path.read_text(encoding="utf-8")) if meta_path.is_file() else {}
    except (OSError, ValueError) as exc:
        raise MergeError(
            f"{grades} cannot be read back ({exc}): pass --replace to start {out} afresh"
        ) from exc
    return Previous(out, header, rows, meta if isinstance(meta, dict) else {})


OUTPUTS = (
    "grades.csv",
    "lms.csv",
    "summary.md",
    "score_histogram.png",
    "gradebook.db",
    "grading.json",
    "feedback",
    "canvas.csv",
    "moodle.csv",
    "moodle-worksheet.csv",
    "gradebook-written.json",
    "autograded",
    "feedback-canvas.zip",
    "feedback-moodle.zip",
    "feedback-nbgrader",
    "report.html",
    "report.json",
    "report",
)
"""What a batch writes into OUT (``--replace`` removes them; ``overrides.csv``,
``course.toml`` and ``roster.csv`` stay)."""


def clear(out: Path) -> None:
    """Remove what a previous batch wrote into ``out`` (``--replace``)."""
    for name in OUTPUTS:
        path = out / name
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path)
        elif path.exists() or path.is_symlink():
            path.unlink()


def prepare() -> None:
    """Import what writing the outputs needs here (matplotlib, mistune) while the sandboxes
    run, so that the batch's last step only writes; nbgrader's gradebook is imported by its
    own helper process meanwhile (:func:`grader.outputs.gradebook.start_helper`)."""
    import matplotlib.figure  # noqa: F401
    import mistune  # noqa: F401


def write_outputs(
    batch: Batch,
    *,
    started: float,
    submissions: Path,
    jobs: int,
    kept: list[dict[str, str]] | None = None,
    shard: str | None = None,
) -> None:
    """Feedback, then the merged table and everything derived from it: gradebook, grades.csv,
    lms.csv, grading.json, summary and histogram.

    ``kept`` are rows of a previous batch in ``batch.out`` (as read from its grades.csv); the
    students graded now replace theirs. A failure while writing one student's feedback or
    gradebook entry becomes that student's status (``ungradable:crash``, logged). ``shard``
    (``K/N``) is recorded in ``grading.json`` under :data:`SHARD_KEY`: the folder then holds
    one shard of a batch, and the roster's learners without a submission are left to the merge.
    """
    out = batch.out
    formgrader.import_manual_scores(out)  # before the gradebook is written afresh
    header = csv_header(batch.keys)
    regraded = {neutralise(row.student) for row in batch.rows}
    kept = [r for r in kept or [] if r.get("student_id") not in regraded]
    folders = feedback.folders([*regraded, *(r["student_id"] for r in kept)])
    for row in batch.rows:
        folder = folders[neutralise(row.student)]
        shutil.rmtree(out / "feedback" / folder, ignore_errors=True)
        for lab, result in row.labs.items():
            if result.status == "missing":
                continue
            try:
                feedback.write(out / "feedback", row.student, result, batch.keys[lab], folder)
            except Exception as exc:  # a grader bug: this student's status, not the batch's end
                log.exception("GRADER ERROR writing the feedback of %s %s", row.student, lab)
                row.labs[lab] = LabResult(
                    lab,
                    "ungradable:crash",
                    max_score=result.max_score,
                    detail=f"grader error while writing feedback: {type(exc).__name__}: {exc}",
                )
    table = {neutralise(r["student_id"]): r for r in kept}
    for row in batch.rows:
        table[neutralise(row.student)] = dict(zip(header, csv_line(row, batch), strict=True))
    merged = [table[student] for student in sorted(table)]
    for student, error in _write_gradebook(batch, header, merged, shard).items():
        log.error("the gradebook entry of %s was not written: %s", student, error)
        if neutralise(student) in table:  # (a roster learner with nothing graded is not)
            table[neutralise(student)]["status"] = "ungradable:crash"
    write_csv(out / "grades.csv", header, ([r.get(h, "") for h in header] for r in merged))
    times = [r.seconds for row in batch.rows for r in row.labs.values() if r.run]
    meta = {
        "seed": batch.seed,
        "labs": list(batch.keys),
        "max_score": batch.max_score,
        "check_labs": {i: lab for lab, key in batch.keys.items() for i in key.spec_ids},
        **report.check_meta(batch.keys),
        "students": len(merged),
        "graded_now": len(batch.rows),
        "notebooks": len(times),
        "isolation": batch.isolation,
        "sandbox": sandbox_binary() if batch.isolation == "full" else None,
        "jobs": jobs,
        "cell_timeout": batch.limits.cell_timeout,
        "notebook_timeout": batch.limits.wall_clock,
        "seconds": round(time.time() - started, 1),
        "seconds_per_notebook": round(sum(times) / len(times), 2) if times else None,
        "submissions": escape(str(submissions)),
        "not_graded_unowned": [list(item) for item in batch.unowned],
        "started": dt.datetime.fromtimestamp(started, dt.timezone.utc).isoformat(
            timespec="seconds"
        ),
        "python": platform.python_version(),
    }
    if shard is not None:
        meta[SHARD_KEY] = shard
    (out / "grading.json").write_text(json.dumps(meta, indent=2) + "\n")
    report.refresh(out)
    for name, why in exports.problems_in(out).items():
        log.info("not written: %s: %s", name, why)
    log.info(
        "done: %d students graded now (%d in %s), %d notebooks in %.1f s",
        len(batch.rows),
        len(merged),
        out.name,
        len(times),
        meta["seconds"],
    )


def _write_gradebook(
    batch: Batch, header: list[str], merged: list[dict[str, str]], shard: str | None = None
) -> dict[str, str]:
    """``gradebook.db`` from the merged rows as :func:`grader.outputs.exports.finalise` makes
    them (names, penalties and overrides applied; the roster's learners added), with the
    course's due dates."""
    meta: dict[str, object] = {
        "labs": list(batch.keys),
        "check_labs": {i: lab for lab, key in batch.keys.items() for i in key.spec_ids},
    }
    if shard is not None:
        meta[SHARD_KEY] = shard  # the roster's absent learners are the merge's to add
    final = exports.finalise(batch.out, header, [dict(row) for row in merged], meta)
    course = batch.out / exports.COURSE
    due = load_course(course if course.is_file() else None).due
    dates = {lab: when.isoformat() for lab, when in due.items()}
    formgrader.remember_written(batch.out, final, list(batch.keys))
    return gradebook.write(batch.out / "gradebook.db", batch.keys, final, dates)
