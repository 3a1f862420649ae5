"""No reference module imports a later lab's module.

A learner of lab N has the modules of labs < N and writes lab N's own code, so
lab N's notebook must run when the modules of labs >= N are missing. The
dynamic test proves it in a fresh interpreter per lab, where an import hook makes
those modules unimportable; the static test reads every module's imports.
"""

from __future__ import annotations

import ast
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

import micrograd_plus
from grader.labs import LABS

PACKAGE = Path(micrograd_plus.__file__).parent
ALL_MODULES = sorted(p.stem for p in PACKAGE.glob("*.py") if p.stem != "__init__")
LAB_OF = {module: lab.number for lab in LABS.values() for module in lab.modules}
"""Each lab module's lab number; the other modules (value, data, viz) belong to no lab."""
LAST_LAB = max(lab.number for lab in LABS.values())

PROBE = textwrap.dedent(
    """\
    import importlib.abc
    import sys

    BLOCKED = {blocked!r}

    class LaterLabs(importlib.abc.MetaPathFinder):
        def find_spec(self, name, path=None, target=None):
            if name in BLOCKED:
                raise ImportError(f"{{name}} belongs to a later lab")
            return None

    sys.meta_path.insert(0, LaterLabs())
    import micrograd_plus

    for name in {allowed!r}:
        __import__(name)
    for name in BLOCKED:
        try:
            __import__(name)
        except ImportError:
            continue
        raise SystemExit(f"{{name}} was importable although blocked")
    print("imported", len({allowed!r}), "modules")
    """
)


def later_lab_modules(lab: int) -> list[str]:
    """The modules a learner of ``lab`` does not have: this lab's and every later one's."""
    return [f"micrograd_plus.{m}" for m in ALL_MODULES if LAB_OF.get(m, 0) >= lab]


@pytest.mark.parametrize("lab", range(1, LAST_LAB + 2))
def test_earlier_labs_import_without_later_ones(lab: int) -> None:
    """With the modules of labs >= N unimportable, do micrograd_plus and all the rest import?"""
    blocked = later_lab_modules(lab)
    allowed = [f"micrograd_plus.{m}" for m in ALL_MODULES if f"micrograd_plus.{m}" not in blocked]
    code = PROBE.format(blocked=blocked, allowed=allowed)
    result = subprocess.run(
        [sys.executable, "-I", "-c", code], capture_output=True, text=True, timeout=120, check=False
    )
    assert result.returncode == 0, f"lab {lab}, blocked {blocked}:\n{result.stderr}"
    assert f"imported {len(allowed)} modules" in result.stdout


def imported_modules(path: Path) -> set[str]:
    """The micrograd_plus submodules a source file imports, anywhere in it (functions too)."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = "micrograd_plus" if node.level else node.module or ""
            if node.level and node.module:
                base = f"micrograd_plus.{node.module}"
            names = [base] + [f"{base}.{alias.name}" for alias in node.names]
        else:
            continue
        for name in names:
            parts = name.split(".")
            if parts[0] == "micrograd_plus" and len(parts) > 1 and parts[1] in ALL_MODULES:
                found.add(parts[1])
    return found


@pytest.mark.parametrize("module", ALL_MODULES)
def test_no_module_imports_a_later_labs_module(module: str) -> None:
    """Does each module import only modules of earlier labs (and no lab's, outside the labs)?"""
    own_lab = LAB_OF.get(module, 0)
    for imported in imported_modules(PACKAGE / f"{module}.py"):
        assert LAB_OF.get(imported, 0) < own_lab or imported not in LAB_OF, (
            f"micrograd_plus.{module} (lab {own_lab or 'none'}) imports micrograd_plus.{imported} "
            f"(lab {LAB_OF[imported]})"
        )


def test_the_import_reader_sees_every_form(tmp_path: Path) -> None:
    """Does the static check catch plain, from-, relative and function-level imports?"""
    source = tmp_path / "sample.py"
    source.write_text(
        "import micrograd_plus.ops\n"
        "from micrograd_plus import nn\n"
        "from micrograd_plus.optim import SGD\n"
        "from . import tensor\n"
        "def f():\n"
        "    from .train import fit\n"
        "import numpy\n"
    )
    assert imported_modules(source) == {"ops", "nn", "optim", "tensor", "train"}


def test_package_import_loads_no_lab_module() -> None:
    """Does ``import micrograd_plus`` alone leave every lab module unloaded?"""
    code = "import sys, micrograd_plus; print([m for m in sys.modules if 'micrograd_plus.' in m])"
    result = subprocess.run(
        [sys.executable, "-I", "-c", code], capture_output=True, text=True, timeout=60, check=True
    )
    assert result.stdout.strip() == "[]"
