"""From graded test cells to check ids to points.

The graded test cells, their points and the checks they call come from the
SOURCE notebook in ``solutions/`` (trusted). The learner's notebook only
decides which cells are the learner's program; what it did to the test cells
(deleted, edited, metadata changed, duplicated) is recorded as flags and never
changes what a check is worth.
"""

from __future__ import annotations

import ast
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from grader.labs import lab_of
from grader.spec import get_spec

BEGIN_HIDDEN = "BEGIN HIDDEN TESTS"
END_HIDDEN = "END HIDDEN TESTS"


class ScoringError(ValueError):
    """A source notebook breaks the scoring contract (fix the notebook, not the submission)."""


@dataclass(frozen=True)
class CheckCall:
    """``check("<id>", ...)`` in a test cell; ``hidden`` when inside the hidden-test block."""

    id: str
    hidden: bool


@dataclass(frozen=True)
class TestCell:
    """A graded test cell of the source notebook."""

    grade_id: str
    points: float
    checks: tuple[CheckCall, ...]
    source: str
    declared: float = 0.0
    """The cell's ``points`` metadata (equal to ``points`` except for visible-only validation)."""

    @property
    def visible_source(self) -> str:
        """The source as released to learners (hidden block removed)."""
        return without_hidden(self.source)


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


def nbgrader_meta(cell: Mapping[str, Any]) -> dict[str, Any]:
    meta = cell.get("metadata", {}).get("nbgrader", {})
    return dict(meta) if isinstance(meta, Mapping) else {}


def is_test_cell(cell: Mapping[str, Any]) -> bool:
    """An nbgrader graded test cell: a code cell with grade=True and solution=False."""
    meta = nbgrader_meta(cell)
    return cell.get("cell_type") == "code" and bool(meta.get("grade")) and not meta.get("solution")


def without_hidden(source: str) -> str:
    """``source`` with the hidden-test block removed, markers included (as nbgrader releases it)."""
    lines, hidden = [], False
    for line in source.split("\n"):
        if BEGIN_HIDDEN in line:
            hidden = True
        elif END_HIDDEN in line:
            hidden = False
        elif not hidden:
            lines.append(line)
    return "\n".join(lines)


def _hidden_lines(source: str) -> set[int]:
    hidden, inside = set(), False
    for number, line in enumerate(source.split("\n"), start=1):
        if BEGIN_HIDDEN in line:
            inside = True
        elif END_HIDDEN in line:
            inside = False
        elif inside:
            hidden.add(number)
    return hidden


def check_calls(source: str) -> list[CheckCall]:
    """Every ``check("<literal id>", ...)`` (or ``grader.check(...)``) call in a cell, in order."""
    tree = ast.parse(strip_magics(source))
    hidden = _hidden_lines(source)
    calls = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call) or not node.args:
            continue
        func = node.func
        name = func.id if isinstance(func, ast.Name) else getattr(func, "attr", "")
        first = node.args[0]
        if name == "check" and isinstance(first, ast.Constant) and isinstance(first.value, str):
            calls.append(
                (node.lineno, node.col_offset, CheckCall(first.value, node.lineno in hidden))
            )
    return [call for _, _, call in sorted(calls, key=lambda c: (c[0], c[1]))]


def strip_magics(source: str) -> str:
    """Drop IPython magics and shell escapes (lines starting with ``%`` or ``!``)."""
    return "\n".join(
        "" if line.lstrip().startswith(("%", "!")) else line for line in source.split("\n")
    )


def test_cells(nb: Mapping[str, Any], lab_id: str, visible_only: bool = False) -> list[TestCell]:
    """The graded test cells of a SOURCE notebook, checked against the scoring contract.

    With ``visible_only`` (a learner's own validation), hidden checks are left out,
    each cell is worth its visible checks, and the points contract is not enforced
    (a released notebook's points include its removed hidden checks).

    Raises:
        ScoringError: a test cell without grade_id or points, a duplicate grade_id,
            a call whose id is not a check of ``lab_id``, a check called by two
            cells, no check in a test cell, or points that differ from the sum
            of the cell's checks' points.
    """
    cells: list[TestCell] = []
    seen_ids: set[str] = set()
    seen_checks: set[str] = set()
    for cell in nb.get("cells", []):
        if not is_test_cell(cell):
            continue
        meta = nbgrader_meta(cell)
        grade_id, points = meta.get("grade_id"), meta.get("points")
        if not isinstance(grade_id, str) or not isinstance(points, (int, float)):
            raise ScoringError(f"a graded test cell needs a grade_id and points: {meta}")
        if grade_id in seen_ids:
            raise ScoringError(f"two cells share the grade_id {grade_id!r}")
        seen_ids.add(grade_id)
        source = "".join(cell.get("source", ""))
        try:
            calls = tuple(check_calls(source))
        except SyntaxError as exc:
            raise ScoringError(f"test cell {grade_id!r} does not parse: {exc}") from exc
        if visible_only:
            calls = tuple(c for c in calls if not c.hidden and not get_spec(c.id).hidden)
            if not calls:
                continue
        if not calls:
            raise ScoringError(f'test cell {grade_id!r} calls no check("<id>", ...)')
        total = 0.0
        for call in calls:
            if lab_of(call.id) != lab_id:
                raise ScoringError(
                    f"test cell {grade_id!r} calls {call.id!r}, not a {lab_id} check"
                )
            if call.id in seen_checks:
                raise ScoringError(f"check {call.id!r} is called by two test cells")
            seen_checks.add(call.id)
            try:
                total += get_spec(call.id).points
            except KeyError as exc:
                raise ScoringError(f"test cell {grade_id!r}: {exc.args[0]}") from exc
        declared = float(points)
        if visible_only:
            points = total
        elif abs(total - float(points)) > 1e-9:
            raise ScoringError(
                f"test cell {grade_id!r} is worth {points:g} points but its checks "
                f"({', '.join(c.id for c in calls)}) add up to {total:g}"
            )
        cells.append(TestCell(grade_id, float(points), calls, source, declared))
    return cells


def _normalized(source: str) -> str:
    return "\n".join(line.rstrip() for line in without_hidden(source).split("\n") if line.strip())


def given_cells(nb: Mapping[str, Any]) -> dict[str, str]:
    """grade_id -> source of the source notebook's locked code cells that are not tests."""
    return {
        str(meta["grade_id"]): "".join(cell.get("source", ""))
        for cell in nb.get("cells", [])
        if cell.get("cell_type") == "code"
        and (meta := nbgrader_meta(cell)).get("locked")
        and not meta.get("solution")
        and not is_test_cell(cell)
        and "grade_id" in meta
    }


def analyse(
    nb: Mapping[str, Any], trusted: Iterable[TestCell], given: Mapping[str, str] | None = None
) -> Submission:
    """Split a learner's notebook into its program and its test cells, flagging tampering.

    A cell is a test cell when its grade_id is one of the source's test cells or its
    metadata says so; every other code cell is the program (magics removed). Program
    cells identical to a ``given`` cell of the source are not the learner's writing.
    """
    given = given or {}
    by_id = {cell.grade_id: cell for cell in trusted}
    cells = [c for c in nb.get("cells", []) if isinstance(c, Mapping)]
    ids = [nbgrader_meta(c).get("grade_id") for c in cells]
    counts = Counter(i for i in ids if isinstance(i, str))
    flags = [f"duplicate-grade-id:{i}" for i, n in sorted(counts.items()) if n > 1]
    program: list[tuple[int, str]] = []
    written: list[tuple[int, str]] = []
    present: set[str] = set()
    edited: set[str] = set()
    for index, (cell, grade_id) in enumerate(zip(cells, ids, strict=True)):
        if cell.get("cell_type") != "code":
            continue
        source = "".join(cell.get("source", ""))
        if grade_id in by_id:
            mine = by_id[grade_id]
            present.add(mine.grade_id)
            if _normalized(source) != _normalized(mine.source):
                edited.add(mine.grade_id)
            meta = nbgrader_meta(cell)
            if meta.get("points") != mine.declared or not is_test_cell(cell):
                flags.append(f"metadata-tampered:{mine.grade_id}")
        elif is_test_cell(cell):
            flags.append(f"test-cell-unknown:{grade_id}")
        else:
            program.append((index, strip_magics(source)))
            original = given.get(grade_id) if isinstance(grade_id, str) else None
            if original is None or _normalized(original) != _normalized(source):
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
            points = get_spec(call.id).points
            ok = cell.grade_id in present and passed.get(call.id, False)
            checks[call.id] = points if ok else 0.0
            earned += checks[call.id]
        cells[cell.grade_id] = (earned, cell.points)
    score = sum(e for e, _ in cells.values())
    return LabScore(score, sum(p for _, p in cells.values()), cells, checks)
