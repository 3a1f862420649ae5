"""Fuzzed batches: hostile submissions graded beside a correct one never cost her anything.

Each example is a small batch (a folder or a zip) holding ``alice``'s correct notebook and
a few hostile submissions from :mod:`tests.grader_strategies`, graded through the command
line. Whatever the others hold: the run exits 0, every student gets a status, alice still
scores 4/4, and every output file is present and parses (CSVs neutralised, one log line
per line).
"""

from __future__ import annotations

import csv
import json
import os
import re
import sqlite3
import tempfile
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from grader import cli
from grader.checking.specs import fixture
from tests.grader_strategies import (
    NOTEBOOK,
    SOLUTION,
    broken_zips,
    hostile_names,
    malformed_notebooks,
)

STATUS = re.compile(r"^(graded|ungradable:[a-z-]+)$")
LAB_STATUS = re.compile(r"^(graded|missing|ungradable:[a-z-]+)$")
LOG_LINE = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} [A-Z]+ ")
CONTENTS = st.one_of(malformed_notebooks(), st.just(json.dumps(SOLUTION).encode()))


def _grade(submissions: Path, out: Path) -> int:
    args = ["autograde", str(submissions), "--out", str(out)]
    args += ["--solutions", str(fixture.SOURCE.parent), "--lab", "fixture", "--timeout", "2"]
    return cli.main([*args, "--seed", "3", "--no-progress", "-j", "2"])


def _check_outputs(out: Path, students: int | None) -> None:
    """Every output present and parseable; alice 4/4; a status for every student."""
    with open(out / "grades.csv", newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    if students is not None:
        assert len(rows) == students
    by_id = {row["student_id"]: row for row in rows}
    assert len(by_id) == len(rows)
    assert (by_id["alice"]["status"], by_id["alice"]["score"]) == ("graded", "4")
    for row in rows:
        assert STATUS.match(row["status"]) and LAB_STATUS.match(row["fixture_status"]), row
    for name in ("grades.csv", "lms.csv"):
        with open(out / name, newline="", encoding="utf-8") as handle:
            cells = [cell for line in csv.reader(handle) for cell in line]
        assert not [c for c in cells if c[:1] in ("=", "+", "-", "@", "\t", "\r")], name
    with open(out / "lms.csv", newline="", encoding="utf-8") as handle:
        assert len(list(csv.DictReader(handle))) == len(rows)
    assert json.loads((out / "grading.json").read_text())["students"] == len(rows)
    assert "# Autograde summary" in (out / "summary.md").read_text(encoding="utf-8")
    assert (out / "score_histogram.png").read_bytes()[:4] == b"\x89PNG"
    with sqlite3.connect(out / "gradebook.db") as db:
        assert db.execute("select count(*) from student").fetchone()[0] == len(rows)
    assert (out / "feedback").is_dir()
    for line in (out / "autograde.log").read_text(encoding="utf-8").splitlines():
        assert LOG_LINE.match(line) or line.startswith(" "), line


@pytest.mark.slow
@settings(max_examples=6)
@given(st.lists(st.tuples(hostile_names(), CONTENTS), min_size=1, max_size=3))
def test_hostile_folders_never_cost_the_correct_learner(
    entries: list[tuple[bytes, bytes]],
) -> None:
    """Do hostile names and malformed notebooks beside alice leave her 4/4 and all outputs whole?"""
    with tempfile.TemporaryDirectory() as tmp:
        subs = os.fsencode(Path(tmp) / "subs")
        os.makedirs(subs + b"/alice")
        with open(subs + b"/alice/" + NOTEBOOK.encode(), "wb") as handle:
            handle.write(json.dumps(SOLUTION).encode())
        for name, content in entries:
            for folder in [name, *([] if b"_" in name else [name.replace(b" ", b"_")])]:
                os.makedirs(subs + b"/" + folder, exist_ok=True)
                with open(subs + b"/" + folder + b"/" + NOTEBOOK.encode(), "wb") as handle:
                    handle.write(content)
        folders = len(os.listdir(subs))
        assert _grade(Path(os.fsdecode(subs)), Path(tmp) / "out") == 0
        _check_outputs(Path(tmp) / "out", folders)


@pytest.mark.slow
@settings(max_examples=5)
@given(broken_zips())
def test_broken_zips_never_cost_the_correct_learner(archive: bytes) -> None:
    """Do bad CRCs, file/folder clashes, slip paths and nested zips leave alice 4/4?"""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "subs.zip"
        path.write_bytes(archive)
        assert _grade(path, Path(tmp) / "out") == 0
        _check_outputs(Path(tmp) / "out", None)
