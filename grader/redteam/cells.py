"""Notebook cells as the grader's notebook model sees them: test cells, stubs, the program.

Helpers over nbformat notebooks for the red team and the project's tests; each
reads a cell through :mod:`grader.notebook`, as the autograder does.
"""

from __future__ import annotations

import copy
from typing import Any

from grader import cellsource, notebook


def cell_model(cell: Any) -> notebook.Cell:
    """One nbformat cell as the notebook model sees it."""
    return notebook.from_json({"cells": [cell]}).cells[0]


def is_test_cell(cell: Any) -> bool:
    """An nbgrader graded test cell (see :attr:`grader.notebook.Cell.is_test`)."""
    return cell_model(cell).is_test


def stub_solutions(nb: Any) -> Any:
    """A copy of ``nb`` as nbgrader releases it: each solution region becomes a stub.

    The region between ``### BEGIN SOLUTION`` and ``### END SOLUTION`` is replaced by
    ``# YOUR CODE HERE`` and ``raise NotImplementedError()`` at the marker's indentation.
    """
    nb = copy.deepcopy(nb)
    for cell in nb.cells:
        cell.source = cellsource.stub_solutions(cell.source)
    return nb


def program_source(nb: Any) -> list[str]:
    """The learner's program: every code cell except graded test cells, magics removed."""
    return [cellsource.program_text(cell.source) for cell in notebook.from_json(nb).program()]
