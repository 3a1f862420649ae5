"""``python -m grader validate NOTEBOOK``: a learner's own check before handing in.

Runs the notebook through the same sandbox the autograder uses, then every
VISIBLE check of its graded test cells, and prints the points of each. Hidden
checks run only at grading time.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from grader import config
from grader.grading import LabResult, grade_notebook, load_key
from grader.labs import resolve_lab


def validate(
    *,
    notebook: Path,
    lab: str | None = None,
    timeout: float | None = None,
    seed: int = 0,
    solutions: Path = config.SOLUTIONS,
) -> LabResult:
    """Grade ``notebook`` on its visible checks and print the points of each.

    Args:
        notebook: the learner's notebook.
        lab: its lab (``2``, ``lab2``, ``1.7.2`` or a notebook name; default: the file name).
        timeout: per-cell time budget in seconds.
        seed: seed of the check inputs.
        solutions: where the source notebooks are, when present; otherwise the
            notebook's own test cells say which checks to run.

    Returns:
        The result; ``passed`` when every visible check passed.
    """
    try:
        lab_id = resolve_lab(lab or notebook.name).id
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
    how = f" (isolation: {run.isolation}, {run.seconds:.1f} s)" if run else ""
    print(f"{notebook.name}: {key.lab.id}, {result.status}{how}")
    if result.detail:
        print(f"  {result.detail}")
    for cell in run.cells if run else []:
        if cell.error:
            print(f"  cell {cell.index} raised: {cell.error.strip().splitlines()[-1]}")
    for check_id in key.spec_ids:
        outcome = result.outcomes.get(check_id)
        if outcome is None:
            print(f"  ✗ {check_id}: not run")
        elif outcome.passed:
            print(f"  ✓ {check_id}: {outcome.score:g}/{outcome.spec.points:g}")
        else:
            print("  ✗ " + outcome.report().replace("\n", "\n    "))
    for flag in result.flags:
        print(f"  note: {flag}")
    print(
        f"visible checks: {result.score:g}/{key.max_score:g} points (hidden checks run at grading)"
    )
    return result


def passed(result: LabResult) -> bool:
    """Every visible check passed."""
    return result.status == "graded" and all(o.passed for o in result.outcomes.values())
