"""Late work, the instructor's decisions and the LMS imports, on a results folder written by
hand (no grading).

A batch of the fixture lab (checks ``fixture.double.value`` 2 points, ``fixture.double.edge``
1, ``fixture.square.value`` 1) is laid out as ``autograde`` leaves it: ``grades.csv``,
``grading.json``, the graded notebooks in ``autograded/``; then ``report``'s refresh and the
``override`` command run on it.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from grader import cli
from grader.outputs import formgrader, gradebook, report
from grader.outputs.results import HEAD, LAB_DETAILS, OVERRIDES
from tests import lms_fixtures

CHECKS = {"fixture.double.value": 2.0, "fixture.double.edge": 1.0, "fixture.square.value": 1.0}
NOTEBOOK = "fixture-double.ipynb"


def _row(student: str, status: str, *, late: str = "", submitted: str = "") -> dict[str, str]:
    points = CHECKS if status == "graded" else dict.fromkeys(CHECKS, 0.0)
    score = f"{sum(points.values()):g}"
    row = dict.fromkeys(HEADER, "")
    row.update(student_id=student, status=status, score=score, raw_score=score, penalty="0")
    row.update(max_score="4", fixture=score, fixture_status=status, fixture_raw=score)
    row.update(fixture_penalty="0", fixture_late=late, fixture_submitted=submitted)
    row.update(fixture_file=NOTEBOOK if status != "missing" else "")
    row.update({check: f"{p:g}" for check, p in points.items()} if status == "graded" else {})
    return row


HEADER = [*HEAD, OVERRIDES, "fixture", "fixture_status"]
HEADER += [f"fixture_{d}" for d in LAB_DETAILS] + [*CHECKS, "diagnoses"]


def _batch(out: Path, rows: list[dict[str, str]], course: str = "", roster: str = "") -> Path:
    out.mkdir(parents=True, exist_ok=True)
    with open(out / "grades.csv", "w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, HEADER)
        writer.writeheader()
        writer.writerows(rows)
    meta = {
        "seed": 1,
        "labs": ["fixture"],
        "max_score": 4,
        "check_labs": dict.fromkeys(CHECKS, "fixture"),
        "check_points": CHECKS,
        "check_cells": dict.fromkeys(CHECKS, "double-tests"),
        "lab_max": {"fixture": 4},
    }
    (out / "grading.json").write_text(json.dumps(meta))
    for row in rows:
        if row["fixture_status"] != "missing":
            kept = out / "autograded" / row["student_id"] / "fixture-double" / NOTEBOOK
            kept.parent.mkdir(parents=True, exist_ok=True)
            kept.write_text(f"notebook of {row['student_id']}")
    if course:
        (out / "course.toml").write_text(course)
    if roster:
        (out / "roster.csv").write_text(roster)
    report.refresh(out)
    return out


def _rows(out: Path, name: str = "grades.csv") -> dict[str, dict[str, str]]:
    with open(out / name, newline="", encoding="utf-8") as handle:
        return {row["student_id"]: row for row in csv.DictReader(handle)}


CANVAS_LATE = lms_fixtures.COURSE


@pytest.mark.parametrize(
    ("setting", "penalty"), [("", "0.4"), ("flagged_days = 3", "1.2"), ("flagged_days = 0", "0")]
)
def test_canvas_late_flag_follows_the_course_setting(
    tmp_path: Path, setting: str, penalty: str
) -> None:
    """Is a file Canvas flags late (no time) charged as ``late.flagged_days`` says (one day
    by default, none at 0, when Canvas applies its own policy)?"""
    course = CANVAS_LATE.replace("cap_percent = 50", f"cap_percent = 50\n{setting}")
    out = _batch(tmp_path / "out", [_row("22222", "graded", late="late")], course)
    assert _rows(out)["22222"]["fixture_penalty"] == penalty


def test_an_extension_overrides_canvas_late_flag(tmp_path: Path) -> None:
    """Does an extension in course.toml lift the penalty of a file Canvas flagged late?"""
    course = CANVAS_LATE.replace('[extensions."jsmith"]', '[extensions."22222"]')
    out = _batch(tmp_path / "out", [_row("22222", "graded", late="late")], course)
    assert _rows(out)["22222"]["fixture_penalty"] == "0"


def test_waive_late_lifts_the_penalty_and_tells_the_learner(tmp_path: Path) -> None:
    """Does ``override --waive-late`` take the penalty off, in grades.csv, the imports and the
    feedback page (with its comment), leaving the raw score alone?"""
    out = _batch(tmp_path / "out", [_row("22222", "graded", late="late")], CANVAS_LATE)
    args = ["override", str(out), "22222", "fixture", "--waive-late", "--comment", "doctor's note"]
    assert cli.main(args) == 0
    row = _rows(out)["22222"]
    assert (row["fixture_penalty"], row["score"], row["raw_score"]) == ("0", "4", "4")
    assert "late penalty waived: doctor's note" in row["overrides"]
    assert _rows(out, "lms.csv")["22222"]["score"] == "4"
    page = (out / "feedback" / "22222" / "fixture-double.html").read_text()
    assert "doctor&#x27;s note" in page and "Score: 4 / 4 points" in page


def test_waiving_a_check_or_recording_nothing_is_refused(tmp_path: Path) -> None:
    """Is ``--waive-late`` on a check, or an override with neither points nor a waiver,
    refused with exit 2 and nothing recorded?"""
    out = _batch(tmp_path / "out", [_row("ann", "graded")])
    waive_check = ["override", str(out), "ann", "fixture.double.value", "--waive-late"]
    assert cli.main([*waive_check, "--comment", "x"]) == 2
    assert cli.main(["override", str(out), "ann", "fixture", "--comment", "x"]) == 2
    assert not (out / "overrides.csv").exists()


def test_an_override_goes_stale_when_the_submission_changes(tmp_path: Path) -> None:
    """Is an override made against one submission flagged stale (still applied, listed in the
    summary) once another notebook is graded, and fresh again once re-confirmed?"""
    out = _batch(tmp_path / "out", [_row("ann", "graded")])
    assert cli.main(["override", str(out), "ann", "fixture", "1", "--comment", "partial"]) == 0
    assert "override-stale" not in _rows(out)["ann"]["flags"]
    kept = out / "autograded" / "ann" / "fixture-double" / NOTEBOOK
    kept.write_text("a resubmission")
    report.refresh(out)
    row = _rows(out)["ann"]
    assert "override-stale:fixture" in row["flags"] and row["score"] == "1"
    assert "override-stale:fixture" in (out / "summary.md").read_text()
    assert cli.main(["override", str(out), "ann", "fixture", "1", "--comment", "still"]) == 0
    assert "override-stale" not in _rows(out)["ann"]["flags"]
    assert cli.main(["override", str(out), "ann", "fixture", "--remove"]) == 0
    assert _rows(out)["ann"]["score"] == "4" and _rows(out)["ann"]["overrides"] == ""


def test_a_learner_with_only_an_override_gets_a_feedback_page(tmp_path: Path) -> None:
    """Does a learner whose notebook was never graded, but who has an override, get a page
    with the decision and its comment?"""
    out = _batch(tmp_path / "out", [_row("ann", "graded"), _row("bob", "missing")])
    assert not (out / "feedback" / "bob").exists()
    assert cli.main(["override", str(out), "bob", "fixture", "2", "--comment", "oral exam"]) == 0
    page = (out / "feedback" / "bob" / "fixture-double.html").read_text()
    assert "oral exam" in page and "Score: 2 / 4 points" in page


def test_the_summary_lists_every_file_not_graded(tmp_path: Path) -> None:
    """Does summary.md's Not graded table list each ignored file with its learner and reason,
    and the renamed notebook graded for the lab asked for?"""
    ann = _row("ann", "graded")
    ann["flags"] = "ignored-file:not-a-notebook:report.pdf; renamed:Lab2_final.ipynb"
    out = _batch(tmp_path / "out", [ann, _row("bob", "graded")])
    summary = (out / "summary.md").read_text()
    assert "| ann | report.pdf | not-a-notebook |" in summary
    assert "| ann | Lab2_final.ipynb | renamed, graded |" in summary
    clean = _batch(tmp_path / "clean", [_row("bob", "graded")])
    assert "Every handed-in file was graded." in (clean / "summary.md").read_text()


WORKSHEET = (
    "Identifier,Full name,Email address,Status,Grade,Maximum Grade,Grade can be changed,"
    "Last modified (submission),Last modified (grade),Feedback comments\n"
    "Participant 12345,Ada Lovelace,ada@uni.edu,Submitted for grading,,4.00,Yes,-,-,\n"
    "Participant 23456,Bob Smith,bob@uni.edu,Submitted for grading,,4.00,Yes,-,-,\n"
    "Participant 34567,Cy Young,cy@uni.edu,No submission,,4.00,Yes,-,-,\n"
)
"""Moodle's grading worksheet ("Download grading worksheet"; Moodle ``mod/assign/gradingtable``
columns), participant ids as in the download's folder names."""


def _csv(path: Path) -> list[list[str]]:
    with open(path, newline="", encoding="utf-8") as handle:
        return list(csv.reader(handle))


def test_moodle_worksheet_is_a_roster_and_written_back(tmp_path: Path) -> None:
    """Is Moodle's grading worksheet read as the roster (participant ids from its Identifier)
    and written back in its own columns with Grade and Feedback comments, and is moodle.csv
    keyed by email address?"""
    rows = [_row("12345", "graded"), _row("23456", "ungradable:invalid-json")]
    out = _batch(tmp_path / "out", rows, roster=WORKSHEET)
    back = _csv(out / "moodle-worksheet.csv")
    assert back[0] == WORKSHEET.splitlines()[0].split(",")
    by_id = {line[0]: line for line in back[1:]}
    assert by_id["Participant 12345"][4] == "4"
    assert by_id["Participant 23456"][4] == "0"  # a 0 with its status, never a blank
    assert "ungradable:invalid-json" in by_id["Participant 23456"][9]
    assert by_id["Participant 34567"][4] == ""  # nothing handed in: Moodle's grade stands
    moodle = _csv(out / "moodle.csv")
    assert moodle[0][0] == "Email address"
    assert sorted(line[0] for line in moodle[1:]) == ["ada@uni.edu", "bob@uni.edu", "cy@uni.edu"]
    assert _rows(out)["12345"]["name"] == "Ada Lovelace"


def test_canvas_import_only_from_a_canvas_roster(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Is canvas.csv written from Canvas's gradebook export, refused (and removed) with any
    other roster or none, and the reason printed by report?"""
    export = 'Student,ID,SIS User ID,SIS Login ID,Section\n"Lovelace, Ada",12345,S1,ada,A\n'
    out = _batch(tmp_path / "out", [_row("12345", "graded")], roster=export)
    assert _csv(out / "canvas.csv")[2] == ["Lovelace, Ada", "12345", "S1", "ada", "A", "4"]
    (out / "roster.csv").write_text("id,name\n12345,Ada\n")
    report.refresh(out)
    assert not (out / "canvas.csv").exists()
    capsys.readouterr()
    assert cli.main(["report", str(out)]) == 0
    assert "not written: canvas.csv: Canvas imports grades by its own user ids" in (
        capsys.readouterr().out
    )


def test_moodle_import_needs_an_email_or_id_number_for_everyone(tmp_path: Path) -> None:
    """Is moodle.csv refused when the roster lacks emails and ID numbers (no participant or
    LMS ids as identifiers), and keyed by ID number when that is what everyone has?"""
    out = _batch(tmp_path / "out", [_row("7", "graded")], roster="id,name\n7,Ada\n")
    assert not (out / "moodle.csv").exists()
    (out / "roster.csv").write_text("id,name,sis_id\n7,Ada,S7\n")
    report.refresh(out)
    assert _csv(out / "moodle.csv") == [["ID number", "Fixture: double and square"], ["S7", "4"]]


PLAN = [
    {
        "lab": "fixture",
        "assignment": "fixture-double",
        "cells": [
            ["double-tests", 3.0, ["fixture.double.value", "fixture.double.edge"]],
            ["square-tests", 1.0, ["fixture.square.value"]],
        ],
        "due": "2026-03-02T23:59:00+00:00",
    }
]


@pytest.mark.slow
def test_the_gradebook_holds_names_due_dates_and_final_scores(tmp_path: Path) -> None:
    """Does gradebook.db hold the learner's name, the lab's due date, the submission time, the
    late penalty and an override as formgrader's manual score?"""
    api = gradebook.import_nbgrader_api()
    row = _row("22222", "graded", late="late", submitted="2026-03-04T09:00:00+00:00")
    row.update(name="Smith, Jane", fixture_raw="3", fixture_penalty="0.3")
    db = tmp_path / "gradebook.db"
    assert gradebook.write_plan(db, PLAN, [row]) == {}
    with api.Gradebook(f"sqlite:///{db}") as gb:
        student = gb.find_student("22222")
        assert (student.first_name, student.last_name) == ("Jane", "Smith")
        assert gb.find_assignment("fixture-double").duedate.isoformat() == "2026-03-02T23:59:00"
        notebook = gb.find_submission_notebook("fixture-double", "fixture-double", "22222")
        assert notebook.late_submission_penalty == 0.3
        assert notebook.score == 3.0  # the override (3 of 4 measured) as manual scores
        submission = gb.find_submission("fixture-double", "22222")
        assert submission.timestamp.isoformat() == "2026-03-04T09:00:00"


@pytest.mark.slow
def test_a_score_entered_in_formgrader_becomes_an_override(tmp_path: Path) -> None:
    """Is a manual score typed into formgrader read back as a lab override (applied to
    grades.csv) the next time the outputs are refreshed, and a score left alone ignored?"""
    out = _batch(tmp_path / "out", [_row("ann", "graded"), _row("bob", "graded")])
    assert gradebook.write_plan(out / "gradebook.db", PLAN, list(_rows(out).values())) == {}
    api = gradebook.import_nbgrader_api()
    with api.Gradebook(f"sqlite:///{out / 'gradebook.db'}") as gb:
        gb.find_grade("square-tests", "fixture-double", "fixture-double", "ann").manual_score = 0
        gb.db.commit()
    made = formgrader.import_manual_scores(out)
    assert [(d.student, d.target, d.points) for d in made] == [("ann", "fixture", 3.0)]
    report.refresh(out)
    assert _rows(out)["ann"]["score"] == "3" and _rows(out)["bob"]["score"] == "4"
    assert "score entered in formgrader" in _rows(out)["ann"]["overrides"]
    assert formgrader.import_manual_scores(out) == []  # once only


@pytest.mark.slow
def test_a_later_override_is_not_undone_by_the_older_gradebook(tmp_path: Path) -> None:
    """Is an override recorded after the gradebook was written kept, rather than replaced by
    the (older) total the gradebook holds?"""
    out = _batch(tmp_path / "out", [_row("ann", "graded")])
    assert cli.main(["override", str(out), "ann", "fixture", "2", "--comment", "first"]) == 0
    rows = list(_rows(out).values())
    formgrader.remember_written(out, rows, ["fixture"])
    assert gradebook.write_plan(out / "gradebook.db", PLAN, rows) == {}  # manual scores: 2
    assert cli.main(["override", str(out), "ann", "fixture", "1", "--comment", "second"]) == 0
    assert formgrader.import_manual_scores(out) == []
    assert _rows(out)["ann"]["score"] == "1"


def test_summary_lists_code_the_scan_flagged() -> None:
    """Does summary.md name each learner whose code the integrity scan flagged, and only them?"""
    from grader.outputs.report import review_lines

    rows = [
        {"student_id": "eve", "flags": "late:lab3; lab3:introspection (cell 40, line 8)"},
        {"student_id": "ann", "flags": "late:lab1; ignored-file:duplicate:a.ipynb"},
        {"student_id": "bob", "flags": ""},
    ]
    lines = review_lines(rows)
    assert "## Code to review" in lines
    assert "- eve: lab3:introspection (cell 40, line 8)" in lines
    assert not any("ann" in line or "bob" in line for line in lines)
    assert review_lines(rows[1:]) == []
