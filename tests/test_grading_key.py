"""A lab's key: references computed once (in the background), wrong references on demand.

Fast, in-process: the key of lab 1.7.2 and the fixture lab, judged against hand-made
sandbox results, and one fixture notebook graded through the sandbox.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import nbformat
import numpy as np
import pytest

from grader import config, sandbox
from grader.batch import LabKey
from grader.checking import misconceptions
from grader.checking.spec import _REGISTRY, get_spec
from grader.checking.specs import fixture
from grader.labs import get_lab
from grader.pipeline.grading import ReferenceFailed, judge_run, load_key
from grader.runs import autograde

CHECK = "lab2.relu.forward"


def lab2_key(background: bool) -> LabKey:
    return load_key("lab2", source=config.SOLUTIONS / get_lab("lab2").notebook, seed=3,
                    background=background)  # fmt: skip


def test_background_references_equal_the_eager_ones() -> None:
    """Does a key computed in the background hold exactly the references of an eager one?"""
    eager, background = lab2_key(False), lab2_key(True)
    assert eager.spec_ids == background.spec_ids and eager.hidden_ids == background.hidden_ids
    for check_id in eager.spec_ids:
        for name, value in eager.expected(check_id).items():
            np.testing.assert_array_equal(background.expected(check_id)[name], value)


def test_wrong_references_are_computed_only_for_a_failed_check(monkeypatch) -> None:
    """Is a passing check judged without any wrong reference, and a failing one diagnosed?"""
    computed: list[str] = []
    original = misconceptions.wrong_references

    def counting(spec, inputs, expected):  # type: ignore[no-untyped-def]
        computed.append(spec.id)
        return original(spec, inputs, expected)

    monkeypatch.setattr(misconceptions, "wrong_references", counting)
    key = lab2_key(False)
    spec = get_spec(CHECK)
    right = {k: np.asarray(v) for k, v in key.expected(CHECK).items()}
    assert judge_run(spec, sandbox.SpecRun(arrays=right), key).passed
    assert computed == []
    x = key.inputs[CHECK]["x"]
    wrong = {k: np.where(x > 0, x, 0.01 * x) for k in right}  # a leaky ReLU
    outcome = judge_run(spec, sandbox.SpecRun(arrays=wrong), key)
    assert not outcome.passed and computed == [CHECK]
    judge_run(spec, sandbox.SpecRun(arrays=wrong), key)
    assert computed == [CHECK]  # once per key and check


def test_a_failing_reference_stops_the_batch(tmp_path: Path, monkeypatch) -> None:
    """Does a reference that raises stop grading (the grader's fault), not mark the learner
    ungradable?"""
    check_id = "fixture.double.value"
    spec = get_spec(check_id)

    def broken(inputs):  # type: ignore[no-untyped-def]
        raise ArithmeticError("reference bug")

    monkeypatch.setitem(_REGISTRY, check_id, dataclasses.replace(spec, reference=broken))
    key = load_key(fixture.LAB.id, source=fixture.SOURCE, seed=0, background=True)
    with pytest.raises(ReferenceFailed, match="reference bug"):
        key.expected(check_id)
    notebook = tmp_path / fixture.LAB.notebook
    nbformat.write(fixture.solution(), notebook)
    with pytest.raises(ReferenceFailed):
        autograde._grade_one(notebook, key, config.DEFAULT_LIMITS, None)
