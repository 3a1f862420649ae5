"""Integrity scan: what in a learner's program deserves an instructor's look.

An AST walk over the learner's program cells flags imports of torch,
``micrograd_plus`` (the reference engine), ``importlib``, ``ctypes`` and
``subprocess``; process-spawning and exit calls; ``__import__``, ``exec``,
``eval`` and ``compile``; writes to attributes of imported modules
(``np.testing.assert_allclose = ...``), ``sys.modules`` writes, and changes to
IPython or interpreter hooks and to ``builtins``; ``exec`` and its kin renamed or passed on,
attribute names built at run time on modules (``getattr(sys, "_get" + "frame")``), and writes
through a module's alias (``X = numpy``). Writes to settings learners change in plain sight
(``plt.rcParams[...]``, ``os.environ[...]``) are not flagged; an import inside ``try`` goes
unflagged only for torch (the labs' optional comparisons). A cell that does not parse is
flagged ``syntax-error``; one nested past the parser's limits, ``scan-failed``.
Cells are parsed under :func:`grader.cellsource.parse`'s lock, so that the scan gives
the same answer in every thread of a batch. Flags go into the report; they never change a score
(the sandbox, not this scan, keeps scores honest).
"""

from __future__ import annotations

import ast
from collections.abc import Collection, Iterator
from dataclasses import dataclass

from grader import cellsource
from grader.labs import blocked_modules
from grader.notebook import Notebook
from grader.pipeline.scanrules import (
    DYNAMIC_CALLS,
    EXIT_CALLS,
    FLAGGED_IMPORTS,
    GUARDED_OK,
    HOOK_ATTRIBUTES,
    INTROSPECTION_ATTRIBUTES,
    INTROSPECTION_CALLS,
    KINDS,
    PROCESS_CALLS,
    REFERENCE_MODULES,
    RISKY_NAMES,
    SETTINGS,
    SUBMODULES,
    SYS_HOOKS,
)

__all__ = ["KINDS", "Flag", "instructor_sources", "scan", "scan_notebook", "summary"]


@dataclass(frozen=True)
class Flag:
    """One finding: ``cell`` indexes the scanned sources (0-based), ``line`` is 1-based."""

    cell: int
    line: int
    kind: str
    detail: str

    def __str__(self) -> str:
        return f"{self.kind} (cell {self.cell}, line {self.line})"


def scan(sources: list[str], *, lab: str | None = None, given: Collection[str] = ()) -> list[Flag]:
    """Flag what an instructor should look at in a learner's program.

    Args:
        sources: the program's cells, in order (IPython ``%`` and ``!`` lines are dropped).
        lab: the lab graded; only its blocked ``micrograd_plus`` modules (this lab's and later
            ones') are flagged then, else every lab's reference module is.
        given: cells the instructor wrote (:func:`instructor_sources`); a cell whose source
            is one of them, unchanged, is not scanned.

    Returns:
        Flags sorted by cell and line; empty for a clean program.

    An import inside ``try`` with an ``except ImportError`` (or broader) handler is an
    optional import (the labs' guarded torch comparisons) and is not flagged.
    """
    blocked = blocked_modules(lab) if lab else REFERENCE_MODULES
    skip = {cellsource.normalised(source) for source in given}
    flags: list[Flag] = []
    scanner = _Scanner(blocked)  # one for the program: a module imported above keeps its name
    for index, source in enumerate(sources):
        if skip and cellsource.normalised(source) in skip:
            continue
        found: dict[tuple[int, str], str] = {}
        try:
            tree = cellsource.parse(cellsource.program_text(source))
            for line, kind, detail in scanner.run(tree):
                found.setdefault((line, kind), detail)
        except SyntaxError as exc:
            flags.append(Flag(index, exc.lineno or 1, "syntax-error", exc.msg))
            continue
        except (RecursionError, MemoryError) as exc:
            flags.append(Flag(index, 1, "scan-failed", f"nested too deeply ({type(exc).__name__})"))
            continue
        flags += [Flag(index, line, kind, detail) for (line, kind), detail in found.items()]
    return sorted(flags, key=lambda f: (f.cell, f.line, f.kind))


def scan_notebook(
    nb: Notebook, *, lab: str | None = None, given: Collection[str] = ()
) -> list[Flag]:
    """Scan a notebook's program: code cells but graded test cells; ``cell`` = notebook index.

    Args:
        nb: the learner's notebook.
        lab: as for :func:`scan`.
        given: as for :func:`scan`.
    """
    program = nb.program()
    flags = scan([cell.source for cell in program], lab=lab, given=given)
    return [Flag(program[f.cell].index, f.line, f.kind, f.detail) for f in flags]


def instructor_sources(nb: Notebook) -> set[str]:
    """Sources of a source or released notebook's code cells that learners do not write."""
    return {cell.source for cell in nb.code_cells() if not cell.is_solution}


def summary(flags: list[Flag]) -> str:
    """``"import-torch (cell 3, line 1); exec (cell 5, line 2)"``; empty when none."""
    return "; ".join(str(flag) for flag in flags)


class _Scanner:
    """One cell's walk; ``names`` maps local names to what they were imported as."""

    def __init__(self, blocked: Collection[str]) -> None:
        self.blocked = tuple(blocked)
        self.guarded: set[int] = set()
        self.names: dict[str, str] = {}
        self.modules: set[str] = set()
        self.ipython: set[str] = set()

    def run(self, tree: ast.AST) -> Iterator[tuple[int, str, str]]:
        for node in ast.walk(tree):
            if isinstance(node, ast.Try) and any(_catches_import(h.type) for h in node.handlers):
                self.guarded |= {
                    id(n)
                    for stmt in node.body
                    for n in ast.walk(stmt)
                    if isinstance(n, (ast.Import, ast.ImportFrom)) and _only_optional(n)
                }
        for node in ast.walk(tree):  # imports and aliases first, so later uses resolve
            if isinstance(node, (ast.Import, ast.ImportFrom)) and id(node) not in self.guarded:
                yield from self._import(node)
            elif isinstance(node, ast.Assign) and self._is_ipython(node.value):
                self.ipython.update(t.id for t in node.targets if isinstance(t, ast.Name))
            elif isinstance(node, ast.Assign) and self._is_module(node.value):
                full = self.qualified(node.value) or ""
                for target in node.targets:
                    if isinstance(target, ast.Name):  # X = numpy: writes through X are module edits
                        self.names[target.id] = full
                        self.modules.add(target.id)
        called = {id(n.func) for n in ast.walk(tree) if isinstance(n, ast.Call)}
        for node in ast.walk(tree):
            if isinstance(node, ast.Call):
                yield from self._call(node)
            elif isinstance(node, (ast.Assign, ast.AugAssign, ast.AnnAssign, ast.Delete)):
                targets = (
                    node.targets if isinstance(node, (ast.Assign, ast.Delete)) else [node.target]
                )
                for target in targets:
                    yield from self._write(target, node.lineno)
            elif isinstance(node, ast.Attribute) and node.attr in HOOK_ATTRIBUTES:
                if self._is_ipython(node.value):
                    yield node.lineno, "ipython-hook", f"get_ipython().{node.attr}"
            if isinstance(node, ast.Attribute):
                yield from self._attribute(node)
            elif isinstance(node, ast.Name) and node.id in DYNAMIC_CALLS and id(node) not in called:
                kind = DYNAMIC_CALLS[node.id]  # run = exec; run(...) or map(exec, ...)
                yield node.lineno, kind, f"{node.id} passed on or renamed (not called by name)"

    def _attribute(self, node: ast.Attribute) -> Iterator[tuple[int, str, str]]:
        """Private names of the grader's modules, and frames or code objects."""
        owner = self.qualified(node.value) or ""
        value = node.value
        if isinstance(value, ast.Subscript) and self.qualified(value.value) == "sys.modules":
            owner = str(_constant(value.slice) or "")  # sys.modules["grader.checking.spec"]._x
        private = node.attr.startswith("_") and not node.attr.startswith("__")
        if private and owner.split(".")[0] == "grader":
            yield node.lineno, "grader-internals", f"{owner}.{node.attr}"
        elif node.attr in INTROSPECTION_ATTRIBUTES:
            yield node.lineno, "introspection", f".{node.attr}"

    def _import(self, node: ast.Import | ast.ImportFrom) -> Iterator[tuple[int, str, str]]:
        if isinstance(node, ast.Import):
            for alias in node.names:
                local = alias.asname or alias.name.split(".")[0]
                self.names[local] = alias.name if alias.asname else local
                self.modules.add(local)
                yield from self._imported(alias.name, node.lineno)
            return
        module = "." * node.level + (node.module or "")
        yield from self._imported(module, node.lineno)
        for alias in node.names:
            full = f"{module}.{alias.name}"
            if module.split(".")[0] == "micrograd_plus":
                yield from self._imported(full, node.lineno)
            local = alias.asname or alias.name
            self.names[local] = full
            top = module.split(".")[0]
            if full in SUBMODULES or full in ("builtins", "sys") or top == "grader":
                self.modules.add(local)

    def _imported(self, name: str, line: int) -> Iterator[tuple[int, str, str]]:
        top = name.split(".")[0]
        if top == "micrograd_plus":
            if any(name == m or name.startswith(m + ".") for m in self.blocked):
                yield line, "import-micrograd_plus", f"import {name}"
        elif top in FLAGGED_IMPORTS:
            yield line, f"import-{top}", f"import {name}"

    def qualified(self, node: ast.AST) -> str | None:
        """``np.testing.allclose`` -> ``numpy.testing.allclose``; None if not a dotted name."""
        parts = []
        while isinstance(node, ast.Attribute):
            parts.append(node.attr)
            node = node.value
        if not isinstance(node, ast.Name):
            return None
        parts.append(self.names.get(node.id, node.id))
        return ".".join(reversed(parts))

    def _root_module(self, node: ast.AST) -> str | None:
        """The imported module a target hangs off (``np`` in ``np.testing.x``), or None."""
        while isinstance(node, (ast.Attribute, ast.Subscript)):
            node = node.value
            if isinstance(node, ast.Name):
                return node.id if node.id in self.modules else None
        return None

    def _is_module(self, node: ast.AST) -> bool:
        """``numpy`` or ``np`` (an imported module's name), ``sys``, ``builtins``."""
        return isinstance(node, ast.Name) and (node.id in self.modules or node.id == "__builtins__")

    def _computed(self, node: ast.Call) -> bool:
        """``getattr(module, name)`` with a name built at run time, on a module, ``sys``,
        ``builtins`` or ``__builtins__``."""
        if len(node.args) < 2 or isinstance(node.args[1], ast.Constant):
            return False
        owner = node.args[0]
        root = (self.qualified(owner) or "").split(".")[0]
        return (
            _is_builtins_name(owner)
            or root in ("builtins", "sys", "os", "numpy", "grader")
            or self._root_module(ast.Attribute(value=owner, attr="_")) is not None
        )

    def _is_ipython(self, node: ast.AST) -> bool:
        if isinstance(node, ast.Call):
            return self.qualified(node.func) in ("get_ipython", "IPython.get_ipython")
        return isinstance(node, ast.Name) and node.id in self.ipython

    def _call(self, node: ast.Call) -> Iterator[tuple[int, str, str]]:
        name = self.qualified(node.func) or ""
        line = node.lineno
        if name in DYNAMIC_CALLS:
            yield line, DYNAMIC_CALLS[name], f"{name}(...)"
            if name == "__import__" and node.args and isinstance(node.args[0], ast.Constant):
                yield from self._imported(str(node.args[0].value), line)
        elif name.startswith("importlib.") and node.args:
            first = node.args[0]
            if isinstance(first, ast.Constant):
                yield from self._imported(str(first.value), line)
        elif name in PROCESS_CALLS:
            yield line, "os-system", f"{name}(...)"
        elif name in INTROSPECTION_CALLS:
            yield line, "introspection", f"{name}(...)"
        elif name in ("vars", "getattr", "setattr", "delattr") and self._computed(node):
            yield line, "computed-attribute", f"{name}(..., <name built at run time>)"
        elif name == "getattr" and len(node.args) > 1 and _constant(node.args[1]) in RISKY_NAMES:
            attr = str(_constant(node.args[1]))
            yield line, DYNAMIC_CALLS.get(attr, "introspection"), f"getattr(..., {attr!r})"
        elif name in ("vars", "getattr") and node.args:
            owner = self.qualified(node.args[0]) or ""
            if owner.split(".")[0] == "grader":
                yield line, "grader-internals", f"{name}({owner}, ...)"
        elif name in EXIT_CALLS:
            yield line, "exit", f"{name}(...)"
        elif name in ("setattr", "delattr") and node.args:
            target = node.args[0]
            root = self.qualified(target) or ""
            if root.split(".")[0] == "builtins" or _is_builtins_name(target):
                yield line, "builtins-edit", f"{name}({root or '__builtins__'}, ...)"
            elif (
                root.startswith("sys")
                and len(node.args) > 1
                and _constant(node.args[1]) in SYS_HOOKS
            ):
                yield line, "ipython-hook", f"{name}(sys, {_constant(node.args[1])!r}, ...)"
            elif self._root_module(ast.Attribute(value=target, attr="_")) is not None:
                yield line, "module-attr-assign", f"{name}({root}, ...)"
        elif name in ("sys.settrace", "sys.setprofile", "sys.addaudithook", "threading.settrace"):
            yield line, "ipython-hook", f"{name}(...)"
        elif name.startswith("sys.modules.") and name.rsplit(".", 1)[1] in (
            "update",
            "pop",
            "setdefault",
            "clear",
            "popitem",
            "__setitem__",
            "__delitem__",
        ):
            yield line, "sys-modules", f"{name}(...)"

    def _write(self, target: ast.AST, line: int) -> Iterator[tuple[int, str, str]]:
        if isinstance(target, (ast.Tuple, ast.List)):
            for element in target.elts:
                yield from self._write(element, line)
            return
        if isinstance(target, ast.Name):
            return
        if isinstance(target, ast.Subscript) and self.qualified(target.value) == "sys.modules":
            yield line, "sys-modules", "sys.modules[...] = ..."
            return
        full = self.qualified(target.value if isinstance(target, ast.Subscript) else target) or ""
        if any(full == s or full.startswith(s + ".") for s in SETTINGS):
            return  # plt.rcParams["figure.figsize"] = ..., os.environ["OMP_NUM_THREADS"] = ...
        if _is_builtins_name(target) or full.split(".")[0] == "builtins":
            yield line, "builtins-edit", f"{full or '__builtins__'} = ..."
        elif full.startswith("sys.") and full.split(".")[1] in SYS_HOOKS:
            yield line, "ipython-hook", f"{full} = ..."
        elif self._root_module(target) is not None:
            yield line, "module-attr-assign", f"{full or self._root_module(target)} = ..."


def _only_optional(node: ast.Import | ast.ImportFrom) -> bool:
    """An import of optional packages only (see :data:`GUARDED_OK`)."""
    names = [a.name for a in node.names] if isinstance(node, ast.Import) else [node.module or ""]
    return all(name.split(".")[0] in GUARDED_OK for name in names)


def _catches_import(handler: ast.expr | None) -> bool:
    """Whether an ``except`` clause catches ImportError (bare, or a broad or import class)."""
    if handler is None:
        return True
    names = handler.elts if isinstance(handler, ast.Tuple) else [handler]
    return any(
        isinstance(n, ast.Name) and n.id in ("ImportError", "ModuleNotFoundError", "Exception")
        for n in names
    )


def _is_builtins_name(node: ast.AST) -> bool:
    while isinstance(node, (ast.Attribute, ast.Subscript)):
        node = node.value
    return isinstance(node, ast.Name) and node.id == "__builtins__"


def _constant(node: ast.AST) -> object:
    return node.value if isinstance(node, ast.Constant) else None
