"""A cell's source text: nbgrader's markers, solution and hidden-test regions, ``check()`` calls.

Text questions only (no notebook structure): where the ``BEGIN SOLUTION`` / ``BEGIN HIDDEN
TESTS`` regions are, the source as nbgrader releases it, what counts as an edit, and which
``check("<id>")`` calls a cell makes. :mod:`grader.notebook` asks them of its cells.
"""

from __future__ import annotations

import ast
import re
import threading
from dataclasses import dataclass

MARKER = re.compile(r"\b(BEGIN|END)\s+(SOLUTIONS?|HIDDEN\s+TESTS?)\b", re.IGNORECASE)
"""A solution or hidden-test marker, wherever it stands on a line and however it is spelt.

Matched leniently (any case, singular or plural, with or without ``###``) so that
a marker nbgrader would strip and a misspelt one nbgrader would not are both
treated as secret boundaries."""


_NEWLINE = re.compile(r"\r\n|\r|\n")


_PARSE_LOCK = threading.Lock()


@dataclass(frozen=True)
class CheckCall:
    """One ``check(...)`` call: its id, 1-based line and whether it is in a hidden-test block.

    ``literal`` is false (and ``id`` empty) when the id is not a string literal.
    """

    id: str
    line: int
    hidden: bool
    literal: bool = True


@dataclass(frozen=True)
class Regions:
    """0-based line numbers inside solution regions and hidden-test blocks (markers included)."""

    solution: frozenset[int]
    hidden: frozenset[int]
    problems: tuple[str, ...] = ()


def lines(source: str) -> list[str]:
    """A cell's lines, split as Python's tokenizer splits them (``\\r\\n``, ``\\r``, ``\\n``)."""
    return _NEWLINE.split(source)


def program_text(source: str) -> str:
    """Cell source with IPython magics and shell lines (``%``, ``!``) blanked; numbering kept."""
    return "\n".join("" if line.lstrip().startswith(("%", "!")) else line for line in lines(source))


def marker(line: str) -> tuple[str, str] | None:
    """``("begin" | "end", "solution" | "hidden")`` when ``line`` holds a marker, else None."""
    found = MARKER.search(line)
    if found is None:
        return None
    kind = "hidden" if found[2].upper().startswith("HIDDEN") else "solution"
    return found[1].lower(), kind


def regions(source: str) -> Regions:
    """The solution regions and hidden-test blocks of one cell's source, and marker problems."""
    found: dict[str, set[int]] = {"solution": set(), "hidden": set()}
    names = {"solution": "solution", "hidden": "hidden tests"}
    problems: list[str] = []
    open_kind: str | None = None
    start = 0
    text = lines(source)
    for number, line in enumerate(text):
        mark = marker(line)
        if mark is None:
            continue
        edge, kind = mark
        if edge == "begin":
            if open_kind is not None:
                problems.append(
                    f"line {number + 1}: {names[kind]} region opened inside {names[open_kind]}"
                )
            open_kind, start = kind, number
        elif open_kind != kind:
            problems.append(f"line {number + 1}: END {names[kind].upper()} without its BEGIN")
        else:
            found[kind].update(range(start, number + 1))
            open_kind = None
    if open_kind is not None:
        problems.append(f"line {start + 1}: BEGIN {names[open_kind].upper()} is never closed")
        found[open_kind].update(range(start, len(text)))
    return Regions(frozenset(found["solution"]), frozenset(found["hidden"]), tuple(problems))


def without_hidden(source: str) -> str:
    """``source`` with its hidden-test blocks removed, markers included (as nbgrader releases)."""
    hidden = regions(source).hidden
    return "\n".join(line for n, line in enumerate(lines(source)) if n not in hidden)


def stub_solutions(source: str) -> str:
    """``source`` as nbgrader releases it: each solution region becomes a stub at its indent."""
    solution = regions(source).solution
    out: list[str] = []
    for number, line in enumerate(lines(source)):
        if number not in solution:
            out.append(line)
        elif marker(line) == ("begin", "solution"):
            indent = line[: len(line) - len(line.lstrip())]
            out += [f"{indent}# YOUR CODE HERE", f"{indent}raise NotImplementedError()"]
    return "\n".join(out)


def normalised(source: str, *, drop_hidden: bool = False) -> str:
    """Source without trailing spaces and blank lines (and hidden-test blocks when
    ``drop_hidden``, to compare a test cell with its release): what counts as an edit."""
    text = without_hidden(source) if drop_hidden else source
    return "\n".join(line.rstrip() for line in lines(text) if line.strip())


def parse(source: str) -> ast.Module:
    """``ast.parse`` under one lock: CPython 3.11's AST constructor is not thread-safe.

    Raises SyntaxError, and RecursionError or MemoryError for code nested past the
    parser's limits.
    """
    with _PARSE_LOCK:
        return ast.parse(source)


def check_calls(source: str) -> list[CheckCall]:
    """Every ``check(...)`` (or ``grader.check(...)``) call of a cell, in source order.

    The id is the first argument or ``check_id=``, when it is a string literal.
    Raises SyntaxError when the cell does not parse.
    """
    tree = parse(program_text(source))
    hidden = regions(source).hidden
    calls: list[tuple[int, int, str | None]] = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        func = node.func
        name = func.id if isinstance(func, ast.Name) else getattr(func, "attr", None)
        if name != "check":
            continue
        first: ast.expr | None = node.args[0] if node.args else None
        for keyword in node.keywords:
            if keyword.arg == "check_id":
                first = keyword.value
        value = first.value if isinstance(first, ast.Constant) else None
        calls.append((node.lineno, node.col_offset, value if isinstance(value, str) else None))
    return [
        CheckCall(check_id or "", line, line - 1 in hidden, check_id is not None)
        for line, _, check_id in sorted(calls, key=lambda c: (c[0], c[1]))
    ]


def imports(source: str) -> list[str]:
    """Modules a cell imports at its top level (``from a import b`` gives ``a`` and ``a.b``,
    since ``b`` may be a submodule); an empty list when the cell does not parse."""
    try:
        tree = parse(program_text(source))
    except (SyntaxError, RecursionError, MemoryError):
        return []
    names: list[str] = []
    for node in tree.body:
        if isinstance(node, ast.Import):
            names += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            names.append(node.module)
            names += [f"{node.module}.{a.name}" for a in node.names if a.name != "*"]
    return names
