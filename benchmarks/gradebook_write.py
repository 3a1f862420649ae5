"""Writing nbgrader's ``gradebook.db``: seconds per learner, this grader's way against
nbgrader's API used call by call.

A course of ``--learners`` learners, ``--labs`` labs of ``--cells`` graded cells each, every
lab graded, is written twice in this process: once by :func:`grader.outputs.gradebook.write_plan`
(SQLite's disk syncs off while the file is written afresh, one query for a learner's grades
in a lab) and once as nbgrader's API is usually driven (one ``find_grade`` a cell, every
commit synced). It prints both times and their ratio; the two files hold the same scores.

    python benchmarks/gradebook_write.py [--learners 200] [--labs 5] [--cells 10]
"""

from __future__ import annotations

import argparse
import sqlite3
import tempfile
import time
import warnings
from pathlib import Path
from typing import Any

from grader.outputs import gradebook


def course(learners: int, labs: int, cells: int) -> tuple[gradebook.Plan, list[dict[str, str]]]:
    plan = [
        {
            "lab": f"lab{i}",
            "assignment": f"lab{i}",
            "cells": [[f"lab{i}_t{j}", 10, [f"lab{i}.c{j}"]] for j in range(cells)],
            "due": "",
        }
        for i in range(1, labs + 1)
    ]
    rows = []
    for s in range(learners):
        row = {"student_id": f"s{s:04d}", "name": f"Last{s}, First"}
        for i in range(1, labs + 1):
            row[f"lab{i}_status"] = "graded"
            row[f"lab{i}_submitted"] = "2026-12-01T10:00:00+00:00"
            row.update({f"lab{i}.c{j}": str((s + j) % 11) for j in range(cells)})
        rows.append(row)
    return plan, rows


def call_by_call(path: Path, plan: gradebook.Plan, rows: list[dict[str, str]]) -> None:
    """nbgrader's API as a script usually drives it: a lookup and a synced commit a call."""
    api = gradebook.import_nbgrader_api()
    api.get_alembic_version = gradebook._alembic_head
    with warnings.catch_warnings(), api.Gradebook(f"sqlite:///{path}") as gb:
        warnings.simplefilter("ignore")
        for lab in plan:
            name = lab["assignment"]
            gb.update_or_create_assignment(name)
            gb.update_or_create_notebook(name, name)
            for grade_id, points, _ in lab["cells"]:
                gb.update_or_create_grade_cell(grade_id, name, name, max_score=points,
                                               cell_type="code")  # fmt: skip
        for row in rows:
            student = row["student_id"]
            gb.update_or_create_student(student)
            for lab in plan:
                name = lab["assignment"]
                gb.update_or_create_submission(name, student)
                for grade_id, _, check_ids in lab["cells"]:
                    grade = gb.find_grade(grade_id, name, name, student)
                    grade.auto_score = sum(float(row[c]) for c in check_ids)
                gb.db.commit()


def scores(path: Path) -> list[Any]:
    with sqlite3.connect(path) as db:
        return sorted(db.execute("SELECT auto_score FROM grade").fetchall())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--learners", type=int, default=200)
    parser.add_argument("--labs", type=int, default=5)
    parser.add_argument("--cells", type=int, default=10, help="graded cells per lab")
    args = parser.parse_args()
    plan, rows = course(args.learners, args.labs, args.cells)
    gradebook.prepare()  # imports, as the grader does while the sandboxes run
    folder = Path(tempfile.mkdtemp(prefix="mgp-gradebook-"))
    start = time.perf_counter()
    errors = gradebook.write_plan(folder / "ours.db", plan, rows)
    ours = time.perf_counter() - start
    start = time.perf_counter()
    call_by_call(folder / "theirs.db", plan, rows)
    theirs = time.perf_counter() - start
    assert not errors and scores(folder / "ours.db") == scores(folder / "theirs.db")
    n = args.learners
    print(f"gradebook.db for {n} learners x {args.labs} labs x {args.cells} cells")
    print(f"  grader's write_plan:       {ours:7.2f} s  ({1000 * ours / n:6.1f} ms a learner)")
    print(
        f"  nbgrader's API, call by call: {theirs:7.2f} s  ({1000 * theirs / n:6.1f} ms a learner)"
    )
    print(f"  ratio: {theirs / ours:.2f}x")


if __name__ == "__main__":
    main()
