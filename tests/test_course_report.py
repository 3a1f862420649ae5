"""The course report (``report.html``, ``report.json``) built from results data alone.

Every test here writes a small results folder by hand (``grades.csv``, ``grading.json``,
feedback pages, ``overrides.csv``), as a batch of lab 1.7.1 would leave it, and reads the
report back: nothing is graded. The browser test on a graded batch is in
``tests/test_report_browser.py``.
"""

from __future__ import annotations

import csv
import json
import re
from pathlib import Path

import pytest

from grader import cli
from grader.outputs import course_report, report
from grader.outputs.course_report import build

CHECKS = {
    # check: (test cell, points)
    "lab1.init.dtype": ("init-test", 1),
    "lab1.add.broadcast": ("add-test", 1),
    "lab1.backward.chain": ("backward-test", 1),
    "lab1.backward.reuse": ("backward-test", 1),
}
GRAD_ASSIGNED = "lab1.backward.grad_assigned (lab1.backward.chain, lab1.backward.reuse)"
FLOAT64 = "lab1.init.python_numbers_float64 (lab1.init.dtype)"
ROWS = [
    # student, status, lab score, penalty, late, passed checks, flags, diagnoses, submitted
    ("ada", "graded", 4, 0, "", set(CHECKS), "", "", "2026-03-01T10:00:00+00:00"),
    ("bo", "graded", 1.8, 0.2, "late", {"lab1.init.dtype", "lab1.add.broadcast"}, "late:lab1",
     GRAD_ASSIGNED, "2026-03-03T10:00:00+00:00"),
    ("cy", "ungradable:timeout", 0, 0, "", set(), "", "", "2026-03-01T11:00:00+00:00"),
    ("dee", "missing", 0, 0, "", set(), "", "", ""),
    ("eve", "graded", 0, 0, "", set(),
     "ignored-file:my-lab.ipynb; lab1:import-torch (cell 3, line 1)", "", ""),
    ("fay", "graded", 3, 0, "", {"lab1.add.broadcast", "lab1.backward.chain",
     "lab1.backward.reuse"}, "", FLOAT64, "2026-03-02T09:00:00+00:00"),
]  # fmt: skip
GRADED = ["ada", "bo", "eve", "fay"]


def write_batch(out: Path, lab: str = "lab1", rows: list[tuple] | None = None) -> Path:
    """A results folder of ``lab`` as a batch leaves it (the checks renamed for other labs)."""
    out.mkdir(parents=True)
    checks = {c.replace("lab1", lab, 1): v for c, v in CHECKS.items()}
    header = ["student_id", "name", "status", "score", "raw_score", "penalty", "max_score"]
    header += ["flags", "overrides", lab, f"{lab}_status"]
    header += [f"{lab}_{d}" for d in ("raw", "penalty", "submitted", "late", "file")]
    header += [*checks, "diagnoses"]
    lines = []
    for student, status, score, penalty, late, passed, flags, diagnoses, when in rows or ROWS:
        graded = status == "graded"
        lab_status = "missing" if status == "ungradable:no-notebooks" else status
        line = [student, student.title(), status, f"{score:g}", f"{score + penalty:g}"]
        line += [f"{penalty:g}", "4", flags, "", f"{score:g}", lab_status, f"{score + penalty:g}"]
        line += [f"{penalty:g}", when, late, "lab.ipynb" if when else ""]
        line += [
            ("1" if c.replace(lab, "lab1", 1) in passed else "0") if graded else "" for c in checks
        ]
        lines.append([*line, diagnoses.replace("lab1", lab)])
    with open(out / "grades.csv", "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerows(lines)
    meta = {
        "seed": 7,
        "labs": [lab],
        "max_score": 4,
        "check_labs": dict.fromkeys(checks, lab),
        "check_points": {c: p for c, (_, p) in checks.items()},
        "check_cells": {c: cell for c, (cell, _) in checks.items()},
        "lab_max": {lab: 4},
        "isolation": "full",
    }
    (out / "grading.json").write_text(json.dumps(meta, indent=2) + "\n")
    from grader.labs import get_lab

    for student, status, *_ in rows or ROWS:
        if status == "graded" or status.startswith("ungradable:t"):
            page = out / "feedback" / student / f"{get_lab(lab).assignment}.html"
            page.parent.mkdir(parents=True, exist_ok=True)
            page.write_text("<html></html>")
    return out


def write_overrides(out: Path) -> None:
    (out / "overrides.csv").write_text(
        "student,target,points,comment,recorded\n"
        "ada,lab1,4,checked by hand,2026-03-05T10:00:00+00:00\n"
        "fay,lab1.init.dtype,1,float64 accepted,2026-03-01T12:00:00+00:00\n"
    )


@pytest.fixture
def batch(tmp_path: Path) -> Path:
    out = write_batch(tmp_path / "out")
    write_overrides(out)
    return out


def test_cohort_counts_graded_learners_only(batch: Path) -> None:
    """Are missing and ungradable learners counted apart, never as scores of 0, with the
    median, quartiles, late and penalty counts of the graded learners?"""
    lab = build(batch)["labs"][0]
    assert (lab["learners"], lab["graded"], lab["missing"], lab["ungradable"]) == (6, 4, 1, 1)
    assert lab["ungradable_reasons"] == {"timeout": 1}
    assert lab["scores"] == [0.0, 1.8, 3.0, 4.0]
    assert (lab["median"], lab["min"], lab["max"]) == (2.4, 0.0, 4.0)
    assert (lab["q1"], lab["q3"]) == (1.35, 3.25)
    assert sum(b["count"] for b in lab["bins"]) == 4  # ten bins: 1.8 is not a whole point
    assert (lab["late"], lab["penalised"], lab["penalty_points"]) == (1, 1, 0.2)


def test_whole_points_get_one_bar_each(tmp_path: Path) -> None:
    """With whole scores and a small maximum, is there one bar per point, 0 to the maximum?"""
    rows = [(*r[:2], round(r[2]), 0, *r[4:]) for r in ROWS]
    lab = build(write_batch(tmp_path / "out", rows=rows))["labs"][0]
    assert [(b["label"], b["count"]) for b in lab["bins"]] == [
        ("0", 1), ("1", 0), ("2", 1), ("3", 1), ("4", 1)
    ]  # fmt: skip


def test_heat_map_groups_checks_by_task_least_passed_first(batch: Path) -> None:
    """Are the checks grouped under their lab's task headings, the least passed task and
    check first, each with passed / graded as grades.csv counts them?"""
    lab = build(batch)["labs"][0]
    rates = {c["id"]: (c["passed"], c["graded"]) for c in lab["checks"]}
    assert rates == {
        "lab1.init.dtype": (2, 4),
        "lab1.add.broadcast": (3, 4),
        "lab1.backward.chain": (2, 4),
        "lab1.backward.reuse": (2, 4),
    }
    tasks = [t["task"] for t in lab["tasks"]]
    assert tasks[0] == "Task 1 — the constructor"  # 50%, and first in the lab
    assert tasks[1].startswith("Task 5 — backward()") and tasks[2] == "Task 3 — addition"
    assert lab["tasks"][1]["checks"] == ["lab1.backward.chain", "lab1.backward.reuse"]


def test_misconception_prevalence_is_among_graded_learners(batch: Path) -> None:
    """Is a misconception's share taken of the learners graded on its lab (not the roster),
    with its checks, its sentence and its learners linked to their feedback pages?"""
    found = {m["id"]: m for m in build(batch)["misconceptions"]}
    item = found["lab1.backward.grad_assigned"]
    assert (item["count"], item["graded"], item["prevalence"]) == (1, 4, 0.25)
    assert item["checks"] == ["lab1.backward.chain", "lab1.backward.reuse"]
    assert item["summary"] and item["explanation"].startswith(item["summary"])
    page = "feedback/bo/lab-1.7.1-core-tensor-implementation.html"
    assert item["learners"] == [{"id": "bo", "name": "Bo", "page": page}]


def test_summary_share_and_histogram_leave_missing_learners_out(batch: Path) -> None:
    """Does summary.md divide a misconception's learners by the graded ones, and the
    histogram show graded learners only?"""
    summary = report.summarize(batch)
    assert summary.graded == 4 and sorted(summary.scores) == [0, 1.8, 3, 4]
    text = report.format_summary(summary)
    line = next(x for x in text.splitlines() if x.startswith("| lab1.backward.grad_assigned"))
    assert "| 1 | 25% |" in line


def test_learners_needing_attention(batch: Path) -> None:
    """Are the ungradable (with what to ask for), the files not graded, the integrity flags
    (with what was seen) and the overrides (stale first) listed?"""
    found = build(batch)["attention"]
    assert [(x["student"], x["reason"]) for x in found["ungradable"]] == [("cy", "timeout")]
    assert "loop" in found["ungradable"][0]["advice"]
    assert [(x["student"], x["file"]) for x in found["not_graded"]] == [("eve", "my-lab.ipynb")]
    flags = found["flags"]
    assert [(x["student"], x["lab"], x["kind"]) for x in flags] == [("eve", "lab1", "import-torch")]
    assert flags[0]["seen"] == "import-torch (cell 3, line 1)" and "PyTorch" in flags[0]["meaning"]
    assert [(x["student"], x["stale"]) for x in found["overrides"]] == [
        ("fay", True),  # handed in again after the decision
        ("ada", False),
    ]


def test_page_is_self_contained_and_shows_the_figures(batch: Path) -> None:
    """Does report.html hold its plots inline, load nothing, run no script, and name every
    figure it shows?"""
    page = course_report.write(batch).read_text(encoding="utf-8")
    assert "<script" not in page and "<svg" in page and "<link" not in page
    assert not re.search(r"""(src|href)=["']?(https?:)?//""", page)
    assert "default-src 'none'" in page
    assert '<span data-figure="lab1.graded">4</span>' in page
    assert '<span data-figure="lab1.missing">1</span>' in page
    assert 'href="feedback/bo/lab-1.7.1-core-tensor-implementation.html"' in page
    assert page.count('data-figure="generated"') == 1
    data = json.loads((batch / "report.json").read_text())
    assert data["schema"] == course_report.SCHEMA
    plots = sorted(p.name for p in (batch / "report").iterdir())
    assert plots == ["lab1-checks.svg", "lab1-scores.svg"]
    assert (batch / "report" / "lab1-scores.svg").read_text() in page


def test_the_same_results_give_the_same_bytes(batch: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Written twice from the same results, do the page and the data differ only in the one
    timestamp (and not at all under SOURCE_DATE_EPOCH)?"""
    first = course_report.write(batch).read_text()
    first_json = (batch / "report.json").read_text()
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1767225600")
    second = course_report.write(batch).read_text()
    assert "2026-01-01T00:00:00+00:00" in second
    assert first != second
    assert course_report.timeless(first.encode()) == course_report.timeless(second.encode())
    again = (batch / "report.json").read_bytes()
    assert course_report.timeless(first_json.encode()) == course_report.timeless(again)
    assert course_report.write(batch).read_text() == second


def test_a_folder_of_batches_shows_progress_across_labs(tmp_path: Path) -> None:
    """Given a folder of two batches (lab 1.7.1, then lab 1.7.2), does `report --html` write
    one report with both labs, progress per learner and links into each batch's pages?"""
    write_batch(tmp_path / "course" / "1-lab1")
    write_batch(tmp_path / "course" / "2-lab2", lab="lab2", rows=[*ROWS[:2], ROWS[3]])
    assert cli.main(["report", str(tmp_path / "course"), "--html"]) == 0
    data = json.loads((tmp_path / "course" / "report.json").read_text())
    assert [lab["key"] for lab in data["labs"]] == ["lab1", "lab2"]
    assert data["learners"] == 6
    bo = next(p for p in data["progress"] if p["student"] == "bo")
    assert bo["labs"] == {
        "lab1": {"status": "graded", "score": 1.8},
        "lab2": {"status": "graded", "score": 1.8},
    }
    eve = next(p for p in data["progress"] if p["student"] == "eve")
    assert list(eve["labs"]) == ["lab1"]  # not in the second batch
    item = next(m for m in data["misconceptions"] if m["lab"] == "lab1")
    assert item["learners"][0]["page"].startswith("1-lab1/feedback/")
    assert (tmp_path / "course" / "report" / "progress.svg").is_file()


def test_report_command_writes_the_page(batch: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Does `python -m grader report OUT --html` write report.html beside grades.csv and say so?"""
    assert cli.main(["report", str(batch), "--html"]) == 0
    assert "report.html" in capsys.readouterr().out
    assert (batch / "report.html").is_file() and (batch / "report.json").is_file()


def test_learner_text_is_shown_as_text(tmp_path: Path) -> None:
    """Can a learner id, name or file name that holds HTML never become live HTML on the page?"""
    evil = "<img src=x onerror=alert(1)>"
    rows = [(evil, *ROWS[4][1:6], f"ignored-file:{evil}.ipynb", *ROWS[4][7:])]
    out = write_batch(tmp_path / "out", rows=[*ROWS[:2], *rows])
    page = course_report.write(out).read_text()
    assert "<img" not in page and "&lt;img src=x onerror=alert(1)&gt;" in page


def test_a_batch_with_nobody_graded(tmp_path: Path) -> None:
    """With every learner missing or ungradable, does the report say so instead of failing?"""
    out = write_batch(tmp_path / "out", rows=[ROWS[2], ROWS[3]])
    data = build(out)
    lab = data["labs"][0]
    assert (lab["graded"], lab["median"], lab["checks"][0]["rate"]) == (0, None, None)
    assert data["misconceptions"] == [] and "–" in course_report.write(out).read_text()


def test_a_batch_without_grading_json(batch: Path) -> None:
    """Does a results folder that lost its grading.json still give its labs and checks?"""
    (batch / "grading.json").unlink()
    lab = build(batch)["labs"][0]
    assert (lab["lab"], lab["graded"], len(lab["checks"])) == ("lab1", 4, 4)
    assert sum(b["count"] for b in lab["bins"]) == 4
