"""Sharded grading: ``autograde --shard K/N`` in separate processes, then ``merge``.

One small batch of fixture-lab submissions is graded twice with the same seed: once
whole (``-j 2``), once as two shards in two concurrent processes merged with
``python -m grader merge``. The shards and the merge are run by the SLURM array script
``deploy/slurm/grade.sbatch`` as SLURM would run it (its variables set, a stand-in
``srun`` that runs the command it is given). The two results folders must be the same
file for file, apart from the timings in ``grading.json`` and the log.
"""

from __future__ import annotations

import copy
import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import Any

import nbformat
import pytest

from grader.checking.specs import fixture
from grader.outputs.course_report import timeless
from grader.outputs.results import MergeError
from grader.runs.merge import merge
from grader.runs.shard import Shard, shard_of

ROOT = Path(__file__).resolve().parents[1]
SBATCH = ROOT / "deploy" / "slurm" / "grade.sbatch"
FAKE_SRUN = """#!/usr/bin/env bash
# srun's own options, then the command: log it and run it here.
while [[ $# -gt 0 && $1 == --* ]]; do shift; done
echo "$*" >> "$SRUN_LOG"
exec "$@"
"""
NOTEBOOK = fixture.LAB.notebook
SOLUTIONS = fixture.SOURCE.parent
SEED = "5"
TIMINGS = {"seconds", "seconds_per_notebook", "started", "jobs"}


def _half_solved() -> Any:
    nb = copy.deepcopy(fixture.solution())
    for cell in nb.cells:
        if cell.metadata.get("nbgrader", {}).get("grade_id") == "double-solution":
            cell.source = cell.source.replace("2 * np.asarray(x)", "3 * np.asarray(x)")
    return nb


STUDENTS: dict[str, Any] = {
    "ada": fixture.solution(),
    "Ada": fixture.released(),  # same feedback folder as "ada" on a case-insensitive disk
    "bo": _half_solved(),
    "cy": fixture.released(),
    "dee": fixture.solution(),
    "=eve": fixture.solution(),  # an id a spreadsheet would run: neutralised in the CSVs
    "fay": '{"cells": [',
    "gus": _half_solved(),
}


def _grade(submissions: Path, out: Path, *extra: str) -> subprocess.Popen[str]:
    args = ["autograde", str(submissions), "--out", str(out), "--solutions", str(SOLUTIONS)]
    args += ["--lab", "fixture", "--timeout", "2", "--seed", SEED, "--no-progress", *extra]
    return subprocess.Popen(
        [sys.executable, "-m", "grader", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _finish(process: subprocess.Popen[str]) -> None:
    _, stderr = process.communicate(timeout=300)
    assert process.returncode == 0, stderr


def _slurm(root: Path, submissions: Path, *args: str, **variables: str) -> subprocess.Popen[str]:
    """``grade.sbatch`` as a SLURM task runs it, with ``variables`` set."""
    bin_dir = root / "bin"
    if not bin_dir.is_dir():
        bin_dir.mkdir()
        (bin_dir / "srun").write_text(FAKE_SRUN)
        (bin_dir / "srun").chmod(0o755)
    env = {
        **os.environ,
        "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}",
        "SRUN_LOG": str(root / "srun.log"),
        "PYTHON": sys.executable,
        "SUBMISSIONS": str(submissions),
        "RESULTS": str(root / "slurm"),
        "GRADING_SEED": SEED,
        "LAB": "fixture",
        "SOLUTIONS": str(SOLUTIONS),
        "GRADER_ARGS": "--timeout 2",
        "SLURM_CPUS_PER_TASK": "1",
        **variables,
    }
    return subprocess.Popen(
        ["bash", str(SBATCH), *args],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


@pytest.fixture(scope="module")
def graded(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """The whole batch graded once, and as two shards merged."""
    root = tmp_path_factory.mktemp("shards")
    submissions = root / "submissions"
    for student, content in STUDENTS.items():
        folder = submissions / student
        folder.mkdir(parents=True)
        if isinstance(content, str):
            (folder / NOTEBOOK).write_text(content)
        else:
            nbformat.write(content, folder / NOTEBOOK)
    whole = _grade(submissions, root / "single", "-j", "2")
    _finish(whole)
    array = {
        "SLURM_ARRAY_TASK_COUNT": "2",
        "SLURM_ARRAY_TASK_MIN": "1",
        "SLURM_ARRAY_TASK_MAX": "2",
    }
    shards = [_slurm(root, submissions, SLURM_ARRAY_TASK_ID=str(k), **array) for k in (1, 2)]
    for process in shards:
        _finish(process)
    _finish(_slurm(root, submissions, "merge", SHARDS="2"))
    folders = {"shard1": "shard-1", "shard2": "shard-2", "merged": "merged"}
    return {
        "single": root / "single",
        **{name: root / "slurm" / folder for name, folder in folders.items()},
        "srun.log": root / "srun.log",
    }


def _files(out: Path) -> dict[str, bytes]:
    skip = {"grading.json", "autograde.log", "gradebook.db"}
    return {
        str(p.relative_to(out)): timeless(p.read_bytes())  # the report's one timestamp aside
        for p in sorted(out.rglob("*"))
        if p.is_file() and p.name not in skip
    }


def _gradebook(path: Path) -> list[tuple[object, ...]]:
    """Every (assignment, student, cell, score, max score) of an nbgrader gradebook."""
    query = """
        SELECT assignment.name, submitted_assignment.student_id, base_cell.name,
               grade.auto_score, grade_cells.max_score
        FROM grade
        JOIN submitted_notebook ON grade.notebook_id = submitted_notebook.id
        JOIN submitted_assignment ON submitted_notebook.assignment_id = submitted_assignment.id
        JOIN assignment ON submitted_assignment.assignment_id = assignment.id
        JOIN base_cell ON grade.cell_id = base_cell.id
        JOIN grade_cells ON grade.cell_id = grade_cells.id
        ORDER BY 1, 2, 3
    """
    with sqlite3.connect(path) as db:
        return list(db.execute(query))


def test_shards_split_the_batch() -> None:
    """Does the batch above fall into two non-empty shards, ``Ada`` and ``ada`` together?"""
    owners = {student: shard_of(student, 2) for student in STUDENTS}
    assert set(owners.values()) == {1, 2}
    assert owners["Ada"] == owners["ada"]


@pytest.mark.slow
def test_each_shard_grades_only_its_students(graded: dict[str, Path]) -> None:
    """Does each shard's grades.csv hold exactly the students the hash gives it?"""
    for k in (1, 2):
        lines = (graded[f"shard{k}"] / "grades.csv").read_text().splitlines()[1:]
        got = {line.split(",")[0].removeprefix("'") for line in lines}
        assert got == {s for s in STUDENTS if shard_of(s, 2) == k}
        meta = json.loads((graded[f"shard{k}"] / "grading.json").read_text())
        assert meta["shard"] == f"{k}/2"


@pytest.mark.slow
def test_merge_equals_a_single_run(graded: dict[str, Path]) -> None:
    """Are grades.csv, lms.csv, summary, histogram, every feedback page and the course report
    (report.html, report.json, report/*.svg; its one timestamp aside) byte-identical?"""
    single, merged = _files(graded["single"]), _files(graded["merged"])
    assert sorted(single) == sorted(merged)
    pages = {name.split("/")[1] for name in single if name.startswith("feedback/")}
    assert len(pages) == len(STUDENTS) and {"Ada", "fay"} <= pages
    assert any(page.startswith("ada-") for page in pages)  # the case-clash suffix, as one run
    for name, content in single.items():
        assert merged[name] == content, name
    rows = (graded["merged"] / "grades.csv").read_text()
    assert "'=eve" in rows and ",ungradable:invalid-json," in rows


@pytest.mark.slow
def test_merged_gradebook_and_metadata(graded: dict[str, Path]) -> None:
    """Do the gradebook and grading.json say what a single run's say (timings aside)?"""
    single, merged = graded["single"], graded["merged"]
    assert _gradebook(merged / "gradebook.db") == _gradebook(single / "gradebook.db")
    assert len(_gradebook(single / "gradebook.db")) == 2 * len(STUDENTS)  # two test cells each
    one = json.loads((single / "grading.json").read_text())
    both = json.loads((merged / "grading.json").read_text())
    assert {k: v for k, v in both.items() if k not in TIMINGS} == {
        k: v for k, v in one.items() if k not in TIMINGS
    }
    assert both["jobs"] == 2 and "shard" not in both
    log = (merged / "autograde.log").read_text()
    assert "shard 1/2" in log and "shard 2/2" in log and "merge of 2 shards" in log


@pytest.mark.slow
def test_slurm_tasks_ran_under_srun(graded: dict[str, Path]) -> None:
    """Did each array task and the merge job run the grader through srun with its shard?"""
    lines = graded["srun.log"].read_text().splitlines()
    assert len(lines) == 3
    assert sum("--shard 1/2 --seed 5" in line for line in lines) == 1
    assert sum("--shard 2/2 --seed 5" in line for line in lines) == 1
    assert "-m grader merge" in lines[-1]


def _fake_shard(folder: Path, shard: str, students: list[str], seed: int = 5) -> Path:
    folder.mkdir(parents=True)
    lines = ["student_id,status"] + [f"{s},graded" for s in students]
    (folder / "grades.csv").write_text("\n".join(lines) + "\n")
    meta = {"seed": seed, "labs": ["fixture"], "shard": shard}
    (folder / "grading.json").write_text(json.dumps(meta))
    return folder


@pytest.mark.parametrize(
    ("shards", "message"),
    [
        ([("1/3", ["a"]), ("2/3", ["b"])], r"shard\(s\) 3 of 3 missing"),
        ([("1/2", ["a"]), ("1/2", ["b"])], "given twice"),
        ([("1/2", ["a"]), ("2/2", ["a"])], "a is in two shards"),
        ([("1/2", ["a"]), ("2/3", ["b"])], "a shard of 2"),
        ([("1/2", ["a"]), (None, ["b"])], "not graded with --shard"),
    ],
)
def test_merge_refuses_what_is_not_one_batch(
    tmp_path: Path, shards: list[tuple[str | None, list[str]]], message: str
) -> None:
    """Does merge refuse an incomplete set, a repeated shard, a student twice or an unsharded
    folder, before writing anything?"""
    folders = []
    for number, (mark, students) in enumerate(shards):
        folder = _fake_shard(tmp_path / f"s{number}", mark or "", students)
        if mark is None:
            (folder / "grading.json").write_text(json.dumps({"seed": 5, "labs": ["fixture"]}))
        folders.append(folder)
    with pytest.raises(MergeError, match=message):
        merge(shards=folders, out=tmp_path / "merged", solutions=SOLUTIONS)
    assert not (tmp_path / "merged").exists()


def test_merge_refuses_another_seed(tmp_path: Path) -> None:
    """Are two shards graded with different seeds refused?"""
    one = _fake_shard(tmp_path / "one", "1/2", ["a"], seed=5)
    two = _fake_shard(tmp_path / "two", "2/2", ["b"], seed=6)
    with pytest.raises(MergeError, match="seed"):
        merge(shards=[one, two], out=tmp_path / "merged", solutions=SOLUTIONS)


@pytest.mark.parametrize("text", ["0/2", "3/2", "1/0", "a/b", "1-2", ""])
def test_shard_parse_rejects(text: str) -> None:
    """Is a shard outside 1 <= K <= N, or not K/N at all, refused?"""
    with pytest.raises(ValueError, match="K/N"):
        Shard.parse(text)


def test_shards_partition_any_ids() -> None:
    """Does every id belong to exactly one shard, the same one whoever else is in the batch?"""
    ids = [f"student-{n}" for n in range(200)]
    shards = [Shard(k, 4) for k in range(1, 5)]
    counts = [sum(shard.owns(s) for s in ids) for shard in shards]
    assert sum(counts) == 200 and min(counts) > 30
    assert [shard_of(s, 4) for s in ids[:10]] == [shard_of(s, 4) for s in ids[:10]]
    assert Shard.parse(" 2 / 4 ") == Shard(2, 4) and str(Shard(2, 4)) == "2/4"


def test_merge_refuses_shards_with_other_course_files(tmp_path: Path) -> None:
    """Are shards graded with different rosters refused (their late work and names differ)?"""
    one = _fake_shard(tmp_path / "one", "1/2", ["a"])
    two = _fake_shard(tmp_path / "two", "2/2", ["b"])
    (one / "roster.csv").write_text("student_id,name\na,Ada\n")
    with pytest.raises(MergeError, match=r"different roster\.csv"):
        merge(shards=[one, two], out=tmp_path / "merged", solutions=SOLUTIONS)


def test_a_shard_without_a_seed_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Is ``--shard`` without ``--seed`` refused before anything is graded (each shard would
    draw its own seed, and the shards could not be merged)?"""
    from grader import cli

    args = ["autograde", str(tmp_path), "--out", str(tmp_path / "out"), "--shard", "1/2"]
    assert cli.main(args) == 2
    assert "--shard needs --seed" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()
