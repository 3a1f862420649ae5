"""Red team: do solutions, stubs, planted bugs and hostile submissions grade exactly as they must?

The in-process tests run each lab's notebooks in one Python process, without torch as in
the sandbox (``grader.redteam.evaluate``); the corpus test generates every submission and
grades them through the command line, as an instructor would, then compares ``grades.csv``
with ``expected.json``.
"""

from __future__ import annotations

import csv
import functools
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from grader.labs import LABS, Lab
from grader.redteam import REPO
from grader.redteam.corpus import build, differences
from grader.redteam.learner import LabFiles, learner_notebook, load_labs
from grader.redteam.tamper import ACTIONS, CASES, EXPECTATIONS, ISOLATION_CASES

SEED = 1234
"""The corpus is graded at this seed; bugs are also checked at the notebooks' default seed 0."""
CELL_TIMEOUT = 20
"""Seconds per cell in the corpus run: above every honest cell, small for the loop cases."""
MIN_BUGS = 5
SOLVED = [lab for lab in LABS.values() if (REPO / "solutions" / lab.notebook).is_file()]


@functools.cache
def lab_files(lab_id: str) -> LabFiles:
    """A lab's source and released notebooks (released in memory when labs/ lacks it)."""
    (files,) = [f for f in load_labs(REPO / "solutions", REPO / "labs") if f.lab.id == lab_id]
    return files


@functools.cache
def evaluation(lab_id: str) -> dict[str, Any]:
    """Failing checks of a lab's solution, stub and bugs at seeds 0 and SEED.

    Evaluated in one fresh process with single-threaded BLAS, as in the sandbox (two BLAS
    threads on a busy two-core machine make lab 5's training ten times slower).
    """
    env = {
        **os.environ,
        "OPENBLAS_NUM_THREADS": "1",
        "OMP_NUM_THREADS": "1",
        "MKL_NUM_THREADS": "1",
    }
    command = [sys.executable, "-m", "grader.redteam.evaluate", lab_id, "--seeds", "0", str(SEED)]
    done = subprocess.run(command, capture_output=True, text=True, env=env, cwd=REPO, timeout=1200)
    assert done.returncode == 0, done.stderr[-3000:]
    result: dict[str, Any] = json.loads(done.stdout)
    return result


def test_tamper_cases_are_well_formed() -> None:
    """Does every tamper case use a known action and expectation, with unique names?"""
    cases = [*CASES, *ISOLATION_CASES]
    assert len({case.name for case in cases}) == len(cases)
    for case in cases:
        assert case.action in ACTIONS, case.name
        assert case.expect in EXPECTATIONS or case.expect.startswith("ungradable:"), case.name
        assert case.base in ("solution", "stub", "bug") and case.cell in ("first", "last")
        assert (case.expect == "simulated") == bool(case.simulate), case.name


@pytest.mark.parametrize("lab", SOLVED, ids=[lab.id for lab in SOLVED])
def test_submissions_are_the_released_notebook_with_learner_code(lab: Lab) -> None:
    """Does a corpus submission differ from the release only in solution code, hiding nothing?"""
    files = lab_files(lab.id)
    nb = learner_notebook(files)
    assert [c.id for c in nb.cells] == [c.id for c in files.released.cells]
    changed = [
        c.metadata.nbgrader.grade_id
        for c, r in zip(nb.cells, files.released.cells, strict=True)
        if c.source != r.source
    ]
    solution_ids = [
        c.metadata.nbgrader.grade_id
        for c in files.released.cells
        if c.get("metadata", {}).get("nbgrader", {}).get("solution")
    ]
    assert changed and set(changed) <= set(solution_ids)
    text = json.dumps(nb)
    assert "SOLUTION" not in text and "HIDDEN TESTS" not in text


@pytest.mark.slow
@pytest.mark.parametrize("lab", SOLVED, ids=[lab.id for lab in SOLVED])
def test_solution_passes_and_stub_fails_every_check(lab: Lab) -> None:
    """Does the solution pass every check of its lab, and the released stub fail every one?"""
    result = evaluation(lab.id)
    assert result["solution"] == {"0": [], str(SEED): []}
    assert result["stub"] == {"0": result["checks"], str(SEED): result["checks"]}


@pytest.mark.slow
@pytest.mark.parametrize("lab", SOLVED, ids=[lab.id for lab in SOLVED])
def test_planted_bugs_fail_exactly_their_checks(lab: Lab) -> None:
    """Does each planted bug fail exactly its declared checks, at seed 0 and at the corpus seed?"""
    wrong = []
    for name, bug in evaluation(lab.id)["bugs"].items():
        for seed, got in bug["got"].items():
            if got != bug["fails"]:
                extra = sorted(set(got) - set(bug["fails"]))
                lost = sorted(set(bug["fails"]) - set(got))
                wrong.append(f"{name} (seed {seed}): also fails {extra}, passes {lost}")
    assert not wrong, f"{lab.id}:\n  " + "\n  ".join(wrong)


@pytest.mark.slow
@pytest.mark.timeout(900)
@pytest.mark.skipif(not SOLVED, reason="no source notebooks in solutions/")
def test_corpus_grades_exactly_as_expected(tmp_path: Path) -> None:
    """Graded by the CLI, does every corpus student get its exact status, score and failures?"""
    corpus = tmp_path / "corpus"
    expected = build(corpus)
    assert json.loads((corpus / "expected.json").read_text()) == json.loads(json.dumps(expected))
    out = tmp_path / "out"
    command = [
        sys.executable, "-m", "grader", "autograde", str(corpus), "--out", str(out),
        "-j", "2", "--seed", str(SEED), "--timeout", str(CELL_TIMEOUT), "--no-progress",
    ]  # fmt: skip
    done = subprocess.run(command, capture_output=True, text=True, timeout=900, cwd=REPO)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    with open(out / "grades.csv", newline="") as handle:
        reader = csv.DictReader(handle)
        head = reader.fieldnames or []
        rows = {row["student_id"]: row for row in reader}
    assert head[0] == "student_id"
    assert {"status", "score", "raw_score", "max_score", "flags", "diagnoses"} <= set(head)
    for lab in expected["labs"]:
        assert head.index(f"{lab}_status") == head.index(lab) + 1
    problems = differences(expected, rows)
    assert not problems, f"{len(problems)} problem(s):\n" + "\n".join(problems)
