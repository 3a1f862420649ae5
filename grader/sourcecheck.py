"""Checks on nbgrader source notebooks: regions, check calls, points, and leaks into a release.

A source notebook keeps solutions between ``### BEGIN SOLUTION`` and
``### END SOLUTION`` and hidden tests between ``### BEGIN HIDDEN TESTS`` and
``### END HIDDEN TESTS``. Markers are matched leniently here (any number of
``#``, any case) so that a misspelt marker nbgrader would not strip is still
treated as secret and caught by :func:`leaks`.
"""

from __future__ import annotations

import ast
import math
import re
from collections import Counter
from dataclasses import dataclass
from typing import Any

from grader.labs import Lab, lab_of

_BEGIN_SOLUTION = re.compile(r"^\s*#+\s*BEGIN\s+SOLUTIONS?\b", re.IGNORECASE)
_END_SOLUTION = re.compile(r"^\s*#+\s*END\s+SOLUTIONS?\b", re.IGNORECASE)
_BEGIN_HIDDEN = re.compile(r"^\s*#+\s*BEGIN\s+HIDDEN\s+TESTS?\b", re.IGNORECASE)
_END_HIDDEN = re.compile(r"^\s*#+\s*END\s+HIDDEN\s+TESTS?\b", re.IGNORECASE)
MARKER = re.compile(r"\b(BEGIN|END)\s+(SOLUTIONS?|HIDDEN\s+TESTS?)\b", re.IGNORECASE)
"""Any solution or hidden-test marker, wherever it stands on a line."""

MIN_SECRET_LENGTH = 12
COMMON_LINES = frozenset(
    {
        "return out",
        "return self",
        "raise NotImplementedError()",
        "out._backward = _backward",
        "def _backward():",
        "return Tensor(out)",
        "for p in self.parameters():",
        "return result",
    }
)
"""Lines short or generic enough to appear in a solution without giving it away."""


def nbgrader_meta(cell: Any) -> dict[str, Any]:
    """The cell's ``metadata.nbgrader`` (empty when it has none)."""
    return dict(cell.get("metadata", {}).get("nbgrader", {}))


def is_graded_test(cell: Any) -> bool:
    """An autograded test cell: code, ``grade`` true, ``solution`` false."""
    meta = nbgrader_meta(cell)
    return cell.get("cell_type") == "code" and bool(meta.get("grade")) and not meta.get("solution")


def is_solution(cell: Any) -> bool:
    """A cell the learner writes in (``solution`` true)."""
    return bool(nbgrader_meta(cell).get("solution"))


@dataclass(frozen=True)
class Regions:
    """0-based line numbers inside solution regions and hidden-test blocks (markers included)."""

    solution: frozenset[int]
    hidden: frozenset[int]
    problems: tuple[str, ...] = ()


def regions(source: str) -> Regions:
    """Find the solution regions and hidden-test blocks of one cell's source."""
    solution: set[int] = set()
    hidden: set[int] = set()
    problems: list[str] = []
    open_kind: str | None = None
    start = 0
    for number, line in enumerate(source.splitlines()):
        for kind, begin, end, lines in (
            ("solution", _BEGIN_SOLUTION, _END_SOLUTION, solution),
            ("hidden tests", _BEGIN_HIDDEN, _END_HIDDEN, hidden),
        ):
            if begin.match(line):
                if open_kind is not None:
                    problems.append(f"line {number + 1}: {kind} region opened inside {open_kind}")
                open_kind, start = kind, number
            elif end.match(line):
                if open_kind != kind:
                    problems.append(f"line {number + 1}: END {kind.upper()} without its BEGIN")
                else:
                    lines.update(range(start, number + 1))
                    open_kind = None
    if open_kind is not None:
        problems.append(f"line {start + 1}: BEGIN {open_kind.upper()} is never closed")
        (solution if open_kind == "solution" else hidden).update(
            range(start, len(source.splitlines()))
        )
    return Regions(frozenset(solution), frozenset(hidden), tuple(problems))


def program_text(source: str) -> str:
    """Cell source with IPython magics and shell lines blanked (line numbers kept)."""
    return "\n".join(
        "" if line.lstrip().startswith(("%", "!")) else line for line in source.splitlines()
    )


@dataclass(frozen=True)
class CheckCall:
    """One ``check(...)`` call in a cell: its literal id (None when not a literal)."""

    id: str | None
    line: int
    hidden: bool


def check_calls(source: str) -> list[CheckCall]:
    """The ``check("<id>", ...)`` calls of a cell, in order (raises SyntaxError)."""
    tree = ast.parse(program_text(source))
    hidden_lines = regions(source).hidden
    calls = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        func = node.func
        name = func.id if isinstance(func, ast.Name) else getattr(func, "attr", None)
        if name != "check":
            continue
        first = node.args[0] if node.args else None
        for keyword in node.keywords:
            if keyword.arg == "check_id":
                first = keyword.value
        literal = first.value if isinstance(first, ast.Constant) else None
        check_id = literal if isinstance(literal, str) else None
        calls.append(CheckCall(check_id, node.lineno, node.lineno - 1 in hidden_lines))
    return sorted(calls, key=lambda call: call.line)


def test_cell_checks(cell: Any) -> list[str]:
    """The distinct check ids a graded test cell calls, visible then hidden, in order."""
    ids = [call.id for call in check_calls(cell.source) if call.id is not None]
    return list(dict.fromkeys(ids))


def validate_source(nb: Any, lab: Lab) -> list[str]:
    """Problems that make a source notebook unfit for release (empty when fine)."""
    from grader.spec import get_spec

    problems = []
    grade_ids = [nbgrader_meta(c).get("grade_id") for c in nb.cells if nbgrader_meta(c)]
    for grade_id, count in Counter(grade_ids).items():
        if grade_id is None:
            problems.append(f"{count} nbgrader cell(s) without a grade_id")
        elif count > 1:
            problems.append(f"grade_id {grade_id!r} is used by {count} cells")
    graded_by: dict[str, str] = {}
    for index, cell in enumerate(nb.cells):
        meta = nbgrader_meta(cell)
        where = f"cell {index} ({meta.get('grade_id', 'no grade_id')})"
        found = regions(cell.source)
        problems += [f"{where}: {p}" for p in found.problems]
        if found.solution and not is_solution(cell):
            problems.append(f"{where}: a solution region in a cell not marked as a solution")
        if found.hidden and not is_graded_test(cell):
            problems.append(f"{where}: hidden tests in a cell that is not a graded test cell")
        if cell.cell_type == "code" and is_solution(cell) and not found.solution:
            problems.append(f"{where}: solution cell without a ### BEGIN SOLUTION region")
        if meta.get("grade") and meta.get("solution"):
            problems.append(f"{where}: grade and solution both true (not supported)")
        if cell.cell_type != "code":
            continue
        try:
            calls = check_calls(cell.source)
        except SyntaxError as exc:
            problems.append(f"{where}: does not parse ({exc.msg}, line {exc.lineno})")
            continue
        total = 0.0
        seen: set[str] = set()
        for call in calls:
            if call.id is None:
                problems.append(f"{where}, line {call.line}: check id must be a string literal")
                continue
            try:
                found_spec = get_spec(call.id)
            except KeyError as exc:
                problems.append(f"{where}, line {call.line}: {exc.args[0]}")
                continue
            if lab_of(call.id) != lab.id:
                problems.append(f"{where}: check {call.id!r} belongs to another lab than {lab.id}")
            if found_spec.hidden and not call.hidden:
                problems.append(
                    f"{where}, line {call.line}: hidden check {call.id!r} called outside "
                    "### BEGIN HIDDEN TESTS (learners do not have it)"
                )
            if is_graded_test(cell) and call.id not in seen:
                seen.add(call.id)
                total += found_spec.points
                if graded_by.setdefault(call.id, where) != where:
                    problems.append(
                        f"{where}: check {call.id!r} is also graded in {graded_by[call.id]}"
                    )
        if is_graded_test(cell):
            points = meta.get("points")
            if not calls:
                problems.append(f"{where}: graded test cell calls no check")
            elif not isinstance(points, (int, float)) or not math.isclose(points, total):
                problems.append(f"{where}: points is {points!r} but its checks are worth {total:g}")
    return problems


def secret_lines(nb: Any) -> set[str]:
    """Stripped lines that appear only inside solution regions or hidden-test blocks."""
    inside: set[str] = set()
    outside: set[str] = set()
    for cell in nb.cells:
        lines = cell.source.splitlines()
        found = regions(cell.source)
        whole = cell.cell_type == "markdown" and is_solution(cell) and not found.solution
        for number, line in enumerate(lines):
            secret = whole or number in found.solution or number in found.hidden
            (inside if secret else outside).add(line.strip())
    return {
        line
        for line in inside - outside
        if len(line) >= MIN_SECRET_LENGTH and not line.startswith("#") and line not in COMMON_LINES
    }


def leaks(released: Any, source: Any) -> list[str]:
    """Solution or hidden-test text found in a released notebook (empty when clean)."""
    secret = secret_lines(source)
    found = []
    for index, cell in enumerate(released.cells):
        for number, line in enumerate(cell.source.splitlines(), start=1):
            if MARKER.search(line):
                found.append(f"cell {index}, line {number}: marker {line.strip()!r}")
            elif line.strip() in secret:
                found.append(f"cell {index}, line {number}: solution text {line.strip()[:60]!r}")
    return found
