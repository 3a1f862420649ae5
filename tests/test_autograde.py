"""Autograde through the CLI: every kind of submission ends with an exact status and score.

One batch of fixture-lab submissions (built from the fixture's source notebook)
is graded once by ``python -m grader autograde`` in a subprocess; each test
then reads its learner's row of ``grades.csv`` or its feedback page.
"""

from __future__ import annotations

import copy
import csv
import json
import subprocess
import sys
import zipfile
from pathlib import Path
from typing import Any

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell

from grader import cli
from grader.checking.specs import fixture

NOTEBOOK = fixture.LAB.notebook
SOLUTIONS = fixture.SOURCE.parent
TIMEOUT = "2"  # per-cell budget; the notebook's wall clock is 5 x 2 + 10 s


def _with_cell(nb: Any, source: str, at: int = 2) -> Any:
    nb = copy.deepcopy(nb)
    nb.cells.insert(at, new_code_cell(source))
    return nb


def _replace(nb: Any, grade_id: str, old: str, new: str) -> Any:
    nb = copy.deepcopy(nb)
    cell = next(c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade_id") == grade_id)
    assert old in cell.source
    cell.source = cell.source.replace(old, new)
    return nb


def _edit_test_cells(nb: Any) -> Any:
    nb = copy.deepcopy(nb)
    tests = [c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade")]
    nb.cells.remove(tests[1])  # square-tests deleted
    tests[0].source = "print('PASSED')"  # double-tests edited
    return nb


def _tamper_metadata(nb: Any) -> Any:
    nb = copy.deepcopy(nb)
    tests = [c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade")]
    tests[1].metadata.nbgrader["points"] = 1000
    duplicate = copy.deepcopy(tests[0])  # a second cell with grade_id double-tests
    duplicate.id = "duplicate"
    nb.cells.append(duplicate)
    return nb


SOLUTION = fixture.solution()
STUB = fixture.released()
IGNORING_LOOP = """
import time
while True:
    try:
        time.sleep(0.01)
    except BaseException:
        pass
"""
FORK_LOOP = """
import os
for _ in range(64):
    try:
        os.fork()
    except OSError:
        break
"""
PATCH_NUMPY = """
import numpy as np
np.allclose = lambda *args, **kwargs: True
np.isclose = lambda a, b, **kwargs: np.ones(np.shape(a), bool)
np.testing.assert_allclose = lambda *args, **kwargs: None
"""
FAKE_PASS = "print('fixture.double.value: passed (2/2 points)')\nprint('PASSED: 4/4')"
CASES: dict[str, tuple[Any, str, float]] = {
    # student: (notebook or raw text, student status, score)
    "alice-solution": (SOLUTION, "graded", 4),
    "bob-stub": (STUB, "graded", 0),
    "carol-invalid-json": ('{"cells": [', "ungradable:invalid-json", 0),
    "dina-not-a-notebook": ("[1, 2, 3]", "ungradable:not-a-notebook", 0),
    "erin-loop": (_with_cell(SOLUTION, "while True:\n    pass"), "graded", 4),
    "fred-ignores-interrupt": (_with_cell(SOLUTION, IGNORING_LOOP), "ungradable:timeout", 0),
    "gina-os-exit": (_with_cell(SOLUTION, "import os\nos._exit(0)", at=5), "ungradable:crash", 0),
    "hank-sys-exit": (_with_cell(SOLUTION, "import sys\nsys.exit(0)"), "graded", 4),
    "ivan-4gb": (
        _with_cell(SOLUTION, "import numpy as np\nbig = np.ones(4 * 1024**3 // 8)"),
        "ungradable:memory",
        0,
    ),
    "judy-fork-loop": (_with_cell(SOLUTION, FORK_LOOP), "graded", 4),
    "kim-prints-1gb": (
        _with_cell(SOLUTION, "line = 'x' * (1 << 20)\nfor _ in range(1024):\n    print(line)"),
        "graded",
        4,
    ),
    "leo-patches-allclose": (
        _replace(
            _with_cell(SOLUTION, PATCH_NUMPY),
            "double-solution",
            "return 2 * np.asarray(x)",
            "return 3 * np.asarray(x)",
        ),
        "graded",
        1,
    ),
    "mia-imports-torch": (
        _replace(
            SOLUTION,
            "double-solution",
            "return 2 * np.asarray(x)",
            "import torch\n    return 2 * torch.as_tensor(x)",
        ),
        "graded",
        1,
    ),
    "nina-reads-solutions": (
        _with_cell(
            SOLUTION,
            f"import os\nprint('FOUND' if os.path.exists({str(SOLUTIONS)!r}) else 'nothing there')",
        ),
        "graded",
        4,
    ),
    "omar-fake-passed": (_with_cell(STUB, FAKE_PASS, at=9), "graded", 0),
    "pat-edits-tests": (_edit_test_cells(SOLUTION), "graded", 3),
    "quin-tampers-metadata": (_tamper_metadata(SOLUTION), "graded", 4),
}


def _write(folder: Path, content: Any) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / NOTEBOOK
    if isinstance(content, str):
        path.write_text(content)
    else:
        nbformat.write(content, path)


def _rows(out: Path) -> dict[str, dict[str, str]]:
    with open(out / "grades.csv", newline="") as handle:
        return {row["student_id"]: row for row in csv.DictReader(handle)}


def _autograde(submissions: Path, out: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    args = ["autograde", str(submissions), "--out", str(out), "--solutions", str(SOLUTIONS)]
    args += ["--lab", "fixture", "--timeout", TIMEOUT, "--no-progress", *extra]
    return subprocess.run(
        [sys.executable, "-m", "grader", *args], capture_output=True, text=True, timeout=300
    )


@pytest.fixture(scope="module")
def batch(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("batch")
    subs = root / "submissions"
    for student, (content, _, _) in CASES.items():
        _write(subs / student, content)
    renamed = subs / "rita-renamed"
    renamed.mkdir()
    nbformat.write(SOLUTION, renamed / "fixture-double (1).ipynb")  # a browser's copy: graded
    nbformat.write(SOLUTION, renamed / "my-lab.ipynb")  # renamed: ignored
    too_large = copy.deepcopy(SOLUTION)
    too_large.cells.append(new_markdown_cell("x" * (21 * 1024**2)))
    _write(subs / "sam-too-large", too_large)
    done = _autograde(subs, root / "out", "-j", "2", "--seed", "11")
    assert done.returncode == 0, done.stderr
    return root / "out"


@pytest.mark.slow
@pytest.mark.parametrize("student", list(CASES))
def test_status_and_score(batch: Path, student: str) -> None:
    """Does each kind of submission end with its exact status and score?"""
    _, status, score = CASES[student]
    row = _rows(batch)[student]
    assert (row["status"], float(row["score"]), float(row["max_score"])) == (status, score, 4.0)
    assert row["fixture_status"] == status


@pytest.mark.slow
def test_renamed_and_too_large_notebooks(batch: Path) -> None:
    """Is a browser's copy ``name (1).ipynb`` graded, a renamed notebook ignored (and flagged)
    and an oversized one ungradable?"""
    rows = _rows(batch)
    assert rows["rita-renamed"]["status"] == "graded" and rows["rita-renamed"]["score"] == "4"
    assert "ignored-file:renamed:my-lab.ipynb" in rows["rita-renamed"]["flags"]
    assert rows["sam-too-large"]["status"] == "ungradable:too-large"


@pytest.mark.slow
def test_check_columns_and_flags(batch: Path) -> None:
    """Do check columns hold points earned, and flags record deleted, edited and tampered cells?"""
    rows = _rows(batch)
    leo = rows["leo-patches-allclose"]
    assert (
        leo["fixture.double.value"],
        leo["fixture.double.edge"],
        leo["fixture.square.value"],
    ) == ("0", "0", "1")
    assert rows["carol-invalid-json"]["fixture.double.value"] == ""
    pat = rows["pat-edits-tests"]["flags"]
    assert "fixture:test-cell-deleted:square-tests" in pat
    assert "fixture:test-cell-edited:double-tests" in pat
    quin = rows["quin-tampers-metadata"]["flags"]
    assert "fixture:duplicate-grade-id:double-tests" in quin
    assert "fixture:metadata-tampered:square-tests" in quin
    assert "import-torch" in rows["mia-imports-torch"]["flags"]


@pytest.mark.slow
def test_feedback_never_shows_hidden_tests(batch: Path) -> None:
    """Does feedback show visible reports but no hidden-test source or hidden tables?"""
    page = (batch / "feedback" / "bob-stub" / "fixture-double.html").read_text()
    assert "fixture.double.value: FAILED" in page
    assert "hidden check fixture.double.edge: FAILED" in page
    assert "BEGIN HIDDEN" not in page and 'check("fixture.double.edge"' not in page
    assert "first bad index" not in page.split("hidden check")[1].split("Graded cell")[0]
    nina = (batch / "feedback" / "nina-reads-solutions" / "fixture-double.html").read_text()
    assert "nothing there" in nina
    kim = (batch / "feedback" / "kim-prints-1gb" / "fixture-double.html").read_text()
    assert "more characters of output not kept" in kim and len(kim) < 100_000


@pytest.mark.slow
def test_summary_log_and_seed(batch: Path) -> None:
    """Are the seed, the summary, the histogram, the log and the gradebook written?"""
    meta = json.loads((batch / "grading.json").read_text())
    assert meta["seed"] == 11 and meta["labs"] == ["fixture"]
    assert "fixture.double.edge" in (batch / "summary.md").read_text()
    assert (batch / "score_histogram.png").read_bytes()[:4] == b"\x89PNG"
    log = (batch / "autograde.log").read_text()
    assert "fred-ignores-interrupt fixture: ungradable:timeout" in log
    assert (batch / "gradebook.db").exists()


@pytest.mark.slow
def test_zip_and_flat_lms_exports(tmp_path: Path, batch: Path) -> None:
    """Do a zip of student folders and a flat LMS folder grade like the folder, seed for seed?"""
    archive = tmp_path / "subs.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr(f"export/alice-solution/{NOTEBOOK}", nbformat.writes(SOLUTION))
        zf.writestr(f"export/bob-stub/{NOTEBOOK}", nbformat.writes(STUB))
    flat = tmp_path / "flat"
    flat.mkdir()
    nbformat.write(SOLUTION, flat / f"alice-solution_1234_{NOTEBOOK}")
    nbformat.write(STUB, flat / f"bob-stub_99_late_{NOTEBOOK.removesuffix('.ipynb')}-2.ipynb")
    (flat / "notes.txt").write_text("not a notebook")
    expected = _rows(batch)
    for source in (archive, flat):
        out = tmp_path / f"out-{source.stem}"
        args = ["autograde", str(source), "--out", str(out), "--solutions", str(SOLUTIONS)]
        args += ["--lab", "fixture", "--timeout", TIMEOUT, "--seed", "11", "--no-progress"]
        assert cli.main(args) == 0
        rows = _rows(out)
        assert sorted(rows) == ["alice-solution", "bob-stub"]
        for student, row in rows.items():  # all but the graded file's own name
            assert row | {"fixture_file": ""} == expected[student] | {"fixture_file": ""}
