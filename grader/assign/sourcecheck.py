"""Checks on nbgrader source notebooks: regions, check calls, points, and leaks into a release.

A source notebook keeps solutions between ``### BEGIN SOLUTION`` and
``### END SOLUTION`` and hidden tests between ``### BEGIN HIDDEN TESTS`` and
``### END HIDDEN TESTS``. Markers are found by :mod:`grader.notebook` (leniently, so
that a misspelt marker nbgrader would not strip is still treated as secret and
caught by :func:`leaks`).
"""

from __future__ import annotations

import math
from collections import Counter

from grader.cellsource import MARKER, lines
from grader.labs import Lab, lab_of
from grader.notebook import Notebook

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


def validate_source(nb: Notebook, lab: Lab) -> list[str]:
    """Problems that make a source notebook unfit for release (empty when fine)."""
    from grader.checking.spec import get_spec

    problems = []
    grade_ids = [c.grade_id for c in nb.cells if c.nbgrader.present]
    for grade_id, count in Counter(grade_ids).items():
        if grade_id is None:
            problems.append(f"{count} nbgrader cell(s) without a grade_id")
        elif count > 1:
            problems.append(f"grade_id {grade_id!r} is used by {count} cells")
    graded_by: dict[str, str] = {}
    for cell in nb.cells:
        meta = cell.nbgrader
        where = f"cell {cell.index} ({meta.grade_id or 'no grade_id'})"
        found = cell.regions
        problems += [f"{where}: {p}" for p in found.problems]
        if found.solution and not cell.is_solution:
            problems.append(f"{where}: a solution region in a cell not marked as a solution")
        if found.hidden and not cell.is_test:
            problems.append(f"{where}: hidden tests in a cell that is not a graded test cell")
        if cell.is_code and cell.is_solution and not found.solution:
            problems.append(f"{where}: solution cell without a ### BEGIN SOLUTION region")
        if meta.grade and meta.solution:
            problems.append(f"{where}: grade and solution both true (not supported)")
        if not cell.is_code:
            continue
        try:
            calls = cell.check_calls()
        except SyntaxError as exc:
            problems.append(f"{where}: does not parse ({exc.msg}, line {exc.lineno})")
            continue
        total = 0.0
        seen: set[str] = set()
        for call in calls:
            if not call.literal:
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
            if cell.is_test and call.id not in seen:
                seen.add(call.id)
                total += found_spec.points
                if graded_by.setdefault(call.id, where) != where:
                    problems.append(
                        f"{where}: check {call.id!r} is also graded in {graded_by[call.id]}"
                    )
        if cell.is_test:
            points = meta.points
            if not calls:
                problems.append(f"{where}: graded test cell calls no check")
            elif points is None or not math.isclose(points, total):
                shown = "missing" if points is None else f"{points:g}"
                problems.append(f"{where}: points is {shown} but its checks are worth {total:g}")
    return problems


def secret_lines(nb: Notebook) -> set[str]:
    """Stripped lines that appear only inside solution regions or hidden-test blocks."""
    inside: set[str] = set()
    outside: set[str] = set()
    for cell in nb.cells:
        found = cell.regions
        whole = cell.kind == "markdown" and cell.is_solution and not found.solution
        for number, line in enumerate(lines(cell.source)):
            secret = whole or number in found.solution or number in found.hidden
            (inside if secret else outside).add(line.strip())
    return {
        line
        for line in inside - outside
        if len(line) >= MIN_SECRET_LENGTH and not line.startswith("#") and line not in COMMON_LINES
    }


def leaks(released: Notebook, source: Notebook) -> list[str]:
    """Solution or hidden-test text found in a released notebook (empty when clean)."""
    secret = secret_lines(source)
    found = []
    for cell in released.cells:
        index = cell.index
        for number, line in enumerate(lines(cell.source), start=1):
            if MARKER.search(line):
                found.append(f"cell {index}, line {number}: marker {line.strip()!r}")
            elif line.strip() in secret:
                found.append(f"cell {index}, line {number}: solution text {line.strip()[:60]!r}")
    return found
