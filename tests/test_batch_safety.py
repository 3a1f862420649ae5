"""One malformed submission never costs anyone else; the outputs are safe to open.

One batch of hostile fixture-lab submissions (malformed JSON, odd cell types, hostile and
non-UTF-8 folder names, colliding folder names, symlinks into ``solutions/``, forged log
lines) is graded once through ``python -m grader autograde``; each test reads its outputs.
Zips, regrades into an existing results folder and the integrity scan under threads have
their own small runs.
"""

from __future__ import annotations

import copy
import csv
import gc
import json
import os
import re
import sqlite3
import subprocess
import sys
import threading
import time
import zipfile
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import nbformat
import pytest
from nbformat.v4 import new_code_cell

from grader.checking.specs import fixture
from grader.pipeline import integrity

NOTEBOOK = fixture.LAB.notebook
SOLUTIONS = fixture.SOURCE.parent
SOLUTION_TEXT = nbformat.writes(fixture.solution())
STUB_TEXT = nbformat.writes(fixture.released())
FORMULAS = ('=HYPERLINK("evil.example","click")', "+cmd|' -c calc'!A0", "-2+3", "@SUM(A1)")
LOG_LINE = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} (INFO|WARNING|ERROR) ")
FORGED = "2030-01-01 00:00:00,000 INFO forged: graded 4 of 4"


def _json(text: str = SOLUTION_TEXT) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(text)
    return data


def _markdown_number() -> str:
    data = _json()
    data["cells"][0]["source"] = 42
    return json.dumps(data)


def _forged_grade_id() -> str:
    nb = fixture.solution()
    cell = new_code_cell("x = 1")
    cell.metadata["nbgrader"] = {
        "grade": True,
        "solution": False,
        "grade_id": f"evil\n{FORGED}\x1b[2J",
        "points": 1,
    }
    nb.cells.append(cell)
    return nbformat.writes(nb)


def autograde(submissions: Path, out: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    """``python -m grader autograde`` on the fixture lab, seed 11, in a subprocess."""
    args = ["autograde", str(submissions), "--out", str(out), "--solutions", str(SOLUTIONS)]
    args += ["--lab", "fixture", "--timeout", "2", "--no-progress", "--seed", "11", *extra]
    return subprocess.run(
        [sys.executable, "-m", "grader", *args], capture_output=True, text=True, timeout=300
    )


def rows(out: Path, name: str = "grades.csv") -> dict[str, dict[str, str]]:
    with open(out / name, newline="", encoding="utf-8") as handle:
        return {row["student_id"]: row for row in csv.DictReader(handle)}


FOLDERS: dict[str, str] = {
    # folder name: notebook text
    "alice": SOLUTION_TEXT,
    "md-number": _markdown_number(),
    "deep-json": "[" * 200_000,
    "a b": SOLUTION_TEXT,
    "a_b": STUB_TEXT,
    "evil-grade-id": _forged_grade_id(),
    f"eve\n{FORGED}": SOLUTION_TEXT,
    "esc\x1b[31mred": SOLUTION_TEXT,
    **dict.fromkeys(FORMULAS, SOLUTION_TEXT),
    "zed": SOLUTION_TEXT,
}


@pytest.fixture(scope="module")
def batch(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("hostile")
    subs = root / "submissions"
    for folder, text in FOLDERS.items():
        (subs / folder).mkdir(parents=True)
        (subs / folder / NOTEBOOK).write_text(text, encoding="utf-8")
    latin1 = os.fsencode(subs) + b"/Jos\xe9"
    os.mkdir(latin1)
    with open(latin1 + b"/" + NOTEBOOK.encode(), "w", encoding="utf-8") as handle:
        handle.write(SOLUTION_TEXT)
    (subs / "sym-file").mkdir()
    (subs / "sym-file" / NOTEBOOK).symlink_to(fixture.SOURCE)
    (subs / "sym-dir").symlink_to(SOLUTIONS, target_is_directory=True)
    done = autograde(subs, root / "out", "-j", "2")
    assert done.returncode == 0, done.stderr
    return root / "out"


@pytest.mark.slow
def test_every_student_gets_a_row_and_the_batch_its_outputs(batch: Path) -> None:
    """Does every folder get a row, and every output file get written, whatever the others hold?"""
    graded = rows(batch)
    assert len(graded) == len(FOLDERS) + 3
    assert graded["alice"]["status"] == "graded" and graded["alice"]["score"] == "4"
    assert graded["zed"]["score"] == "4"
    for name in ("summary.md", "score_histogram.png", "gradebook.db", "grading.json", "lms.csv"):
        assert (batch / name).stat().st_size > 0, name
    assert (batch / "feedback" / "zed" / "fixture-double.html").exists()


@pytest.mark.slow
def test_markdown_with_a_numeric_source_is_ungradable_not_a_crash(batch: Path) -> None:
    """Is a markdown cell whose source is a number one clear status for that learner only?"""
    row = rows(batch)["md-number"]
    assert (row["status"], row["score"]) == ("ungradable:not-a-notebook", "0")
    assert "cell 0" in (batch / "autograde.log").read_text(encoding="utf-8")


@pytest.mark.slow
def test_deeply_nested_json_is_invalid_json(batch: Path) -> None:
    """Is JSON nested 200,000 deep reported ``invalid-json`` rather than a grader crash?"""
    assert rows(batch)["deep-json"]["status"] == "ungradable:invalid-json"


@pytest.mark.slow
def test_a_non_utf8_folder_name_is_carried_escaped(batch: Path) -> None:
    """Is a folder named with a Latin-1 byte graded under one escaped, stable id?"""
    row = rows(batch)["Jos\\xe9"]
    assert (row["status"], row["score"]) == ("graded", "4")
    assert rows(batch, "lms.csv")["Jos\\xe9"]["percent"] == "100.0"


@pytest.mark.slow
def test_colliding_folder_names_get_distinct_feedback(batch: Path) -> None:
    """Do ``a b`` and ``a_b`` get a feedback page each, each with its own score?"""
    pages = {
        path.read_text(encoding="utf-8")
        for path in (batch / "feedback").glob(f"a*b*/{fixture.LAB.assignment}.html")
    }
    assert len(pages) == 2
    assert {("feedback for a b" in p, "4 / 4 points" in p) for p in pages} == {
        (True, True),
        (False, False),
    }


@pytest.mark.slow
@pytest.mark.parametrize("name", ["grades.csv", "lms.csv"])
def test_formula_prefixes_are_neutralised_in_every_csv(batch: Path, name: str) -> None:
    """Does no cell of grades.csv or lms.csv start with ``=``, ``+``, ``-``, ``@``, tab or CR?"""
    with open(batch / name, newline="", encoding="utf-8") as handle:
        cells = [cell for row in csv.reader(handle) for cell in row]
    assert not [cell for cell in cells if cell[:1] in ("=", "+", "-", "@", "\t", "\r")]
    ids = rows(batch, name)
    for formula in FORMULAS:
        assert ids["'" + formula]


@pytest.mark.slow
def test_log_lines_cannot_be_forged(batch: Path) -> None:
    """Do a grade_id or folder name with a newline or ESC stay inside their own log line?"""
    text = (batch / "autograde.log").read_text(encoding="utf-8")
    assert "\x1b" not in text
    for line in text.splitlines():
        assert LOG_LINE.match(line) or line.startswith(" "), line
    assert "forged" in text  # escaped, on the line of the flag that holds it


@pytest.mark.slow
def test_symlinks_are_not_followed(batch: Path) -> None:
    """Is a symlink to the solution notebook, or to solutions/, ungradable:symlink and 0 points?"""
    graded = rows(batch)
    for student in ("sym-file", "sym-dir"):
        assert (graded[student]["status"], graded[student]["score"]) == ("ungradable:symlink", "0")
        assert "symlink" in graded[student]["flags"]


@pytest.mark.slow
def test_gradebook_holds_every_student(batch: Path) -> None:
    """Does the nbgrader gradebook list every student of the batch?"""
    with sqlite3.connect(batch / "gradebook.db") as db:
        students = {name for (name,) in db.execute("select id from student")}
    assert students == set(rows(batch))


def _zip(path: Path, members: dict[str, bytes]) -> Path:
    with zipfile.ZipFile(path, "w") as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return path


def _corrupt(path: Path, member: str) -> None:
    """Flip a byte of ``member``'s stored data so that its CRC no longer matches."""
    with zipfile.ZipFile(path) as zf:
        info = zf.getinfo(member)
    raw = bytearray(path.read_bytes())
    start = info.header_offset + 30 + len(info.filename.encode()) + len(info.extra)
    raw[start + 10] ^= 0xFF
    path.write_bytes(bytes(raw))


@pytest.mark.slow
def test_zip_with_a_bad_crc_member_grades_everyone_else(tmp_path: Path) -> None:
    """Does one corrupt zip member cost only its own learner?"""
    archive = _zip(
        tmp_path / "subs.zip",
        {f"alice/{NOTEBOOK}": SOLUTION_TEXT.encode(), f"bob/{NOTEBOOK}": SOLUTION_TEXT.encode()},
    )
    _corrupt(archive, f"bob/{NOTEBOOK}")
    done = autograde(archive, tmp_path / "out")
    assert done.returncode == 0, done.stderr
    graded = rows(tmp_path / "out")
    assert graded["alice"]["score"] == "4"
    assert graded["bob"]["status"] == "ungradable:unreadable"


@pytest.mark.slow
def test_zip_file_folder_clash_and_slip_paths(tmp_path: Path) -> None:
    """Do a file beside a same-named folder, and ``..`` or absolute members, cost nobody else?"""
    archive = tmp_path / "subs.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr(f"alice/{NOTEBOOK}", SOLUTION_TEXT)
        zf.writestr("bob", "a file")
        zf.writestr(f"bob/{NOTEBOOK}", SOLUTION_TEXT)
        zf.writestr(f"../carol/{NOTEBOOK}", SOLUTION_TEXT)
        zf.writestr(f"/dave/{NOTEBOOK}", SOLUTION_TEXT)
    done = autograde(archive, tmp_path / "out")
    assert done.returncode == 0, done.stderr
    graded = rows(tmp_path / "out")
    assert graded["alice"]["score"] == "4"
    assert "carol" not in graded and "dave" not in graded
    log = (tmp_path / "out" / "autograde.log").read_text(encoding="utf-8")
    assert f"../carol/{NOTEBOOK}" in log and f"/dave/{NOTEBOOK}" in log
    assert "bob" in log


@pytest.fixture(scope="module")
def regraded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A batch of two students, then one of them regraded alone into the same folder."""
    root = tmp_path_factory.mktemp("regrade")
    for student, text in (("ann", SOLUTION_TEXT), ("ben", STUB_TEXT)):
        (root / "all" / student).mkdir(parents=True)
        (root / "all" / student / NOTEBOOK).write_text(text)
    (root / "one" / "ben").mkdir(parents=True)
    (root / "one" / "ben" / NOTEBOOK).write_text(SOLUTION_TEXT)
    assert autograde(root / "all", root / "out").returncode == 0
    done = autograde(root / "one", root / "out")
    assert done.returncode == 0, done.stderr
    yield root


@pytest.mark.slow
def test_regrading_one_student_keeps_the_others(regraded: Path) -> None:
    """Does a regrade into an existing results folder replace only that student's row?"""
    out = regraded / "out"
    assert {s: r["score"] for s, r in rows(out).items()} == {"ann": "4", "ben": "4"}
    assert {s: r["percent"] for s, r in rows(out, "lms.csv").items()} == {
        "ann": "100.0",
        "ben": "100.0",
    }
    assert "Students: 2" in (out / "summary.md").read_text()
    assert "| graded | 2 |" in (out / "summary.md").read_text()
    with sqlite3.connect(out / "gradebook.db") as db:
        scores = dict(
            db.execute(
                "select submitted_assignment.student_id, sum(grade.auto_score) from grade "
                "join submitted_notebook on grade.notebook_id = submitted_notebook.id "
                "join submitted_assignment "
                "on submitted_notebook.assignment_id = submitted_assignment.id "
                "group by submitted_assignment.student_id"
            )
        )
    assert scores == {"ann": 4.0, "ben": 4.0}
    assert (out / "feedback" / "ann").is_dir()


@pytest.mark.slow
def test_a_regrade_that_does_not_fit_is_refused_unless_replace(regraded: Path) -> None:
    """Is a regrade with another seed refused (exit 2), and does --replace start afresh?"""
    out = regraded / "out"
    refused = autograde(regraded / "one", out, "--seed", "12")
    assert refused.returncode == 2 and "--replace" in refused.stderr
    assert autograde(regraded / "one", out, "--seed", "12", "--replace").returncode == 0
    assert list(rows(out)) == ["ben"]
    assert list(rows(out, "lms.csv")) == ["ben"]
    assert not (out / "feedback" / "ann").exists()


PROGRAM = "\n".join(
    f"import numpy as np\nfrom grader import check\nnp.allclose = lambda *a: True\nx{i} = [[[{i}]]]"
    for i in range(30)
)


@pytest.fixture
def switching_threads() -> Iterator[None]:
    """Make threads switch often inside the interpreter (as a busy grading batch does)."""
    threshold = gc.get_threshold()

    def yield_gil(phase: str, info: dict[str, Any]) -> None:
        time.sleep(0)

    gc.callbacks.append(yield_gil)
    gc.set_threshold(5)
    try:
        yield
    finally:
        gc.set_threshold(*threshold)
        gc.callbacks.remove(yield_gil)


def test_integrity_scan_gives_one_answer_under_threads(switching_threads: None) -> None:
    """Does the integrity scan of one program give the same flags in every thread, every time?"""
    expected = [str(f) for f in integrity.scan([PROGRAM])]
    barrier = threading.Barrier(4)

    def scan_many(_: int) -> set[tuple[str, ...]]:
        barrier.wait()
        return {tuple(str(f) for f in integrity.scan([PROGRAM])) for _ in range(40)}

    with ThreadPoolExecutor(4) as pool:
        seen = set().union(*pool.map(scan_many, range(4)))
    assert seen == {tuple(expected)}


def test_a_scan_that_fails_is_a_flag_not_a_silent_skip() -> None:
    """Does a cell the scanner cannot walk (nested past the parser's limit) still get a flag?"""
    deep = ["x = " + "-" * 200_000 + "1", "x = " + " + ".join(["1"] * 100_000)]
    flags = integrity.scan(["import torch", *deep])
    kinds = [(f.cell, f.kind) for f in flags]
    assert kinds == [(0, "import-torch"), (1, "scan-failed"), (2, "scan-failed")]


def test_hostile_strings_are_neutralised_and_escaped() -> None:
    """Are formula prefixes neutralised, and control characters escaped, by the shared helpers?"""
    from grader.safetext import escape, neutralise

    assert [neutralise(v) for v in ("=1", "+1", "-1", "@a", "\tx", "\rx", "ok", "")] == [
        "'=1",
        "'+1",
        "'-1",
        "'@a",
        "'\tx",
        "'\rx",
        "ok",
        "",
    ]
    assert escape("a\nb\x1b[2J\udce9") == "a\\nb\\x1b[2J\\xe9"
    assert copy.copy(escape("plain")) == "plain"
