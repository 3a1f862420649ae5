"""Points mean exactly the work done: accumulation checked in every gradient rule, a compound
operation on trial alone, and no check that made-up answers pass (the universal forger)."""

from __future__ import annotations

import re
from typing import Any

import numpy as np
import pytest

from grader.checking.check import run_spec
from grader.checking.misconceptions import get
from grader.checking.spec import get_spec, load_lab
from grader.labs import LABS
from grader.redteam import REPO, bugs_for
from grader.redteam.forger import (
    STRATEGIES,
    committed_shapes,
    forgeable,
    forged,
    reference_shapes,
)

RULE = re.compile(r"\b\w+\.grad \+=")


def rule_cells(lab_id: str) -> list[str]:
    """The grade ids of the solution cells of ``lab_id`` that hold a gradient rule (+=)."""
    import nbformat

    nb = nbformat.read(REPO / "solutions" / LABS[lab_id].notebook, as_version=4)
    return [
        c.metadata["nbgrader"]["grade_id"]
        for c in nb.cells
        if c.metadata.get("nbgrader", {}).get("solution") and RULE.search(c.source)
    ]


@pytest.mark.parametrize("lab_id", ["lab1", "lab2"])
def test_every_gradient_rule_has_an_accumulation_bug_planted(lab_id: str) -> None:
    """Does every solution cell with a gradient rule (``.grad +=``) have its ``=`` mistake in
    the planted-bug corpus, failing a check where an input is used twice?"""
    assigned = {bug.grade_id: bug for bug in bugs_for(lab_id) if bug.name.endswith("-assigned")}
    for grade_id in rule_cells(lab_id):
        if grade_id == "backward":
            continue  # backward's own += adds the seed: a rule of no operation
        assert grade_id in assigned, f"no `=` for `+=` planted in {grade_id}"
        assert any(".reuse" in check for check in assigned[grade_id].fails)


@pytest.mark.parametrize("lab_id", ["lab1", "lab2"])
def test_accumulation_checks_are_hidden_worth_a_point_and_catalogued(lab_id: str) -> None:
    """Is every ``<op>.reuse`` check of a single operation hidden (the visible ones teach it in
    lab 1.7.1's + and *), worth a point, and named by the lab's grad_assigned misconception?"""
    catalogued = set(get(f"{lab_id}.backward.grad_assigned").checks)
    reuse = [s for s in load_lab(lab_id) if s.id.endswith(".reuse") and ".backward." not in s.id]
    assert len(reuse) >= (4 if lab_id == "lab1" else 12)
    for spec in reuse:
        if spec.id in ("lab1.add.reuse", "lab1.mul.reuse"):
            assert not spec.hidden
            continue
        assert spec.hidden and spec.points == 1, spec.id
        assert spec.id in catalogued


@pytest.mark.parametrize("lab_id", ["lab1", "lab2"])
def test_derived_operations_written_with_a_rule_of_their_own(lab_id: str) -> None:
    """Has every operation the solutions derive (-a, a - b, a / b, mean) a planted bug that
    writes it with a rule of its own assigning (=), failing its reuse check, and does the same
    rule adding (+=) pass every check of the lab, so that the = is all the checks see?"""
    import dataclasses

    import nbformat

    from grader.redteam import apply_bug, evaluate_in_process

    derived = {"lab1": {"neg", "sub", "truediv"}, "lab2": {"mean"}}[lab_id]
    own = {b.name: b for b in bugs_for(lab_id) if "rule of its own" in b.description}
    assert set(own) == {f"{topic}-grad-assigned" for topic in derived}
    nb = nbformat.read(REPO / "solutions" / LABS[lab_id].notebook, as_version=4)
    for topic in derived:
        bug = own[f"{topic}-grad-assigned"]
        assert f"{lab_id}.{topic}.reuse" in bug.fails
        adding = dataclasses.replace(bug, new=bug.new.replace(".grad =", ".grad +="))
        outcomes = evaluate_in_process(apply_bug(nb, adding), lab_id, seed=0)
        assert all(o.passed for o in outcomes.values()), [
            c for c, o in outcomes.items() if not o.passed
        ]


def test_cross_entropy_is_judged_on_correct_parts() -> None:
    """Does a correct cross_entropy pass even when the learner's log_softmax, getitem and mean
    are wrong, whether it calls them as functions or as Tensor methods, and are the learner's
    names and Tensor's methods put back afterwards?"""
    from micrograd_plus.tensor import Tensor

    namespace: dict[str, Any] = {"np": np, "Tensor": Tensor}
    exec(  # a learner whose parts are all wrong, and two correct compositions of them
        "def log_softmax(x, axis=-1): return x\n"
        "def getitem(x, idx): return x\n"
        "def mean(x, axis=None, keepdims=False): return x.sum()\n"
        "def as_functions(logits, targets):\n"
        "    n = logits.shape[0]\n"
        "    return -mean(getitem(log_softmax(logits, axis=1), (np.arange(n), targets)))\n"
        "def as_methods(logits, targets):\n"
        "    picked = logits.log_softmax(1)[np.arange(logits.shape[0]), targets]\n"
        "    return -picked.mean()\n",
        namespace,
    )
    saved = {name: vars(Tensor).get(name) for name in ("log_softmax", "__getitem__", "mean")}
    Tensor.log_softmax, Tensor.mean = namespace["log_softmax"], namespace["mean"]
    Tensor.__getitem__ = namespace["getitem"]
    try:
        for check_id in ("lab2.cross_entropy.forward", "lab2.cross_entropy.backward"):
            for name in ("as_functions", "as_methods"):
                outcome = run_spec(get_spec(check_id), (namespace[name],))
                assert outcome.passed, outcome.report()
        assert Tensor.mean is namespace["mean"] and Tensor.__getitem__ is namespace["getitem"]
        assert namespace["log_softmax"].__name__ == "log_softmax"
    finally:
        for name, value in saved.items():
            if value is None:
                delattr(Tensor, name)
            else:
                setattr(Tensor, name, value)


def test_a_wrong_composition_still_fails_cross_entropy() -> None:
    """Does a cross_entropy that sums instead of averaging still fail, on correct parts?"""
    namespace: dict[str, Any] = {"np": np}
    exec(
        "def log_softmax(x, axis=-1): raise NotImplementedError\n"
        "def getitem(x, idx): raise NotImplementedError\n"
        "def summed(logits, targets):\n"
        "    n = logits.shape[0]\n"
        "    return -getitem(log_softmax(logits, axis=1), (np.arange(n), targets)).sum()\n",
        namespace,
    )
    outcome = run_spec(get_spec("lab2.cross_entropy.forward"), (namespace["summed"],))
    assert not outcome.passed and not outcome.error
    assert outcome.diagnosis is not None and outcome.diagnosis.id == "lab2.cross_entropy.summed"


# ------------------------------------------------------------------ the universal forger
@pytest.fixture(scope="module")
def shapes() -> dict[str, dict[str, tuple[int, ...]]]:
    """Every check's output names and shapes, from the reference implementation."""
    return {cid: keys for checks in reference_shapes().values() for cid, keys in checks.items()}


@pytest.mark.slow
@pytest.mark.parametrize("lab_id", list(LABS))
def test_no_check_passes_made_up_answers(lab_id: str, shapes: dict[str, Any]) -> None:
    """Does every check of the lab, visible and hidden, reject the universal forger's answers
    (each output echoed from the inputs, zeros, ones, a random permutation or random fractions),
    also when the forger may pick a strategy per output?"""
    passed = {}
    for spec in load_lab(lab_id):
        assert shapes[spec.id], f"{spec.id}: the reference gave no outputs"
        found = forgeable(spec, shapes[spec.id], seed=3)
        if found:
            passed[spec.id] = found
    assert not passed


def test_the_forgers_committed_table_matches_the_checks(shapes: dict[str, Any]) -> None:
    """Does grader/redteam/forger_shapes.json (what the sandbox forger cases know) still name
    every check's outputs and shapes (rewrite it with python -m grader.redteam.forger)?"""
    committed = {cid: keys for lab in LABS for cid, keys in committed_shapes(lab).items()}
    assert committed == {c: {k: list(v) for k, v in keys.items()} for c, keys in shapes.items()}


def test_forger_answers_have_the_names_and_shapes_it_was_given() -> None:
    """Does each strategy answer every output with an array of its shape?"""
    inputs = {"x": np.arange(6.0).reshape(2, 3)}
    for strategy in STRATEGIES:
        got = forged(strategy, {"out": (2, 3), "n": ()}, inputs)
        assert {k: np.shape(v) for k, v in got.items()} == {"out": (2, 3), "n": ()}
    assert np.array_equal(forged("echo", {"out": (2, 3)}, inputs)["out"], inputs["x"])


def test_feedback_pages_run_no_script_and_load_nothing() -> None:
    """Does a feedback page forbid every script and remote load (a Content-Security-Policy of
    default-src 'none'), with no <script> and no remote address anywhere in its template?"""
    import inspect

    from grader.outputs import feedback

    template = inspect.getsource(feedback)
    assert "default-src 'none'" in feedback.CSP and "script-src" not in feedback.CSP
    assert "<script" not in template and not re.search(r"(src|href)=[\"']?https?:", template)
    page = feedback.markdown("[x](javascript:alert(1)) <img src=x onerror=alert(1)> $a<b$")
    assert "javascript:" not in page and "<img" not in page


# ------------------------------------------------- random draws judged by the lab's own draw
def drawing_layers(rng: np.random.Generator, own: bool) -> dict[str, Any]:
    """A learner's Linear and Dropout drawing by the lab's rule from ``rng`` or, with ``own``,
    the same distributions from another generator (values that only look right)."""
    from micrograd_plus.tensor import Tensor

    other = np.random.default_rng(7)

    class Linear:
        def __init__(self, n_in: int, n_out: int, bias: bool = True) -> None:
            k, gen = 1 / np.sqrt(n_in), other if own else rng
            self.weight = Tensor(gen.uniform(-k, k, (n_out, n_in)).astype(np.float32))
            self.bias = Tensor(gen.uniform(-k, k, n_out).astype(np.float32)) if bias else None

    class Dropout:
        training = True

        def __init__(self, p: float) -> None:
            self.p = p

        def forward(self, x: Any) -> Any:
            if not self.training or self.p == 0:
                return x
            keep = other.random(x.shape) < 1 - self.p if own else rng.random(x.shape) >= self.p
            return x * (keep / (1 - self.p))

    return {"Linear": Linear, "Dropout": Dropout, "rng": rng}


DRAWS = (
    "lab3.linear.init",
    "lab3.linear.init_sizes",
    "lab3.dropout.train",
    "lab3.dropout.backward",
    "lab3.dropout.rates",
)


@pytest.mark.parametrize("check_id", DRAWS)
def test_draw_checks_judge_the_labs_own_draw(check_id: str) -> None:
    """Does a layer drawing by the lab's rule from the notebook's rng pass, with rng's own
    state put back afterwards, and does one drawing the same distribution from another
    generator fail with a row naming the lab's rule (and no misconception)?"""
    spec = get_spec(check_id)
    rng = np.random.default_rng(5)
    layers = drawing_layers(rng, own=False)
    before = rng.bit_generator.state
    for seed in (0, 20261206):
        outcome = run_spec(spec, tuple(layers[n] for n in spec.symbols), seed)
        assert outcome.passed, outcome.report()
    assert rng.bit_generator.state == before
    own = drawing_layers(rng, own=True)
    outcome = run_spec(spec, tuple(own[n] for n in spec.symbols), 0)
    assert not outcome.passed and outcome.diagnosis is None
    named = [r for r in outcome.rows if not r.ok and "the lab's" in r.name]
    assert named and "rng" in named[0].message, outcome.report()
