"""Autograde a batch: discovery, parallel sandboxes, scores, CSV, feedback, gradebook.

One bad submission never stops the others: every notebook ends with a status
(``graded``, ``missing`` or ``ungradable:<reason>``) and the batch always
completes. The seed of the random check inputs is drawn when not given and
recorded in ``OUT/grading.json``; ``--seed`` reproduces a batch exactly.
"""

from __future__ import annotations

import csv
import datetime as dt
import json
import logging
import platform
import secrets
import shutil
import sys
import tempfile
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field, replace
from pathlib import Path

from grader import config, sandbox
from grader.sandbox.bwrap import INSTALL_HINT
from grader.grading import LabKey, LabResult, grade_notebook, load_key
from grader.labs import LABS, get_lab
from grader.submissions import discover

log = logging.getLogger("grader")

HEAD = ("student_id", "status", "score", "max_score", "flags")


@dataclass
class StudentRow:
    """One line of ``grades.csv``."""

    student: str
    labs: dict[str, LabResult]
    flags: list[str] = field(default_factory=list)

    @property
    def status(self) -> str:
        results = list(self.labs.values())
        if all(r.status == "missing" for r in results):
            return "ungradable:no-notebooks"
        bad = [r.status for r in results if r.status.startswith("ungradable")]
        return bad[0] if bad else "graded"

    @property
    def score(self) -> float:
        return sum(r.score for r in self.labs.values())

    def all_flags(self) -> list[str]:
        lab_flags = [f"{r.lab}:{f}" for r in self.labs.values() for f in r.flags]
        return self.flags + lab_flags


@dataclass
class Batch:
    """A finished batch: its labs (keys), rows, seed and settings."""

    keys: dict[str, LabKey]
    rows: list[StudentRow]
    seed: int
    out: Path
    isolation: str
    limits: config.Limits

    @property
    def max_score(self) -> float:
        return sum(key.max_score for key in self.keys.values())


def resolve_lab(text: str) -> str:
    """A lab id from ``lab3``, ``3`` or ``1.7.3`` (fixture ids pass through)."""
    if text in LABS or text.startswith("fixture"):
        return text
    number = text.rsplit(".", 1)[-1].removeprefix("lab")
    for lab in LABS.values():
        if str(lab.number) == number:
            return lab.id
    raise KeyError(f"unknown lab {text!r}; known: {', '.join(LABS)}")


def batch_labs(labs: Sequence[str] | None, solutions: Path) -> list[str]:
    """The labs to grade: those asked for, or every lab whose source notebook exists."""
    if labs:
        return [resolve_lab(lab) for lab in labs]
    return [lab.id for lab in LABS.values() if (solutions / lab.notebook).exists()]


def fmt(points: float) -> str:
    return f"{points:g}"


def write_csv(path: Path, batch: Batch) -> None:
    """``grades.csv``: student, status, score, max, flags; per lab its points, status, checks."""
    header = list(HEAD)
    for lab, key in batch.keys.items():
        header += [lab, f"{lab}_status", *key.spec_ids]
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        for row in batch.rows:
            line = [row.student, row.status, fmt(row.score), fmt(batch.max_score)]
            line.append("; ".join(row.all_flags()))
            for lab, key in batch.keys.items():
                result = row.labs[lab]
                line += [fmt(result.score), result.status]
                graded = result.status == "graded"
                line += [fmt(result.checks.get(i, 0.0)) if graded else "" for i in key.spec_ids]
            writer.writerow(line)


def _log_result(student: str, result: LabResult) -> None:
    run = result.run
    where = f" [{run.isolation} isolation, {result.seconds:.1f} s]" if run else ""
    log.info("%s %s: %s %s/%s%s", student, result.lab, result.status, fmt(result.score),
             fmt(result.max_score), where)  # fmt: skip
    if result.detail:
        log.info("  %s", result.detail)
    if result.flags:
        log.info("  flags: %s", "; ".join(result.flags))
    for cell in run.cells if run else []:
        if cell.error:
            log.info("  cell %d: %s", cell.index, cell.error.strip().splitlines()[-1][:200])


def _grade_one(path: Path | str, key: LabKey, limits: config.Limits) -> LabResult:
    if isinstance(path, str):  # a status decided at discovery (zip member over the cap)
        return LabResult(key.lab.id, path, max_score=key.max_score, detail="over the size cap")
    try:
        return grade_notebook(path, key, limits=limits)
    except Exception as exc:  # a grader bug must not stop the batch
        log.exception("GRADER ERROR on %s", path)
        return LabResult(key.lab.id, "ungradable:crash", max_score=key.max_score, path=path,
                         detail=f"grader error: {type(exc).__name__}: {exc}")  # fmt: skip


def grade_all(
    found: dict[str, dict[str, Path | str]],
    keys: dict[str, LabKey],
    *,
    jobs: int,
    limits: config.Limits,
    progress: bool,
) -> dict[tuple[str, str], LabResult]:
    """Grade every (student, lab) notebook, ``jobs`` sandboxes at a time, with a progress bar."""
    from tqdm import tqdm

    tasks = [(s, lab, p) for s, labs in found.items() for lab, p in labs.items() if lab in keys]
    results: dict[tuple[str, str], LabResult] = {}
    with (
        ThreadPoolExecutor(max_workers=max(jobs, 1)) as pool,
        tqdm(total=len(tasks), unit="notebook", file=sys.stderr, disable=not progress) as bar,
    ):
        futures = {pool.submit(_grade_one, p, keys[lab], limits): (s, lab) for s, lab, p in tasks}
        for future in as_completed(futures):
            student, lab = futures[future]
            results[student, lab] = future.result()
            _log_result(student, results[student, lab])
            bar.update()
    return results


class IsolationUnavailable(RuntimeError):
    """Full isolation cannot be had here and the instructor did not accept less."""


def choose_isolation(allow_reduced: bool) -> str:
    """``full`` where bubblewrap starts a sandbox; else ``reduced`` if allowed, else an error."""
    problem = sandbox.isolation_problem()
    if not problem:
        return "full"
    if allow_reduced:
        return "reduced"
    raise IsolationUnavailable(f"no full isolation on this machine: {problem}. {INSTALL_HINT}")


def autograde(
    *,
    submissions: Path,
    out: Path,
    jobs: int = config.DEFAULT_JOBS,
    timeout: float | None = None,
    seed: int | None = None,
    labs: Sequence[str] | None = None,
    solutions: Path = config.SOLUTIONS,
    progress: bool = True,
    allow_reduced_isolation: bool = False,
) -> Batch:
    """Grade every submission under ``submissions`` and write the results into ``out``.

    Args:
        submissions: a folder of ``<student_id>/<notebook>.ipynb``, flat LMS
            exports ``<student_id>_<anything>_<notebook>.ipynb``, or a zip of either.
        out: results folder (created): grades.csv, feedback/, summary.md,
            score_histogram.png, gradebook.db, grading.json, autograde.log.
        jobs: sandboxes run in parallel.
        timeout: per-cell time budget in seconds (the notebook's limit follows from it).
        seed: seed of the check inputs; drawn at random and recorded when None.
        labs: lab ids to grade (default: every lab with a source notebook).
        solutions: folder of the source notebooks (trusted test cells and points).
        progress: show a progress bar on stderr.
        allow_reduced_isolation: grade with resource limits only where bubblewrap cannot
            start a sandbox (stated in the log, ``grades.csv`` and the summary).

    Returns:
        The batch, as written to ``out``.

    Raises:
        IsolationUnavailable: no full isolation here and ``allow_reduced_isolation`` is off.
    """
    isolation = choose_isolation(allow_reduced_isolation)
    out.mkdir(parents=True, exist_ok=True)
    handler = logging.FileHandler(out / "autograde.log", mode="w", encoding="utf-8")
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s"))
    log.addHandler(handler)
    log.setLevel(logging.INFO)
    try:
        return _autograde(
            submissions, out, jobs, timeout, seed, labs, solutions, progress, isolation
        )
    finally:
        log.removeHandler(handler)
        handler.close()


def _autograde(
    submissions: Path,
    out: Path,
    jobs: int,
    timeout: float | None,
    seed: int | None,
    labs: Sequence[str] | None,
    solutions: Path,
    progress: bool,
    isolation: str,
) -> Batch:
    started = time.time()
    if not submissions.exists():
        raise FileNotFoundError(f"{submissions} does not exist")
    limits = (
        config.DEFAULT_LIMITS
        if timeout is None
        else replace(config.DEFAULT_LIMITS, cell_timeout=timeout)
    )
    seed = secrets.randbelow(2**31) if seed is None else seed
    lab_ids = batch_labs(labs, solutions)
    if not lab_ids:
        raise FileNotFoundError(f"no source notebooks in {solutions}")
    if isolation == "reduced":
        log.warning(
            "REDUCED ISOLATION: %s; learner code runs with resource limits only and can read "
            "this machine's files, other submissions and the grader's process",
            sandbox.isolation_problem(),
        )
    log.info(
        "seed %d, labs %s, isolation: %s, %d job(s)", seed, ", ".join(lab_ids), isolation, jobs
    )
    log.info("cell budget %g s, notebook limit %g s", limits.cell_timeout, limits.wall_clock)
    keys = {
        lab: load_key(lab, source=solutions / get_lab(lab).notebook, seed=seed) for lab in lab_ids
    }
    notebooks = {get_lab(lab).notebook: lab for lab in lab_ids}
    with tempfile.TemporaryDirectory(prefix="mgp-unpack-") as unpack_to:
        found = discover(
            submissions, notebooks, unpack_to=Path(unpack_to), max_bytes=limits.notebook_size
        )
        for note in found.notes:
            log.info("%s", note)
        results = grade_all(found.found, keys, jobs=jobs, limits=limits, progress=progress)
    rows = []
    for student in sorted(found.found):
        lab_results = {
            lab: results.get((student, lab))
            or LabResult(lab, "missing", max_score=keys[lab].max_score)
            for lab in lab_ids
        }
        rows.append(StudentRow(student, lab_results, found.flags.get(student, [])))
    batch = Batch(keys, rows, seed, out, isolation, limits)
    write_outputs(batch, started=started, submissions=submissions, jobs=jobs)
    return batch


def write_outputs(batch: Batch, *, started: float, submissions: Path, jobs: int) -> None:
    """grades.csv, grading.json, feedback, summary, histogram and the nbgrader gradebook."""
    from grader import feedback, report

    out = batch.out
    write_csv(out / "grades.csv", batch)
    times = [r.seconds for row in batch.rows for r in row.labs.values() if r.run]
    meta = {
        "seed": batch.seed,
        "labs": list(batch.keys),
        "max_score": batch.max_score,
        "check_labs": {i: lab for lab, key in batch.keys.items() for i in key.spec_ids},
        "students": len(batch.rows),
        "notebooks": len(times),
        "isolation": batch.isolation,
        "jobs": jobs,
        "cell_timeout": batch.limits.cell_timeout,
        "notebook_timeout": batch.limits.wall_clock,
        "seconds": round(time.time() - started, 1),
        "seconds_per_notebook": round(sum(times) / len(times), 2) if times else None,
        "submissions": str(submissions),
        "started": dt.datetime.fromtimestamp(started, dt.timezone.utc).isoformat(
            timespec="seconds"
        ),
        "python": platform.python_version(),
    }
    (out / "grading.json").write_text(json.dumps(meta, indent=2) + "\n")
    shutil.rmtree(out / "feedback", ignore_errors=True)
    for row in batch.rows:
        for lab, result in row.labs.items():
            if result.status != "missing":
                feedback.write(out / "feedback", row.student, result, batch.keys[lab])
    report.write_summary(out)
    try:
        from grader import gradebook

        gradebook.write(out / "gradebook.db", batch)
    except Exception as exc:
        log.error("the nbgrader gradebook was not written: %s", exc)
    log.info(
        "done: %d students, %d notebooks in %.1f s", len(batch.rows), len(times), meta["seconds"]
    )
