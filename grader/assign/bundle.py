"""The learner bundle of one lab: what a learner needs to open it, and nothing more.

A zip with one top folder holding the released notebook, ``micrograd_plus``
without the reference modules of this lab and later ones, the part of
``grader`` that ``from grader import check`` and this lab's visible specs
import (no hidden specs, no red team, no instructor tools), the MNIST sample
and a README. Entries are sorted and time-stamped 1980-01-01, so a rebuild is
byte-identical.
"""

from __future__ import annotations

import ast
import zipfile
from pathlib import Path

from grader.assign.release import ReleaseError
from grader.config import REPO
from grader.labs import blocked_modules, get_lab, resolve_lab

INSTRUCTOR_ONLY = (
    "grader.__main__",
    "grader.cli",
    "grader.checking.hidden.",
    "grader.batch",
    "grader.course",
    "grader.pipeline",
    "grader.outputs",
    "grader.runs",
    "grader.assign",
    "grader.redteam",
    "grader.sandbox",
)
"""Modules (and prefixes) a learner bundle must never contain."""

README = """# {title} ({assignment})

Open `{notebook}` in JupyterLab (from this folder, so that `micrograd_plus` and
`grader` are importable) and work through it top to bottom. Each task has a
self-check: `check("<id>")` compares your code with PyTorch and prints a table of
what differs.

This bundle holds the reference code of the earlier labs only
(`micrograd_plus` without {blocked}): in this lab you write those parts yourself.
The MNIST sample the labs train on is in `data/mnist_sample.npz`.

## What it needs

Python 3.11 or later with numpy, matplotlib, tqdm, JupyterLab and PyTorch (the self-checks
compare with it; its CPU build is enough):

    python -m pip install numpy matplotlib tqdm jupyterlab
    python -m pip install torch --index-url https://download.pytorch.org/whl/cpu

## Checking your work

Run every cell (Kernel, Restart Kernel and Run All Cells): each `check("<id>")` prints
what passed and what differs. The instructor's `python -m grader validate` is not part of
this bundle; the self-checks run the same visible checks. Hand in the notebook itself,
named `{notebook}`.
"""


def module_file(root: Path, module: str) -> Path | None:
    """The source file of ``module`` under ``root`` (a package's ``__init__.py``), or None."""
    base = root.joinpath(*module.split("."))
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


def imported_modules(path: Path, module: str) -> set[str]:
    """Absolute names of the modules a source file imports (anywhere in it)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*parts, base] if base else parts)
            names.add(base)
            names.update(f"{base}.{alias.name}" for alias in node.names)
    return names


def grader_closure(root: Path, lab_id: str) -> set[str]:
    """The ``grader`` modules that ``from grader import check`` and the lab's visible specs need."""
    wanted = [
        "grader",
        "grader.checking",
        "grader.checking.specs",
        "grader.checking.hidden",
        f"grader.checking.specs.{lab_id}",
    ]
    seen: set[str] = set()
    while wanted:
        module = wanted.pop()
        path = module_file(root, module)
        if module in seen or path is None:
            continue
        seen.add(module)
        parent = module.rpartition(".")[0]
        if parent:
            wanted.append(parent)
        if module == "grader.checking.hidden":
            continue  # the package only, so that load_lab finds no hidden specs
        wanted += [m for m in imported_modules(path, module) if m.split(".")[0] == "grader"]
    bad = sorted(m for m in seen if m.startswith(INSTRUCTOR_ONLY) and m != "grader.checking.hidden")
    if bad:
        raise ReleaseError(f"the learner's grader for {lab_id} would need {', '.join(bad)}")
    return seen


def bundle_files(lab_id: str, labs: Path, root: Path = REPO) -> dict[str, Path]:
    """``{path inside the bundle: source file}`` for one lab."""
    lab = get_lab(lab_id)
    notebook = labs / lab.notebook
    if not notebook.is_file():
        raise ReleaseError(f"{notebook}: not released yet (run `python -m grader release`)")
    blocked = set(blocked_modules(lab_id))
    files = {lab.notebook: notebook, "data/mnist_sample.npz": root / "data" / "mnist_sample.npz"}
    for path in sorted((root / "micrograd_plus").glob("*.py")):
        module = f"micrograd_plus.{path.stem}".removesuffix(".__init__")
        if module in blocked:
            continue
        uses = imported_modules(path, module) & blocked
        if uses:
            raise ReleaseError(f"{module} imports {', '.join(sorted(uses))}, left out of {lab_id}")
        files[f"micrograd_plus/{path.name}"] = path
    if (root / "micrograd_plus" / "py.typed").is_file():
        files["micrograd_plus/py.typed"] = root / "micrograd_plus" / "py.typed"
    for module in grader_closure(root, lab_id):
        source = module_file(root, module)
        if source is not None:
            files[source.relative_to(root).as_posix()] = source
    return files


def write_bundle(*, lab: str, out: Path, labs: Path | None = None) -> Path:
    """Write the learner bundle zip of one lab.

    Args:
        lab: ``"2"``, ``"lab2"`` or the lab's notebook name.
        out: the zip to write, or a folder to write ``<assignment>.zip`` into.
        labs: folder of released notebooks (default: the repository's ``labs/``).

    Returns:
        The zip's path.

    Raises:
        ReleaseError: the lab is not released, or its learner side would need a left-out module.
    """
    chosen = resolve_lab(lab)
    out = Path(out)
    target = out if out.suffix == ".zip" else out / f"{chosen.assignment}.zip"
    files = bundle_files(chosen.id, Path(labs) if labs else REPO / "labs")
    readme = README.format(
        title=chosen.title,
        assignment=chosen.assignment,
        notebook=chosen.notebook,
        blocked=", ".join(f"`{m}`" for m in blocked_modules(chosen.id)),
    )
    target.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as archive:
        entries = {name: path.read_bytes() for name, path in files.items()}
        entries["README.md"] = readme.encode()
        for name in sorted(entries):
            info = zipfile.ZipInfo(f"{chosen.assignment}/{name}", date_time=(1980, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            archive.writestr(info, entries[name])
    return target
