"""The learner-path corpus run as a learner runs it: one Jupyter kernel per lab.

:func:`session` lays out a lab's run: the lab's code cells (graded cells left out) up to the
last self-check a mistake needs; then, for each mistake of :mod:`grader.redteam.learnerpath`,
the cells from the edited one to its self-check with the mistake in (and a cell run again
where the mistake is that), then the right cells again, as a learner fixing it would.
:func:`run_lab` executes a session in one kernel and reads each mistake's self-check output:
what the learner would see. ``python -m grader.redteam.learnerrun [LAB ...]`` prints it as
JSON, with how many mistakes got a diagnosis ("This looks like …") or a hint.
"""

from __future__ import annotations

import argparse
import itertools
import json
import re
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import nbformat

from grader.config import REPO
from grader.labs import LABS
from grader.redteam.cells import cell_model
from grader.redteam.learner import LabFiles, learner_notebook, load_labs
from grader.redteam.learnerpath import Mistake, for_lab
from grader.redteam.planted import apply_bug


@dataclass
class Session:
    """One lab's run: the cells' sources, and per mistake the positions of its edited cell and
    of its self-check cell among them."""

    lab: str
    sources: list[str] = field(default_factory=list)
    edited: dict[str, int] = field(default_factory=dict)
    checked: dict[str, int] = field(default_factory=dict)


def _program(nb: Any) -> list[tuple[str, str]]:
    """(grade id, source) of every code cell a learner runs (graded cells left out)."""
    cells = [(cell_model(c), c.source) for c in nb.cells if c.cell_type == "code"]
    return [(str(m.grade_id), source) for m, source in cells if not m.is_test]


def session(files: LabFiles, mistakes: list[Mistake]) -> Session:
    """The run of ``files``'s lab with each of ``mistakes`` made and fixed in turn."""
    right = _program(learner_notebook(files))
    position = {grade_id: i for i, (grade_id, _) in enumerate(right)}
    end = max(position[m.check_cell] for m in mistakes)
    run = Session(files.lab.id, [source for _, source in right[: end + 1]])
    for mistake in mistakes:
        wrong = right
        if mistake.bug.old:
            wrong = _program(learner_notebook(files, apply_bug(files.source, mistake.bug)))
        first, check = position[mistake.bug.grade_id], position[mistake.check_cell]
        run.edited[mistake.name] = len(run.sources)
        run.sources += [source for _, source in wrong[first:check]]
        if mistake.rerun:
            run.sources.append(right[position[mistake.rerun]][1])
        run.checked[mistake.name] = len(run.sources)
        run.sources.append(wrong[check][1])
        run.sources += [source for _, source in right[first : end + 1]]
    return run


def execute(sources: list[str], cwd: Path, timeout: int = 600) -> list[dict[str, Any]]:
    """Run ``sources`` as one notebook in a fresh kernel, in ``cwd``: each cell's text output,
    its error's name (or "") and its execution count."""
    from nbclient import NotebookClient

    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(s) for s in sources])
    client = NotebookClient(
        nb,
        timeout=timeout,
        startup_timeout=300,  # a kernel starts slowly on a busy machine
        kernel_name="python3",
        allow_errors=True,
        resources={"metadata": {}},
    )
    client.execute(cwd=str(cwd))
    seen = []
    for cell in nb.cells:
        text = "".join(o.text for o in cell.outputs if o.output_type == "stream")
        errors = [o.ename for o in cell.outputs if o.output_type == "error"]
        seen.append(
            {"text": text, "error": errors[0] if errors else "", "count": cell.execution_count}
        )
    return seen


def reading(mistake: Mistake, check: dict[str, Any], edited: int) -> dict[str, Any]:
    """What the learner reads in a mistake's self-check: its lines, diagnoses, hints, and the
    cell its error names (``In[N]``) beside the cell the learner edited."""
    text = check["text"].strip()
    named = re.findall(r"your cell (In\[\d+\])", text)
    lines = text.splitlines()
    errors = {
        line
        for before, line in itertools.pairwise(lines)
        if before.startswith("\u2717") and line.startswith("  ") and "same error as" not in line
    }
    return {
        "lab": mistake.lab,
        "failed": check["error"] == "CheckFailed",
        "allowed": mistake.allowed,
        "lines": len(text.splitlines()),
        "diagnoses": sorted(set(re.findall(r"This looks like ([\w.]+)", text))),
        "diagnosis_texts": text.count("This looks like "),
        "hints": text.count("hint: "),
        "errors": len(errors),
        "raised": "your code raised" in text,
        "named_cells": sorted(set(named)),
        "edited_cell": f"In[{edited}]",
        "text": text,
    }


def run_lab(lab_id: str, cwd: Path | None = None) -> dict[str, dict[str, Any]]:
    """Every mistake of ``lab_id`` run in one kernel: mistake name -> :func:`reading`."""
    (files,) = [f for f in load_labs(REPO / "solutions", REPO / "labs") if f.lab.id == lab_id]
    mistakes = for_lab(lab_id)
    run = session(files, mistakes)
    with tempfile.TemporaryDirectory() as scratch:  # lab 1.7.5 assembles ./mylearner here
        seen = execute(run.sources, cwd or Path(scratch))
    return {
        m.name: reading(m, seen[run.checked[m.name]], seen[run.edited[m.name]]["count"])
        for m in mistakes
    }


def summary(results: dict[str, dict[str, Any]]) -> dict[str, int]:
    """How many mistakes failed their self-check with a diagnosis, a hint only or an error only,
    and how many allowed choices passed."""
    wrong = [r for r in results.values() if not r["allowed"]]
    return {
        "mistakes": len(results),
        "failed": sum(r["failed"] for r in wrong),
        "diagnosed": sum(bool(r["diagnoses"]) for r in wrong if r["failed"]),
        "hint_only": sum(not r["diagnoses"] and r["hints"] > 0 for r in wrong if r["failed"]),
        "error_only": sum(not r["diagnoses"] and not r["hints"] for r in wrong if r["failed"]),
        "allowed_passed": sum(not r["failed"] for r in results.values() if r["allowed"]),
    }


def main(argv: list[str] | None = None) -> int:
    """``python -m grader.redteam.learnerrun [LAB ...]``: every reading and the summary (JSON)."""
    parser = argparse.ArgumentParser(
        prog="python -m grader.redteam.learnerrun", description=__doc__
    )
    parser.add_argument("labs", nargs="*", default=list(LABS), help="lab ids (default: all)")
    args = parser.parse_args(argv)
    results = {name: r for lab in args.labs for name, r in run_lab(lab).items()}
    print(json.dumps({"mistakes": results, "summary": summary(results)}, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
