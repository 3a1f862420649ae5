"""Capacity of sharded grading: one shard's throughput and the merge's time, for a course.

1. ``--copies`` complete submissions (every lab solved, as ``grading_throughput.py`` makes
   them) are graded as one shard, ``autograde --shard 1/1 -j J``, as one SLURM array task
   with ``--cpus-per-task=J`` runs it: its wall clock gives complete submissions per minute
   per core (the shard's fixed cost, imports and references, included).
2. The merge is timed at the course's size: ``--learners`` learners spread over ``--shards``
   shard folders, each learner's row, feedback pages and kept notebooks copied from one of
   the graded learners under a new id, then ``python -m grader merge`` of them all.
3. It prints, for each number of cores, the array that uses them (``--array=1-S`` of
   ``J``-core tasks) and the wall clock to grade the course: the learners over the cores'
   rate, plus the merge (``T = learners / (cores x rate) + merge``, the array's tasks all
   running at once); and the array size that meets ``--target`` minutes.

    python benchmarks/shard_capacity.py [--copies 4] [--jobs 2] [--learners 1000]
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from grading_throughput import not_full_marks, write_submissions

CORES = (8, 16, 32, 64, 128)


def grade_one_shard(submissions: Path, out: Path, jobs: int) -> float:
    """``autograde --shard 1/1 -j jobs``: its wall-clock seconds."""
    command = [
        sys.executable, "-m", "grader", "autograde", str(submissions), "--out", str(out),
        "--shard", "1/1", "-j", str(jobs), "--seed", "0", "--no-progress",
    ]  # fmt: skip
    start = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    seconds = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(f"grading failed ({done.returncode}):\n{done.stderr[-3000:]}")
    return seconds


def course_shards(graded: Path, folder: Path, learners: int, shards: int) -> list[Path]:
    """``shards`` shard folders holding ``learners`` learners, copies of those in ``graded``."""
    with open(graded / "grades.csv", newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        header, rows = list(reader.fieldnames or []), list(reader)
    meta = json.loads((graded / "grading.json").read_text())
    outs = []
    for k in range(1, shards + 1):
        out = folder / f"shard-{k}"
        out.mkdir(parents=True)
        mine = [n for n in range(learners) if n % shards == k - 1]
        with open(out / "grades.csv", "w", newline="", encoding="utf-8") as handle:
            writer = csv.DictWriter(handle, header, lineterminator="\n")
            writer.writeheader()
            for n in mine:
                template = rows[n % len(rows)]
                student = f"learner-{n:05d}"
                writer.writerow({**template, "student_id": student})
                for part in ("feedback", "autograded"):
                    source = graded / part / template["student_id"]
                    if source.is_dir():
                        shutil.copytree(source, out / part / student)
        shard_meta = meta | {"shard": f"{k}/{shards}", "students": len(mine)}
        (out / "grading.json").write_text(json.dumps(shard_meta, indent=2) + "\n")
        outs.append(out)
    return outs


def time_merge(shards: list[Path], out: Path) -> float:
    command = [sys.executable, "-m", "grader", "merge", *map(str, shards), "--out", str(out)]
    start = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    seconds = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(f"merge failed ({done.returncode}):\n{done.stderr[-3000:]}")
    return seconds


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--copies", type=int, default=4, help="complete submissions graded")
    parser.add_argument("--jobs", type=int, default=2, help="-j of the shard (its task's cores)")
    parser.add_argument("--learners", type=int, default=1000, help="the course's learners")
    parser.add_argument("--shards", type=int, default=8, help="shard folders the merge reads")
    parser.add_argument("--target", type=float, default=60.0, help="wall clock wanted, minutes")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="mgp-capacity-") as tmp:
        base = Path(tmp)
        labs = write_submissions(base / "submissions", args.copies)
        seconds = grade_one_shard(base / "submissions", base / "graded", args.jobs)
        for line in not_full_marks(base / "graded"):
            print(f"  not at full marks: {line}")
        per_core = args.copies / (seconds / 60) / args.jobs
        print(
            f"one shard, {args.copies} complete submissions of {len(labs)} labs, -j {args.jobs}: "
            f"{seconds:.1f} s, {per_core:.2f} submissions/min per core"
        )
        shards = course_shards(base / "graded", base / "course", args.learners, args.shards)
        merge = time_merge(shards, base / "merged") / 60
        print(f"merge of {args.learners} learners from {args.shards} shards: {merge * 60:.1f} s")
    print(f"\n| cores | array (-j {args.jobs} each) | grading | merge | wall clock |")
    print("|---|---|---|---|---|")
    for cores in CORES:
        grading = args.learners / (cores * per_core)
        print(
            f"| {cores} | `--array=1-{cores // args.jobs}` | {grading:.1f} min | {merge:.1f} min | "
            f"{grading + merge:.1f} min |"
        )
    spare = args.target - merge
    tasks = math.ceil(args.learners / (args.jobs * per_core * spare)) if spare > 0 else None
    print(
        f"\nwithin {args.target:g} min: --array=1-{tasks} of {args.jobs}-core tasks"
        if tasks
        else f"\nthe merge alone takes {args.target:g} min or more"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
