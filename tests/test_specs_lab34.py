"""Do labs 1.7.3 (layers) and 1.7.4 (optimizers) grade as they should?

The solution notebooks pass every check; a stubbed copy, made the way nbgrader
releases a notebook (each solution region replaced by ``raise
NotImplementedError()``), fails every check; each planted bug fails exactly the
checks it names; each graded cell is worth the points of the checks it calls.
"""

from __future__ import annotations

import contextlib
import copy
import functools
import io
import re
import sys
from typing import Any

import nbformat
import pytest

import micrograd_plus.ops  # noqa: F401  (attach Tensor's methods before any evaluation starts)
from grader.checking.check import run_learner
from grader.checking.spec import load_lab
from grader.labs import LABS
from grader.redteam import (
    REPO,
    PlantedBug,
    apply_bug,
    bugs_for,
    evaluate_in_process,
    program_source,
)
from grader.redteam import stub_solutions as stubbed

LAB_IDS = ("lab3", "lab4")
SEEDS = (0, 20261126)
"""Grading seeds: 0 (self-checks) and another (the autograder draws one per batch)."""
SETUP_CELLS = ("setup", "seeds")
CHECK_CALL = re.compile(r"""\bcheck\(\s*["']([\w.]+)["']""")


def nbgrader(cell: Any) -> dict[str, Any]:
    return dict(cell.get("metadata", {}).get("nbgrader", {}))


@functools.cache
def source(lab_id: str) -> Any:
    """The solution notebook of a lab, as committed."""
    return nbformat.read(REPO / "solutions" / LABS[lab_id].notebook, as_version=4)


def core(nb: Any) -> Any:
    """Only the cells that define the learner's objects: setup, seeds and solution cells."""
    keep = [
        c
        for c in nb.cells
        if nbgrader(c).get("solution") or nbgrader(c).get("grade_id") in SETUP_CELLS
    ]
    return nbformat.v4.new_notebook(cells=copy.deepcopy(keep))


def failed(nb: Any, lab_id: str, seed: int = 0) -> set[str]:
    outcomes = evaluate_in_process(nb, lab_id, seed=seed)
    return {cid for cid, outcome in outcomes.items() if not outcome.passed}


def lab_check_ids(lab_id: str) -> set[str]:
    return {s.id for s in load_lab(lab_id)}


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("lab_id", LAB_IDS)
def test_solution_code_passes_every_check(lab_id: str, seed: int) -> None:
    """Does the solution code of the lab pass all of its checks, whatever the grading seed?"""
    outcomes = evaluate_in_process(core(source(lab_id)), lab_id, seed=seed)
    assert {cid: o.report() for cid, o in outcomes.items() if not o.passed} == {}


@pytest.mark.parametrize("lab_id", LAB_IDS)
def test_whole_solution_notebook_passes_every_check(lab_id: str) -> None:
    """Do the demonstration cells leave the learner's objects passing every check?"""
    assert failed(source(lab_id), lab_id) == set()


@pytest.mark.parametrize("lab_id", LAB_IDS)
def test_stubbed_notebook_fails_every_check(lab_id: str) -> None:
    """Does the untouched released notebook score 0 on every check?"""
    stub = stubbed(source(lab_id))
    assert "### BEGIN SOLUTION" not in "".join(c.source for c in stub.cells)
    assert failed(stub, lab_id) == lab_check_ids(lab_id)


@pytest.mark.parametrize("lab_id", LAB_IDS)
def test_released_notebook_fails_every_check(lab_id: str) -> None:
    """Does the notebook in labs/, as released, score 0 on every check?"""
    released = REPO / "labs" / LABS[lab_id].notebook
    if not released.is_file():
        pytest.skip(f"{released.name} is not released yet")
    assert failed(nbformat.read(released, as_version=4), lab_id) == lab_check_ids(lab_id)


ALL_BUGS = [bug for lab_id in LAB_IDS for bug in bugs_for(lab_id)]


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("bug", ALL_BUGS, ids=[f"{b.lab}-{b.name}" for b in ALL_BUGS])
def test_planted_bug_fails_exactly_its_checks(bug: PlantedBug, seed: int) -> None:
    """Does each planted bug fail the checks it names, and only those, whatever the seed?"""
    assert bug.fails <= lab_check_ids(bug.lab), "a bug names a check that does not exist"
    assert failed(apply_bug(core(source(bug.lab)), bug), bug.lab, seed) == set(bug.fails)


@pytest.mark.parametrize("lab_id", LAB_IDS)
def test_each_lab_plants_at_least_six_distinct_bugs(lab_id: str) -> None:
    """Are there at least six planted bugs, with distinct names and failure sets?"""
    bugs = bugs_for(lab_id)
    assert len(bugs) >= 6
    assert len({b.name for b in bugs}) == len(bugs)
    assert all(b.lab == lab_id for b in bugs)


@pytest.mark.parametrize("lab_id", LAB_IDS)
def test_graded_cells_are_worth_their_checks(lab_id: str) -> None:
    """Is each graded cell's points the sum of its checks', each check graded once, 100 in all?"""
    points = {s.id: s.points for s in load_lab(lab_id)}
    hidden = {s.id for s in load_lab(lab_id) if s.hidden}
    graded: list[str] = []
    total = 0.0
    for cell in source(lab_id).cells:
        meta = nbgrader(cell)
        ids = CHECK_CALL.findall(cell.source)
        if not (meta.get("grade") and not meta.get("solution")):
            assert not set(ids) & hidden, f"{meta.get('grade_id')} calls a hidden check"
            continue
        visible, _, secret = cell.source.partition("### BEGIN HIDDEN TESTS")
        assert not set(CHECK_CALL.findall(visible)) & hidden, meta["grade_id"]
        assert set(CHECK_CALL.findall(secret)) <= hidden, meta["grade_id"]
        assert cell.source.lstrip().startswith("# Graded"), meta["grade_id"]
        assert meta["points"] == sum(points[i] for i in set(ids)), meta["grade_id"]
        graded += ids
        total += meta["points"]
    assert sorted(graded) == sorted(points), "every check graded exactly once"
    assert total == 100


@pytest.mark.parametrize("lab_id", LAB_IDS)
def test_source_notebook_is_committed_without_outputs(lab_id: str) -> None:
    """Are the committed source notebooks free of outputs and execution counts?"""
    for cell in source(lab_id).cells:
        if cell.cell_type == "code":
            assert cell.outputs == [] and cell.execution_count is None


@pytest.mark.parametrize("lab_id", LAB_IDS)
def test_every_cell_has_a_unique_grade_id_and_opens_with_a_comment(lab_id: str) -> None:
    """Does every cell carry a grade_id, and every code cell open with a comment on its purpose?"""
    cells = source(lab_id).cells
    ids = [nbgrader(c).get("grade_id") for c in cells]
    assert None not in ids and len(set(ids)) == len(ids)
    for cell in cells:
        if cell.cell_type == "code":
            assert cell.source.startswith("# "), nbgrader(cell)["grade_id"]


@pytest.mark.parametrize("lab_id", LAB_IDS)
def test_learner_sides_need_no_torch(lab_id: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Do the checks' learner sides run with torch unimportable, as in the sandbox?"""
    namespace: dict[str, Any] = {"__name__": "__main__"}
    with contextlib.redirect_stdout(io.StringIO()):
        for cell_source in program_source(core(source(lab_id))):
            exec(compile(cell_source, "<cell>", "exec"), namespace)
    monkeypatch.setitem(sys.modules, "torch", None)  # `import torch` now raises ImportError
    for spec in load_lab(lab_id):
        objs = tuple(namespace[name] for name in spec.symbols)
        got, error = run_learner(spec, objs, spec.make_inputs(0))
        assert error == "" and got is not None, f"{spec.id}: {error}"
