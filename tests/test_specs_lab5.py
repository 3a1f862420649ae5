"""Does lab 1.7.5 (MNIST training) grade as it should?

The solution notebook trains its model and passes every check; a stubbed copy,
made the way nbgrader releases a notebook (each solution region replaced by
``raise NotImplementedError()``), fails every check, the trained-model ones
included; each planted bug fails exactly the checks it names; each graded cell
is worth the points of the checks it calls. The program these tests run is the
notebook minus its plots and the PyTorch comparison: the cells that define the
learner's objects, load the data, build and train the model.
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
import numpy as np
import pytest

import micrograd_plus.ops  # noqa: F401  (attach Tensor's methods before any evaluation starts)
from grader import config
from grader.checking.check import run_learner
from grader.checking.outcome import Outcome
from grader.checking.spec import get_spec, load_lab
from grader.checking.specs.training import model_inputs, predicted_digits
from grader.labs import LABS
from grader.redteam import REPO, PlantedBug, apply_bug, bugs_for, evaluate_in_process
from grader.redteam import stub_solutions as stubbed

LAB = "lab5"
NOTEBOOK = REPO / "solutions" / LABS[LAB].notebook
PROGRAM = ("setup", "seeds", "data_load", "standardize", "model_build", "train_run")
"""The given cells the checks need (with the solution cells): data, model, training."""
CHECK_CALL = re.compile(r"""\bcheck\(\s*["']([\w.]+)["']""")


def nbgrader(cell: Any) -> dict[str, Any]:
    return dict(cell.get("metadata", {}).get("nbgrader", {}))


@functools.cache
def source() -> Any:
    """The solution notebook, as committed."""
    return nbformat.read(NOTEBOOK, as_version=4)


def program(nb: Any) -> Any:
    """The cells that define the learner's objects and train the model, in notebook order."""
    keep = [
        c for c in nb.cells if nbgrader(c).get("solution") or nbgrader(c)["grade_id"] in PROGRAM
    ]
    return nbformat.v4.new_notebook(cells=copy.deepcopy(keep))


def failed(outcomes: dict[str, Outcome]) -> set[str]:
    return {cid for cid, outcome in outcomes.items() if not outcome.passed}


def check_ids() -> set[str]:
    return {s.id for s in load_lab(LAB)}


@pytest.fixture(scope="module")
def solution_outcomes() -> dict[str, Outcome]:
    """Every check on the solution program, trained once for the whole module."""
    return evaluate_in_process(program(source()), LAB)


@pytest.mark.slow
def test_solution_passes_every_check(solution_outcomes: dict[str, Outcome]) -> None:
    """Does the solution, trained as in the notebook, pass every check of the lab?"""
    assert {cid: o.report() for cid, o in solution_outcomes.items() if not o.passed} == {}


@pytest.mark.slow
def test_trained_model_clears_the_target_with_margin(
    solution_outcomes: dict[str, Outcome],
) -> None:
    """Does the solution's model reach at least 95.5% test accuracy, as the check reports it?"""
    (row,) = solution_outcomes["lab5.model.accuracy"].rows
    assert row.ok and float(row.got.rstrip("%")) >= 95.5


def test_stubbed_notebook_fails_every_check() -> None:
    """Does the untouched released notebook, run top to bottom, score 0 on every check?"""
    stub = stubbed(source())
    assert "### BEGIN SOLUTION" not in "".join(c.source for c in stub.cells)
    with contextlib.redirect_stdout(io.StringIO()):
        assert failed(evaluate_in_process(stub, LAB)) == check_ids()


def test_released_notebook_fails_every_check() -> None:
    """Does the notebook in labs/, as released, score 0 on every check?"""
    released = REPO / "labs" / LABS[LAB].notebook
    if not released.is_file():
        pytest.skip(f"{released.name} is not released yet")
    nb = nbformat.read(released, as_version=4)
    assert failed(evaluate_in_process(program(nb), LAB)) == check_ids()


BUGS = bugs_for(LAB)


@pytest.mark.slow
@pytest.mark.parametrize("bug", BUGS, ids=[b.name for b in BUGS])
def test_planted_bug_fails_exactly_its_checks(bug: PlantedBug) -> None:
    """Does each planted bug fail the checks it names, and only those?"""
    assert bug.fails <= check_ids(), "a bug names a check that does not exist"
    assert failed(evaluate_in_process(program(apply_bug(source(), bug)), LAB)) == set(bug.fails)


def test_lab_plants_enough_distinct_bugs() -> None:
    """Are there at least six planted bugs, with distinct names, each in a solution cell?"""
    solution_cells = {
        nbgrader(c)["grade_id"] for c in source().cells if nbgrader(c).get("solution")
    }
    assert len(BUGS) >= 6
    assert len({b.name for b in BUGS}) == len(BUGS)
    assert all(b.lab == LAB and b.grade_id in solution_cells for b in BUGS)


def test_every_check_is_failed_by_some_planted_bug() -> None:
    """Does every check catch at least one planted bug (no check without teeth)?"""
    assert set().union(*(b.fails for b in BUGS)) == check_ids()


def test_graded_cells_are_worth_their_checks() -> None:
    """Is each graded cell's points the sum of its checks', each check graded once, 100 in all?"""
    points = {s.id: s.points for s in load_lab(LAB)}
    hidden = {s.id for s in load_lab(LAB) if s.hidden}
    graded: list[str] = []
    total = 0.0
    for cell in source().cells:
        meta = nbgrader(cell)
        ids = CHECK_CALL.findall(cell.source)
        if not (meta.get("grade") and not meta.get("solution")):
            assert not set(ids) & hidden, f"{meta['grade_id']} calls a hidden check"
            continue
        visible, _, secret = cell.source.partition("### BEGIN HIDDEN TESTS")
        assert not set(CHECK_CALL.findall(visible)) & hidden, meta["grade_id"]
        assert set(CHECK_CALL.findall(secret)) <= hidden, meta["grade_id"]
        assert cell.source.startswith(f"# Graded ({meta['points']:g} points)"), meta["grade_id"]
        assert meta["points"] == sum(points[i] for i in set(ids)), meta["grade_id"]
        graded += ids
        total += meta["points"]
    assert sorted(graded) == sorted(points), "every check graded exactly once"
    assert total == 100


def test_source_notebook_is_committed_without_outputs() -> None:
    """Is the committed source notebook free of outputs and execution counts?"""
    for cell in source().cells:
        if cell.cell_type == "code":
            assert cell.outputs == [] and cell.execution_count is None


def test_every_cell_has_a_unique_grade_id_and_opens_with_a_comment() -> None:
    """Does every cell carry a grade_id, and every code cell open with a comment on its purpose?"""
    cells = source().cells
    ids = [nbgrader(c).get("grade_id") for c in cells]
    assert None not in ids and len(set(ids)) == len(ids)
    for cell in cells:
        if cell.cell_type == "code":
            assert cell.source.startswith("# "), nbgrader(cell)["grade_id"]


def test_seeds_live_in_one_cell_at_the_top() -> None:
    """Is SEED set once, in the seeds cell, before any cell that draws random numbers?"""
    cells = [c for c in source().cells if c.cell_type == "code"]
    assert nbgrader(cells[1])["grade_id"] == "seeds"
    assert [nbgrader(c)["grade_id"] for c in cells if "SEED = " in c.source] == ["seeds"]


def test_learner_sides_need_no_torch(monkeypatch: pytest.MonkeyPatch) -> None:
    """Do the checks' learner sides run with torch unimportable, as in the sandbox?"""
    untrained = program(source())
    untrained.cells = [c for c in untrained.cells if nbgrader(c)["grade_id"] != "train_run"]
    namespace: dict[str, Any] = {"__name__": "__main__"}
    with contextlib.redirect_stdout(io.StringIO()):
        for cell in untrained.cells:
            exec(compile(cell.source, "<cell>", "exec"), namespace)
    monkeypatch.setitem(sys.modules, "torch", None)  # `import torch` now raises ImportError
    for spec in load_lab(LAB):
        objs = tuple(namespace[name] for name in spec.symbols)
        got, error = run_learner(spec, objs, spec.make_inputs(0))
        assert error == "" and got is not None, f"{spec.id}: {error}"


class ConstantModel:
    """A 'model' that answers the same digit for every image."""

    def __init__(self, digit: int) -> None:
        self.digit = digit

    def __call__(self, x: Any) -> np.ndarray:
        logits = np.zeros((len(x.data), 10))
        logits[:, self.digit] = 1.0
        return logits


def test_model_checks_judge_the_predictions_themselves() -> None:
    """Do the model checks fail a model that answers 1 to everything, saying how it did?"""
    got = predicted_digits(model_inputs(np.random.default_rng(0)), ConstantModel(1))
    rows = {}
    for check_id in ("lab5.model.accuracy", "lab5.model.per_class"):
        spec = get_spec(check_id)
        assert spec.compare is not None
        rows[check_id] = spec.compare(got, spec.reference({}), {})
    (overall,) = rows["lab5.model.accuracy"]
    assert not overall.ok and overall.expected == ">= 95.5%" and overall.got.endswith("%")
    per_digit = {r.name: r.ok for r in rows["lab5.model.per_class"]}
    assert len(per_digit) == 10 and per_digit["digit 1 recognised"]
    assert sum(per_digit.values()) == 1


def test_model_checks_explain_predictions_of_the_wrong_length() -> None:
    """Does a prediction array that does not match the test split fail with a reason?"""
    spec = get_spec("lab5.model.accuracy")
    assert spec.compare is not None
    (row,) = spec.compare(
        {"predicted digit of each test image": np.zeros(7)}, spec.reference({}), {}
    )
    assert not row.ok and "another dataset" in row.message


def test_the_model_is_graded_on_digits_the_learner_never_had() -> None:
    """Are the model checks' images the private grading set, none in the learner's sample?"""
    images = model_inputs(np.random.default_rng(0))["images"]
    assert images.shape == (2000, 784) and images.dtype == np.float32
    with np.load(config.DATA / "mnist_sample.npz") as sample:
        known = {row.tobytes() for key in ("X_train", "X_test") for row in sample[key]}
    pixels = np.rint(images * 255).astype(np.uint8)
    assert not any(row.tobytes() in known for row in pixels)
    assert len(get_spec("lab5.model.accuracy").reference({})["true digits"]) == 2000
