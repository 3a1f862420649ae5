"""Per-learner feedback: one HTML page per submitted notebook.

The page opens with a head (:func:`head`): the final score, the raw score, any late penalty
and the instructor's overrides with their comments, and the failed checks with their points,
each linking to its test cell. :func:`refresh_heads` rewrites that head from ``grades.csv``
whenever scores change (an override, a new late policy), the rest of the page stays.
Markdown cells are rendered as nbconvert renders them (math kept as its LaTeX source), with
every raw HTML tag of the learner's escaped and ``javascript:`` links refused; the page loads
nothing and runs no script (:data:`CSP`). The rest of the page
shows the learner's cells with the output they produced in the sandbox and, in place of each
graded test cell, its VISIBLE source (the hidden block removed) followed by the report of each
check it calls: the full table for visible checks; only the id, pass/fail and hint for hidden
ones. Hidden test source, hidden inputs and hidden tracebacks never appear.
"""

from __future__ import annotations

import csv
import functools
import hashlib
import html
import json
import re
import shutil
import zipfile
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from grader.batch import LabKey, LabResult, TestCell
from grader.checking.outcome import Outcome


class _Failed:
    passed = False


_FAILED: Any = _Failed()

STYLE = """
body { font-family: system-ui, sans-serif; max-width: 60rem; margin: 2rem auto; color: #222; }
pre { background: #f6f8fa; padding: .6rem; overflow-x: auto; white-space: pre-wrap; }
.cell { border-left: 3px solid #ccc; margin: 1rem 0; padding-left: .8rem; }
.test { border-left-color: #36c; }
.out { background: #fff; border: 1px solid #eee; }
.err { background: #fff0f0; }
.pass { color: #070; } .fail { color: #b00; }
.summary { border: 2px solid #36c; padding: .4rem 1rem; }
"""
CSP = (
    "<meta http-equiv='Content-Security-Policy' content=\"default-src 'none'; "
    "style-src 'unsafe-inline'; img-src data:; base-uri 'none'; form-action 'none'\">"
)
"""No script runs and nothing loads from the network: an instructor opening hundreds of pages
runs no learner-controlled code. Math stays as its LaTeX source (``$…$``), as written."""
HEAD_START, HEAD_END = "<!-- summary -->", "<!-- /summary -->"


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


@functools.cache
def _markdown() -> Any:
    """The renderer of :func:`markdown`: mistune with nbconvert's plugins and math."""
    import mistune

    plugins = ["strikethrough", "table", "url", "task_lists", "def_list", "math"]
    md = mistune.create_markdown(escape=True, plugins=plugins)
    assert md.renderer is not None
    md.renderer.register("inline_math", lambda r, text: f"${r.escape_attribute(text)}$")
    md.renderer.register("block_math", lambda r, text: f"$$\n{r.escape_attribute(text)}\n$$\n")
    return md


def markdown(source: str) -> str:
    """A markdown cell rendered as nbconvert renders it (the same mistune plugins), but with
    raw HTML escaped and harmful links dropped: learner text never becomes live HTML;
    ``$…$`` and ``$$…$$`` math is kept as written."""
    return str(_markdown()(source))


def anchor(grade_id: str) -> str:
    """The HTML id of a test cell's block."""
    return "cell-" + re.sub(r"[^A-Za-z0-9_-]", "_", grade_id)


def head(
    *,
    score: str,
    max_score: float,
    status: str,
    raw: str = "",
    penalty: str = "0",
    late: str = "",
    submitted: str = "",
    decisions: Iterable[str] = (),
    failed: Iterable[tuple[str, str, float, float]] = (),
) -> str:
    """The page's opening block: score, penalty, overrides, failed checks (id, cell, earned,
    points) linked to their cells."""
    e = html.escape
    parts = [f'{HEAD_START}<div class="summary"><h2>Score: {e(score)} / {max_score:g} points</h2>']
    parts.append(f"<p>Status: <b>{e(status)}</b>")
    if raw and raw != score:
        parts.append(f"; checks earned {e(raw)} points")
    if penalty not in ("", "0"):
        parts.append(f'; <span class="fail">late penalty -{e(penalty)}</span> ({e(late)})')
    if submitted:
        parts.append(f"; submitted {e(submitted)}")
    parts.append("</p>")
    decisions = list(decisions)
    if decisions:
        parts.append("<p>Your instructor's decisions:</p><ul>")
        parts += [f"<li>{e(text)}</li>" for text in decisions]
        parts.append("</ul>")
    failed = list(failed)
    if failed:
        parts.append("<p>Checks that did not pass:</p><ul>")
        for check, cell, earned, points in failed:
            link = f'<a href="#{anchor(cell)}">{e(check)}</a>'
            parts.append(f"<li>{link}: {earned:g} / {points:g} points</li>")
        parts.append("</ul>")
    elif status == "graded":
        parts.append('<p class="pass">Every check passed.</p>')
    return "".join(parts) + f"</div>{HEAD_END}"


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
    if not outcome.passed and outcome.diagnosis is not None:
        line += f"\n{outcome.diagnosis.text()}"  # names the mistake, never the inputs
    return _pre(line, css)


def _test_cell(cell: TestCell, result: LabResult, key: LabKey, present: bool) -> str:
    earned, points = result.cells_score.get(cell.grade_id, (0.0, cell.points))
    parts = [f'<div class="cell test" id="{anchor(cell.grade_id)}">']
    parts.append(f"<p><b>Graded cell {html.escape(cell.grade_id)}</b>: ")
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
        f"<!DOCTYPE html><html><head><meta charset='utf-8'>{CSP}<title>{html.escape(title)}</title>"
    ]
    parts.append(f"<style>{STYLE}</style></head><body><h1>{html.escape(title)}</h1>")
    failed = [
        (call.id, cell.grade_id, result.checks.get(call.id, 0.0), cell.check_points[call.id])
        for cell in key.cells
        for call in cell.checks
        if result.status == "graded" and not result.outcomes.get(call.id, _FAILED).passed
    ]
    parts.append(
        head(
            score=f"{result.score:g}", max_score=key.max_score, status=result.status, failed=failed
        )
    )
    if result.detail:
        parts.append(f'<p class="fail">{html.escape(result.detail)}</p>')
    runs = {c.index: c for c in result.run.cells} if result.run else {}
    tests = {cell.grade_id: cell for cell in key.cells}
    shown: set[str] = set()
    for cell in result.notebook.cells if result.notebook else ():
        grade_id, source, index = cell.grade_id, cell.source, cell.index
        if cell.kind == "markdown":
            parts.append(f'<div class="cell md">{markdown(source)}</div>')
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


def _rows(out: Path) -> tuple[dict[str, Any], list[dict[str, str]]]:
    meta = json.loads((out / "grading.json").read_text(encoding="utf-8"))
    with open(out / "grades.csv", newline="", encoding="utf-8") as handle:
        return meta, list(csv.DictReader(handle))


def row_head(row: dict[str, str], lab: str, meta: dict[str, Any], late: str) -> str:
    """The head of one learner's page for one lab, from their finalised ``grades.csv`` row."""
    points: dict[str, float] = meta.get("check_points", {})
    cells: dict[str, str] = meta.get("check_cells", {})
    status = row.get(f"{lab}_status", "")
    decisions = [
        text
        for text in row.get("overrides", "").split("; ")
        if text.startswith((lab + ".", lab + "=", lab + ":"))
    ]
    failed = []
    for check, check_lab in meta.get("check_labs", {}).items():
        earned = float(row.get(check) or 0)
        override = next((t for t in decisions if t.startswith(check + "=")), None)
        if override is not None:
            earned = float(override.split("=", 1)[1].split(":", 1)[0])
        if check_lab == lab and status == "graded" and earned < points.get(check, 0):
            failed.append((check, cells.get(check, ""), earned, points[check]))
    return head(
        score=row.get(lab, ""),
        max_score=float(meta.get("lab_max", {}).get(lab, 0)),
        status=status,
        raw=row.get(f"{lab}_raw", ""),
        penalty=row.get(f"{lab}_penalty", "0"),
        late=late,
        submitted=row.get(f"{lab}_submitted", ""),
        decisions=decisions,
        failed=failed,
    )


def pages(out: Path) -> Iterable[tuple[dict[str, str], str, Path]]:
    """(row, lab, page) for every feedback page of the batch in ``out``."""
    from grader.labs import get_lab

    meta, rows = _rows(out)
    names = folders(row["student_id"] for row in rows)
    for row in rows:
        for lab in meta["labs"]:
            page = out / "feedback" / names[row["student_id"]] / f"{get_lab(lab).assignment}.html"
            if page.is_file():
                yield row, lab, page


def decided(row: dict[str, str], lab: str) -> bool:
    """Does the row hold an instructor's decision on ``lab`` or one of its checks?"""
    texts = row.get("overrides", "").split("; ")
    return any(text.startswith((lab + ".", lab + "=", lab + ":")) for text in texts)


def ensure_pages(out: Path) -> int:
    """A page for every learner and lab with a score, a status or a decision but no page yet
    (an override for a learner whose notebook was never graded): its head says it all."""
    from grader.labs import get_lab

    meta, rows = _rows(out)
    names = folders(row["student_id"] for row in rows)
    made = 0
    for row in rows:
        for lab in meta["labs"]:
            info = get_lab(lab)
            page = out / "feedback" / names[row["student_id"]] / f"{info.assignment}.html"
            missing = row.get(f"{lab}_status", "missing") == "missing"
            if page.is_file() or (missing and not decided(row, lab)):
                continue
            title = html.escape(f"{info.title}: feedback for {row['student_id']}")
            page.parent.mkdir(parents=True, exist_ok=True)
            page.write_text(
                f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>{title}</title>"
                f"<style>{STYLE}</style></head><body><h1>{title}</h1>{HEAD_START}{HEAD_END}"
                "<p>No notebook of yours was graded for this lab.</p></body></html>\n",
                encoding="utf-8",
            )
            made += 1
    return made


def refresh_heads(out: Path) -> int:
    """Rewrite the head of every page in ``out/feedback`` from ``grades.csv`` (first adding
    :func:`ensure_pages`'s); returns how many."""
    from grader.outputs.exports import late_reason

    ensure_pages(out)
    meta, _ = _rows(out)
    done = 0
    for row, lab, page in pages(out):
        text = page.read_text(encoding="utf-8")
        start, end = text.find(HEAD_START), text.find(HEAD_END)
        if start < 0 or end < 0:
            continue
        fresh = row_head(row, lab, meta, late_reason(out, row, lab))
        page.write_text(text[:start] + fresh + text[end + len(HEAD_END) :], encoding="utf-8")
        done += 1
    return done


def bundle(out: Path, system: str) -> Path:
    """Lay the pages out for a system's bulk feedback upload.

    * ``nbgrader``: ``OUT/feedback-nbgrader/feedback/<id>/<assignment>/<assignment>.html``
      (copy ``feedback/`` into the course root, then ``nbgrader release_feedback``).
    * ``canvas``: ``OUT/feedback-canvas.zip``, one ``<submitted file's stem>-feedback.html``
      per page, named as Canvas named the download (Canvas's *Re-Upload Submissions*).
    * ``moodle``: ``OUT/feedback-moodle.zip``, ``<Full Name>_<id>_assignsubmission_file_/
      <assignment>-feedback.html`` (Moodle's *Upload multiple feedback files in a zip*).
    """
    from grader.labs import get_lab

    if system == "nbgrader":
        target = out / "feedback-nbgrader"
        shutil.rmtree(target, ignore_errors=True)
        for row, lab, page in pages(out):
            assignment = get_lab(lab).assignment
            folder = target / "feedback" / safe_name(row["student_id"]) / assignment
            folder.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(page, folder / page.name)
            if row.get(f"{lab}_submitted"):
                (folder / "timestamp.txt").write_text(row[f"{lab}_submitted"], encoding="utf-8")
        return target
    if system not in ("canvas", "moodle"):
        raise ValueError(f"no feedback layout for {system!r}: canvas, moodle or nbgrader")
    target = out / f"feedback-{system}.zip"
    with zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as archive:
        for row, lab, page in pages(out):
            assignment = get_lab(lab).assignment
            student = safe_name(row["student_id"])
            if system == "canvas":
                stem = (
                    row.get(f"{lab}_file", "").removesuffix(".ipynb") or f"{student}_{assignment}"
                )
                name = f"{safe_name(stem)}-feedback.html"
            else:
                who = re.sub(r"[\\/:*?\"<>|\x00-\x1f]", "_", row.get("name") or student)
                name = f"{who}_{student}_assignsubmission_file_/{assignment}-feedback.html"
            archive.write(page, name)
    return target
