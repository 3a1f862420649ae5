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
import json
import logging
import os
import subprocess
import sys
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from grader.safetext import neutralise

AUTOGRADED = "autograded"

log = logging.getLogger("grader")

if TYPE_CHECKING:
    from grader.batch import LabKey


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


Plan = list[dict[str, Any]]
"""What the gradebook needs of a batch's keys, as JSON: per lab its ``assignment`` and its
``cells``, each ``[grade id, points, [check ids]]``."""


def plan(keys: dict[str, LabKey], due: dict[str, str] | None = None) -> Plan:
    """The gradebook's view of the batch's labs (see :data:`Plan`); ``due``: lab -> its due
    date (ISO 8601, UTC)."""
    return [
        {
            "lab": lab,
            "assignment": key.lab.assignment,
            "cells": [[c.grade_id, c.points, [call.id for call in c.checks]] for c in key.cells],
            "due": (due or {}).get(lab, ""),
        }
        for lab, key in keys.items()
    ]


def write(
    path: Path,
    keys: dict[str, LabKey],
    rows: list[dict[str, str]],
    due: dict[str, str] | None = None,
) -> dict[str, str]:
    """Write the gradebook at ``path`` afresh from the rows of ``grades.csv``: by the helper
    process when :func:`start_helper` started one (it has imported nbgrader meanwhile), else
    here.

    Each student's test cells earn the points of their checks' columns when the lab's
    status is ``graded``, else 0; a lab ``missing`` has no submission. With finalised rows
    (:func:`grader.outputs.exports.finalise`) the gradebook also holds the learners' names,
    the labs' due dates, the submission times, the late penalties and, as manual scores, the
    instructor's overrides, so that ``nbgrader export`` gives the final score.

    Returns:
        Student id -> the error that kept their entry out (empty when all were written).
    """
    global _helper
    helper, _helper = _helper, None
    if helper is not None:
        try:
            return helper.write(path, plan(keys, due), rows)
        except HelperFailed as exc:
            log.warning("the gradebook helper failed (%s); writing gradebook.db here", exc)
    return write_plan(path, plan(keys, due), rows)


def write_plan(path: Path, labs: Plan, rows: list[dict[str, str]]) -> dict[str, str]:
    """:func:`write` from a :data:`Plan`, in this process."""
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
        _unsynced(gb)
        for lab in labs:
            name = lab["assignment"]
            due = _utc(lab.get("due", ""))
            gb.update_or_create_assignment(name, **({"duedate": due} if due else {}))
            gb.update_or_create_notebook(name, name)
            for grade_id, points, _ in lab["cells"]:
                gb.update_or_create_grade_cell(
                    grade_id, name, name, max_score=points, cell_type="code"
                )
        gb.db.commit()
        for row in rows:
            student = neutralise(row.get("student_id", ""))
            try:
                _student(gb, labs, student, row)
                gb.db.commit()
            except Exception as exc:  # one student's entry, never the whole gradebook
                gb.db.rollback()
                errors[student] = f"{type(exc).__name__}: {exc}"
    return errors


def _unsynced(gb: Any) -> None:
    """Let SQLite skip its disk syncs from here on: nbgrader commits after every call (a
    dozen times a learner), and each sync costs more than the learner's rows. The file is
    written afresh each time, so a crash mid-write loses nothing a rerun does not rebuild."""
    from sqlalchemy import event

    def pragmas(connection: Any, _record: Any) -> None:
        connection.execute("PRAGMA synchronous=OFF")
        connection.execute("PRAGMA journal_mode=MEMORY")

    gb.db.commit()
    gb.engine.dispose()  # connections opened from now on get the pragmas
    event.listen(gb.engine, "connect", pragmas)


def _student(gb: Any, labs: Plan, student: str, row: dict[str, str]) -> None:
    gb.update_or_create_student(student, **_names(row.get("name", "")))
    for lab in labs:
        lab_id = lab["lab"]
        status = row.get(f"{lab_id}_status", "missing")
        if status == "missing":
            continue
        name = lab["assignment"]
        when = _utc(row.get(f"{lab_id}_submitted", ""))
        gb.update_or_create_submission(name, student, **({"timestamp": when} if when else {}))
        notebook = gb.find_submission_notebook(name, name, student)
        by_cell = {grade.name: grade for grade in notebook.grades}  # one query, not one a cell
        grades = []
        for grade_id, points, check_ids in lab["cells"]:
            grade = by_cell[grade_id]
            earned = sum(float(row.get(check_id) or 0) for check_id in check_ids)
            grade.auto_score = earned if status == "graded" else 0.0
            grade.manual_score = None
            grades.append((grade, float(points)))
        decided = row.get(f"{lab_id}_raw", "")
        if decided and abs(float(decided) - sum(g.auto_score for g, _ in grades)) > 1e-9:
            left = float(decided)  # the instructor's overrides, as formgrader's manual scores
            for grade, points in grades:
                grade.manual_score = min(points, left)
                left -= grade.manual_score
        notebook.late_submission_penalty = float(row.get(f"{lab_id}_penalty") or 0) or None


def _names(name: str) -> dict[str, str]:
    """nbgrader's first and last name from ``Last, First`` or ``First Last``."""
    name = name.strip()
    if not name:
        return {}
    if "," in name:
        last, first = (part.strip() for part in name.split(",", 1))
    else:
        first, _, last = name.rpartition(" ")
        first, last = (first, last) if first else (last, "")
    return {"first_name": first, "last_name": last}


def _utc(text: str) -> Any:
    """A naive UTC datetime (as nbgrader stores times) from ISO 8601 text, or None."""
    import datetime as dt

    try:
        when = dt.datetime.fromisoformat(text) if text else None
    except ValueError:
        return None
    if when is not None and when.tzinfo is not None:
        when = when.astimezone(dt.timezone.utc).replace(tzinfo=None)
    return when


class HelperFailed(RuntimeError):
    """The helper process did not write the gradebook (the caller writes it itself)."""


class Helper:
    """A process that imports nbgrader as soon as a batch starts, then writes its gradebook.

    Importing nbgrader's gradebook takes about a second of the interpreter's time; in a
    process of its own it runs beside the grading instead of after it. It is sent the
    plan and the rows as JSON on stdin and answers the errors as JSON on stdout.
    """

    def __init__(self) -> None:
        root = str(Path(__file__).resolve().parents[2])
        code = "import sys; sys.path.insert(0, sys.argv[1]); from grader.outputs import gradebook"
        code += "; gradebook.serve()"
        self.proc = subprocess.Popen(
            [sys.executable, "-c", code, root],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            encoding="utf-8",
        )

    def write(self, path: Path, labs: Plan, rows: list[dict[str, str]]) -> dict[str, str]:
        request = json.dumps({"path": str(path.resolve()), "labs": labs, "rows": rows})
        try:
            out, err = self.proc.communicate(request, timeout=HELPER_TIMEOUT)
        except (OSError, subprocess.TimeoutExpired) as exc:
            self.proc.kill()
            self.proc.communicate()
            raise HelperFailed(f"{type(exc).__name__}: {exc}") from exc
        if self.proc.returncode != 0:
            raise HelperFailed(f"exit code {self.proc.returncode}: {err.strip()[-500:]}")
        try:
            errors = json.loads(out)
        except ValueError as exc:
            raise HelperFailed(f"unreadable answer {out[-200:]!r}") from exc
        return {str(k): str(v) for k, v in errors.items()}


HELPER_TIMEOUT = 300.0
"""Seconds the helper may take to write the gradebook once asked."""

_helper: Helper | None = None


def start_helper() -> None:
    """Start the gradebook's helper process for the batch about to be graded (one at a time;
    one left by a batch that stopped early is used by the next)."""
    global _helper
    if _helper is None or _helper.proc.poll() is not None:
        _helper = Helper()


def serve() -> None:
    """The helper's side: import nbgrader, then write the gradebook it is asked for."""
    prepare()
    text = sys.stdin.read()
    if not text:
        return  # the batch ended without writing outputs
    request = json.loads(text)
    errors = write_plan(Path(request["path"]), request["labs"], request["rows"])
    sys.stdout.write(json.dumps(errors))


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
