"""The finish line of each lab: its "Before you hand in" cell and validate's last line."""

from __future__ import annotations

from pathlib import Path

import nbformat
import pytest

from grader import config
from grader.labs import LABS
from grader.learner.validate import lab_total, summary

NOTEBOOKS = [
    folder / lab.notebook for lab in LABS.values() for folder in (config.SOLUTIONS, config.LABS_DIR)
]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_each_lab_ends_with_the_hand_in_cell(path: Path) -> None:
    """Does the notebook end with how to check and hand it in, in a learner's words?"""
    last = nbformat.read(path, as_version=4).cells[-1]
    text = last.source
    assert last.cell_type == "markdown" and text.startswith("## Before you hand in")
    assert "Restart Kernel and Run All Cells" in text
    assert f"python -m grader validate labs/{path.name}" in text and "*Validate*" in text
    assert "visible checks: X/Y — hidden checks (N points) run when your work is graded" in text
    for way in ("Canvas, Moodle", "Nbgrader → Assignment List", "microgradplus-work"):
        assert way in text
    assert "isolation" not in text and "sandbox" not in text


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_every_lab_is_out_of_100(path: Path) -> None:
    """Do a lab's graded cells, hidden checks included, add up to the 100 the summary states?"""
    assert lab_total(path) == 100


def test_the_summary_names_visible_hidden_and_total_points() -> None:
    """Does validate's last line say what the hidden checks are worth and the lab's total?"""
    line = summary(79, 79, 100)
    assert line == (
        "visible checks: 79/79 — hidden checks (21 points) run when your work is graded "
        "— lab total 100"
    )
    assert summary(3, 3, 3) == "visible checks: 3/3 — lab total 3"
    assert summary(0, 3, None) == "visible checks: 0/3"
