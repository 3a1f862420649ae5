"""Errors in lab 1.7.5 that come from the learner's earlier labs, named by lab and task.

Lab 1.7.5 trains on ``mylearner``, the package :mod:`grader.learner.assemble` builds from
the learner's notebooks of labs 1.7.1-1.7.4. When a later cell fails inside that code, the
traceback shows ``mylearner/nn.py``, a file the learner never wrote as such.
:func:`explain` finds those frames and names, for each, the lab, the task (read from the
comment that ``assemble`` writes before every cell it copies) and the line;
:func:`explain_errors` prints that under every failing cell of the notebook.
"""

from __future__ import annotations

import sys
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

import grader.learner.assemble as assemble
from grader.labs import get_lab

_watching: list[Callable[[Any], None]] = []
"""The callback registered with IPython, so that re-running the assembling cell replaces it."""


def task_of(path: Path, lineno: int) -> str:
    """The task of the copied cell holding line ``lineno`` of ``path`` ("" if unknown)."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError:
        return ""
    for line in reversed(lines[:lineno]):
        if line.startswith(assemble.CELL_MARK):
            return line.removeprefix(assemble.CELL_MARK).strip()
    return ""


def _part(path: Path, package: Path) -> assemble.Part | None:
    if path.parent != package:
        return None
    return next((p for p in assemble.PARTS if p.module == path.stem), None)


def _is_notebook_code(filename: str) -> bool:
    """A frame of code typed in a notebook cell or a learner's own file (not a library's)."""
    from grader.checking.check import _is_learner_frame

    return _is_learner_frame(filename)


def explain(exc: BaseException, package: Path) -> str:
    """Which of the learner's earlier labs an exception went through, or "".

    Args:
        exc: the exception a cell raised.
        package: the assembled package's folder (``…/mylearner``).

    Returns:
        A few lines, outermost call first, when the innermost frame of the learner's own
        code lies in the package; "" otherwise (the cell's own code, or a library).
    """
    package = package.resolve()
    frames = traceback.extract_tb(exc.__traceback__)
    own = [f for f in frames if _is_notebook_code(f.filename)]
    if not own or _part(Path(own[-1].filename).resolve(), package) is None:
        return ""
    rows, seen = [], set()
    for frame in own:
        path = Path(frame.filename).resolve()
        part = _part(path, package)
        if part is None:
            continue
        lab = get_lab(part.lab)
        task = task_of(path, frame.lineno or 0)
        if (lab.id, task) in seen:
            continue
        seen.add((lab.id, task))
        where = f"in {frame.name}, line: {(frame.line or '').strip()}"
        rows.append(f"  lab 1.7.{lab.number} ({lab.notebook}), {task or part.module} — {where}")
    return "\n".join(
        [
            f"This {type(exc).__name__} comes from your own code of an earlier lab "
            "(this notebook trains on it):",
            *rows,
            "It was raised in the last one; the mistake can be in any of them, or in what the cell "
            "passed to them. Fix it in that "
            "lab's notebook (its self-checks may not try this case), save, then re-run this "
            "notebook from the top.",
        ]
    )


def explain_errors(engine: Any) -> None:
    """From now on, print :func:`explain`'s lines under every cell that fails (in IPython)."""
    shell = sys.modules.get("IPython")
    get = getattr(shell, "get_ipython", None)
    ipython = get() if get else None
    if ipython is None or engine is None:
        return
    package = Path(engine.package.__file__).resolve().parent

    def after(result: Any) -> None:
        error = getattr(result, "error_in_exec", None)
        text = explain(error, package) if error is not None else ""
        if text:
            print(text)

    for old in _watching:
        try:
            ipython.events.unregister("post_run_cell", old)
        except ValueError:
            pass
    _watching[:] = [after]
    ipython.events.register("post_run_cell", after)
