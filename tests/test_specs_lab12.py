"""Labs 1.7.1 and 1.7.2: their notebooks, checks and planted bugs hold together.

Everything runs in this process through :func:`grader.redteam.evaluate_in_process`
(the sandboxed autograder is tested elsewhere).
"""

from __future__ import annotations

import ast
import contextlib
import io
import re
from functools import cache
from pathlib import Path
from typing import Any

import nbformat
import numpy as np
import pytest

from grader.checking.outcome import Outcome
from grader.checking.spec import get_spec, load_lab
from grader.labs import LABS
from grader.redteam import (
    REPO,
    apply_bug,
    bugs_for,
    evaluate_in_process,
    is_test_cell,
    tensor_methods_restored,
)
from grader.redteam import stub_solutions as stub

LAB_IDS = ("lab1", "lab2")
CHECKING = REPO / "grader" / "checking"
CHECK_CALL = re.compile(r"""\bcheck\(\s*["']([^"']+)["']""")
HIDDEN = re.compile(r"### BEGIN HIDDEN TESTS(.*?)### END HIDDEN TESTS", re.S)


@cache
def solution(lab_id: str) -> Any:
    return nbformat.read(REPO / "solutions" / LABS[lab_id].notebook, as_version=4)


def graded_cells(lab_id: str) -> list[Any]:
    return [c for c in solution(lab_id).cells if c.cell_type == "code" and is_test_cell(c)]


def failed(outcomes: dict[str, Outcome]) -> set[str]:
    return {check_id for check_id, outcome in outcomes.items() if not outcome.passed}


ALL_BUGS = [bug for lab_id in LAB_IDS for bug in bugs_for(lab_id)]


@pytest.fixture(autouse=True)
def _close_figures() -> Any:
    """The notebooks' plotting cells run here too: close their figures after each test."""
    yield
    import matplotlib.pyplot as plt

    plt.close("all")


@pytest.mark.parametrize("seed", [0, 1])
@pytest.mark.parametrize("lab_id", LAB_IDS)
def test_solution_passes_every_check(lab_id: str, seed: int) -> None:
    """Does the solution notebook pass every check of its lab, visible and hidden, at more
    than one grading seed?"""
    outcomes = evaluate_in_process(solution(lab_id), lab_id, seed=seed)
    reports = [o.report() for o in outcomes.values() if not o.passed]
    assert not reports, "\n".join(reports)
    assert sum(o.score for o in outcomes.values()) == sum(s.points for s in load_lab(lab_id))


@pytest.mark.parametrize("lab_id", LAB_IDS)
def test_stubbed_notebook_scores_zero_on_every_check(lab_id: str) -> None:
    """Does an untouched learner notebook (solutions stubbed out) fail every single check?"""
    outcomes = evaluate_in_process(stub(solution(lab_id)), lab_id)
    assert not {k for k, o in outcomes.items() if o.passed}
    assert all("NotImplementedError" in o.error for o in outcomes.values())


@pytest.mark.parametrize("lab_id", LAB_IDS)
def test_released_notebook_scores_zero(lab_id: str) -> None:
    """Does the released notebook in labs/, run as it is, earn no points at all?"""
    path = REPO / "labs" / LABS[lab_id].notebook
    if not path.is_file():
        pytest.skip(f"{path} is not released yet")
    outcomes = evaluate_in_process(nbformat.read(path, as_version=4), lab_id)
    assert sum(o.score for o in outcomes.values()) == 0


@pytest.mark.parametrize("seed", [0, pytest.param(1, marks=pytest.mark.slow)])
@pytest.mark.parametrize("bug", ALL_BUGS, ids=lambda b: f"{b.lab}-{b.name}")
def test_planted_bug_fails_exactly_its_checks(bug: Any, seed: int) -> None:
    """Does each planted bug fail exactly the checks it lists, and pass all the others, at
    more than one grading seed (the autograder draws a fresh one per batch)?"""
    outcomes = evaluate_in_process(apply_bug(solution(bug.lab), bug), bug.lab, seed=seed)
    assert bug.fails, f"{bug.name} must fail at least one check"
    assert failed(outcomes) == set(bug.fails)


@pytest.mark.parametrize("lab_id", LAB_IDS)
def test_each_lab_has_at_least_six_planted_bugs(lab_id: str) -> None:
    """Does each lab plant at least six distinct mistakes, each in a solution cell?"""
    bugs = bugs_for(lab_id)
    assert len(bugs) >= 6
    assert len({b.name for b in bugs}) == len(bugs)
    solution_ids = {
        c.metadata["nbgrader"]["grade_id"]
        for c in solution(lab_id).cells
        if c.metadata.get("nbgrader", {}).get("solution")
    }
    assert {b.grade_id for b in bugs} <= solution_ids


@pytest.mark.parametrize("lab_id", LAB_IDS)
def test_graded_cell_points_are_the_sum_of_their_checks(lab_id: str) -> None:
    """Is each graded cell worth exactly the points of the checks it calls, and the lab 100?"""
    total = 0.0
    for cell in graded_cells(lab_id):
        points = sum(get_spec(i).points for i in CHECK_CALL.findall(cell.source))
        assert cell.metadata["nbgrader"]["points"] == points, cell.metadata["nbgrader"]
        total += points
    assert total == 100


@pytest.mark.parametrize("lab_id", LAB_IDS)
def test_every_check_is_graded_once_and_hidden_ones_only_in_hidden_blocks(lab_id: str) -> None:
    """Is every registered check called by exactly one graded cell, hidden ones inside the
    hidden-test block and visible ones outside it?"""
    seen: list[str] = []
    for cell in graded_cells(lab_id):
        hidden = set(CHECK_CALL.findall("".join(HIDDEN.findall(cell.source))))
        visible = set(CHECK_CALL.findall(HIDDEN.sub("", cell.source)))
        assert all(get_spec(i).hidden for i in hidden), hidden
        assert not any(get_spec(i).hidden for i in visible), visible
        seen += [*hidden, *visible]
    assert sorted(seen) == sorted(s.id for s in load_lab(lab_id))


@pytest.mark.parametrize("lab_id", LAB_IDS)
def test_notebook_calls_only_registered_visible_checks_outside_graded_cells(lab_id: str) -> None:
    """Does every check id in the notebook exist, and do self-checks use visible ones only?"""
    for cell in solution(lab_id).cells:
        if cell.cell_type != "code":
            continue
        for check_id in CHECK_CALL.findall(cell.source):
            spec = get_spec(check_id)  # raises KeyError for an unknown id
            if not is_test_cell(cell):
                assert not spec.hidden, f"self-check cell calls hidden check {check_id}"


@pytest.mark.parametrize("lab_id", LAB_IDS)
def test_graded_cells_open_with_what_they_check(lab_id: str) -> None:
    """Does every graded cell start with a docstring or comment saying what it checks?"""
    for cell in graded_cells(lab_id):
        assert cell.source.startswith(('"""', "#")), cell.source.splitlines()[0]


@pytest.mark.parametrize("lab_id", LAB_IDS)
def test_graded_cells_write_nothing_to_stderr(lab_id: str) -> None:
    """Run top to bottom in this process: do the graded cells leave stderr empty?"""
    import matplotlib

    matplotlib.use("Agg")
    namespace: dict[str, Any] = {"__name__": "__main__"}
    with tensor_methods_restored():
        for cell in solution(lab_id).cells:
            if cell.cell_type != "code":
                continue
            err = io.StringIO()
            with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(err):
                exec(compile(cell.source, "<cell>", "exec"), namespace)
            if is_test_cell(cell):
                assert err.getvalue() == "", cell.metadata["nbgrader"]["grade_id"]


def imported_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
    return names


def test_lab1_checks_never_import_the_reference_tensor() -> None:
    """Do lab 1's spec modules leave micrograd_plus.tensor alone (the learner writes it)?"""
    for path in (CHECKING / "specs" / "lab1.py", CHECKING / "hidden" / "lab1.py"):
        assert not {m for m in imported_modules(path) if m.startswith("micrograd_plus")}


def test_lab2_checks_import_no_later_module() -> None:
    """Do lab 2's spec modules import only lab 1's reference module from micrograd_plus?"""
    for path in (CHECKING / "specs" / "lab2.py", CHECKING / "hidden" / "lab2.py"):
        engine = {m for m in imported_modules(path) if m.startswith("micrograd_plus")}
        assert engine <= {"micrograd_plus.tensor"}


@pytest.mark.parametrize("lab_id", LAB_IDS)
def test_spec_inputs_come_from_the_seed(lab_id: str) -> None:
    """Does every check draw the same inputs for the same seed, and new ones for another?"""
    for spec in load_lab(lab_id):
        first, again, other = spec.make_inputs(0), spec.make_inputs(0), spec.make_inputs(1)
        assert first.keys() == again.keys()
        assert all(np.array_equal(first[k], again[k]) for k in first)
        assert any(not np.array_equal(first[k], other[k]) for k in first), spec.id
