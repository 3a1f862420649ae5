"""Run a notebook's program in this process (no sandbox) and check it: the tests' quick path.

The autograder runs a learner's program in the sandbox; the project's own quick
tests of solutions and planted bugs run it here instead, with what the notebook
attaches to the reference Tensor undone afterwards.
"""

from __future__ import annotations

import contextlib
import io
import warnings
from typing import Any

from grader.checking.check import Outcome, run_spec
from grader.checking.restore import tensor_methods_restored
from grader.checking.spec import load_lab
from grader.redteam.cells import program_source


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
