"""Planted bugs: mistakes learners really make, applied to the solution notebooks.

Each lab lists its bugs in ``grader/redteam/<lab>.py`` as ``BUGS``. A bug is a
text substitution in one solution cell plus the exact set of checks it must
fail; every other check of the lab must still pass. The red-team corpus and
the tests build submissions from these, so the hidden tests provably have teeth.

The package's modules, from the bottom up (none imports one listed after it):

* :mod:`~grader.redteam.cells`: cells as the notebook model sees them, stubs, the program;
* :mod:`~grader.redteam.planted`: :class:`PlantedBug` and :func:`apply_bug`;
  ``lab1`` ... ``lab5``: each lab's bugs;
* :mod:`~grader.redteam.inprocess`: a notebook run and checked in this process;
* :mod:`~grader.redteam.learner`: a lab's notebooks and the learner's notebook made from them;
* :mod:`~grader.redteam.evaluate`: a lab's solution, stub and bugs evaluated as in the sandbox;
* :mod:`~grader.redteam.learnerpath`: 36 mistakes of a learner writing the labs, each with the
  self-check that must report it; :mod:`~grader.redteam.learnerrun` runs them in a Jupyter
  kernel per lab and reads what each self-check printed;
* :mod:`~grader.redteam.forger`: the universal forger (made-up answers to every check);
* :mod:`~grader.redteam.scancorpus`: honest cells and evasions that measure the integrity scan;
* :mod:`~grader.redteam.tamper`: the hostile and unusual submissions, as data;
* :mod:`~grader.redteam.corpus`: every submission written out with the grades it must get.
"""

from __future__ import annotations

from grader.checking.restore import tensor_methods_restored
from grader.config import REPO
from grader.redteam.cells import is_test_cell, program_source, stub_solutions
from grader.redteam.inprocess import evaluate_in_process, run_program
from grader.redteam.planted import PlantedBug, apply_bug, bugs_for

__all__ = [
    "REPO",
    "PlantedBug",
    "apply_bug",
    "bugs_for",
    "evaluate_in_process",
    "is_test_cell",
    "program_source",
    "run_program",
    "stub_solutions",
    "tensor_methods_restored",
]
