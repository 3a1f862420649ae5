"""The grader's shape: layers that import downward only, no import circles, short modules that
say what they do, no repeated blocks in the check tables.

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


def import_lines(path: Path, name: str, known: dict[str, Path]) -> list[tuple[str, int]]:
    """The grader modules that ``path`` imports anywhere (top level, functions, type checks),
    each with the line of its import."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: list[tuple[str, int]] = []
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
                found.append((target, node.lineno))
    return sorted(set(found), key=lambda item: (item[1], item[0]))


def imported(path: Path, name: str, known: dict[str, Path]) -> set[str]:
    """The grader modules that ``path`` imports anywhere (top level, functions, type checks)."""
    return {target for target, _ in import_lines(path, name, known)}


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


def shown(path: Path) -> str:
    """A file as a message names it: from the repository's root, else by its name."""
    return str(path.relative_to(REPO)) if path.is_relative_to(REPO) else path.name


def layers(doc: str) -> list[tuple[str, ...]]:
    """The layer table of a docstring, bottom layer first: the indented lines after
    ``Layers:``, each a layer's names (``|`` between names side by side) and a description
    after two spaces; a line indented further continues the description above it."""
    lines = doc.split("Layers:\n", 1)[1].splitlines()
    found = []
    for line in lines:
        if not line.startswith("    "):
            break
        if line.startswith("     "):
            continue  # a description's next line
        names = line.strip().split("  ", 1)[0]
        found.append(tuple(part.strip() for part in names.split("|")))
    return found[::-1]


LAYERS = layers(ast.get_docstring(ast.parse((GRADER / "__init__.py").read_text())) or "")


def unit(module: str) -> str:
    """The layer table's name for a module: its top-level module or package under ``grader``
    (``grader.pipeline.discover`` -> ``pipeline``); ``grader`` for the package's own face."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else parts[0]


def upward(table: list[tuple[str, ...]], known: dict[str, Path]) -> list[str]:
    """Every import that goes to a layer above its module's or sideways to another name on
    the same line, as ``file:line: a imports b (layer i -> layer j)``."""
    level = {name: at for at, names in enumerate(table) for name in names}
    found = []
    for name, path in known.items():
        for target, line in import_lines(path, name, known):
            here, there = unit(name), unit(target)
            if here == there or name.startswith(target + "."):
                continue  # inside one package, or a package's face re-exporting its modules
            if here not in level or there not in level:
                found.append(f"{shown(path)}:{line}: {here} or {there} has no layer")
            elif level[there] >= level[here]:
                found.append(
                    f"{shown(path)}:{line}: {name} imports {target} "
                    f"({here}, layer {level[here]} -> {there}, layer {level[there]})"
                )
    return found


def test_the_layer_check_sees_an_upward_import(tmp_path: Path) -> None:
    """Does the layer check name the file, line and layers of an import that goes up or
    sideways, and pass one that goes down?"""
    doc = "Picture.\n\nLayers:\n    top  the top\n         more words\n    a | b  side\n    low\n"
    table = layers(doc)
    assert table == [("low",), ("a", "b"), ("top",)]
    (tmp_path / "low.py").write_text("import os\n\nfrom grader.top import x\n")
    (tmp_path / "a.py").write_text("from grader import low\nfrom grader.b import y\n")
    (tmp_path / "b.py").write_text("y = 1\n")
    (tmp_path / "top.py").write_text("def f():\n    from grader.a import z\n")
    known = {f"grader.{path.stem}": path for path in tmp_path.glob("*.py")}
    assert sorted(upward(table, known)) == [
        "a.py:2: grader.a imports grader.b (a, layer 1 -> b, layer 1)",
        "low.py:3: grader.low imports grader.top (low, layer 0 -> top, layer 2)",
    ]


def test_every_module_has_a_layer() -> None:
    """Does the layer table in ``grader/__init__.py`` place every module and package of the
    grader (and name nothing that is gone)?"""
    placed = [name for names in LAYERS for name in names]
    units = {unit(name) for name in modules()}
    assert len(placed) == len(set(placed)), "a name stands twice in the layer table"
    assert sorted(units - set(placed)) == [], "give these a layer in grader/__init__.py"
    assert sorted(set(placed) - units) == [], "these are in the layer table but not in grader/"


def test_imports_go_down_the_layers() -> None:
    """Does every import of the grader go to a layer below its module's (never up, never
    sideways to a package on the same line)?"""
    assert upward(LAYERS, modules()) == []


def test_no_two_packages_import_each_other() -> None:
    """Are the grader's packages and top-level modules free of circles among themselves
    (two that import each other, directly or through others)?"""
    edges: dict[str, set[str]] = {}
    for name, targets in graph().items():
        edges.setdefault(unit(name), set()).update(
            unit(t) for t in targets if unit(t) != unit(name)
        )
    assert list(cycles(edges)) == []


def face_imports(path: Path, package: str, known: dict[str, Path]) -> list[str]:
    """Where a module of ``package`` imports through the package's own face: in a subpackage
    any ``from <package> import ...`` or ``import <package>``; in ``grader`` itself, a name
    that is not one of its modules (``from grader import config`` names a module)."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                up = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*up, *([base] if base else [])])
            if base != package:
                continue
            names = [alias.name for alias in node.names]
            if package != "grader" or any(f"{package}.{n}" not in known for n in names):
                found.append(f"{shown(path)}:{node.lineno}: from {base} import "
                             f"{', '.join(names)}")  # fmt: skip
        elif isinstance(node, ast.Import) and package != "grader":
            found += [f"{shown(path)}:{node.lineno}: import {alias.name}"
                      for alias in node.names if alias.name == package]  # fmt: skip
    return found


def test_the_face_check_sees_a_face_import(tmp_path: Path) -> None:
    """Is an import of a module's own package face found, and a sibling imported by module
    not?"""
    source = tmp_path / "m.py"
    source.write_text(
        "from grader.sandbox import bwrap\nimport grader.sandbox.bwrap as b\n"
        "import grader.sandbox\nfrom grader.sandbox.bwrap import x\nfrom . import site\n"
    )
    found = [line.split(": ", 1)[1] for line in face_imports(source, "grader.sandbox", {})]
    assert found == [
        "from grader.sandbox import bwrap",
        "import grader.sandbox",
        "from grader.sandbox import site",
    ]


def test_no_module_imports_its_own_package_face() -> None:
    """Does every module of a package import its siblings by module
    (``from grader.sandbox.bwrap import ...``), never through its own package's
    ``__init__``?"""
    known = modules()
    found = []
    for name, path in known.items():
        if path.name != "__init__.py":
            found += face_imports(path, name.rpartition(".")[0], known)
    assert found == []
