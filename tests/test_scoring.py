"""Scoring: test cells and points from the source notebook, flags from the learner's notebook."""

from __future__ import annotations

import copy
from textwrap import dedent

import pytest
from nbformat.v4 import new_code_cell, new_notebook

from grader.cellsource import check_calls
from grader.checking.specs import fixture
from grader.notebook import from_json
from grader.pipeline import scoring


def _test_cell(source: str, grade_id: str = "t", points: float = 3) -> dict:
    meta = {"grade": True, "solution": False, "locked": True, "task": False,
            "grade_id": grade_id, "points": points, "schema_version": 3}  # fmt: skip
    return new_code_cell(dedent(source), metadata={"nbgrader": meta})


def _cell(nb: dict, grade_id: str) -> dict:
    return next(c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade_id") == grade_id)


def test_check_calls_marks_hidden_ones() -> None:
    """Are visible and hidden check calls found in order, with literal ids only?"""
    source = dedent("""\
        check("fixture.double.value", double)
        grader.check("fixture.square.value")
        check(name_in_a_variable)
        ### BEGIN HIDDEN TESTS
        check("fixture.double.edge", double)
        ### END HIDDEN TESTS
        """)
    calls = check_calls(source)
    assert [(c.id, c.hidden) for c in calls if c.literal] == [
        ("fixture.double.value", False),
        ("fixture.square.value", False),
        ("fixture.double.edge", True),
    ]


def test_source_test_cells_of_the_fixture() -> None:
    """Does the fixture source give two test cells whose points match their checks?"""
    cells = scoring.test_cells(from_json(fixture.solution()), "fixture")
    assert [(c.grade_id, c.points, [k.id for k in c.checks]) for c in cells] == [
        ("double-tests", 3.0, ["fixture.double.value", "fixture.double.edge"]),
        ("square-tests", 1.0, ["fixture.square.value"]),
    ]
    assert "BEGIN HIDDEN" not in cells[0].visible_source
    assert "fixture.double.edge" not in cells[0].visible_source


@pytest.mark.parametrize(
    ("cell", "message"),
    [
        (_test_cell('check("fixture.double.value", double)', points=5), "add up to 2"),
        (_test_cell('check("lab2.relu.forward", relu)', points=1), "not a fixture check"),
        (_test_cell('check("fixture.nothing.here", f)', points=1), "no check named"),
        (_test_cell("assert double(1) == 2", points=1), "calls no check"),
    ],
)
def test_contract_violations_are_errors(cell: dict, message: str) -> None:
    """Is a source test cell that breaks the points contract rejected with a clear error?"""
    with pytest.raises(scoring.ScoringError, match=message):
        scoring.test_cells(from_json(new_notebook(cells=[cell])), "fixture")


def test_duplicate_grade_ids_in_the_source_are_errors() -> None:
    """Are two source test cells with one grade_id rejected?"""
    cells = [
        _test_cell('check("fixture.double.value", double)', "a", 2),
        _test_cell('check("fixture.square.value", square)', "a", 1),
    ]
    with pytest.raises(scoring.ScoringError, match="share the grade_id"):
        scoring.test_cells(from_json(new_notebook(cells=cells)), "fixture")


def test_analyse_untouched_release_has_no_flags() -> None:
    """Does the released notebook yield its program cells and no flags?"""
    trusted = scoring.test_cells(from_json(fixture.solution()), "fixture")
    sub = scoring.analyse(from_json(fixture.released()), trusted)
    assert sub.flags == []
    assert sub.present == {"double-tests", "square-tests"}
    assert [i for i, _ in sub.program] == [1, 3, 4, 7]


def test_analyse_flags_deleted_edited_and_tampered_cells() -> None:
    """Are deleted, edited and tampered test cells flagged, and kept out of the program?"""
    trusted = scoring.test_cells(from_json(fixture.solution()), "fixture")
    nb = fixture.released()
    nb.cells.remove(_cell(nb, "square-tests"))
    double_tests = _cell(nb, "double-tests")
    double_tests.source += "\nprint('all good')"
    double_tests.metadata.nbgrader["points"] = 1000
    nb.cells.append(copy.deepcopy(double_tests))
    sub = scoring.analyse(from_json(nb), trusted)
    assert sorted(sub.flags) == [
        "duplicate-grade-id:double-tests",
        "metadata-tampered:double-tests",
        "metadata-tampered:double-tests",
        "test-cell-deleted:square-tests",
        "test-cell-edited:double-tests",
    ]
    assert all("print('all good')" not in source for _, source in sub.program)


def test_magics_are_stripped_from_the_program() -> None:
    """Are ``%`` and ``!`` lines removed from program cells?"""
    nb = new_notebook(cells=[new_code_cell("%matplotlib inline\n!pip install x\nx = 1")])
    assert scoring.analyse(from_json(nb), []).program == [(0, "\n\nx = 1")]


def test_score_lab_counts_passing_checks_and_zeroes_deleted_cells() -> None:
    """Does a cell earn its passing checks' points, and a deleted cell nothing?"""
    trusted = scoring.test_cells(from_json(fixture.solution()), "fixture")
    passed = {
        "fixture.double.value": True,
        "fixture.double.edge": False,
        "fixture.square.value": True,
    }
    score = scoring.score_lab(trusted, {"double-tests"}, passed)
    assert (score.score, score.max_score) == (2.0, 4.0)
    assert score.cells == {"double-tests": (2.0, 3.0), "square-tests": (0.0, 1.0)}
    assert score.checks == {
        "fixture.double.value": 2.0,
        "fixture.double.edge": 0.0,
        "fixture.square.value": 0.0,
    }
