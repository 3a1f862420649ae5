"""The instructor's course report: where the cohort stands and what it misunderstands.

Built only from what batches left in their results folders (``grades.csv``, ``grading.json``,
``overrides.csv`` and the feedback pages' paths), so ``python -m grader report OUT --html``
gives the same report later, on another machine, without regrading, and a merge of shards the
same report as one run. :func:`build` reads one results folder, or a folder of several
(``OUT/lab1``, ``OUT/lab2``: later labs graded as batches of their own), into a plain dict: the
content of ``report.json`` (schema in ``docs/instructor-guide.md``); the learners who need
attention come from :mod:`grader.outputs.attention`. :func:`write` writes that file,
``report.html`` (:mod:`grader.outputs.course_page`) and the plots as ``report/*.svg``
(:mod:`grader.outputs.course_plots`).

Every figure counts graded learners only: a missing or ungradable notebook is a count of its
own, never a score of 0. The one time stated (``generated``) is when the report was written
(``SOURCE_DATE_EPOCH`` when set).
"""

from __future__ import annotations

import csv
import datetime as dt
import json
import os
import re
import statistics
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import grader.outputs.feedback as feedback
from grader import config
from grader.checking.misconceptions import get as get_misconception
from grader.checking.misconceptions import parse_cell
from grader.labs import get_lab, lab_of
from grader.outputs.attention import attention

SCHEMA = "micrograd-plus/course-report/1"
REPORT_HTML = "report.html"
REPORT_JSON = "report.json"
PLOTS = "report"
"""The folder of the plots as separate files (the same SVG the page holds)."""
GENERATED = "generated"
"""The key of the one timestamp (``report.json``; the page shows it once)."""


@dataclass
class Batch:
    """One results folder: its rows of ``grades.csv``, ``grading.json`` and overrides."""

    folder: Path
    name: str
    """Its path from the report's folder (empty for the folder itself)."""
    meta: dict[str, Any]
    rows: list[dict[str, str]]

    def href(self, path: str) -> str:
        return f"{self.name}/{path}" if self.name else path

    def pages(self, lab: str) -> dict[str, str]:
        """Student id -> the link to their feedback page of ``lab`` (pages that exist only)."""
        names = feedback.folders(row["student_id"] for row in self.rows)
        assignment = get_lab(lab).assignment
        links = {}
        for student, folder in names.items():
            if (self.folder / "feedback" / folder / f"{assignment}.html").is_file():
                links[student] = self.href(f"feedback/{folder}/{assignment}.html")
        return links


def find_batches(out: Path) -> list[Batch]:
    """The batches of ``out``: ``out`` itself when it holds ``grades.csv``, else each folder
    in it that does (sorted by name)."""
    folders = [out] if (out / "grades.csv").is_file() else []
    if not folders and out.is_dir():
        folders = sorted(p for p in out.iterdir() if (p / "grades.csv").is_file())
    batches = []
    for folder in folders:
        meta_path = folder / "grading.json"
        meta = json.loads(meta_path.read_text(encoding="utf-8")) if meta_path.is_file() else {}
        with open(folder / "grades.csv", newline="", encoding="utf-8") as handle:
            rows = list(csv.DictReader(handle))
        header = list(rows[0]) if rows else []  # a batch without grading.json: its columns
        meta.setdefault(
            "labs", [h.removesuffix("_status") for h in header if h.endswith("_status")]
        )
        meta.setdefault(
            "check_labs", {h: lab_of(h) for h in header if "." in h and lab_of(h) in meta["labs"]}
        )
        name = "" if folder == out else folder.name
        batches.append(Batch(folder, name, meta, rows))
    return batches


def _num(text: str | None) -> float:
    try:
        return float(text or 0)
    except ValueError:
        return 0.0


def _round(value: float) -> float:
    return round(value, 4)


def stats(scores: list[float]) -> dict[str, float | None]:
    """Median, quartiles, extremes and mean of graded learners' scores (None when none)."""
    if not scores:
        return dict.fromkeys(("median", "q1", "q3", "min", "max", "mean"))
    q1, _, q3 = (
        statistics.quantiles(scores, n=4, method="inclusive")
        if len(scores) > 1
        else (scores[0],) * 3
    )
    return {
        "median": _round(statistics.median(scores)),
        "q1": _round(q1),
        "q3": _round(q3),
        "min": _round(min(scores)),
        "max": _round(max(scores)),
        "mean": _round(statistics.fmean(scores)),
    }


def bins(scores: list[float], top: float) -> list[dict[str, Any]]:
    """The score distribution: one bar per point when the scores are whole points and the
    maximum is at most 20, else ten equal bins (each including its lower edge; the last both)."""
    whole = all(s == int(s) for s in scores) and top == int(top)
    if whole and top <= 20:
        counts = Counter(int(s) for s in scores)
        return [
            {"from": k, "to": k, "label": f"{k}", "count": counts[k]} for k in range(int(top) + 1)
        ]
    width = (top or 1.0) / 10
    edges = [_round(width * k) for k in range(11)]
    found = [0] * 10
    for score in scores:
        found[min(max(int(score // width), 0), 9)] += 1
    return [
        {"from": a, "to": b, "label": f"{a:g}–{b:g}", "count": n}
        for a, b, n in zip(edges, edges[1:], found, strict=False)
    ]


def task_names(lab: str, solutions: Path = config.SOLUTIONS) -> dict[str, tuple[int, str]]:
    """Test cell grade id -> (task's place, the heading of the task it belongs to), read from
    the lab's source notebook; empty when it cannot be found."""
    notebook = get_lab(lab).notebook
    candidates = [solutions / notebook, config.REPO / "tests" / "fixtures" / "solutions" / notebook]
    source = next((p for p in candidates if p.is_file()), None)
    if source is None:
        return {}
    found: dict[str, tuple[int, str]] = {}
    heading, place = "", 0
    for cell in json.loads(source.read_text(encoding="utf-8")).get("cells", []):
        text = cell.get("source", "")
        if cell.get("cell_type") == "markdown":
            for line in ("".join(text) if isinstance(text, list) else text).splitlines():
                match = re.match(r"^##\s+(?:\d+\.\s*)?(.+)$", line)
                if match:
                    heading, place = match[1].replace("`", "").strip(), place + 1
        nbgrader = cell.get("metadata", {}).get("nbgrader", {})
        if nbgrader.get("grade") and nbgrader.get("grade_id") and heading:
            found[nbgrader["grade_id"]] = (place, heading)
    return found


def lab_figures(batch: Batch, lab: str, key: str, solutions: Path) -> dict[str, Any]:
    """One lab of one batch: its cohort figures, its checks' pass rates, grouped by task."""
    meta, rows = batch.meta, batch.rows
    status = {row["student_id"]: row.get(f"{lab}_status") or "missing" for row in rows}
    graded = [row for row in rows if status[row["student_id"]] == "graded"]
    scores = sorted(_num(row.get(lab)) for row in graded)
    top = float(meta.get("lab_max", {}).get(lab) or meta.get("max_score") or max(scores or [0]))
    reasons = Counter(s.split(":", 1)[1] for s in status.values() if s.startswith("ungradable"))
    penalties = [_num(row.get(f"{lab}_penalty")) for row in rows]
    tasks = task_names(lab, solutions)
    checks = []
    for check, check_lab in meta.get("check_labs", {}).items():
        if check_lab != lab:
            continue
        passed = sum(1 for row in graded if _num(row.get(check)) > 0)
        cell = meta.get("check_cells", {}).get(check, "")
        place, task = tasks.get(cell, (0, check.split(".")[1] if "." in check else check))
        checks.append(
            {
                "id": check,
                "task": task,
                "task_place": place,
                "cell": cell,
                "points": meta.get("check_points", {}).get(check),
                "passed": passed,
                "graded": len(graded),
                "rate": _round(passed / len(graded)) if graded else None,
            }
        )
    return {
        "key": key,
        "lab": lab,
        "title": get_lab(lab).title,
        "batch": batch.name,
        "max_score": top,
        "learners": len(rows),
        "graded": len(graded),
        "missing": sum(1 for s in status.values() if s == "missing"),
        "ungradable": sum(reasons.values()),
        "ungradable_reasons": dict(sorted(reasons.items())),
        "scores": scores,
        **stats(scores),
        "bins": bins(scores, top),
        "late": sum(
            1
            for row, penalty in zip(rows, penalties, strict=True)
            if row.get(f"{lab}_late") == "late" or penalty > 0
        ),
        "penalised": sum(1 for penalty in penalties if penalty > 0),
        "penalty_points": _round(sum(penalties)),
        "checks": checks,
        "tasks": heat_rows(checks),
    }


def _rate(check: dict[str, Any]) -> float:
    return 2.0 if check["rate"] is None else float(check["rate"])


def heat_rows(checks: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The heat map's rows: one per task, its checks least passed first, the task with the
    least passed check first (ties in the lab's order)."""
    tasks: dict[str, list[dict[str, Any]]] = {}
    for check in checks:
        tasks.setdefault(check["task"], []).append(check)
    ordered = sorted(
        tasks.items(),
        key=lambda kv: (min(map(_rate, kv[1])), kv[1][0]["task_place"], kv[0]),
    )
    return [
        {
            "task": task,
            "checks": [c["id"] for c in sorted(group, key=lambda c: (_rate(c), c["id"]))],
        }
        for task, group in ordered
    ]


def misconceptions(batches: list[Batch], sections: dict[tuple[str, str], str]) -> list[Any]:
    """Each misconception shown: prevalence among the learners graded on its lab, the checks it
    explains, what learners believe, and who shows it (linked to their feedback page)."""
    found: dict[tuple[str, str], dict[str, Any]] = {}
    for batch in batches:
        labs = batch.meta.get("labs") or []
        pages = {lab: batch.pages(lab) for lab in labs}
        for row in batch.rows:
            for mid, checks in parse_cell(row.get("diagnoses", "")).items():
                lab = lab_of(mid) if lab_of(mid) in labs else (labs[0] if labs else "")
                if row.get(f"{lab}_status") != "graded":
                    continue
                key = sections.get((batch.name, lab), lab)
                entry = found.setdefault((key, mid), {"checks": set(), "learners": {}})
                entry["checks"].update(checks)
                student = row["student_id"]
                page = pages.get(lab, {}).get(student)
                entry["learners"][student] = (row.get("name", ""), page)
    graded = {
        sections[b.name, lab]: sum(1 for r in b.rows if r.get(f"{lab}_status") == "graded")
        for b in batches
        for lab in b.meta.get("labs") or []
    }
    items = []
    for (key, mid), entry in found.items():
        try:
            item = get_misconception(mid)
            summary, explanation = item.summary, item.explanation
        except KeyError:
            summary = explanation = ""
        count, denominator = len(entry["learners"]), graded.get(key, 0)
        items.append(
            {
                "id": mid,
                "lab": key,
                "summary": summary,
                "explanation": explanation,
                "checks": sorted(entry["checks"]),
                "count": count,
                "graded": denominator,
                "prevalence": _round(count / denominator) if denominator else None,
                "learners": [
                    {"id": s, "name": name, "page": page}
                    for s, (name, page) in sorted(entry["learners"].items())
                ],
            }
        )
    return sorted(items, key=lambda m: (-(m["prevalence"] or 0), -m["count"], m["id"], m["lab"]))


def progress(batches: list[Batch], labs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Per learner, each lab's status and score (when the report covers several labs)."""
    if len(labs) < 2:
        return []
    learners: dict[str, dict[str, Any]] = {}
    by_name = {b.name: b for b in batches}
    for lab in labs:
        for row in by_name[lab["batch"]].rows:
            entry = learners.setdefault(row["student_id"], {"name": "", "labs": {}})
            entry["name"] = entry["name"] or row.get("name", "")
            status = row.get(f"{lab['lab']}_status") or "missing"
            score = _num(row.get(lab["lab"])) if status == "graded" else None
            entry["labs"][lab["key"]] = {"status": status, "score": score}
    return [
        {"student": s, "name": e["name"], "labs": e["labs"]} for s, e in sorted(learners.items())
    ]


def now() -> str:
    """The report's one timestamp: ``SOURCE_DATE_EPOCH`` when set, else the current time."""
    epoch = os.environ.get("SOURCE_DATE_EPOCH")
    when = (
        dt.datetime.fromtimestamp(int(epoch), dt.timezone.utc)
        if epoch
        else dt.datetime.now(dt.timezone.utc)
    )
    return when.isoformat(timespec="seconds")


STAMP = re.compile(rb'"generated": "[^"]*"|data-figure="generated">[^<]*<')


def timeless(content: bytes) -> bytes:
    """A report file without its one timestamp: what two reports of the same results share
    byte for byte (a merge of shards and one run, a report written again)."""
    return STAMP.sub(b"", content)


def build(out: Path, *, solutions: Path = config.SOLUTIONS) -> dict[str, Any]:
    """The report of the batches in ``out`` (:func:`find_batches`) as plain data.

    Raises:
        FileNotFoundError: ``out`` holds no batch.
    """
    batches = find_batches(out)
    if not batches:
        raise FileNotFoundError(f"no grades.csv in {out} or its folders: run autograde first")
    pairs = [(b, lab) for b in batches for lab in b.meta.get("labs") or []]
    repeated = Counter(lab for _, lab in pairs)
    sections = {(b.name, lab): lab if repeated[lab] == 1 else f"{lab}@{b.name}" for b, lab in pairs}
    labs = [lab_figures(b, lab, sections[b.name, lab], solutions) for b, lab in pairs]
    students = {row["student_id"] for b in batches for row in b.rows}
    return {
        "schema": SCHEMA,
        GENERATED: now(),
        "learners": len(students),
        "batches": [
            {
                "name": b.name,
                "labs": list(b.meta.get("labs") or []),
                "seed": b.meta.get("seed"),
                "isolation": b.meta.get("isolation"),
                "learners": len(b.rows),
            }
            for b in batches
        ],
        "labs": labs,
        "misconceptions": misconceptions(batches, sections),
        "attention": attention(batches),
        "progress": progress(batches, labs),
    }


def write(out: Path, *, solutions: Path = config.SOLUTIONS) -> Path:
    """Write ``report.json``, ``report.html`` and ``report/*.svg`` into ``out``; returns the
    page's path."""
    import grader.outputs.course_page as course_page
    import grader.outputs.course_plots as course_plots

    data = build(out, solutions=solutions)
    (out / REPORT_JSON).write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
    plots = out / PLOTS
    plots.mkdir(exist_ok=True)
    for old in plots.glob("*.svg"):
        old.unlink()
    for name, svg in course_plots.plots(data).items():
        (plots / name).write_text(svg, encoding="utf-8")
    page = out / REPORT_HTML
    page.write_text(course_page.render(data), encoding="utf-8")
    return page
