"""``python -m grader validate NOTEBOOK``: a learner's own check before handing in.

Runs the notebook through the same sandbox the autograder uses, then every
VISIBLE check of its graded test cells, and prints the points of each. Hidden
checks run only at grading time.
"""

from __future__ import annotations

import importlib.util
import json
from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path

from grader import config
from grader.batch import LabResult
from grader.checking.check import TORCH_MISSING
from grader.checking.outcome import Outcome
from grader.labs import resolve_lab
from grader.notebook import NotebookError, read
from grader.pipeline.grading import grade_notebook, load_key


class TorchNotInstalled(RuntimeError):
    """The visible checks' answers come from PyTorch, which this Python lacks."""


def lab_of_notebook(notebook: Path) -> str | None:
    """The lab a notebook says it is (``metadata.microgradplus.lab``), or None.

    A copy keeps it whatever its name (``lab-1.7.1-…-Copy1.ipynb``, ``my attempt.ipynb``).
    """
    try:
        meta = json.loads(notebook.read_text(encoding="utf-8")).get("metadata", {})
    except (OSError, ValueError, AttributeError):
        return None
    lab = meta.get("microgradplus", {}).get("lab") if isinstance(meta, dict) else None
    return lab if isinstance(lab, str) else None


def validate(
    *,
    notebook: Path,
    lab: str | None = None,
    timeout: float | None = None,
    seed: int = 0,
    solutions: Path = config.SOLUTIONS,
    verbose: bool = False,
) -> LabResult:
    """Grade ``notebook`` on its visible checks and print the points of each.

    Args:
        notebook: the learner's notebook.
        lab: its lab (``2``, ``lab2``, ``1.7.2`` or a notebook name; default: the lab the
            notebook's metadata names, else its file name).
        timeout: per-cell time budget in seconds.
        seed: seed of the check inputs.
        solutions: where the source notebooks are, when present; otherwise the
            notebook's own test cells say which checks to run.
        verbose: print the expected-vs-got table of passing checks too.

    Returns:
        The result; ``passed`` when every visible check passed.

    Raises:
        TorchNotInstalled: PyTorch is missing (the message says how to install it).
    """
    if importlib.util.find_spec("torch") is None:
        raise TorchNotInstalled(TORCH_MISSING)
    try:
        lab_id = resolve_lab(lab or lab_of_notebook(notebook) or notebook.name).id
    except KeyError as exc:
        raise KeyError(f"{exc.args[0]}; pass --lab when the file name does not say") from exc
    source = solutions / resolve_lab(lab_id).notebook
    key = load_key(
        lab_id, source=source if source.exists() else notebook, seed=seed, visible_only=True
    )
    limits = (
        config.DEFAULT_LIMITS
        if timeout is None
        else replace(config.DEFAULT_LIMITS, cell_timeout=timeout)
    )
    result = grade_notebook(notebook, key, limits=limits)
    run = result.run
    if result.status == "graded":
        how = f"ran top to bottom in {run.seconds:.1f} s" if run else "ran top to bottom"
    else:
        how = f"could not be checked ({result.status})"
    print(f"{notebook.name} (lab 1.7.{key.lab.number}, {key.lab.title}): {how}")
    if result.detail:
        print(f"  {result.detail}")
    for cell in run.cells if run else []:
        if cell.error:
            print(f"  cell {cell.index} raised: {cell.error.strip().splitlines()[-1]}")
    for line in report_lines(key.spec_ids, result.outcomes, verbose):
        print(line)
    for flag in result.flags:
        print(f"  note: {flag}")
    print(summary(result.score, key.max_score, lab_total(source if source.exists() else notebook)))
    return result


def report_lines(ids: list[str], outcomes: Mapping[str, Outcome], verbose: bool) -> list[str]:
    """Each check's report, in order; a known mistake that fails several checks is named
    once, after them, with the checks it explains (``verbose``: every table and hint)."""
    lines: list[str] = []
    causes: dict[str, list[str]] = {}
    for check_id in ids:
        outcome = outcomes.get(check_id)
        if outcome is None:
            lines.append(f"  ✗ {check_id}: not run")
        elif outcome.diagnosis is not None and not outcome.passed and not verbose:
            causes.setdefault(outcome.diagnosis.text(), []).append(check_id)
            lines.append(f"  {outcome.headline()}")
            lines.extend(f"    {outcome.error}".splitlines() if outcome.error else [])
        else:
            lines.append("  " + outcome.report(verbose, rerun=False).replace("\n", "\n    "))
    for text, explained in causes.items():
        lines.append("  " + text.replace("\n", "\n  "))
        lines.append(f"    (this explains {', '.join(explained)}; --verbose shows the tables)")
    return lines


def lab_total(source: Path) -> float | None:
    """The points of every graded cell of a notebook (hidden checks included), or None."""
    try:
        nb = read(source, max_bytes=config.DEFAULT_LIMITS.notebook_size)
    except NotebookError:
        return None
    return sum(cell.nbgrader.points or 0 for cell in nb.test_cells())


def summary(score: float, visible: float, total: float | None) -> str:
    """The last line: visible points, what the hidden checks are worth, the lab's total."""
    line = f"visible checks: {score:g}/{visible:g}"
    if total is not None and total > visible:
        line += f" — hidden checks ({total - visible:g} points) run when your work is graded"
    if total is not None:
        line += f" — lab total {total:g}"
    return line


def passed(result: LabResult) -> bool:
    """Every visible check passed."""
    return result.status == "graded" and all(o.passed for o in result.outcomes.values())
