"""Per-learner feedback: one self-contained HTML page per submitted notebook.

The page shows the learner's cells with the output they produced in the
sandbox and, in place of each graded test cell, its VISIBLE source (the hidden
block removed) followed by the report of each check it calls: the full table
for visible checks; only the id, pass/fail and hint for hidden ones. Hidden
test source, hidden inputs and hidden tracebacks never appear.
"""

from __future__ import annotations

import hashlib
import html
import re
from collections.abc import Iterable
from pathlib import Path

from grader.check import Outcome
from grader.grading import LabKey, LabResult
from grader.scoring import TestCell

STYLE = """
body { font-family: system-ui, sans-serif; max-width: 60rem; margin: 2rem auto; color: #222; }
pre { background: #f6f8fa; padding: .6rem; overflow-x: auto; white-space: pre-wrap; }
.cell { border-left: 3px solid #ccc; margin: 1rem 0; padding-left: .8rem; }
.test { border-left-color: #36c; }
.out { background: #fff; border: 1px solid #eee; }
.err { background: #fff0f0; }
.pass { color: #070; } .fail { color: #b00; }
.md { white-space: pre-wrap; }
"""


def safe_name(student_id: str) -> str:
    """A folder name for a student id: the id itself when it is plain (letters, digits, ``._@-``),
    otherwise its plain characters and a hash of the whole id, so that ``a b`` and ``a_b``
    never share a folder."""
    name = re.sub(r"[^A-Za-z0-9._@-]", "_", student_id).strip(".")[:80] or "_"
    if name == student_id:
        return name
    return (
        f"{name}-{hashlib.sha256(student_id.encode('utf-8', 'backslashreplace')).hexdigest()[:10]}"
    )


def folders(student_ids: Iterable[str]) -> dict[str, str]:
    """Student id -> feedback folder, distinct for every id of a batch even on a case-insensitive
    disk (``Ada`` and ``ada``): the later one in sorted order gets a hash suffix."""
    taken: dict[str, str] = {}
    names = {}
    for student in sorted(student_ids):
        name = safe_name(student)
        while name.lower() in taken and taken[name.lower()] != student:
            name = f"{name}-{hashlib.sha256(name.encode()).hexdigest()[:6]}"
        taken[name.lower()] = student
        names[student] = name
    return names


def _pre(text: str, css: str = "") -> str:
    return f'<pre class="{css}">{html.escape(text)}</pre>' if text else ""


def check_report(outcome: Outcome | None, check_id: str, hidden: bool) -> str:
    """One check's report: the full table when visible; id, pass/fail and hint when hidden."""
    if outcome is None:
        return f'<p class="fail">{html.escape(check_id)}: not run</p>'
    css = "pass" if outcome.passed else "fail"
    if not hidden:
        return _pre(outcome.report(), css)
    line = f"hidden check {check_id}: {'passed' if outcome.passed else 'FAILED'}"
    line += f" ({outcome.score:g}/{outcome.spec.points:g} points)"
    if not outcome.passed and outcome.spec.hint:
        line += f"\nhint: {outcome.spec.hint}"
    return _pre(line, css)


def _test_cell(cell: TestCell, result: LabResult, key: LabKey, present: bool) -> str:
    earned, points = result.cells_score.get(cell.grade_id, (0.0, cell.points))
    parts = [f'<div class="cell test"><p><b>Graded cell {html.escape(cell.grade_id)}</b>: ']
    parts.append(f"{earned:g} / {points:g} points</p>")
    if not present:
        parts.append('<p class="fail">This test cell is missing from your notebook: 0 points.</p>')
    parts.append(_pre(cell.visible_source.strip()))
    if result.status == "graded":
        for call in cell.checks:
            outcome = result.outcomes.get(call.id)
            parts.append(check_report(outcome, call.id, key.hidden(call.id)))
    return "".join(parts) + "</div>"


def render(student: str, result: LabResult, key: LabKey) -> str:
    """The feedback page for one student's notebook of one lab."""
    title = f"{key.lab.title}: feedback for {student}"
    parts = [
        f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title>"
    ]
    parts.append(f"<style>{STYLE}</style></head><body><h1>{html.escape(title)}</h1>")
    score = f"{result.score:g} / {key.max_score:g} points"
    parts.append(f"<p>Status: <b>{html.escape(result.status)}</b> &mdash; {score}</p>")
    if result.detail:
        parts.append(f'<p class="fail">{html.escape(result.detail)}</p>')
    runs = {c.index: c for c in result.run.cells} if result.run else {}
    tests = {cell.grade_id: cell for cell in key.cells}
    shown: set[str] = set()
    for cell in result.notebook.cells if result.notebook else ():
        grade_id, source, index = cell.grade_id, cell.source, cell.index
        if cell.kind == "markdown":
            parts.append(f'<div class="cell md">{html.escape(source)}</div>')
        elif not cell.is_code:
            continue
        elif grade_id is not None and grade_id in tests:
            if grade_id not in shown:
                shown.add(grade_id)
                parts.append(_test_cell(tests[grade_id], result, key, present=True))
        else:
            parts.append(f'<div class="cell"><p>In [{index}]:</p>{_pre(source)}')
            run = runs.get(index)
            if run is None:
                parts.append("<p><i>not run</i></p>" if result.run else "")
            else:
                parts.append(_pre(run.stdout, "out") + _pre(run.error, "err"))
                if not run.finished:
                    parts.append(
                        '<p class="fail">This cell was still running when the notebook stopped.</p>'
                    )
            parts.append("</div>")
    for grade_id, test in tests.items():
        if grade_id not in shown and result.notebook is not None:
            parts.append(_test_cell(test, result, key, present=False))
    parts.append("</body></html>\n")
    return "".join(parts)


def write(
    folder: Path, student: str, result: LabResult, key: LabKey, name: str | None = None
) -> Path:
    """Write ``folder/<name>/<notebook stem>.html`` and return its path.

    ``name`` is the student's folder (:func:`folders`; :func:`safe_name` when None).
    """
    path = folder / (name or safe_name(student)) / f"{key.lab.assignment}.html"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(render(student, result, key), encoding="utf-8")
    return path
