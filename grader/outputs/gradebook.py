"""Scores into an nbgrader gradebook (``OUT/gradebook.db``) for formgrader and ``nbgrader export``.

One nbgrader assignment per lab (named after its notebook), one grade cell per
graded test cell of the source notebook (its points as ``max_score``), one
submission per learner who handed the lab in, with the trusted scores as
``auto_score``. No cell source is stored, so the file holds no hidden tests. Beside it,
:func:`keep_notebooks` keeps each learner's notebook where nbgrader's course layout has it
(``OUT/autograded/<id>/<assignment>/<notebook>``), so that formgrader, pointed at ``OUT`` as
its course root, opens a submission for manual review.
It is written afresh from ``grades.csv``'s rows after every batch, so that a
regrade merged into a results folder leaves it listing everyone.
"""

from __future__ import annotations

import contextlib
import functools
import os
import sys
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from grader.safetext import neutralise

AUTOGRADED = "autograded"

if TYPE_CHECKING:
    from grader.pipeline.grading import LabKey


@contextlib.contextmanager
def _scripts_on_path() -> Iterator[None]:
    """nbgrader creates a gradebook by running ``alembic``: find it beside this interpreter."""
    saved = os.environ.get("PATH", "")
    os.environ["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), saved])
    try:
        yield
    finally:
        os.environ["PATH"] = saved


def import_nbgrader_api() -> Any:
    """``nbgrader.api``, imported without jsonschema's IRI checker.

    Importing nbgrader imports nbformat, whose jsonschema builds some 40 lark grammars on
    import when the optional ``rfc3987-syntax`` is installed (1–2 s, longer than writing the
    gradebook). Notebook schemas never check IRIs, so the import is skipped while nbgrader
    loads, and allowed again afterwards.
    """
    blocked = "rfc3987_syntax" not in sys.modules
    if blocked:
        sys.modules["rfc3987_syntax"] = None  # type: ignore[assignment]
    try:
        from nbgrader import api
    finally:
        if blocked:
            del sys.modules["rfc3987_syntax"]
    return api


def prepare() -> None:
    """Import nbgrader's gradebook and read its schema version ahead of :func:`write` (the
    grader does this in the background while the sandboxes run)."""
    import_nbgrader_api()
    _alembic_head()


@functools.cache
def _alembic_head() -> str:
    """The schema version nbgrader stamps a new gradebook with (what ``alembic heads`` prints,
    read from nbgrader's migration scripts without starting a process)."""
    import nbgrader
    from alembic.script import ScriptDirectory

    scripts = ScriptDirectory(str(Path(nbgrader.__file__).parent / "alembic"))
    return str(scripts.get_current_head())


def write(path: Path, keys: dict[str, LabKey], rows: list[dict[str, str]]) -> dict[str, str]:
    """Write the gradebook at ``path`` afresh from the rows of ``grades.csv``.

    Each student's test cells earn the points of their checks' columns when the lab's
    status is ``graded``, else 0; a lab ``missing`` has no submission.

    Returns:
        Student id -> the error that kept their entry out (empty when all were written).
    """
    api = import_nbgrader_api()
    Gradebook = api.Gradebook

    api.get_alembic_version = _alembic_head  # in process, not a `alembic heads` subprocess
    path.unlink(missing_ok=True)
    errors: dict[str, str] = {}
    with (
        _scripts_on_path(),
        warnings.catch_warnings(),
        Gradebook(f"sqlite:///{path.resolve()}") as gb,
    ):
        warnings.simplefilter("ignore")  # SQLAlchemy's autoflush notes inside nbgrader
        for key in keys.values():
            assignment = notebook = key.lab.assignment
            gb.update_or_create_assignment(assignment)
            gb.update_or_create_notebook(notebook, assignment)
            for cell in key.cells:
                gb.update_or_create_grade_cell(
                    cell.grade_id, notebook, assignment, max_score=cell.points, cell_type="code"
                )
        gb.db.commit()
        for row in rows:
            student = neutralise(row.get("student_id", ""))
            try:
                _student(gb, keys, student, row)
                gb.db.commit()
            except Exception as exc:  # one student's entry, never the whole gradebook
                gb.db.rollback()
                errors[student] = f"{type(exc).__name__}: {exc}"
    return errors


def _student(gb: Any, keys: dict[str, LabKey], student: str, row: dict[str, str]) -> None:
    gb.update_or_create_student(student)
    for lab, key in keys.items():
        status = row.get(f"{lab}_status", "missing")
        if status == "missing":
            continue
        name = key.lab.assignment
        gb.update_or_create_submission(name, student)
        for cell in key.cells:
            grade = gb.find_grade(cell.grade_id, name, name, student)
            earned = sum(float(row.get(call.id) or 0) for call in cell.checks)
            grade.auto_score = earned if status == "graded" else 0.0


def keep_notebooks(
    out: Path, found: dict[str, dict[str, Path | str]], keys: dict[str, LabKey]
) -> None:
    """Copy every notebook graded now to ``out/autograded/<id>/<assignment>/<notebook>`` (the
    learner's folder replaced); ids that are not plain file names are left out."""
    import shutil

    from grader.outputs.feedback import safe_name

    for student, labs in found.items():
        if safe_name(student) != student:
            continue
        shutil.rmtree(out / AUTOGRADED / student, ignore_errors=True)
        for lab, path in labs.items():
            if isinstance(path, str) or lab not in keys:
                continue
            assignment = keys[lab].lab.assignment
            folder = out / AUTOGRADED / student / assignment
            folder.mkdir(parents=True, exist_ok=True)
            try:
                shutil.copyfile(path, folder / keys[lab].lab.notebook)
            except OSError:
                continue
