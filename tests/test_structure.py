"""The grader's shape: no import circles, short modules that say what they do, no repeated
blocks in the check tables.

These read the source as text and syntax trees; nothing is imported or run.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
GRADER = REPO / "grader"
MAX_LINES = 400
REPEAT = 6  # lines
TABLES = ("checking/specs", "checking/hidden")


def modules() -> dict[str, Path]:
    """Dotted name -> file, for every module of the grader package."""
    found = {}
    for path in sorted(GRADER.rglob("*.py")):
        parts = path.relative_to(REPO).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        found[name] = path
    return found


def imported(path: Path, name: str, known: dict[str, Path]) -> set[str]:
    """The grader modules that ``path`` imports anywhere (top level, functions, type checks)."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = ".".join([*package.split(".")[: len(package.split(".")) - node.level + 1],
                                 *([base] if base else [])])  # fmt: skip
            targets = [
                f"{base}.{alias.name}" if f"{base}.{alias.name}" in known else base
                for alias in node.names
            ]
        else:
            continue
        for target in targets:
            while target and target not in known:
                target = target.rpartition(".")[0]
            if target and target != name and target.startswith("grader"):
                found.add(target)
    return found


def graph() -> dict[str, set[str]]:
    known = modules()
    edges = {name: imported(path, name, known) for name, path in known.items()}
    for name in edges:  # a package's own __init__ re-exporting is not an edge back up
        edges[name] = {t for t in edges[name] if not name.startswith(t + ".")}
    return edges


def cycles(edges: dict[str, set[str]]) -> Iterator[list[str]]:
    """Every strongly connected group of two or more modules (Tarjan's algorithm, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    for root in edges:
        if root in index:
            continue
        work = [(root, iter(sorted(edges[root])))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(edges.get(child, ())))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                group = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    group.append(member)
                    if member == node:
                        break
                if len(group) > 1:
                    yield sorted(group)


def test_the_walker_sees_a_circle(tmp_path: Path) -> None:
    """Does the cycle finder report a circle hidden behind a deferred import, and only it?"""
    edges = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}, "e": set()}
    assert list(cycles(edges)) == [["a", "b", "c"]]
    source = tmp_path / "m.py"
    source.write_text("def f():\n    from grader import labs\n")
    assert imported(source, "grader.m", {"grader.labs": Path(), "grader": Path()}) == {
        "grader.labs"
    }


def test_no_import_circles() -> None:
    """Do the grader's modules import each other without a circle (deferred imports count)?"""
    assert list(cycles(graph())) == []


@pytest.mark.parametrize("name", sorted(modules()))
def test_module_is_short_and_says_what_it_does(name: str) -> None:
    """Is every module at most 400 lines, opening with a docstring whose first line says
    what it does?"""
    path = modules()[name]
    text = path.read_text(encoding="utf-8")
    assert len(text.splitlines()) <= MAX_LINES, f"{path.relative_to(REPO)} is too long"
    doc = ast.get_docstring(ast.parse(text))
    assert doc and doc.splitlines()[0].strip(), f"{path.relative_to(REPO)} has no docstring"


def repeated_blocks(
    paths: list[Path], size: int = REPEAT, root: Path = REPO
) -> list[tuple[str, str]]:
    """Pairs of places where ``size`` consecutive non-blank, non-comment lines (whitespace
    normalised) stand twice."""
    first: dict[tuple[str, ...], str] = {}
    pairs = []
    for path in paths:
        lines = [
            (n, " ".join(line.split())) for n, line in enumerate(path.read_text().splitlines(), 1)
        ]
        lines = [(n, line) for n, line in lines if line and not line.startswith("#")]
        for at in range(len(lines) - size + 1):
            block = tuple(line for _, line in lines[at : at + size])
            where = f"{path.relative_to(root)}:{lines[at][0]}"
            if block in first:
                pairs.append((first[block], where))
            else:
                first[block] = where
    return pairs


def test_the_repeat_finder_finds_a_repeat(tmp_path: Path) -> None:
    """Does the finder report six repeated lines (and not five)?"""
    body = "".join(f"x{i} = {i}\n" for i in range(6))
    (tmp_path / "a.py").write_text(body + "\n# note\n" + body)
    (tmp_path / "b.py").write_text(body + "z = 0\n" + body.replace("x2 = 2", "y2 = 2"))
    assert len(repeated_blocks([tmp_path / "a.py"], root=tmp_path)) == 1
    assert repeated_blocks([tmp_path / "b.py"], root=tmp_path) == []


def test_check_tables_repeat_no_block() -> None:
    """Is no block of six or more lines repeated in the check tables (specs and hidden)?"""
    paths = sorted(p for folder in TABLES for p in (GRADER / folder).rglob("*.py"))
    assert paths, "the check tables moved: update TABLES"
    assert repeated_blocks(paths) == []


def test_one_lab_table() -> None:
    """Is the lab table kept once: does ``micrograd_plus`` name no lab list of its own?"""
    source = (REPO / "micrograd_plus" / "__init__.py").read_text(encoding="utf-8")
    assert "LAB_MODULES" not in source
