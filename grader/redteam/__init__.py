"""Planted bugs: mistakes learners really make, applied to the solution notebooks.

Each lab lists its bugs in ``grader/redteam/<lab>.py`` as ``BUGS``. A bug is a
text substitution in one solution cell plus the exact set of checks it must
fail; every other check of the lab must still pass. The red-team corpus and
the tests build submissions from these, so the hidden tests provably have teeth.
"""

from __future__ import annotations

import contextlib
import copy
import importlib
import io
import warnings
from dataclasses import dataclass
from typing import Any

from grader import notebook
from grader.check import Outcome, run_spec
from grader.config import REPO
from grader.spec import load_lab

__all__ = ["REPO", "PlantedBug", "apply_bug", "bugs_for", "is_test_cell", "program_source"]


@dataclass(frozen=True)
class PlantedBug:
    """One realistic mistake.

    Attributes:
        name: short slug, e.g. ``grad-assign-not-accumulate``.
        lab: ``lab1`` ... ``lab5``.
        grade_id: the nbgrader ``grade_id`` of the solution cell to edit.
        old: exact text in that cell (must occur exactly once).
        new: its replacement.
        fails: ids of the checks that must fail; all others must pass.
        description: what the mistake is, in a learner's words.
    """

    name: str
    lab: str
    grade_id: str
    old: str
    new: str
    fails: frozenset[str]
    description: str = ""


def bugs_for(lab_id: str) -> list[PlantedBug]:
    """The planted bugs of one lab."""
    return list(importlib.import_module(f"grader.redteam.{lab_id}").BUGS)


def apply_bug(nb: Any, bug: PlantedBug) -> Any:
    """A copy of ``nb`` with ``bug`` applied (raises if its text is not found exactly once)."""
    nb = copy.deepcopy(nb)
    model = notebook.from_json(nb)
    for cell, known in zip(nb.cells, model.cells, strict=True):
        if known.grade_id == bug.grade_id:
            if cell.source.count(bug.old) != 1:
                raise ValueError(
                    f"{bug.name}: expected the text once in cell {bug.grade_id}, "
                    f"found it {cell.source.count(bug.old)} times: {bug.old!r}"
                )
            cell.source = cell.source.replace(bug.old, bug.new)
            return nb
    raise ValueError(f"{bug.name}: no cell with grade_id {bug.grade_id!r}")


def stub_solutions(nb: Any) -> Any:
    """A copy of ``nb`` as nbgrader releases it: each solution region becomes a stub.

    The region between ``### BEGIN SOLUTION`` and ``### END SOLUTION`` is replaced by
    ``# YOUR CODE HERE`` and ``raise NotImplementedError()`` at the marker's indentation.
    """
    nb = copy.deepcopy(nb)
    for cell in nb.cells:
        cell.source = notebook.stub_solutions(cell.source)
    return nb


def is_test_cell(cell: Any) -> bool:
    """An nbgrader graded test cell (see :attr:`grader.notebook.Cell.is_test`)."""
    return notebook.from_json({"cells": [cell]}).cells[0].is_test


def program_source(nb: Any) -> list[str]:
    """The learner's program: every code cell except graded test cells, magics removed."""
    return [notebook.program_text(cell.source) for cell in notebook.from_json(nb).program()]


def run_program(nb: Any) -> dict[str, Any]:
    """Run a notebook's program here and return its namespace.

    Cells that raise are skipped, as in a notebook run with errors allowed; their
    output and warnings are discarded. Call it inside :func:`tensor_methods_restored`.
    """
    namespace: dict[str, Any] = {"__name__": "__main__"}
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            for source in program_source(nb):
                try:
                    exec(compile(source, "<cell>", "exec"), namespace)
                except Exception:
                    continue
    return namespace


def evaluate_in_process(nb: Any, lab_id: str, seed: int = 0) -> dict[str, Outcome]:
    """Run a notebook's program here (no sandbox) and every check of the lab on it.

    For the project's own quick tests of solutions and planted bugs; the
    autograder uses the sandbox instead. Cells that raise are skipped, as in
    a notebook run with errors allowed; their output is discarded.
    """
    with tensor_methods_restored():
        namespace = run_program(nb)
        outcomes = {}
        for spec in load_lab(lab_id):
            objs = tuple(namespace.get(name) for name in spec.symbols)
            with contextlib.redirect_stdout(io.StringIO()):
                outcomes[spec.id] = run_spec(spec, objs, seed)
    return outcomes


@contextlib.contextmanager
def tensor_methods_restored() -> Any:
    """Undo what a notebook attaches to the reference Tensor (``Tensor.relu = relu``)."""
    import micrograd_plus.ops  # noqa: F401  (its methods belong to the snapshot)
    import micrograd_plus.tensor as reference

    before = dict(vars(reference.Tensor))
    try:
        yield
    finally:
        for name in set(vars(reference.Tensor)) - set(before):
            delattr(reference.Tensor, name)
        for name, value in before.items():
            if vars(reference.Tensor).get(name) is not value:
                setattr(reference.Tensor, name, value)
