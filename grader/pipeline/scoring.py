"""From graded test cells to check ids to points.

The graded test cells, their points and the checks they call come from the
SOURCE notebook in ``solutions/`` (trusted). The learner's notebook only
decides which cells are the learner's program; what it did to the test cells
(deleted, edited, metadata changed, duplicated) is recorded as flags and never
changes what a check is worth.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from grader import cellsource, notebook
from grader.batch import TestCell
from grader.cellsource import CheckCall
from grader.checking.spec import get_spec
from grader.labs import lab_of
from grader.notebook import Notebook


class ScoringError(ValueError):
    """A source notebook breaks the scoring contract (fix the notebook, not the submission)."""


@dataclass
class Submission:
    """What the learner's notebook holds: the program to run, the test cells kept, flags."""

    program: list[tuple[int, str]]
    present: set[str]
    flags: list[str] = field(default_factory=list)
    written: list[tuple[int, str]] = field(default_factory=list)
    """Program cells the learner wrote or changed (given cells left as released are not)."""


@dataclass
class LabScore:
    """Points of one lab: per test cell ``(earned, max)`` and per check (earned)."""

    score: float
    max_score: float
    cells: dict[str, tuple[float, float]]
    checks: dict[str, float]


def test_cells(nb: Notebook, lab_id: str, visible_only: bool = False) -> list[TestCell]:
    """The graded test cells of a SOURCE notebook, checked against the scoring contract.

    With ``visible_only`` (a learner's own validation), hidden checks are left out,
    each cell is worth its visible checks, and the points contract is not enforced
    (a released notebook's points include its removed hidden checks).

    Raises:
        ScoringError: a test cell without grade_id or points, a duplicate grade_id,
            a call whose id is not a string literal or not a check of ``lab_id``, a
            check called by two cells, no check in a test cell, or points that differ
            from the sum of the cell's checks' points.
    """
    cells: list[TestCell] = []
    seen_ids: set[str] = set()
    seen_checks: set[str] = set()
    for cell in nb.test_cells():
        grade_id, points = cell.grade_id, cell.nbgrader.points
        if grade_id is None or points is None:
            raise ScoringError(f"graded test cell {cell.index} needs a grade_id and points")
        if grade_id in seen_ids:
            raise ScoringError(f"two cells share the grade_id {grade_id!r}")
        seen_ids.add(grade_id)
        try:
            calls = tuple(cell.check_calls())
        except (SyntaxError, RecursionError, MemoryError) as exc:
            raise ScoringError(f"test cell {grade_id!r} does not parse: {exc}") from exc
        hidden = frozenset(c.id for c in calls if c.literal and _hidden(c))
        if visible_only:
            calls = tuple(c for c in calls if c.literal and c.id not in hidden)
            if not calls:
                continue
        if not calls:
            raise ScoringError(f'test cell {grade_id!r} calls no check("<id>", ...)')
        check_points: dict[str, float] = {}
        for call in calls:
            if not call.literal:
                raise ScoringError(f"test cell {grade_id!r}, line {call.line}: check id must be "
                                   "a string literal")  # fmt: skip
            if lab_of(call.id) != lab_id:
                raise ScoringError(
                    f"test cell {grade_id!r} calls {call.id!r}, not a {lab_id} check"
                )
            if call.id in seen_checks:
                raise ScoringError(f"check {call.id!r} is called by two test cells")
            seen_checks.add(call.id)
            try:
                check_points[call.id] = get_spec(call.id).points
            except KeyError as exc:
                raise ScoringError(f"test cell {grade_id!r}: {exc.args[0]}") from exc
        total = sum(check_points.values())
        if not visible_only and abs(total - points) > 1e-9:
            raise ScoringError(
                f"test cell {grade_id!r} is worth {points:g} points but its checks "
                f"({', '.join(c.id for c in calls)}) add up to {total:g}"
            )
        worth = total if visible_only else points
        cells.append(TestCell(grade_id, worth, calls, cell.source, points, check_points, hidden))
    return cells


def _hidden(call: CheckCall) -> bool:
    """A hidden check: called in a hidden-test block, or declared hidden in its spec."""
    try:
        return call.hidden or get_spec(call.id).hidden
    except KeyError:
        return call.hidden  # an unknown id: reported by the caller


def given_cells(nb: Notebook) -> dict[str, str]:
    """grade_id -> source of the source notebook's locked code cells that are not tests."""
    return {
        cell.grade_id: cell.source
        for cell in nb.program()
        if cell.nbgrader.locked and not cell.is_solution and cell.grade_id is not None
    }


def analyse(
    nb: Notebook, trusted: Iterable[TestCell], given: Mapping[str, str] | None = None
) -> Submission:
    """Split a learner's notebook into its program and its test cells, flagging tampering.

    A cell is a test cell when its grade_id is one of the source's test cells or its
    metadata says so; every other code cell is the program (magics removed). Program
    cells identical to a ``given`` cell of the source are not the learner's writing.
    """
    given = given or {}
    by_id = {cell.grade_id: cell for cell in trusted}
    counts = Counter(notebook.grade_ids(nb.cells))
    flags = [f"duplicate-grade-id:{i}" for i, n in sorted(counts.items()) if n > 1]
    program: list[tuple[int, str]] = []
    written: list[tuple[int, str]] = []
    present: set[str] = set()
    edited: set[str] = set()
    for cell in nb.code_cells():
        grade_id = cell.grade_id
        if grade_id is not None and grade_id in by_id:
            mine = by_id[grade_id]
            present.add(mine.grade_id)
            if cellsource.normalised(cell.source, drop_hidden=True) != cellsource.normalised(
                mine.source, drop_hidden=True
            ):
                edited.add(mine.grade_id)
            if cell.nbgrader.points != mine.declared or not cell.is_test:
                flags.append(f"metadata-tampered:{mine.grade_id}")
        elif cell.is_test:
            flags.append(f"test-cell-unknown:{grade_id}")
        else:
            program.append((cell.index, cellsource.program_text(cell.source)))
            original = given.get(grade_id) if grade_id is not None else None
            if original is None or cellsource.normalised(original) != cellsource.normalised(
                cell.source
            ):
                written.append(program[-1])
    flags += [f"test-cell-edited:{i}" for i in sorted(edited)]
    flags += [f"test-cell-deleted:{i}" for i in by_id if i not in present]
    return Submission(program, present, flags, written)


def score_lab(
    trusted: Iterable[TestCell], present: set[str], passed: Mapping[str, bool]
) -> LabScore:
    """Each present test cell earns the points of its passing checks; a deleted one earns 0."""
    cells: dict[str, tuple[float, float]] = {}
    checks: dict[str, float] = {}
    for cell in trusted:
        earned = 0.0
        for call in cell.checks:
            points = cell.check_points[call.id]
            ok = cell.grade_id in present and passed.get(call.id, False)
            checks[call.id] = points if ok else 0.0
            earned += checks[call.id]
        cells[cell.grade_id] = (earned, cell.points)
    score = sum(e for e, _ in cells.values())
    return LabScore(score, sum(p for _, p in cells.values()), cells, checks)
