"""Grading throughput: complete submissions (every lab) autograded per minute, at -j 1 and -j 2.

Builds N copies of the full solution set (each lab in ``solutions/``, as a learner
who solved it would submit it: the released notebook with the solution code),
grades them with ``python -m grader autograde`` as an instructor would, and
prints the wall-clock time and submissions per minute for each ``-j``. The floor
on a 2-core machine is 4 complete submissions per minute.

    python benchmarks/grading_throughput.py [--copies 4] [--jobs 1 2]
"""

from __future__ import annotations

import argparse
import csv
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import nbformat

from grader.redteam.corpus import learner_notebook, load_labs

REPO = Path(__file__).resolve().parents[1]
FLOOR = 4.0
"""Complete submissions per minute this machine must reach (issue #3)."""


def write_submissions(folder: Path, copies: int) -> list[str]:
    """``copies`` students, each with every lab solved; returns the lab ids."""
    labs = load_labs(REPO / "solutions", REPO / "labs")
    for number in range(copies):
        student = folder / f"student-{number + 1:02d}"
        student.mkdir(parents=True)
        for files in labs:
            nbformat.write(learner_notebook(files), student / files.lab.notebook)
    return [files.lab.id for files in labs]


def grade(submissions: Path, out: Path, jobs: int, timeout: float) -> tuple[float, list[str]]:
    """Autograde once; the wall-clock seconds and a line per student not at full marks."""
    command = [
        sys.executable, "-m", "grader", "autograde", str(submissions), "--out", str(out),
        "-j", str(jobs), "--seed", "0", "--timeout", str(timeout), "--no-progress",
    ]  # fmt: skip
    start = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    seconds = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(f"autograde failed ({done.returncode}):\n{done.stderr[-3000:]}")
    with open(out / "grades.csv", newline="") as handle:
        rows = list(csv.DictReader(handle))
    wrong = [
        f"{row['student_id']}: {row['status']} {row['score']}/{row['max_score']}"
        for row in rows
        if row["status"] != "graded" or float(row["score"]) != float(row["max_score"])
    ]
    return seconds, wrong


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--copies", type=int, default=4, help="complete submissions (default 4)")
    parser.add_argument("--jobs", type=int, nargs="+", default=[1, 2], help="-j values to time")
    parser.add_argument("--timeout", type=float, default=120.0, help="per-cell budget, seconds")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="mgp-throughput-") as tmp:
        submissions = Path(tmp) / "submissions"
        labs = write_submissions(submissions, args.copies)
        print(f"{args.copies} complete submissions of {len(labs)} labs ({', '.join(labs)})")
        rates = {}
        for jobs in args.jobs:
            seconds, wrong = grade(submissions, Path(tmp) / f"out-j{jobs}", jobs, args.timeout)
            rates[jobs] = args.copies / (seconds / 60)
            print(f"-j {jobs}: {seconds:6.1f} s  {rates[jobs]:5.2f} submissions/min")
            for line in wrong:
                print(f"  not at full marks: {line}")
        best = max(rates.values())
        verdict = "meets" if best >= FLOOR else "BELOW"
        print(f"best {best:.2f} submissions/min: {verdict} the floor of {FLOOR:g}/min")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
