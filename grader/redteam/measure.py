"""How well failing checks name planted mistakes: the red-team corpus, diagnosed in process.

``python -m grader.redteam.measure [LAB ...] [--seed 0]`` runs, for each lab, the
solution, the released stub and every planted bug (as :mod:`grader.redteam.evaluate` does,
without torch while the learner's program runs) and prints, as JSON, the misconceptions each
one's failing checks named. A planted bug that a catalogued misconception declares
(``planted=``) is *diagnosed* when its failing checks name that misconception and no other;
any name on the solution, the stub or an undeclared bug is a *false diagnosis*.

``--realistic`` measures the second corpus instead (:mod:`grader.redteam.realistic`: mistakes
written from the lab texts independently of the catalogue): a mistake is *diagnosed* when its
failing checks name the misconception :data:`~grader.redteam.realistic.CATALOGUED_AS` gives it
and no other; any other name is a false diagnosis. Lab 1.7.5's program runs up to its last task
there (:data:`UNTIL`): the training run after it decides only the model checks, which name nothing.
"""

from __future__ import annotations

import argparse
import copy
import json
from typing import Any

from grader.checking.check import run_spec
from grader.checking.misconceptions import catalogue
from grader.checking.spec import load_lab
from grader.config import REPO
from grader.labs import LABS
from grader.redteam.evaluate import program_run
from grader.redteam.planted import apply_bug, bugs_for


def named(nb: Any, lab_id: str, seed: int) -> dict[str, str]:
    """Failing check id -> the misconception it named, for one notebook."""
    with program_run(nb) as namespace:
        found = {}
        for spec in load_lab(lab_id):
            outcome = run_spec(spec, tuple(namespace.get(n) for n in spec.symbols), seed)
            if not outcome.passed and outcome.diagnosis is not None:
                found[spec.id] = outcome.diagnosis.id
        return found


def measure_lab(lab_id: str, seed: int = 0) -> dict[str, Any]:
    """The names given to a lab's solution, stub and planted bugs, and what each bug should get."""
    from grader.redteam.learner import learner_notebook, load_labs

    (files,) = [f for f in load_labs(REPO / "solutions", REPO / "labs") if f.lab.id == lab_id]
    declared = {bug: m.id for m in catalogue(lab_id) for bug in m.planted}
    bugs = {}
    for bug in bugs_for(lab_id):
        got = named(learner_notebook(files, apply_bug(files.source, bug)), lab_id, seed)
        want = declared.get(bug.name)
        names = set(got.values())
        bugs[bug.name] = {
            "misconception": want,
            "named": got,
            "diagnosed": want is not None and names == {want},
            "false": sorted(names - {want}),
        }
    return {
        "solution": named(learner_notebook(files), lab_id, seed),
        "stub": named(files.released, lab_id, seed),
        "bugs": bugs,
    }


UNTIL = {"lab5": "evaluate_test"}
"""Lab -> the last cell of its program that the realistic measure runs (the rest trains)."""


def program_until(nb: Any, grade_id: str | None) -> Any:
    """A copy of ``nb`` without the cells after the one with ``grade_id`` (all when None)."""
    from grader.redteam.cells import cell_model

    nb = copy.deepcopy(nb)
    if grade_id is not None:
        ids = [cell_model(c).grade_id for c in nb.cells]
        nb.cells = nb.cells[: ids.index(grade_id) + 1]
    return nb


def measure_realistic(lab_id: str, seed: int = 0) -> dict[str, Any]:
    """The names given to a lab's solution, stub and realistic mistakes, and what each needs."""
    from grader.redteam.learner import learner_notebook, load_labs
    from grader.redteam.realistic import CATALOGUED_AS, MISTAKES

    (files,) = [f for f in load_labs(REPO / "solutions", REPO / "labs") if f.lab.id == lab_id]
    until = UNTIL.get(lab_id)

    def names(nb: Any) -> dict[str, str]:
        return named(program_until(nb, until), lab_id, seed)

    found = {}
    for mistake in [m for m in MISTAKES if m.lab == lab_id]:
        got = names(learner_notebook(files, apply_bug(files.source, mistake)))
        want = CATALOGUED_AS.get(mistake.name)
        given = set(got.values())
        found[mistake.name] = {
            "misconception": want,
            "named": got,
            "diagnosed": want is not None and given == {want},
            "false": sorted(given - {want}),
        }
    return {
        "solution": names(learner_notebook(files)),
        "stub": names(files.released),
        "bugs": found,
    }


def totals(results: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """Planted bugs declared, diagnosed and falsely named, over every lab measured."""
    bugs = [b for lab in results.values() for b in lab["bugs"].values()]
    declared = [b for b in bugs if b["misconception"] is not None]
    false = sum(len(b["false"]) > 0 for b in bugs)
    false += sum(len(lab["solution"]) + len(lab["stub"]) for lab in results.values())
    return {
        "planted": len(bugs),
        "catalogued": len(declared),
        "diagnosed": sum(b["diagnosed"] for b in declared),
        "false_diagnoses": false,
    }


def realistic_totals(results: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """The realistic corpus: mistakes, those a catalogued misconception describes, those named
    exactly (of the catalogued ones, and of all), and false diagnoses (solutions and stubs too)."""
    counts = totals(results)
    mistakes = counts.pop("planted")
    return {
        "mistakes": mistakes,
        "catalogued": counts["catalogued"],
        "diagnosed": counts["diagnosed"],
        "share_of_catalogued": round(counts["diagnosed"] / max(counts["catalogued"], 1), 3),
        "share_of_all": round(counts["diagnosed"] / max(mistakes, 1), 3),
        "false_diagnoses": counts["false_diagnoses"],
    }


def main(argv: list[str] | None = None) -> int:
    """``python -m grader.redteam.measure [LAB ...]``: JSON on stdout."""
    parser = argparse.ArgumentParser(prog="python -m grader.redteam.measure")
    parser.add_argument("labs", nargs="*", default=list(LABS))
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--realistic", action="store_true", help="the second corpus (grader.redteam.realistic)"
    )
    args = parser.parse_args(argv)
    if args.realistic:
        from grader.redteam.realistic import MISTAKES

        labs = [lab for lab in args.labs if any(m.lab == lab for m in MISTAKES)]
        found = {lab: measure_realistic(lab, args.seed) for lab in labs}
        print(json.dumps({"labs": found, "totals": realistic_totals(found)}, indent=1))
        return 0
    results = {lab: measure_lab(lab, args.seed) for lab in args.labs}
    print(json.dumps({"labs": results, "totals": totals(results)}, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
