"""Generate the red-team corpus: learner submissions built from the notebooks, and their grades.

``python -m grader.redteam.corpus OUT`` writes ``OUT/<student_id>/<notebook>.ipynb``
and ``OUT/expected.json``. A submission is the learner's notebook of
:mod:`grader.redteam.learner` (the released notebook with the source cells' code),
possibly mutated: exactly what a learner who wrote that code would hand in. Students:

* ``correct``: every lab solved (full marks); ``stub``: the released labs untouched (0);
* ``bug-<lab>-<name>``: one planted bug (:mod:`grader.redteam.lab1` ...), losing its checks;
* ``tamper-...``: the cases of :mod:`grader.redteam.tamper`.

``expected.json`` holds, per student, the status, exact score and max score, the
flags it must carry and, per lab, the status, score and failing check ids.
"""

from __future__ import annotations

import argparse
import copy
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import nbformat

from grader.cellsource import regions
from grader.config import REPO
from grader.notebook import check_ids
from grader.pipeline.integrity import KINDS as INTEGRITY_KINDS
from grader.redteam.cells import cell_model
from grader.redteam.evaluate import failing
from grader.redteam.learner import LabFiles, learner_notebook, load_labs
from grader.redteam.planted import PlantedBug, apply_bug, bugs_for
from grader.redteam.tamper import CASES, NEEDS_REPO, TamperCase

SIZE_CAP = 20 * 1024**2
"""Notebooks above this are ``ungradable:too-large`` (``grader.config.Limits.notebook_size``)."""


def solution_cells(nb: Any) -> list[Any]:
    return [c for c in nb.cells if c.cell_type == "code" and cell_model(c).is_solution]


def lab_expectation(files: LabFiles, status: str, fails: set[str]) -> dict[str, Any]:
    """What one lab of one student must grade as."""
    if status != "graded":
        fails = set(files.checks)
    score = sum(p for i, p in files.checks.items() if i not in fails)
    return {"status": status, "score": score, "max_score": files.max_score, "fails": sorted(fails)}


class Corpus:
    """Writes submissions under ``out`` and collects what each must grade as."""

    def __init__(self, out: Path, labs: list[LabFiles]) -> None:
        self.out = out
        self.labs = labs
        self.students: dict[str, dict[str, Any]] = {}

    def student(self, student_id: str, cases: str) -> dict[str, Any]:
        entry = self.students.setdefault(
            student_id,
            {
                "cases": [],
                "flags": [],
                "labs": {f.lab.id: lab_expectation(f, "missing", set()) for f in self.labs},
            },
        )
        entry["cases"].append(cases)
        (self.out / student_id).mkdir(parents=True, exist_ok=True)
        return entry

    def submit(
        self, student_id: str, files: LabFiles, nb: Any, expect: dict[str, Any], case: str
    ) -> None:
        entry = self.student(student_id, case)
        nbformat.write(nb, self.out / student_id / files.lab.notebook)
        entry["labs"][files.lab.id] = expect

    def finish(self) -> dict[str, Any]:
        """Student status and totals from the per-lab expectations; writes ``expected.json``."""
        for entry in self.students.values():
            labs = entry["labs"]
            reasons = [e["status"] for e in labs.values() if e["status"].startswith("ungradable:")]
            entry["status"] = reasons[0] if reasons else "graded"
            if all(e["status"] == "missing" for e in labs.values()):
                entry["status"] = "ungradable:no-notebooks"
            entry["score"] = sum(e["score"] for e in labs.values())
            entry["max_score"] = sum(f.max_score for f in self.labs)
        expected = {
            "labs": {
                f.lab.id: {"notebook": f.lab.notebook, "checks": f.checks, "cells": f.cells}
                for f in self.labs
            },
            "students": dict(sorted(self.students.items())),
        }
        path = self.out / "expected.json"
        path.write_text(json.dumps(expected, indent=1, sort_keys=True) + "\n")
        return expected


def first_bug(lab_id: str) -> PlantedBug | None:
    try:
        bugs = bugs_for(lab_id)
    except ModuleNotFoundError:
        return None
    return bugs[0] if bugs else None


def add_basics(corpus: Corpus, *, bugs: bool = True) -> None:
    """The correct solutions, the untouched stubs and (with ``bugs``) every planted bug."""
    for files in corpus.labs:
        full = lab_expectation(files, "graded", set())
        corpus.submit("correct", files, learner_notebook(files), full, "correct solutions")
        corpus.students["correct"]["clean"] = True
        zero = lab_expectation(files, "graded", set(files.checks))
        corpus.submit("stub", files, copy.deepcopy(files.released), zero, "released labs untouched")
        corpus.students["stub"]["clean"] = True
        try:
            planted = bugs_for(files.lab.id) if bugs else []
        except ModuleNotFoundError:
            planted = []
        for bug in planted:
            nb = learner_notebook(files, apply_bug(files.source, bug))
            expect = lab_expectation(files, "graded", set(bug.fails))
            student = f"bug-{files.lab.id}-{bug.name}"
            corpus.submit(student, files, nb, expect, bug.description)
            corpus.students[student]["clean"] = True


def base_notebook(files: LabFiles, case: TamperCase) -> tuple[Any, set[str]]:
    """The learner's notebook before tampering, and the checks it fails."""
    bug = first_bug(files.lab.id) if case.base == "bug" else None
    if case.base == "stub" or (case.base == "bug" and bug is None):
        return copy.deepcopy(files.released), set(files.checks)
    if bug is not None:
        return learner_notebook(files, apply_bug(files.source, bug)), set(bug.fails)
    return learner_notebook(files), set()


def insert_in_region(cell: Any, code: str) -> None:
    """Put ``code`` as the first line of the cell's first solution region (its indentation)."""
    lines = cell.source.splitlines()
    first = min(regions(cell.source).solution)
    indent = lines[first][: len(lines[first]) - len(lines[first].lstrip())]
    lines.insert(first + 1, indent + code)
    cell.source = "\n".join(lines)


def tampered(files: LabFiles, case: TamperCase, nb: Any, code: str) -> Any:
    """Apply a notebook-level action (the file-level ones are handled when writing)."""
    cells = solution_cells(nb)
    target = cells[0] if case.cell == "first" else cells[-1]
    tests = [c for c in nb.cells if cell_model(c).is_test]
    if case.action == "append":
        target.source = target.source.rstrip("\n") + "\n" + code.strip("\n")
    elif case.action == "insert-in-region":
        source_cell = next(c for c in solution_cells(files.source) if regions(c.source).solution)
        grade_id = cell_model(source_cell).grade_id
        cell = next(c for c in nb.cells if cell_model(c).grade_id == grade_id)
        cell.source = source_cell.source
        insert_in_region(cell, code)
    elif case.action == "edit-tests":
        bug = first_bug(files.lab.id)
        failing = set(bug.fails) if bug else set(files.checks)
        for cell in tests:
            if failing & set(files.cells[str(cell_model(cell).grade_id)]):
                cell.source = code
    elif case.action == "delete-test":
        nb.cells.remove(tests[0])
    elif case.action == "points":
        tests[0].metadata.nbgrader.points = 1000
    elif case.action == "duplicate-test":
        nb.cells.insert(nb.cells.index(tests[-1]) + 1, copy.deepcopy(tests[-1]))
        nb.cells[nb.cells.index(tests[-1]) + 1]["id"] = tests[-1]["id"] + "-copy"
    return nb


def expectation(files: LabFiles, case: TamperCase, nb: Any, base_fails: set[str]) -> dict[str, Any]:
    """What the lab must grade as after ``case``."""
    if case.expect.startswith("ungradable:") or case.expect == "missing":
        return lab_expectation(files, case.expect, set())
    if case.expect == "full":
        return lab_expectation(files, "graded", set())
    if case.expect in ("zero", "bug"):
        return lab_expectation(files, "graded", base_fails)
    if case.expect == "deleted":
        first_test = next(c for c in files.source.cells if cell_model(c).is_test)
        return lab_expectation(files, "graded", set(check_ids(cell_model(first_test))))
    if case.expect == "simulated":
        sim = tampered(files, case, learner_notebook(files), case.simulate)
        fails = failing(sim, files.lab.id)[0] & set(files.checks)
        if not fails:
            raise ValueError(f"{case.name}: the simulation fails no check of {files.lab.id}")
        return lab_expectation(files, "graded", fails)
    raise ValueError(f"{case.name}: unknown expectation {case.expect!r}")


def flag_text(files: LabFiles, case: TamperCase, flag: str, nb: Any) -> str:
    """The flag text a case must produce: integrity kinds name the tampered cell."""
    if flag not in INTEGRITY_KINDS or case.action not in ("append", "insert-in-region"):
        return flag
    cells = solution_cells(nb)
    if case.action == "insert-in-region":
        first = next(c for c in solution_cells(files.source) if regions(c.source).solution)
        grade_id = cell_model(first).grade_id
        target = next(c for c in cells if cell_model(c).grade_id == grade_id)
    else:
        target = cells[0] if case.cell == "first" else cells[-1]
    return f"{flag} (cell {nb.cells.index(target)},"


def add_tamper(corpus: Corpus, cases: list[TamperCase]) -> None:
    """Write one student's lab notebook with ``cases`` applied in turn; record the expectation."""
    case = cases[0]
    files = next((f for f in corpus.labs if f.lab.id == case.lab), corpus.labs[0])
    nb, base_fails = base_notebook(files, case)
    expects = []
    for each in cases:
        code = each.code.format(repo=str(REPO)) if each.code in NEEDS_REPO else each.code
        nb = tampered(files, each, nb, code)
        expects.append(expectation(files, each, nb, base_fails))
    if any(e != expects[0] for e in expects):
        raise ValueError(f"{case.student_id}: cases sharing a lab must expect the same grade")
    entry = corpus.student(case.student_id, "; ".join(c.description for c in cases))
    entry["flags"] += [flag_text(files, each, flag, nb) for each in cases for flag in each.flags]
    folder = corpus.out / case.student_id
    others = [f for f in corpus.labs if f is not files]
    if case.action in ("rename", "missing") and others:
        full = lab_expectation(others[0], "graded", set())
        corpus.submit(case.student_id, others[0], learner_notebook(others[0]), full, "another lab")
    path = folder / files.lab.notebook
    text = nbformat.writes(nb) + "\n"
    if case.action == "invalid-json":
        path.write_text(text[: len(text) // 2])
    elif case.action == "not-a-notebook":
        path.write_text(json.dumps({"cells": "none", "note": "not a notebook"}))
    elif case.action == "too-large":
        nb.cells.append(nbformat.v4.new_markdown_cell("x" * (SIZE_CAP + 1024**2)))
        path.write_text(nbformat.writes(nb))
    elif case.action == "rename":
        (folder / "my-notebook.ipynb").write_text(text)  # a copy suffix would be graded
    elif case.action == "missing":
        (folder / "notes.txt").write_text("I could not finish the lab.\n")
    else:
        path.write_text(text)
        if case.action == "extra":
            nbformat.write(nbformat.v4.new_notebook(), folder / "scratch.ipynb")
    entry["labs"][files.lab.id] = expects[0]


def build(
    out: Path,
    *,
    solutions: Path | None = None,
    labs: Path | None = None,
    cases: Sequence[TamperCase] = CASES,
    bugs: bool = True,
    lab_ids: Sequence[str] | None = None,
) -> dict[str, Any]:
    """Write the corpus under ``out``; returns what ``expected.json`` holds.

    Args:
        out: the submissions folder to write.
        solutions, labs: the source and released notebooks (default: the repository's).
        cases: the tamper cases to include (default: all of them).
        bugs: include every planted bug (the correct and stub students are always there).
        lab_ids: only these labs (default: every lab with a source notebook).
    """
    found = load_labs(solutions or REPO / "solutions", labs or REPO / "labs")
    found = [f for f in found if lab_ids is None or f.lab.id in lab_ids]
    if not found:
        raise FileNotFoundError("no source notebooks in solutions/")
    corpus = Corpus(Path(out), found)
    add_basics(corpus, bugs=bugs)
    groups: dict[tuple[str, str], list[TamperCase]] = {}
    for case in cases:
        groups.setdefault((case.student_id, case.lab), []).append(case)
    for cases in groups.values():
        add_tamper(corpus, cases)
    return corpus.finish()


def differences(expected: dict[str, Any], rows: dict[str, dict[str, str]]) -> list[str]:
    """Every way ``grades.csv`` differs from ``expected.json``, one line each."""
    problems = []
    checks = {lab: info["checks"] for lab, info in expected["labs"].items()}
    for student, want in expected["students"].items():
        row = rows.get(student)
        if row is None:
            problems.append(f"{student}: no row in grades.csv")
            continue
        where = f"{student} ({want['cases'][0]})"
        for key in ("score", "max_score"):
            if abs(float(row[key]) - want[key]) > 1e-9:
                problems.append(f"{where}: {key} {row[key]}, expected {want[key]:g}")
        if row["status"] != want["status"]:
            problems.append(f"{where}: status {row['status']}, expected {want['status']}")
        problems += [
            f"{where}: flags lack {flag!r}: {row['flags']!r}"
            for flag in want["flags"]
            if flag not in row["flags"]
        ]
        if want.get("clean") and any(kind in row["flags"] for kind in INTEGRITY_KINDS):
            problems.append(f"{where}: honest code flagged: {row['flags']!r}")
        for lab, lab_want in want["labs"].items():
            if row[f"{lab}_status"] != lab_want["status"]:
                problems.append(f"{where}: {lab} {row[f'{lab}_status']}, not {lab_want['status']}")
            if abs(float(row[lab] or 0) - lab_want["score"]) > 1e-9:
                problems.append(f"{where}: {lab} scored {row[lab]}, not {lab_want['score']:g}")
            fails = sorted(c for c in checks[lab] if float(row[c] or 0) == 0)
            if fails != lab_want["fails"]:
                extra = sorted(set(fails) - set(lab_want["fails"]))
                lost = sorted(set(lab_want["fails"]) - set(fails))
                problems.append(f"{where}: {lab} also fails {extra}, passes {lost}")
    problems += [
        f"{s}: a row for a student not in the corpus"
        for s in rows.keys() - expected["students"].keys()
    ]
    return problems


def main(argv: list[str] | None = None) -> int:
    """``python -m grader.redteam.corpus OUT [--solutions DIR] [--labs DIR]``."""
    parser = argparse.ArgumentParser(prog="python -m grader.redteam.corpus", description=__doc__)
    parser.add_argument("out", type=Path, help="folder to write the submissions into")
    parser.add_argument("--solutions", type=Path, default=REPO / "solutions")
    parser.add_argument("--labs", type=Path, default=REPO / "labs")
    args = parser.parse_args(argv)
    expected = build(args.out, solutions=args.solutions, labs=args.labs)
    print(f"{len(expected['students'])} students written to {args.out}", file=sys.stdout)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
