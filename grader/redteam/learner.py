"""A lab's source and released notebooks, and the notebook a learner would hand in.

A learner's submission is the RELEASED notebook with each solution cell's
source replaced by the matching source cell's code (by grade_id, markers
removed): exactly what a learner who wrote that code would hand in.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import nbformat

from grader.assign.release import render
from grader.cellsource import regions
from grader.checking.spec import get_spec
from grader.labs import LABS, Lab
from grader.notebook import check_ids
from grader.redteam.cells import cell_model


@dataclass
class LabFiles:
    """One lab's source (solutions/) and released (labs/) notebooks and its checks' points."""

    lab: Lab
    source: Any
    released: Any
    checks: dict[str, float]
    cells: dict[str, list[str]]

    @property
    def max_score(self) -> float:
        return sum(self.checks.values())


def load_labs(solutions: Path, labs: Path) -> list[LabFiles]:
    """Every lab with a source notebook; released from ``labs`` (rendered when not released)."""
    found = []
    for lab in LABS.values():
        if not (solutions / lab.notebook).is_file():
            continue
        source = nbformat.read(solutions / lab.notebook, as_version=4)
        if (labs / lab.notebook).is_file():
            released = nbformat.read(labs / lab.notebook, as_version=4)
        else:
            released = nbformat.reads(render(solutions=solutions, labs=[lab])[lab.notebook], 4)
        cells = {
            str(cell_model(c).grade_id): check_ids(cell_model(c))
            for c in source.cells
            if cell_model(c).is_test
        }
        checks = {i: float(get_spec(i).points) for ids in cells.values() for i in ids}
        found.append(LabFiles(lab, source, released, checks, cells))
    return found


def strip_markers(source: str) -> str:
    """A solution cell's code as a learner would write it: solution markers removed."""
    marked = regions(source)
    lines = source.splitlines()
    keep = [
        line
        for number, line in enumerate(lines)
        if not (number in marked.solution and line.strip().startswith("#") and "SOLUTION" in line)
    ]
    return "\n".join(keep)


def learner_notebook(files: LabFiles, source: Any | None = None) -> Any:
    """The released notebook with every solution cell's code taken from ``source``."""
    source = files.source if source is None else source
    code = {cell_model(c).grade_id: c.source for c in source.cells if cell_model(c).is_solution}
    nb = copy.deepcopy(files.released)
    for cell in nb.cells:
        grade_id = cell_model(cell).grade_id
        if cell_model(cell).is_solution and grade_id in code:
            cell.source = strip_markers(code[grade_id])
    return nb
