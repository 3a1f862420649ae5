"""Misconceptions: is the catalogue well formed, does each wrong rule name itself and nothing else?

The fast tests check the catalogue against the checks and the red-team declarations, feed each
wrong reference back as a learner's outputs, and feed random outputs of the right shape; the
slow one measures the red-team corpus with ``python -m grader.redteam.measure``.
"""

from __future__ import annotations

import csv
import functools
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from grader.checking.misconceptions import (
    Misconception,
    catalogue,
    cell,
    diagnose,
    diagnosed,
    parse_cell,
    wrong_references,
)
from grader.checking.outcome import Outcome, judge
from grader.checking.spec import Inputs, Outputs, Spec, get_spec
from grader.labs import LABS
from grader.outputs.report import format_summary, summarize
from grader.redteam import REPO, bugs_for

SEED = 0
ALL = catalogue()
WITH_WRONG = [m for m in ALL if m.wrong is not None]


@functools.cache
def references(check_id: str) -> tuple[Inputs, Outputs, dict[str, Outputs]]:
    """A check's inputs, reference and wrong references at SEED (computed once per session)."""
    spec = get_spec(check_id)
    inputs = spec.make_inputs(SEED)
    expected = spec.reference({k: v.copy() for k, v in inputs.items()})
    return inputs, expected, wrong_references(spec, inputs, expected)


def test_catalogue_is_large_and_well_formed() -> None:
    """Are there 30+ misconceptions, ids unique and in their lab, naming real checks?"""
    assert len(ALL) >= 30
    assert len({m.id for m in ALL}) == len(ALL)
    for m in ALL:
        assert m.id.split(".")[0] in LABS and len(m.id.split(".")) == 3, m.id
        assert m.checks and all(c.split(".")[0] == m.lab for c in m.checks), m.id
        for check_id in m.checks:
            get_spec(check_id)  # raises for an unknown check
        given = [m.wrong is not None, bool(m.error), m.observed is not None]
        assert sum(given) == 1, m.id  # a wrong reference, an error or an observation
        sentences = [s for s in m.explanation.replace("e.g.", "eg").split(". ") if s.strip()]
        assert 2 <= len(sentences) <= 4 and len(m.explanation) < 420, m.id


def test_planted_bugs_named_by_the_catalogue_exist() -> None:
    """Does every planted bug a misconception claims exist in that lab's red-team corpus, once?"""
    claimed = [(m.lab, bug) for m in ALL for bug in m.planted]
    assert len(claimed) == len(set(claimed))
    for lab, bug in claimed:
        assert bug in {b.name for b in bugs_for(lab)}, (lab, bug)


@pytest.mark.parametrize("m", WITH_WRONG, ids=[m.id for m in WITH_WRONG])
def test_a_wrong_rule_fed_back_is_named_as_itself(m: Misconception) -> None:
    """Given its own wrong reference as a learner's outputs, does some check name exactly it?"""
    named = []
    for check_id in m.checks:
        inputs, expected, wrong = references(check_id)
        if m.id not in wrong:
            continue  # the check cannot tell this rule apart on these inputs
        spec = get_spec(check_id)
        got = wrong[m.id]
        assert not all(r.ok for r in judge(spec, got, expected, inputs))
        found = diagnose(spec, inputs, got=got, wrong=wrong)
        assert found is None or found.id == m.id, (check_id, found)
        named += [check_id] if found is not None else []
    assert named, f"{m.id}: no check tells this rule from the right one"


CHECKS_WITH_WRONG = sorted({c for m in WITH_WRONG for c in m.checks})


@pytest.mark.parametrize("check_id", CHECKS_WITH_WRONG)
def test_random_outputs_of_the_right_shape_are_not_diagnosed(check_id: str) -> None:
    """Do random arrays shaped like the reference (an unrelated wrong answer) get no name?"""
    inputs, expected, wrong = references(check_id)
    rng = np.random.default_rng(7)
    got = {k: rng.normal(size=np.shape(v)) for k, v in expected.items()}
    assert diagnose(get_spec(check_id), inputs, got=got, wrong=wrong) is None


def test_the_right_answer_and_a_stub_error_are_not_diagnosed() -> None:
    """Do the reference's own outputs, and a stub's NotImplementedError, get no name?"""
    for check_id in CHECKS_WITH_WRONG:
        inputs, expected, _ = references(check_id)
        spec = get_spec(check_id)
        if spec.compare is None:  # a statistical check's reference is not a learner's outputs
            passing = diagnosed(Outcome(spec, judge(spec, expected, expected, inputs)), inputs)
            assert passing.passed and passing.diagnosis is None
        stub = "your code raised NotImplementedError: replace the stub with your solution"
        assert diagnose(spec, inputs, error=stub) is None


def test_dropout_rules_the_checks_cannot_tell_apart_are_not_named() -> None:
    """Statistical dropout checks: are the unscaled rule and p taken as the keep probability
    (told apart by the kept fraction and the scale together) named, and are other wrong
    dropouts (dropping too much unscaled, scaled wrongly) left unnamed?"""
    import torch

    check_id = "lab3.dropout.train"
    inputs, expected, wrong = references(check_id)
    spec = get_spec(check_id)
    x = torch.tensor(inputs["x"])

    def calls(p: float, factor: float) -> Outputs:
        draw = [(torch.nn.functional.dropout(x, p, training=True) * factor).numpy() for _ in "ab"]
        return {"first call": draw[0], "second call": draw[1]}

    torch.manual_seed(1)
    unscaled = diagnose(spec, inputs, got=calls(0.3, 0.7), wrong=wrong)
    assert unscaled is not None and unscaled.id == "lab3.dropout.not_scaled"
    for got in (calls(0.7, 0.3 / 0.7), calls(0.7, 1.0)):  # kept with p, scaled 1/(1-p) or 1/p
        found = diagnose(spec, inputs, got=got, wrong=wrong)
        assert found is not None and found.id == "lab3.dropout.p_as_keep_probability"
    for got in (calls(0.7, 0.3), calls(0.3, 0.5)):
        assert not all(r.ok for r in judge(spec, got, expected, inputs))
        assert diagnose(spec, inputs, got=got, wrong=wrong) is None


def test_a_failing_report_names_the_misconception() -> None:
    """Does a failing check's report end with 'This looks like <id>: <explanation>'?"""
    check_id = "lab2.softmax.backward"
    inputs, expected, wrong = references(check_id)
    spec: Spec = get_spec(check_id)
    got = wrong["lab2.softmax.diagonal_jacobian"]
    outcome = diagnosed(Outcome(spec, judge(spec, got, expected, inputs)), inputs, got, expected)
    assert not outcome.passed and outcome.diagnosis is not None
    assert "This looks like lab2.softmax.diagonal_jacobian: Your softmax" in outcome.report()
    assert cell({check_id: outcome}) == f"lab2.softmax.diagonal_jacobian ({check_id})"


def test_the_summary_lists_the_cohorts_misconceptions_by_frequency(tmp_path: Path) -> None:
    """Does summary.md rank misconceptions by students, with share, first sentence and checks?"""
    rows = [
        ("s1", "lab2.softmax.diagonal_jacobian (lab2.softmax.backward)"),
        ("s2", "lab1.backward.grad_assigned (lab1.backward.chain, lab1.backward.reuse); "
               "lab2.softmax.diagonal_jacobian (lab2.softmax.axis)"),
        ("s3", ""),
    ]  # fmt: skip
    with open(tmp_path / "grades.csv", "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["student_id", "status", "score", "max_score", "diagnoses"])
        writer.writerows([(s, "graded", "1", "2", d) for s, d in rows])
    assert parse_cell(rows[1][1])["lab1.backward.grad_assigned"] == [
        "lab1.backward.chain",
        "lab1.backward.reuse",
    ]
    text = format_summary(summarize(tmp_path))
    table = text.split("## Misconceptions, most frequent first")[1].splitlines()
    lines = [line for line in table if line.startswith("| lab")]
    assert lines[0].startswith("| lab2.softmax.diagonal_jacobian | Your softmax gradient is")
    assert lines[0].endswith("| 2 | 67% | lab2.softmax.axis, lab2.softmax.backward |")
    assert lines[1].startswith("| lab1.backward.grad_assigned |") and "| 1 | 33% |" in lines[1]


@pytest.mark.slow
@pytest.mark.timeout(1800)
def test_planted_bugs_are_diagnosed_and_nothing_else_is() -> None:
    """Are 90%+ of catalogued planted bugs named exactly, with no name on solutions or stubs?"""
    env = {**os.environ, "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1"}
    command = [sys.executable, "-m", "grader.redteam.measure", "--seed", str(SEED)]
    done = subprocess.run(command, capture_output=True, text=True, env=env, cwd=REPO)
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(done.stdout)
    totals = result["totals"]
    missed = [
        (name, bug["named"])
        for lab in result["labs"].values()
        for name, bug in lab["bugs"].items()
        if bug["misconception"] and not bug["diagnosed"]
    ]
    assert totals["diagnosed"] >= 0.9 * totals["catalogued"], missed
    assert totals["false_diagnoses"] == 0, result
