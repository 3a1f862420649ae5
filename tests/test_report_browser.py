"""The course report as an instructor opens it: a graded batch's report.html in Chromium.

A mixed Canvas download of lab 1.7.1 (a solution, a stub, two planted bugs the misconception
catalogue names, a late one, an invalid notebook, a renamed file, a learner who imports torch,
a roster learner who handed nothing in, an override) is graded once through the command line;
``python -m grader report OUT --html`` then writes the page, which headless Chromium
(Debian's ``chromium`` and ``chromium-driver``, through :mod:`tests.chromium`) opens from disk
with no network. Every figure the page shows is compared with ``grades.csv``; a screenshot is
kept in the test's folder and copied to ``out/browser/report.png``.
"""

from __future__ import annotations

import csv
import shutil
import statistics
import subprocess
import sys
from collections import Counter
from pathlib import Path
from typing import Any

import nbformat
import pytest

from grader.checking.misconceptions import parse_cell
from grader.redteam import bugs_for
from grader.redteam.learner import learner_notebook, load_labs
from grader.redteam.planted import apply_bug
from tests import chromium

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.timeout(900)]

ROOT = Path(__file__).resolve().parents[1]
SCREENSHOT = ROOT / "out" / "browser" / "report.png"
LAB = "lab1"
BUGS = {"bo": "mul-grad-assigned", "cy": "init-no-float32"}
"""Learner -> the planted bug they hand in (each one a catalogued misconception)."""
COURSE = """
[labs.lab1]
due = 2026-03-02T23:59:00+00:00

[late]
policy = "per-day"
percent_per_day = 10
cap_percent = 50
"""
ROSTER = "id,name\n" + "".join(
    f"{n},{name}\n"
    for n, name in enumerate(["Ada", "Bo", "Cy", "Dee", "Eve", "Fay", "Gus"], start=101)
)


def _grader(*args: str) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(
        [sys.executable, "-m", "grader", *args], capture_output=True, text=True, timeout=600
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return done


@pytest.fixture(scope="module")
def graded(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The batch graded, one override recorded, the report written; returns the folder."""
    root = tmp_path_factory.mktemp("report")
    files = next(f for f in load_labs(ROOT / "solutions", ROOT / "labs") if f.lab.id == LAB)
    bugs = {bug.name: bug for bug in bugs_for(LAB)}
    notebook = files.lab.notebook
    subs = root / "canvas"
    subs.mkdir()
    handed = {
        "ada_101_1": learner_notebook(files),
        "bo_late_102_2": learner_notebook(files, apply_bug(files.source, bugs[BUGS["bo"]])),
        "cy_103_3": learner_notebook(files, apply_bug(files.source, bugs[BUGS["cy"]])),
        "dee_104_4": files.released,
    }
    for prefix, nb in handed.items():
        nbformat.write(nb, subs / f"{prefix}_{notebook}")
    (subs / f"eve_105_5_{notebook}").write_text('{"cells": [')  # cut off: ungradable
    nbformat.write(learner_notebook(files), subs / "gus_107_8_my-lab.ipynb")  # renamed
    torch_nb = learner_notebook(files)
    torch_nb.cells.insert(1, nbformat.v4.new_code_cell("import torch"))
    nbformat.write(torch_nb, subs / f"gus_107_7_{notebook}")
    (root / "course.toml").write_text(COURSE)
    (root / "roster.csv").write_text(ROSTER)  # Fay (106) hands nothing in
    out = root / "out"
    _grader("autograde", str(subs), "--out", str(out), "--lab", LAB, "--seed", "3", "-j", "2",
            "--no-progress", "--course", str(root / "course.toml"),
            "--roster", str(root / "roster.csv"))  # fmt: skip
    _grader("override", str(out), "104", LAB, "1", "--comment", "explained in office hours")
    _grader("report", str(out), "--html")
    return out


@pytest.fixture
def browser(tmp_path: Path) -> Any:
    driver = chromium.start(tmp_path / "chromium-profile", timeout=60)
    try:
        yield driver
    finally:
        driver.quit()


def expected_figures(out: Path) -> dict[str, str]:
    """The figures the page must show, computed here from grades.csv alone."""
    with open(out / "grades.csv", newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    status = [r[f"{LAB}_status"] for r in rows]
    graded = [r for r in rows if r[f"{LAB}_status"] == "graded"]
    scores = [float(r[LAB]) for r in graded]
    figures = {
        "learners": str(len(rows)),
        f"{LAB}.learners": str(len(rows)),
        f"{LAB}.graded": str(len(graded)),
        f"{LAB}.missing": str(status.count("missing")),
        f"{LAB}.ungradable": str(sum(s.startswith("ungradable") for s in status)),
        f"{LAB}.median": f"{statistics.median(scores):g}",
        f"{LAB}.min": f"{min(scores):g}",
        f"{LAB}.max": f"{max(scores):g}",
        f"{LAB}.mean": f"{round(statistics.fmean(scores), 4):g}",
        f"{LAB}.q1": f"{round(statistics.quantiles(scores, n=4, method='inclusive')[0], 4):g}",
        f"{LAB}.q3": f"{round(statistics.quantiles(scores, n=4, method='inclusive')[2], 4):g}",
        f"{LAB}.late": str(
            sum(r[f"{LAB}_late"] == "late" or float(r[f"{LAB}_penalty"] or 0) > 0 for r in rows)
        ),
    }
    checks = [h for h in rows[0] if h.startswith(f"{LAB}.")]
    for check in checks:
        figures[f"{LAB}.{check}.passed"] = str(sum(float(r[check] or 0) > 0 for r in graded))
        figures[f"{LAB}.{check}.graded"] = str(len(graded))
    shown = Counter(m for r in graded for m in parse_cell(r["diagnoses"]))
    for mid, count in shown.items():
        figures[f"{LAB}.{mid}.count"] = str(count)
        figures[f"{LAB}.{mid}.graded"] = str(len(graded))
    for r in rows:
        if r[f"{LAB}_status"].startswith("ungradable:"):
            reason = r[f"{LAB}_status"].split(":", 1)[1]
            figures[f"ungradable.{r['student_id']}.{LAB}"] = reason
    return figures


def test_the_report_opens_offline_and_shows_what_grades_csv_holds(
    graded: Path, browser: Any, tmp_path: Path
) -> None:
    """Opened from disk in Chromium, does report.html load nothing remote, and is every
    figure it shows (cohort, checks, misconceptions, ungradable learners) what grades.csv
    says, with the planted misconceptions, the late learner, the override and the missing
    learner in their places?"""
    page = graded / "report.html"
    browser.get(page.as_uri())
    height = browser.execute_script("return document.documentElement.scrollHeight")
    browser.set_window_size(1400, min(int(height) + 120, 8000))
    picture = tmp_path / "report.png"
    browser.save_screenshot(str(picture))
    SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy(picture, SCREENSHOT)
    print(f"screenshot: {picture} (copied to {SCREENSHOT})")
    resources = browser.execute_script(
        "return performance.getEntriesByType('resource').map(e => e.name)"
    )
    assert resources == [], resources
    remote = browser.execute_script(
        "return [...document.querySelectorAll('[src],[href]')]"
        ".map(e => e.getAttribute('src') || e.getAttribute('href'))"
        ".filter(u => /^[a-z]+:/i.test(u) || u.startsWith('//'))"
    )
    assert remote == [], remote
    assert browser.execute_script("return document.scripts.length") == 0
    shown: dict[str, str] = browser.execute_script(
        "const found = {}; for (const e of document.querySelectorAll('[data-figure]'))"
        " found[e.dataset.figure] = e.textContent.trim(); return found;"
    )
    expected = expected_figures(graded)
    assert {k: shown.get(k) for k in expected} == expected
    for student, bug in (("bo", "lab1.backward.grad_assigned"), ("cy", "lab1.init.")):
        assert any(k.startswith(f"{LAB}.{bug}") for k in shown), (student, bug)
    text = browser.execute_script("return document.body.innerText")
    assert "explained in office hours" in text  # the override
    assert "my-lab.ipynb" in text and "import-torch" in text  # not graded; integrity flag
    assert "invalid-json" in text and "ask for the notebook saved again" in text
    links = browser.execute_script(
        "return [...document.querySelectorAll('#misconceptions ~ table a[href^=\"feedback/\"]')]"
        ".map(a => a.getAttribute('href'))"
    )
    assert links and all((graded / link).is_file() for link in links)
    assert picture.stat().st_size > 20_000
