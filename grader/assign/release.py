"""Release the labs: ``solutions/`` (nbgrader source notebooks) -> ``labs/`` (learner notebooks).

The release runs nbgrader's ``generate_assignment`` in a temporary course
directory, then normalises each released notebook (no outputs, no execution
counts, stable cell ids, JSON as nbformat writes it) so that a second release
is byte-identical. Before anything is written it validates the source
(unique grade ids, every ``check("<id>")`` known, each graded cell's points
equal to the sum of its checks' points) and afterwards it refuses a released
notebook holding any solution or hidden-test text. nbgrader's ``gradebook.db``
(which stores the hidden tests) never goes to ``labs/``.

Run ``python -m grader release [--lab N] [--check]``.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import nbformat

from grader import notebook
from grader.assign.sourcecheck import leaks, validate_source
from grader.labs import LABS, Lab, resolve_lab

KERNELSPEC = {"display_name": "Python 3 (ipykernel)", "language": "python", "name": "python3"}
_CELL_METADATA_DROPPED = ("collapsed", "scrolled", "execution", "ExecuteTime")


class ReleaseError(RuntimeError):
    """The source notebooks cannot be released as they are; the message says why."""


def source_labs(solutions: Path, lab: str | None = None) -> list[Lab]:
    """The labs to release: ``lab`` alone, or every lab with a source notebook in ``solutions``."""
    if lab is not None:
        try:
            chosen = resolve_lab(lab)
        except KeyError as exc:
            raise ReleaseError(exc.args[0]) from exc
        if not (solutions / chosen.notebook).is_file():
            raise ReleaseError(f"{solutions / chosen.notebook}: no such source notebook")
        return [chosen]
    known = {candidate.notebook for candidate in LABS.values()}
    unknown = sorted(p.name for p in solutions.glob("*.ipynb") if p.name not in known)
    if unknown:
        raise ReleaseError(
            f"{solutions}: notebooks that belong to no lab: {', '.join(unknown)} "
            f"(known: {', '.join(sorted(known))})"
        )
    return [candidate for candidate in LABS.values() if (solutions / candidate.notebook).is_file()]


def release(
    *, solutions: Path, labs: Path, lab: str | None = None, gradebook: Path | None = None
) -> list[Path]:
    """Regenerate the learner notebooks in ``labs`` from the sources in ``solutions``.

    Args:
        solutions: folder of nbgrader source notebooks.
        labs: folder the released notebooks are written to.
        lab: one lab (``"2"``, ``"lab2"``, ``"1.7.2"`` or its notebook name); all labs with a
            source when None.
        gradebook: where to keep nbgrader's ``gradebook.db`` (instructors only; it holds the
            hidden tests and must never reach learners); discarded when None.

    Returns:
        The released notebooks' paths.

    Raises:
        ReleaseError: a source fails validation or a released notebook would leak solution
            or hidden-test text; nothing in ``labs`` is changed then.
    """
    chosen = source_labs(Path(solutions), lab)
    texts = render(solutions=Path(solutions), labs=chosen, gradebook=gradebook)
    labs = Path(labs)
    labs.mkdir(parents=True, exist_ok=True)
    written = []
    for name, text in texts.items():
        path = labs / name
        if not path.is_file() or path.read_text(encoding="utf-8") != text:
            path.write_text(text, encoding="utf-8")
        written.append(path)
    if lab is None:
        for stale in sorted(set(labs.glob("*.ipynb")) - set(written)):
            stale.unlink()
    return written


def check_release(*, solutions: Path, labs: Path, lab: str | None = None) -> list[str]:
    """Whether ``labs`` is what a release of ``solutions`` would write.

    Returns:
        Problems, one line each (a missing, extra or differing notebook, naming its first
        differing cell, or a source that fails validation); empty when in sync.
    """
    try:
        chosen = source_labs(Path(solutions), lab)
        texts = render(solutions=Path(solutions), labs=chosen)
    except ReleaseError as exc:
        return [str(exc)]
    labs = Path(labs)
    fix = "run `python -m grader release`"
    problems = []
    for name, text in texts.items():
        path = labs / name
        if not path.is_file():
            problems.append(f"{path}: missing; {fix}")
        elif path.read_text(encoding="utf-8") != text:
            where = first_difference(path.read_text(encoding="utf-8"), text)
            problems.append(f"{path}: differs from its source at {where}; {fix}")
    if lab is None and labs.is_dir():
        for extra in sorted(p.name for p in labs.glob("*.ipynb") if p.name not in texts):
            problems.append(f"{labs / extra}: not generated from any source notebook; {fix}")
    return problems


def first_difference(current: str, expected: str) -> str:
    """Where two notebook texts first differ: ``cell 7 (grade_id relu_forward)``."""
    try:
        have, want = json.loads(current), json.loads(expected)
    except json.JSONDecodeError:
        return "the top (not valid JSON)"
    have_cells, want_cells = have.get("cells", []), want.get("cells", [])
    for index, (a, b) in enumerate(zip(have_cells, want_cells, strict=False)):
        if a != b:
            grade_id = notebook.from_json({"cells": [b]}).cells[0].grade_id
            return f"cell {index}" + (f" (grade_id {grade_id})" if grade_id else "")
    if len(have_cells) != len(want_cells):
        return f"cell {min(len(have_cells), len(want_cells))} ({len(have_cells)} cells, "
        f"expected {len(want_cells)})"
    return "the notebook metadata"


def render(*, solutions: Path, labs: list[Lab], gradebook: Path | None = None) -> dict[str, str]:
    """Validate, release with nbgrader and normalise; ``{notebook name: released JSON text}``."""
    sources = {}
    problems = []
    for lab in labs:
        nb = nbformat.read(solutions / lab.notebook, as_version=4)
        try:
            model = notebook.from_json(nb)
        except notebook.NotebookError as exc:
            problems.append(f"{solutions / lab.notebook}: {exc}")
            continue
        problems += [f"{solutions / lab.notebook}: {p}" for p in validate_source(model, lab)]
        sources[lab] = nb
    if problems:
        raise ReleaseError("invalid source notebook(s):\n  " + "\n  ".join(problems))
    texts = {}
    with tempfile.TemporaryDirectory(prefix="mgp-release-") as tmp:
        released = generate_assignments(Path(tmp), sources, gradebook)
        for lab, source in sources.items():
            nb = normalise(released[lab], source)
            found = leaks(notebook.from_json(nb), notebook.from_json(source))
            if found:
                raise ReleaseError(
                    f"released {lab.notebook} would leak solution or hidden-test text:\n  "
                    + "\n  ".join(found)
                )
            texts[lab.notebook] = nbformat.writes(nb) + "\n"
    return texts


def generate_assignments(
    course: Path, sources: dict[Lab, Any], gradebook: Path | None = None
) -> dict[Lab, Any]:
    """Run nbgrader ``generate_assignment`` for each source in a course folder at ``course``."""
    from nbgrader.apps import NbGraderAPI
    from traitlets.config import Config

    for lab, nb in sources.items():
        folder = course / "source" / lab.assignment
        folder.mkdir(parents=True)
        nbformat.write(nb, folder / lab.notebook)
    config = Config()
    config.CourseDirectory.root = str(course)
    config.CourseDirectory.db_url = f"sqlite:///{course / 'gradebook.db'}"
    config.Exchange.root = str(course / "exchange")
    released = {}
    with _venv_on_path():
        api = NbGraderAPI(config=config)
        for lab in sources:
            result = api.generate_assignment(lab.assignment, force=True, create=True)
            if not result.get("success"):
                detail = result.get("log") or result.get("error") or "no log"
                raise ReleaseError(f"nbgrader could not release {lab.notebook}:\n{detail}")
            path = course / "release" / lab.assignment / lab.notebook
            released[lab] = nbformat.read(path, as_version=4)
    if gradebook is not None:
        gradebook.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(course / "gradebook.db", gradebook)
    return released


@contextlib.contextmanager
def _venv_on_path() -> Iterator[None]:
    """nbgrader's gradebook runs ``alembic`` from PATH: put this interpreter's scripts first."""
    before = os.environ.get("PATH", "")
    os.environ["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), before])
    try:
        yield
    finally:
        os.environ["PATH"] = before


def normalise(nb: Any, source: Any) -> Any:
    """Strip outputs and run metadata; stable cell ids (the source's, else from grade ids)."""
    nb.metadata = nbformat.from_dict(
        {
            "kernelspec": source.metadata.get("kernelspec", KERNELSPEC),
            "language_info": {"name": "python"},
            # the lab a notebook is, whatever a copy of it is called (``validate`` reads it)
            **{k: source.metadata[k] for k in ("microgradplus",) if k in source.metadata},
        }
    )
    nb.nbformat, nb.nbformat_minor = 4, 5
    used: set[str] = set()
    for index, cell in enumerate(nb.cells):
        origin = source.cells[index] if index < len(source.cells) else {}
        cell["id"] = _cell_id(origin.get("id"), cell, index, used)
        for key in _CELL_METADATA_DROPPED:
            cell.metadata.pop(key, None)
        if cell.cell_type == "code":
            cell.outputs = []
            cell.execution_count = None
        if "attachments" in cell and not cell.attachments:
            del cell["attachments"]
    nbformat.validate(nb)
    return nb


def _cell_id(source_id: Any, cell: Any, index: int, used: set[str]) -> str:
    grade_id = notebook.from_json({"cells": [cell]}).cells[0].grade_id or ""
    candidates = [
        str(source_id or ""),
        "".join(c if c.isalnum() or c in "-_" else "-" for c in grade_id),
    ]
    for candidate in candidates:
        if candidate and len(candidate) <= 64 and candidate not in used:
            used.add(candidate)
            return candidate
    fallback = f"cell-{index}"
    used.add(fallback)
    return fallback
