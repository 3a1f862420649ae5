"""The gradebook's helper process: the same gradebook.db as writing it here, or a fallback."""

from __future__ import annotations

import logging
import sqlite3
from pathlib import Path

import pytest

from grader.batch import LabKey
from grader.checking.specs import fixture
from grader.outputs import gradebook
from grader.pipeline.grading import load_key


@pytest.fixture(scope="module")
def keys() -> dict[str, LabKey]:
    return {fixture.LAB.id: load_key(fixture.LAB.id, source=fixture.SOURCE, seed=0)}


def _rows(keys: dict[str, LabKey]) -> list[dict[str, str]]:
    """Ada graded with one check passed, Bob ungradable, Cy missing."""
    lab = fixture.LAB.id
    first = keys[lab].spec_ids[0]
    return [
        {"student_id": "ada", f"{lab}_status": "graded", first: "2"},
        {"student_id": "bob", f"{lab}_status": "ungradable:timeout", first: "2"},
        {"student_id": "cy", f"{lab}_status": "missing"},
    ]


def _grades(path: Path) -> list[tuple[object, ...]]:
    """Every (student, cell, score, max score) of an nbgrader gradebook."""
    query = """
        SELECT submitted_assignment.student_id, base_cell.name, grade.auto_score,
               grade_cells.max_score
        FROM grade
        JOIN submitted_notebook ON grade.notebook_id = submitted_notebook.id
        JOIN submitted_assignment ON submitted_notebook.assignment_id = submitted_assignment.id
        JOIN base_cell ON grade.cell_id = base_cell.id
        JOIN grade_cells ON grade.cell_id = grade_cells.id
        ORDER BY 1, 2
    """
    with sqlite3.connect(path) as db:
        return list(db.execute(query))


def test_the_helper_writes_what_this_process_writes(
    tmp_path: Path, keys: dict[str, LabKey]
) -> None:
    """Does the helper process write exactly the gradebook written here (scores, max scores,
    no submission for a missing lab), and leave no helper behind?"""
    gradebook.start_helper()
    helper = gradebook._helper
    assert helper is not None
    assert gradebook.write(tmp_path / "helper.db", keys, _rows(keys)) == {}
    assert gradebook._helper is None and helper.proc.returncode == 0
    gradebook.write_plan(tmp_path / "here.db", gradebook.plan(keys), _rows(keys))
    grades = _grades(tmp_path / "helper.db")
    assert grades == _grades(tmp_path / "here.db")
    assert {row[0] for row in grades} == {"ada", "bob"}
    assert any(row[0] == "ada" and row[2] == 2.0 for row in grades)
    assert all(row[2] == 0.0 for row in grades if row[0] == "bob")


def test_a_failed_helper_falls_back_to_writing_here(
    tmp_path: Path, keys: dict[str, LabKey], caplog: pytest.LogCaptureFixture
) -> None:
    """When the helper dies, is the gradebook still written (here), with a warning logged?"""
    gradebook.start_helper()
    assert gradebook._helper is not None
    gradebook._helper.proc.kill()
    gradebook._helper.proc.wait()
    with caplog.at_level(logging.WARNING, logger="grader"):
        assert gradebook.write(tmp_path / "gradebook.db", keys, _rows(keys)) == {}
    assert "gradebook helper failed" in caplog.text
    assert {row[0] for row in _grades(tmp_path / "gradebook.db")} == {"ada", "bob"}


def test_a_helper_never_asked_ends_quietly() -> None:
    """Does a helper whose batch stopped before its outputs end at once when its input closes?"""
    helper = gradebook.Helper()
    out, _ = helper.proc.communicate("", timeout=120)
    assert (helper.proc.returncode, out) == (0, "")
