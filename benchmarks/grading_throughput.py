"""Grading throughput: complete submissions (every lab) autograded per minute.

Builds N copies of the full solution set (each lab in ``solutions/``, as a learner
who solved it would submit it: the released notebook with the solution code),
grades them with ``python -m grader autograde`` as an instructor would, and
prints the wall-clock time and submissions per minute for each ``-j``, then for
``--shards`` shards (``autograde --shard K/N -j 1``) run as separate processes at
once and merged with ``python -m grader merge`` (the merge counted in the time, its
``grades.csv`` checked against the ``-j`` runs'). Last, it extrapolates the cores
a course needs to grade ``--learners`` complete submissions within an hour. The
floor on a 2-core machine is 4 complete submissions per minute.

    python benchmarks/grading_throughput.py [--copies 4] [--jobs 1 2] [--shards 2]
"""

from __future__ import annotations

import argparse
import csv
import math
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import nbformat

from grader.redteam.learner import learner_notebook, load_labs

REPO = Path(__file__).resolve().parents[1]
CORES = os.cpu_count() or 1
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


def _command(submissions: Path, out: Path, jobs: int, timeout: float) -> list[str]:
    return [
        sys.executable, "-m", "grader", "autograde", str(submissions), "--out", str(out),
        "-j", str(jobs), "--seed", "0", "--timeout", str(timeout), "--no-progress",
    ]  # fmt: skip


def _check(done: subprocess.CompletedProcess[str] | subprocess.Popen[str], stderr: str) -> None:
    if done.returncode != 0:
        raise SystemExit(f"grading failed ({done.returncode}):\n{stderr[-3000:]}")


def grade(submissions: Path, out: Path, jobs: int, timeout: float) -> tuple[float, list[str]]:
    """Autograde once; the wall-clock seconds and a line per student not at full marks."""
    start = time.perf_counter()
    done = subprocess.run(
        _command(submissions, out, jobs, timeout), capture_output=True, text=True, check=False
    )
    seconds = time.perf_counter() - start
    _check(done, done.stderr)
    return seconds, not_full_marks(out)


def grade_sharded(
    submissions: Path, tmp: Path, shards: int, timeout: float
) -> tuple[float, list[str], Path]:
    """``shards`` processes ``autograde --shard K/N -j 1`` at once, then ``merge``; the
    wall-clock seconds of it all, the students not at full marks, and the merged folder."""
    start = time.perf_counter()
    outs = [tmp / f"out-shard-{k}" for k in range(1, shards + 1)]
    processes = [
        subprocess.Popen(
            [*_command(submissions, out, 1, timeout), "--shard", f"{k}/{shards}"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        for k, out in enumerate(outs, 1)
    ]
    for process in processes:
        _, stderr = process.communicate()
        _check(process, stderr)
    merged = tmp / "out-merged"
    command = [sys.executable, "-m", "grader", "merge", *map(str, outs), "--out", str(merged)]
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    _check(done, done.stderr)
    return time.perf_counter() - start, not_full_marks(merged), merged


def cores_for(learners: int, rate_per_core: float, minutes: float = 60.0) -> int:
    """Cores that grade ``learners`` complete submissions in ``minutes`` at ``rate_per_core``
    submissions per minute per core (rounded up)."""
    return math.ceil(learners / (rate_per_core * minutes))


def not_full_marks(out: Path) -> list[str]:
    """A line per student of ``out/grades.csv`` not graded at full marks."""
    with open(out / "grades.csv", newline="") as handle:
        rows = list(csv.DictReader(handle))
    wrong = [
        f"{row['student_id']}: {row['status']} {row['score']}/{row['max_score']}"
        for row in rows
        if row["status"] != "graded" or float(row["score"]) != float(row["max_score"])
    ]
    return wrong


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--copies", type=int, default=4, help="complete submissions (default 4)")
    parser.add_argument("--jobs", type=int, nargs="+", default=[1, 2], help="-j values to time")
    parser.add_argument("--timeout", type=float, default=120.0, help="per-cell budget, seconds")
    parser.add_argument(
        "--shards", type=int, default=2, help="shards run as separate processes (0: none)"
    )
    parser.add_argument(
        "--learners", type=int, default=1000, help="course size for the extrapolation"
    )
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
        per_core = {f"-j {jobs}": rates[jobs] / min(jobs, CORES) for jobs in rates}
        if args.shards:
            tmp_path = Path(tmp)
            seconds, wrong, merged = grade_sharded(submissions, tmp_path, args.shards, args.timeout)
            rate = args.copies / (seconds / 60)
            print(f"{args.shards} shards + merge: {seconds:6.1f} s  {rate:5.2f} submissions/min")
            for line in wrong:
                print(f"  not at full marks: {line}")
            same = [j for j in rates if (tmp_path / f"out-j{j}" / "grades.csv").read_bytes()
                    == (merged / "grades.csv").read_bytes()]  # fmt: skip
            print(f"  merged grades.csv identical to the -j {same} run(s): {bool(same)}")
            per_core[f"{args.shards} shards"] = rate / min(args.shards, CORES)
            rates[0] = rate
        best = max(rates.values())
        verdict = "meets" if best >= FLOOR else "BELOW"
        print(f"best {best:.2f} submissions/min: {verdict} the floor of {FLOOR:g}/min")
        label, rate_per_core = min(per_core.items(), key=lambda item: item[1])
        need = cores_for(args.learners, rate_per_core)
        print(
            f"{args.learners} learners within an hour: {args.learners} / "
            f"({rate_per_core:.2f} submissions/min/core x 60 min) = {need} cores "
            f"(the slowest per-core rate measured, {label}, on {CORES} cores)"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
