"""The instructor's round trip through the command line: each LMS download in, imports and
feedback out, late penalties and overrides that survive a regrade.

One download per layout (:mod:`tests.lms_fixtures`) is graded once, all batches at the same
time, by ``python -m grader autograde`` in subprocesses (fixture lab, module-scoped).
"""

from __future__ import annotations

import csv
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from grader import cli
from grader.checking.specs import fixture
from tests import lms_fixtures

pytestmark = pytest.mark.slow
SOLUTIONS = fixture.SOURCE.parent
ROSTER = (
    "Student,ID,SIS User ID,SIS Login ID,Section,Lab 0 (4471)\n"
    "    Points Possible,,,,,4\n"
    '"Smith, John",11111,S1,jsmith,A,\n'
    '"Smith, Jane",22222,S2,jasmith,B,\n'
    '"Khan, Ali",44444,S4,akhan,A,\n'
)
"""Canvas's gradebook export, as the Canvas batch's roster (Canvas's import needs it)."""
COURSE_FOR = ("canvas", "blackboard")


def _args(submissions: Path, out: Path, root: Path, layout: str) -> list[str]:
    args = ["autograde", str(submissions), "--out", str(out), "--solutions", str(SOLUTIONS)]
    args += ["--lab", "fixture", "--timeout", "5", "--no-progress", "--seed", "3", "-j", "1"]
    if layout in COURSE_FOR:
        args += ["--course", str(root / "course.toml")]
    if layout == "canvas":
        args += ["--roster", str(root / "roster.csv")]
    return [sys.executable, "-m", "grader", *args]


@pytest.fixture(scope="module")
def batches(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[Path, str]]:
    """layout -> (results folder, autograde's stderr); every layout graded once, in parallel."""
    root = tmp_path_factory.mktemp("lms")
    (root / "course.toml").write_text(lms_fixtures.COURSE)
    (root / "roster.csv").write_text(ROSTER)
    running = {}
    for layout in lms_fixtures.BUILDERS:
        submissions, _ = lms_fixtures.build(layout, root / "in" / layout)
        command = _args(submissions, root / "out" / layout, root, layout)
        running[layout] = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    done = {}
    for layout, process in running.items():
        _, err = process.communicate(timeout=600)
        assert process.returncode == 0, err.decode()
        done[layout] = (root / "out" / layout, err.decode())
    return done


def _rows(path: Path) -> dict[str, dict[str, str]]:
    with open(path, newline="", encoding="utf-8") as handle:
        return {row["student_id"]: row for row in csv.DictReader(handle)}


@pytest.mark.parametrize("layout", list(lms_fixtures.BUILDERS))
def test_each_layout_grades_with_the_right_ids(
    batches: dict[str, tuple[Path, str]], layout: str, tmp_path: Path
) -> None:
    """Does each download grade every submitter once, under the LMS's id, with the late flag,
    the submission time and the score of the upload that counts, and print its layout?"""
    out, err = batches[layout]
    _, expected = lms_fixtures.build(layout, tmp_path)
    rows = {s: r for s, r in _rows(out / "grades.csv").items() if r["status"] != "missing"}
    assert sorted(rows) == sorted(expected)
    for student, (raw, late, submitted) in expected.items():
        row = rows[student]
        assert float(row["fixture_raw"]) == raw, student
        assert row["fixture_late"] == ("late" if late else "")
        assert row["fixture_submitted"] == (submitted.isoformat() if submitted else "")
    assert f"layout: {lms_fixtures.LAYOUT.get(layout, layout)}" in err


def test_canvas_import_matches_the_documented_format(batches: dict[str, tuple[Path, str]]) -> None:
    """Is canvas.csv Canvas's gradebook import: its five columns, a column per lab, the
    Points Possible row, roster names and SIS ids, and the final (penalised) score?"""
    out, _ = batches["canvas"]
    with open(out / "canvas.csv", newline="", encoding="utf-8") as handle:
        lines = list(csv.reader(handle))
    assert lines[0] == ["Student", "ID", "SIS User ID", "SIS Login ID", "Section", "Lab 0 (4471)"]
    assert lines[1] == ["Points Possible", "", "", "", "", "4"]
    by_id = {line[1]: line for line in lines[2:]}
    assert by_id["11111"] == ["Smith, John", "11111", "S1", "jsmith", "A", "4"]
    assert by_id["22222"] == ["Smith, Jane", "22222", "S2", "jasmith", "B", "3.6"]
    assert by_id["44444"] == ["Khan, Ali", "44444", "S4", "akhan", "A", ""]  # nothing handed in
    assert by_id["33333"][0] == "lovelaceada"


def test_no_moodle_import_by_participant_id(batches: dict[str, tuple[Path, str]]) -> None:
    """Without a roster giving emails or ID numbers, is moodle.csv (which would map the
    per-assignment participant ids to no user) not written, and the log saying why?"""
    out, _ = batches["moodle"]
    assert not (out / "moodle.csv").exists()
    log = (out / "autograde.log").read_text(encoding="utf-8")
    assert "not written: moodle.csv" in log and "email address or ID number" in log


def test_late_penalty_in_grades_and_lms_csv(batches: dict[str, tuple[Path, str]]) -> None:
    """Do grades.csv and lms.csv hold raw score, penalty and final score for a late learner
    (Canvas's late flag: one day; Blackboard's time: two started days; an extension: none)?"""
    canvas = _rows(batches["canvas"][0] / "grades.csv")["22222"]
    assert (canvas["raw_score"], canvas["penalty"], canvas["score"]) == ("4", "0.4", "3.6")
    lms = _rows(batches["canvas"][0] / "lms.csv")["22222"]
    assert (lms["raw_score"], lms["penalty"], lms["score"]) == ("4", "0.4", "3.6")
    board = _rows(batches["blackboard"][0] / "grades.csv")
    assert board["bkim"]["fixture_penalty"] == "0.8" and board["bkim"]["fixture"] == "3.2"
    assert board["jsmith"]["fixture_penalty"] == "0"  # three days' extension


def test_roster_reports_missing_and_unknown_students(batches: dict[str, tuple[Path, str]]) -> None:
    """Does the roster add its students with no submission and flag submitters not on it?"""
    rows = _rows(batches["canvas"][0] / "grades.csv")
    assert rows["44444"]["status"] == "missing" and rows["44444"]["name"] == "Khan, Ali"
    assert "not-on-roster" in rows["33333"]["flags"]
    assert "not-on-roster" not in rows["11111"]["flags"]


def test_feedback_opens_with_score_penalty_and_failed_checks(
    batches: dict[str, tuple[Path, str]],
) -> None:
    """Does the page open with the final score and late penalty, and list a stub's failed
    checks with their points and links to their cells?"""
    late = (batches["canvas"][0] / "feedback" / "22222" / "fixture-double.html").read_text()
    assert late.index("Score: 3.6 / 4 points") < late.index("Graded cell")
    assert "late penalty -0.4" in late and "1 day(s) late" in late
    stub = (batches["moodle"][0] / "feedback" / "23456" / "fixture-double.html").read_text()
    assert '<a href="#cell-double-tests">fixture.double.value</a>: 0 / 2 points' in stub
    assert 'id="cell-double-tests"' in stub


def test_override_survives_report_and_regrade(
    batches: dict[str, tuple[Path, str]], tmp_path: Path
) -> None:
    """Does an override change grades.csv, the imports and the feedback (with its comment),
    and is it still applied after a regrade into the same folder?"""
    out = tmp_path / "canvas"
    shutil.copytree(batches["canvas"][0], out)
    comment = "square checked by hand: wrong for negative inputs"
    square = ["override", str(out), "11111", "fixture.square.value", "0", "--comment", comment]
    assert cli.main(square) == 0
    assert cli.main(["override", str(out), "33333", "fixture", "2.5", "--comment", "partial"]) == 0

    def check() -> None:
        rows = _rows(out / "grades.csv")
        assert rows["11111"]["score"] == "3" and comment in rows["11111"]["overrides"]
        assert rows["33333"]["score"] == "2.5"
        assert {line[1]: line[5] for line in csv.reader(open(out / "canvas.csv"))}["11111"] == "3"
        page = (out / "feedback" / "11111" / "fixture-double.html").read_text()
        assert comment in page and "Score: 3 / 4 points" in page

    check()
    root = batches["canvas"][0].parent.parent
    submissions, _ = lms_fixtures.build("canvas", tmp_path / "again")
    regrade = subprocess.run(
        _args(submissions, out, root, "canvas"), capture_output=True, text=True
    )
    assert regrade.returncode == 0, regrade.stderr
    check()


def test_an_override_of_an_unknown_target_is_refused(batches: dict[str, tuple[Path, str]]) -> None:
    """Is an override of a check the batch does not have, or above its points, refused?"""
    out = batches["moodle"][0]
    assert cli.main(["override", str(out), "12345", "lab9.x", "1", "--comment", "?"]) == 2
    assert cli.main(["override", str(out), "12345", "fixture", "9", "--comment", "?"]) == 2
    assert not (out / "overrides.csv").exists()


def test_feedback_laid_out_for_bulk_upload(batches: dict[str, tuple[Path, str]]) -> None:
    """Does ``report --feedback-for`` name each page as Canvas, Moodle and nbgrader expect?"""
    canvas, moodle, course = (batches[k][0] for k in ("canvas", "moodle", "nbgrader"))
    assert cli.main(["report", str(canvas), "--feedback-for", "canvas"]) == 0
    names = zipfile.ZipFile(canvas / "feedback-canvas.zip").namelist()
    assert f"smithjohn_late_22222_902_{lms_fixtures.ASSIGNMENT}-feedback.html" in names
    assert cli.main(["report", str(moodle), "--feedback-for", "moodle"]) == 0
    names = zipfile.ZipFile(moodle / "feedback-moodle.zip").namelist()
    folder = "Ada Lovelace_12345_assignsubmission_file_"
    assert f"{folder}/{lms_fixtures.ASSIGNMENT}-feedback.html" in names
    assert cli.main(["report", str(course), "--feedback-for", "nbgrader"]) == 0
    page = (
        course / "feedback-nbgrader" / "feedback" / "ada" / "fixture-double" / "fixture-double.html"
    )
    assert page.is_file() and (page.parent / "timestamp.txt").read_text().startswith("2026-03-01")


def test_formgrader_finds_the_notebooks(batches: dict[str, tuple[Path, str]]) -> None:
    """Does OUT hold each graded notebook where an nbgrader course keeps autograded ones?"""
    out = batches["nbgrader"][0]
    for student in ("ada", "bob"):
        assert (out / "autograded" / student / "fixture-double" / "fixture-double.ipynb").is_file()
    assert (out / "gradebook.db").is_file()


@pytest.mark.parametrize("layout", list(lms_fixtures.BUILDERS))
def test_every_file_not_graded_is_in_the_summary(
    batches: dict[str, tuple[Path, str]], layout: str
) -> None:
    """Does summary.md's Not graded table list each handed-in file that was not graded, with
    its learner and reason, and grades.csv flag it on the learner's row?"""
    out, _ = batches[layout]
    summary = (out / "summary.md").read_text(encoding="utf-8")
    rows = _rows(out / "grades.csv")
    for student, reason in lms_fixtures.NOT_GRADED[layout]:
        assert f"| {student} | " in summary and f" | {reason} |" in summary, (student, reason)
        assert f"ignored-file:{reason}:" in rows[student]["flags"]
    if not lms_fixtures.NOT_GRADED[layout]:
        assert "Every handed-in file was graded." in summary


def test_an_ambiguous_download_stops_with_exit_2(tmp_path: Path) -> None:
    """Does a folder holding Canvas and Blackboard names exit 2 before grading, naming both
    layouts and --layout, and write no grades?"""
    submissions, _ = lms_fixtures.build("canvas", tmp_path / "mixed")
    lms_fixtures.build("blackboard", tmp_path / "mixed")
    out = tmp_path / "out"
    done = subprocess.run(
        _args(submissions, out, tmp_path, "folders"), capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 2, done.stderr
    assert "AmbiguousLayout" in done.stderr and "--layout canvas" in done.stderr
    assert "blackboard" in done.stderr and not (out / "grades.csv").exists()
