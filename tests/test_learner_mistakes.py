"""The learner-path corpus: 36 mistakes of a learner writing the labs, each as the learner sees it.

Each lab's mistakes run in one Jupyter kernel (:mod:`grader.redteam.learnerrun`): the mistake
made, the cells up to its self-check run, the self-check's output read, the mistake fixed.
"""

from __future__ import annotations

from collections import Counter

import pytest

from grader.labs import LABS
from grader.redteam import REPO, apply_bug
from grader.redteam.learner import load_labs
from grader.redteam.learnerpath import MISTAKES
from grader.redteam.learnerrun import run_lab

MAX_LINES = 12
"""The most lines one mistake's self-check may print."""

NAMED_IN_ISSUE = {
    "backward-loop-in-graph-order",
    "log-softmax-grad-times-g",
    "adam-raw-moments",
    "module-class-rerun",
    "parameters-reversed",
    "mean-divides-by-total",
    "zero-grad-float64",
    "relu-clips-input-in-place",
    "getitem-grad-fancy-plus-equals",
    "transpose-grad-by-axes",
    "linear-weight-in-out",
    "dropout-p-as-keep",
}
"""The mistakes the learner walkthrough of issue #26 names."""


def test_the_corpus_holds_36_mistakes_of_every_lab_that_apply_to_the_solutions() -> None:
    """Are there 36 distinct mistakes over the five labs, every one named in the issue among
    them, each applying to its solution cell and pointing at a self-check cell of its lab?"""
    assert len(MISTAKES) == 36 and len({m.name for m in MISTAKES}) == 36
    assert set(Counter(m.lab for m in MISTAKES)) == set(LABS)
    assert NAMED_IN_ISSUE <= {m.name for m in MISTAKES}
    files = {f.lab.id: f for f in load_labs(REPO / "solutions", REPO / "labs")}
    for mistake in MISTAKES:
        source = files[mistake.lab].source
        if mistake.bug.old:
            apply_bug(source, mistake.bug)  # raises unless the text is there exactly once
        ids = {c.metadata.get("nbgrader", {}).get("grade_id") for c in source.cells}
        assert {mistake.check_cell, mistake.bug.grade_id} <= ids, mistake.name


@pytest.mark.slow
@pytest.mark.timeout(900)
@pytest.mark.parametrize("lab_id", list(LABS))
def test_each_mistake_gets_one_short_message_at_the_learners_line(lab_id: str) -> None:
    """Does every mistake fail its self-check with one message (a diagnosis, a hint, or an error
    that names its cause) in at most 12 lines, naming the cell the learner edited when the
    learner's code raised; and does the choice lab 1.7.3 allows (parameters in reverse order)
    pass?"""
    problems = []
    for name, seen in run_lab(lab_id).items():
        if seen["allowed"]:
            if seen["failed"]:
                problems.append(f"{name}: an allowed choice failed:\n{seen['text']}")
            continue
        wrong = []
        if not seen["failed"]:
            wrong.append("its self-check passed")
        messages = seen["diagnosis_texts"] + seen["hints"]
        if messages > 1 or (messages == 0 and seen["errors"] != 1):
            wrong.append(
                f"{seen['diagnosis_texts']} diagnoses, {seen['hints']} hints, "
                f"{seen['errors']} errors"
            )
        if seen["lines"] > MAX_LINES:
            wrong.append(f"{seen['lines']} lines")
        if seen["raised"] and seen["edited_cell"] not in seen["named_cells"]:
            wrong.append(f"names {seen['named_cells']}, not the edited {seen['edited_cell']}")
        if wrong:
            problems.append(f"{name}: {'; '.join(wrong)}:\n{seen['text']}")
    assert not problems, "\n\n".join(problems)
