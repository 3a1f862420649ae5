"""Scores into an nbgrader gradebook (``OUT/gradebook.db``) for formgrader and ``nbgrader export``.

One nbgrader assignment per lab (named after its notebook), one grade cell per
graded test cell of the source notebook (its points as ``max_score``), one
submission per learner who handed the lab in, with the trusted scores as
``auto_score``. No cell source is stored, so the file holds no hidden tests.
"""

from __future__ import annotations

import contextlib
import os
import sys
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from grader.autograde import Batch


@contextlib.contextmanager
def _scripts_on_path() -> Iterator[None]:
    """nbgrader creates a gradebook by running ``alembic``: find it beside this interpreter."""
    saved = os.environ.get("PATH", "")
    os.environ["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), saved])
    try:
        yield
    finally:
        os.environ["PATH"] = saved


def write(path: Path, batch: Batch) -> None:
    """Create or update the gradebook at ``path`` with every submission of ``batch``."""
    from nbgrader.api import Gradebook

    with (
        _scripts_on_path(),
        warnings.catch_warnings(),
        Gradebook(f"sqlite:///{path.resolve()}") as gb,
    ):
        warnings.simplefilter("ignore")  # SQLAlchemy's autoflush notes inside nbgrader
        for key in batch.keys.values():
            assignment = notebook = key.lab.assignment
            gb.update_or_create_assignment(assignment)
            gb.update_or_create_notebook(notebook, assignment)
            for cell in key.cells:
                gb.update_or_create_grade_cell(
                    cell.grade_id, notebook, assignment, max_score=cell.points, cell_type="code"
                )
        for row in batch.rows:
            gb.update_or_create_student(row.student)
            for lab, result in row.labs.items():
                if result.status == "missing":
                    continue
                key = batch.keys[lab]
                name = key.lab.assignment
                gb.update_or_create_submission(name, row.student)
                for cell in key.cells:
                    grade = gb.find_grade(cell.grade_id, name, name, row.student)
                    earned, _ = result.cells_score.get(cell.grade_id, (0.0, cell.points))
                    grade.auto_score = earned if result.status == "graded" else 0.0
        gb.db.commit()
