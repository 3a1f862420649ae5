"""Grading throughput against plain nbgrader, lab by lab, on the same submissions.

Builds a temporary nbgrader course from ``solutions/`` (one assignment per lab,
released with ``nbgrader generate_assignment``) and N submissions per lab made
from the solutions: the released notebook with every solution cell holding the
source notebook's code, as a learner who solved the lab would hand it in. Then,
lab by lab and interleaved, it times

* ``nbgrader autograde`` (in-kernel tests, no sandbox; nbgrader grades one
  notebook at a time), and
* ``python -m grader autograde SUBMISSIONS --out OUT -j N`` on the same notebooks,
  at ``-j 1`` and at the grader's default ``-j``,

checks that both gave every submission full marks, and prints the throughput
ratio (grader submissions per minute / nbgrader's) per lab and overall. The
figures come last.

    python benchmarks/grading_vs_nbgrader.py [--copies 6] [--repeats 1] [--lab 2 ...]

Both tools run with the same per-cell time budget (``--timeout``, the grader's
default) and see the repository the same way (``micrograd_plus`` and ``grader``
importable in nbgrader's kernel).
"""

from __future__ import annotations

import argparse
import csv
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import nbformat

REPO = Path(__file__).resolve().parents[1]
SOLUTION_BLOCK = re.compile(r"^[ \t]*### (BEGIN|END) SOLUTION[ \t]*\n?", re.MULTILINE)
NBGRADER_CONFIG = """\
c = get_config()  # noqa: F821
c.CourseDirectory.root = {root!r}
c.CourseDirectory.course_id = "microgradplus-bench"
c.Execute.timeout = {timeout}
c.ExecutePreprocessor.timeout = {timeout}
c.Autograde.create_student = True
"""


def lab_of(notebook: str) -> str:
    """``lab-1.7.2-operations.ipynb`` -> ``1.7.2``."""
    return notebook.split("-")[1]


def run(command: list[str], cwd: Path, env: dict[str, str] | None = None) -> float:
    """Run a command to completion; its wall-clock seconds (exits on failure)."""
    start = time.perf_counter()
    done = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, check=False)
    seconds = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(
            f"{' '.join(command[:4])} ... failed ({done.returncode}):\n"
            f"{done.stdout[-2000:]}\n{done.stderr[-4000:]}"
        )
    return seconds


def solved(released: Any, source: Any) -> Any:
    """The released notebook with each solution cell holding the source's code, markers removed."""
    code = {
        c.metadata["nbgrader"]["grade_id"]: SOLUTION_BLOCK.sub("", c.source)
        for c in source.cells
        if c.metadata.get("nbgrader", {}).get("solution")
    }
    for cell in released.cells:
        grade_id = cell.metadata.get("nbgrader", {}).get("grade_id")
        if cell.metadata.get("nbgrader", {}).get("solution") and grade_id in code:
            cell.source = code[grade_id]
    return released


class Course:
    """A temporary nbgrader course and grader submission folder holding the same notebooks."""

    def __init__(self, root: Path, notebooks: list[str], copies: int, timeout: float) -> None:
        self.root, self.notebooks, self.copies = root, notebooks, copies
        self.students = [f"student-{n + 1:02d}" for n in range(copies)]
        bin_dir = str(Path(sys.executable).parent)  # nbgrader runs `alembic` from PATH
        self.env = {
            **os.environ,
            "PATH": os.pathsep.join([bin_dir, os.environ.get("PATH", "")]),
            "PYTHONPATH": str(REPO),
            "MPLBACKEND": "Agg",
        }
        (root / "nbgrader_config.py").write_text(
            NBGRADER_CONFIG.format(root=str(root), timeout=int(timeout))
        )
        for notebook in notebooks:
            assignment = lab_of(notebook)
            (root / "source" / assignment).mkdir(parents=True)
            shutil.copy(REPO / "solutions" / notebook, root / "source" / assignment / notebook)
            self.nbgrader("generate_assignment", assignment, "--force")
            released = root / "release" / assignment / notebook
            source = nbformat.read(REPO / "solutions" / notebook, as_version=4)
            for student in self.students:
                notebook_json = solved(nbformat.read(released, as_version=4), source)
                for folder in (
                    root / "submitted" / student / assignment,
                    root / "grader-submissions" / assignment / student,
                ):
                    folder.mkdir(parents=True, exist_ok=True)
                    nbformat.write(notebook_json, folder / notebook)

    def nbgrader(self, *args: str) -> float:
        return run([sys.executable, "-m", "nbgrader", *args], self.root, self.env)

    def time_nbgrader(self, notebook: str) -> float:
        """Seconds for ``nbgrader autograde`` of one lab's submissions, from scratch."""
        shutil.rmtree(self.root / "autograded", ignore_errors=True)
        return self.nbgrader("autograde", lab_of(notebook), "--force")

    def time_grader(self, notebook: str, jobs: int | None) -> float:
        """Seconds for ``python -m grader autograde`` of one lab's submissions, from scratch."""
        out = self.root / "grader-out" / lab_of(notebook) / f"j{jobs or 'default'}"
        shutil.rmtree(out, ignore_errors=True)
        command = [
            sys.executable, "-m", "grader", "autograde",
            str(self.root / "grader-submissions" / lab_of(notebook)), "--out", str(out),
            "--lab", lab_of(notebook), "--seed", "0", "--no-progress",
        ]  # fmt: skip
        if jobs is not None:
            command += ["-j", str(jobs)]
        return run(command, REPO, self.env)

    def not_full_marks(self, notebook: str) -> list[str]:
        """A line per submission that either tool did not give full marks."""
        from nbgrader.api import Gradebook

        wrong = []
        with Gradebook(f"sqlite:///{self.root / 'gradebook.db'}") as gradebook:
            for student in self.students:
                sub = gradebook.find_submission_notebook(
                    notebook.removesuffix(".ipynb"), lab_of(notebook), student
                )
                if sub.score != sub.max_score:
                    wrong.append(f"nbgrader {student}: {sub.score}/{sub.max_score}")
        for grades in (self.root / "grader-out" / lab_of(notebook)).glob("*/grades.csv"):
            with open(grades, newline="") as handle:
                for row in csv.DictReader(handle):
                    if row["status"] != "graded" or float(row["score"]) != float(row["max_score"]):
                        wrong.append(
                            f"grader ({grades.parent.name}) {row['student_id']}: "
                            f"{row['status']} {row['score']}/{row['max_score']}"
                        )
        return wrong


def default_jobs() -> str:
    """The grader's default -j, as it reports it (for the printout)."""
    try:
        from grader import config

        return str(config.DEFAULT_JOBS)
    except Exception:  # the figure is only a label
        return "?"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--copies",
        type=int,
        default=6,
        help="submissions per lab (default 6: with fewer, both tools' start-up dominates)",
    )
    parser.add_argument("--repeats", type=int, default=1, help="interleaved rounds (default 1)")
    parser.add_argument("--lab", action="append", help="only this lab, e.g. 1.7.2 (repeatable)")
    parser.add_argument("--timeout", type=float, default=120.0, help="per-cell budget, seconds")
    args = parser.parse_args(argv)
    notebooks = sorted(p.name for p in (REPO / "solutions").glob("lab-*.ipynb"))
    if args.lab:
        notebooks = [nb for nb in notebooks if lab_of(nb) in args.lab]
    tools = ["nbgrader", "grader -j 1", f"grader -j {default_jobs()} (default)"]
    seconds: dict[str, dict[str, list[float]]] = {nb: {t: [] for t in tools} for nb in notebooks}
    with tempfile.TemporaryDirectory(prefix="mgp-vs-nbgrader-") as tmp:
        start = time.perf_counter()
        course = Course(Path(tmp), notebooks, args.copies, args.timeout)
        print(
            f"course: {len(notebooks)} labs, {args.copies} submissions each, "
            f"built in {time.perf_counter() - start:.0f} s"
        )
        for round_ in range(args.repeats):
            for notebook in notebooks:  # interleaved: each lab's three runs back to back
                timings = {
                    tools[0]: course.time_nbgrader(notebook),
                    tools[1]: course.time_grader(notebook, 1),
                    tools[2]: course.time_grader(notebook, None),
                }
                for tool, value in timings.items():
                    seconds[notebook][tool].append(value)
                print(
                    f"round {round_ + 1} {lab_of(notebook)}: "
                    + ", ".join(f"{t} {v:.1f} s" for t, v in timings.items())
                )
                for line in course.not_full_marks(notebook):
                    print(f"  not at full marks: {line}")

    def rate(notebook: str, tool: str) -> float:
        """Submissions per minute (median seconds over the rounds)."""
        return args.copies / (statistics.median(seconds[notebook][tool]) / 60)

    print(f"\nthroughput, {args.copies} submissions per lab (submissions/min; ratio vs nbgrader):")
    print(f"{'lab':8s} {'nbgrader':>10s}" + "".join(f" {t:>28s}" for t in tools[1:]))
    for notebook in notebooks:
        base = rate(notebook, tools[0])
        cells = "".join(
            f" {rate(notebook, t):10.2f} ({rate(notebook, t) / base:4.2f}x nbgrader)"
            for t in tools[1:]
        )
        print(f"{lab_of(notebook):8s} {base:10.2f}{cells}")
    total = {
        t: len(notebooks)
        * args.copies
        / (sum(statistics.median(seconds[nb][t]) for nb in notebooks) / 60)
        for t in tools
    }
    cells = "".join(
        f" {total[t]:10.2f} ({total[t] / total[tools[0]]:4.2f}x nbgrader)" for t in tools[1:]
    )
    print(f"{'overall':8s} {total[tools[0]]:10.2f}{cells}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
