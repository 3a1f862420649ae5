"""What a learner gets: one definition for the lab bundles, the learner image and the hub.

A learner of lab N gets (:func:`lab_files`) the released notebook, ``micrograd_plus``
without the reference modules of lab N and later labs (they hold lab N's answers), the part
of ``grader`` that ``from grader import check``, the visible specs and misconception
catalogues of labs 1..N and the notebook itself import (lab 1.7.5's assembler of the
learner's own framework), the learner's guides and the MNIST sample. :func:`learner_files`
is their union over every lab:

- a lab's learner bundle (:mod:`grader.assign.bundle`) is :func:`lab_files` of that lab, the
  notebook at the zip's top;
- the learner image's ``/opt/microgradplus`` is :func:`learner_files`, written by
  ``docker/learner_tree.sh`` (``python -m grader.assign.learner_tree SRC DEST``) and
  compared with it file for file by ``scripts/image_check.sh``;
- the hub's learner tree (:mod:`grader.assign.learner_env`) is :func:`learner_files` and
  the exchange client the hub alone needs (``HUB_ONLY`` there).

So ``micrograd_plus/train.py``, lab 1.7.5's own reference (its ``DataLoader``, ``accuracy``,
``evaluate`` and ``train_epoch`` are that lab's tasks), is in none of them: no lab imports it.
Never in any: ``solutions/``, the hidden checks, the grading set, the red team's planted bugs,
the tests, the instructor's tools (``INSTRUCTOR_ONLY``) and docs.
"""

from __future__ import annotations

import argparse
import ast
import json
import re
import shutil
from pathlib import Path

from grader.assign.release import ReleaseError
from grader.config import REPO
from grader.labs import LABS, blocked_modules, get_lab

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
"""Modules (and prefixes) a learner must never get."""

GUIDES = ("QUICKSTART.md", "STUDY_GUIDE.md", "QUICK_REFERENCE.md")
"""The learner's guides (the project's README.md and docs/ are the instructor's)."""

SAMPLE = "data/mnist_sample.npz"
"""The MNIST sample the labs train on (the grading set stays under the hidden checks)."""

FORBIDDEN_TEXT = re.compile(rb"### (BEGIN|END) (SOLUTION|HIDDEN TESTS)")


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


def notebook_imports(notebook: Path) -> set[str]:
    """The ``grader`` modules a notebook's code cells import (lines of IPython magics skipped)."""
    cells = json.loads(notebook.read_text(encoding="utf-8")).get("cells", [])
    names: set[str] = set()
    for cell in cells:
        if cell.get("cell_type") != "code":
            continue
        source = "".join(cell.get("source", ""))
        lines = [line for line in source.splitlines() if not line.lstrip().startswith(("%", "!"))]
        try:
            tree = ast.parse("\n".join(lines))
        except SyntaxError:
            continue
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                names.update(alias.name for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and not node.level and node.module:
                names.add(node.module)
    return {name for name in names if name.split(".")[0] == "grader"}


def grader_closure(root: Path, lab_id: str, notebook: Path | None = None) -> set[str]:
    """The ``grader`` modules a learner of the lab needs: what ``from grader import check``, the
    visible specs and misconception catalogues (``check`` names a known mistake from them) of
    this lab and the earlier ones (lab 1.7.5's assembler runs each earlier lab's checks on the
    learner's own code) and the released ``notebook`` itself import."""
    number = get_lab(lab_id).number
    labs = [lab_id, *(lab.id for lab in LABS.values() if lab.number < number)]
    wanted = [
        "grader",
        "grader.checking",
        "grader.checking.specs",
        "grader.checking.hidden",
        *(f"grader.checking.specs.{lab}" for lab in labs),
        *(f"grader.checking.misconceptions.{lab}" for lab in labs),
        *(sorted(notebook_imports(notebook)) if notebook else ()),
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
        # A hidden spec is imported only where a hidden check runs (the trusted grader's
        # side): a learner gets the package alone, so such an import is never followed.
        wanted += [
            m
            for m in imported_modules(path, module)
            if m.split(".")[0] == "grader" and not m.startswith("grader.checking.hidden.")
        ]
    bad = sorted(m for m in seen if m.startswith(INSTRUCTOR_ONLY) and m != "grader.checking.hidden")
    if bad:
        raise ReleaseError(f"the learner's grader for {lab_id} would need {', '.join(bad)}")
    return seen


def engine_files(root: Path, lab_id: str) -> dict[str, Path]:
    """``micrograd_plus`` without the reference modules of ``lab_id`` and later labs."""
    blocked = set(blocked_modules(lab_id))
    files: dict[str, Path] = {}
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
    return files


def lab_files(lab_id: str, root: Path = REPO, labs: Path | None = None) -> dict[str, Path]:
    """``{path in the learner's tree: source file}`` for a learner of one lab.

    Raises:
        ReleaseError: the lab is not released, its notebook holds solution or hidden-test
            text, or its learner side would need a module a learner must not get.
    """
    lab = get_lab(lab_id)
    notebook = (Path(labs) if labs else root / "labs") / lab.notebook
    if not notebook.is_file():
        raise ReleaseError(f"{notebook}: not released yet (run `python -m grader release`)")
    if FORBIDDEN_TEXT.search(notebook.read_bytes()):
        raise ReleaseError(f"{notebook}: holds solution or hidden-test text")
    files = {f"labs/{lab.notebook}": notebook, SAMPLE: root / SAMPLE}
    files |= {name: root / name for name in GUIDES if (root / name).is_file()}
    files |= engine_files(root, lab_id)
    for module in sorted(grader_closure(root, lab_id, notebook)):
        source = module_file(root, module)
        if source is not None:
            files[source.relative_to(root).as_posix()] = source
    return files


def learner_files(root: Path = REPO, labs: Path | None = None) -> dict[str, Path]:
    """``{path in the learner's tree: source file}``: :func:`lab_files` over every lab."""
    files: dict[str, Path] = {}
    for lab_id in LABS:
        files |= lab_files(lab_id, root, labs)
    return dict(sorted(files.items()))


def write_tree(out: Path, files: dict[str, Path]) -> Path:
    """Write ``files`` afresh into ``out`` (files 0644, folders 0755); returns ``out``."""
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    for name, source in sorted(files.items()):
        target = out / name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source, target)
        target.chmod(0o644)
    for folder in (out, *(p for p in out.rglob("*") if p.is_dir())):
        folder.chmod(0o755)
    return out


def main(argv: list[str] | None = None) -> int:
    """``python -m grader.assign.learner_tree SRC DEST`` (or ``--list SRC``)."""
    parser = argparse.ArgumentParser(
        prog="python -m grader.assign.learner_tree",
        description="Write (or list) what a learner gets from the project at SRC.",
    )
    parser.add_argument("src", type=Path, help="the project (the repository's root)")
    parser.add_argument("dest", type=Path, nargs="?", help="the folder to write, made afresh")
    parser.add_argument("--list", action="store_true", help="print the paths, one a line")
    args = parser.parse_args(argv)
    if args.list == (args.dest is not None):
        parser.error("give DEST or --list")
    try:
        files = learner_files(args.src.resolve())
    except ReleaseError as error:
        parser.exit(1, f"learner tree: {error}\n")
    if args.list:
        print("\n".join(files))
        return 0
    write_tree(args.dest, files)
    print(f"learner tree: {len(files)} files in {args.dest}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
