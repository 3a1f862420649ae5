"""The learner bundle of one lab: what a learner needs to open it, and nothing more.

A zip with one top folder holding the released notebook, ``micrograd_plus``
without the reference modules of this lab and later ones, the part of
``grader`` that ``from grader import check`` and this lab's visible specs
import (no hidden specs, no red team, no instructor tools), the MNIST sample
and a README. Entries are sorted and time-stamped 1980-01-01, so a rebuild is
byte-identical.
"""

from __future__ import annotations

import zipfile
from pathlib import Path

from grader.assign.learner_tree import (
    INSTRUCTOR_ONLY,
    grader_closure,
    imported_modules,
    lab_files,
    module_file,
)
from grader.config import REPO
from grader.labs import blocked_modules, get_lab, resolve_lab

__all__ = [
    "INSTRUCTOR_ONLY",
    "bundle_files",
    "grader_closure",
    "imported_modules",
    "module_file",
    "write_bundle",
]

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


def bundle_files(lab_id: str, labs: Path, root: Path = REPO) -> dict[str, Path]:
    """``{path inside the bundle: source file}`` for one lab: what a learner of that lab gets
    (:func:`grader.assign.learner_tree.lab_files`), the notebook at the top."""
    notebook = f"labs/{get_lab(lab_id).notebook}"
    return {
        name.removeprefix("labs/") if name == notebook else name: source
        for name, source in lab_files(lab_id, root, labs).items()
    }


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
