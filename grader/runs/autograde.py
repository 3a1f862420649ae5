"""Autograde a batch: discover the submissions, grade each notebook in parallel sandboxes,
write the outputs (:mod:`grader.outputs.results`).

One bad submission never stops the others: every notebook ends with a status
(``graded``, ``missing`` or ``ungradable:<reason>``) and the batch always
completes. The seed of the random check inputs is drawn when not given and
recorded in ``OUT/grading.json``; ``--seed`` reproduces a batch exactly.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
import secrets
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import replace
from pathlib import Path

from grader import config, sandbox
from grader.batch import LabKey, LabResult
from grader.course import load_course
from grader.labs import LABS, get_lab, resolve_lab
from grader.outputs import gradebook, results
from grader.outputs.exports import keep_course_files
from grader.outputs.results import Batch, MergeError, StudentRow, csv_header, fmt, previous_batch
from grader.pipeline.discover import discover
from grader.pipeline.grading import (
    ReferenceFailed,
    grade_notebook,
    in_background,
    load_key,
)
from grader.runs.shard import Shard, stale_shard_folder
from grader.safetext import LogFormatter
from grader.sandbox.bwrap import INSTALL_HINT
from grader.sandbox.spares import Spares

log = logging.getLogger("grader")


def batch_labs(labs: Sequence[str] | None, solutions: Path) -> list[str]:
    """The labs to grade: those asked for (any form :func:`resolve_lab` takes), or every lab
    whose source notebook exists."""
    if labs:
        return list(dict.fromkeys(resolve_lab(lab).id for lab in labs))
    return [lab.id for lab in LABS.values() if (solutions / lab.notebook).exists()]


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


DISCOVERY_DETAILS = {
    "ungradable:too-large": "over the size cap",
    "ungradable:unreadable": "the file could not be read (a broken zip member, not a file)",
    "ungradable:symlink": "a symbolic link in the submissions is never followed",
}
UNGRADED = ("renamed", "not-a-notebook", "unreadable")
"""Reasons a handed-in file was not graded that make a learner's missing labs 0, not blank:
they handed something in (``other-lab`` and ``duplicate`` files do not count)."""


def _grade_one(
    path: Path | str, key: LabKey, limits: config.Limits, spares: Spares | None
) -> LabResult:
    if isinstance(path, str):  # a status decided at discovery
        detail = DISCOVERY_DETAILS.get(path, "")
        return LabResult(key.lab.id, path, max_score=key.max_score, detail=detail)
    try:
        return grade_notebook(path, key, limits=limits, spares=spares)
    except ReferenceFailed:
        raise  # the key is broken: no learner could be graded against it
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
    """Grade every (student, lab) notebook, ``jobs`` sandboxes at a time, lab by lab, with a
    progress bar (on a terminal; elsewhere, such as a batch job's output file, a line at every
    twentieth of the notebooks: :class:`ProgressLines`); each next sandbox starts while the
    notebooks before it run (:class:`grader.sandbox.spares.Spares`)."""
    from tqdm import tqdm

    tasks = [(s, lab, labs[lab]) for lab in keys for s, labs in found.items() if lab in labs]
    lines = ProgressLines(len(tasks)) if progress and not sys.stderr.isatty() else None
    runs = Counter(lab for _, lab, path in tasks if not isinstance(path, str))
    imports = {lab: key.imports for lab, key in keys.items()}
    results: dict[tuple[str, str], LabResult] = {}
    with (
        Spares({lab: runs[lab] for lab in keys}, imports, limits=limits, ahead=jobs) as spares,
        ThreadPoolExecutor(max_workers=max(jobs, 1)) as pool,
        tqdm(
            total=len(tasks),
            unit="notebook",
            file=sys.stderr,
            disable=not progress or lines is not None,
        ) as bar,
    ):
        futures = {
            pool.submit(_grade_one, p, keys[lab], limits, spares): (s, lab) for s, lab, p in tasks
        }
        for future in as_completed(futures):
            student, lab = futures[future]
            results[student, lab] = future.result()
            _log_result(student, results[student, lab])
            bar.update()
            if lines:
                lines.done()
    log.info("%d of %d sandboxes started ahead of their notebook", spares.taken, runs.total())
    return results


class ProgressLines:
    """Progress as plain lines on stderr: ``graded 3 of 12 notebooks (25%), 14 s``, at every
    twentieth of the batch and at its end (every notebook in a batch of 20 or fewer)."""

    def __init__(self, total: int) -> None:
        self.total, self.count, self.started = total, 0, time.monotonic()

    def done(self) -> None:
        self.count += 1
        if self.count * 20 // self.total > (self.count - 1) * 20 // self.total:
            seconds = time.monotonic() - self.started
            percent = 100 * self.count // self.total
            print(f"graded {self.count} of {self.total} notebooks ({percent}%), {seconds:.0f} s",
                  file=sys.stderr, flush=True)  # fmt: skip


def _import_torch() -> None:
    """Import PyTorch (the references need it; where it is missing they say so themselves)."""
    with contextlib.suppress(ImportError):
        import torch  # noqa: F401


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
    replace: bool = False,
    allow_reduced_isolation: bool = False,
    shard: Shard | None = None,
    layout: str | None = None,
    course: Path | None = None,
    roster: Path | None = None,
) -> Batch:
    """Grade every submission under ``submissions`` and write the results into ``out``.

    Args:
        submissions: a folder of ``<student_id>/<notebook>.ipynb``, flat LMS
            exports ``<student_id>_<anything>_<notebook>.ipynb``, or a zip of either.
        out: results folder (created): grades.csv, lms.csv, feedback/, summary.md,
            score_histogram.png, gradebook.db, grading.json, autograde.log. When it
            already holds a batch, the students graded now replace their rows and
            everyone else's stay (same labs and seed required; see ``replace``).
        jobs: sandboxes run in parallel.
        timeout: per-cell time budget in seconds (the notebook's limit follows from it).
        seed: seed of the check inputs; the previous batch's in ``out``, or drawn at random
            and recorded, when None.
        labs: labs to grade (``2``, ``lab2``, ``1.7.2``, a notebook name; default: every lab
            with a source notebook).
        solutions: folder of the source notebooks (trusted test cells and points).
        progress: show a progress bar on stderr.
        replace: start ``out`` afresh instead of merging into the batch it holds.
        allow_reduced_isolation: grade with resource limits only where bubblewrap cannot
            start a sandbox (stated in the log, ``grades.csv`` and the summary).
        shard: grade only this shard's students (:mod:`grader.runs.shard`); recorded in
            ``grading.json`` so that ``python -m grader merge`` can combine the shards.
        layout: the submissions' layout (:data:`~grader.pipeline.layouts.LAYOUTS`); detected
            when None.
        course: a ``course.toml`` (due dates, extensions, late policy), copied into ``out``.
        roster: a ``roster.csv`` (ids, names, emails, SIS ids, sections), copied into ``out``.

    Returns:
        The batch graded now (``out`` holds it merged with the students kept).

    Raises:
        FileNotFoundError: no submissions, or no source notebooks.
        MergeError: ``out`` holds a batch of other labs or another seed, or any batch when
            grading a shard (and not ``replace``).
        IsolationUnavailable: no full isolation here and ``allow_reduced_isolation`` is off.
    """
    started = time.time()
    in_background(_import_torch)  # the references' first need, before anything else is read
    isolation = choose_isolation(allow_reduced_isolation)
    if not submissions.exists():
        raise FileNotFoundError(f"{submissions} does not exist")
    lab_ids = batch_labs(labs, solutions)
    if not lab_ids:
        raise FileNotFoundError(f"no source notebooks in {solutions}")
    kept = None if replace else previous_batch(out)
    if kept is not None and shard is not None:
        raise MergeError(stale_shard_folder(kept, shard))
    if kept is not None:
        seed = kept.fit(seed, lab_ids)
    seed = secrets.randbelow(2**31) if seed is None else seed
    keys = {
        lab: load_key(lab, source=solutions / get_lab(lab).notebook, seed=seed, background=True)
        for lab in lab_ids
    }
    if kept is not None:
        kept.check_columns(csv_header(keys))
    gradebook.start_helper()
    in_background(results.prepare)
    out.mkdir(parents=True, exist_ok=True)
    keep_course_files(out, course=course, roster=roster)
    handler = logging.FileHandler(
        out / "autograde.log", mode="w" if kept is None else "a", encoding="utf-8"
    )
    handler.setFormatter(LogFormatter("%(asctime)s %(levelname)s %(message)s"))
    log.addHandler(handler)
    log.setLevel(logging.INFO)
    if isolation == "full":
        log.info("isolation: full, sandboxes run by %s", sandbox.sandbox_binary())
    try:
        if kept is not None:
            log.info(
                "regrade into %s: %d student(s) kept from the batch there", out, len(kept.rows)
            )
        elif replace:
            results.clear(out)
        zone = load_course(course or _kept(out, "course.toml")).zone
        lone = bool(labs) and len(lab_ids) == 1
        batch = _autograde(
            submissions, out, jobs, timeout, seed, keys, progress, isolation, shard, layout,
            zone, lone,
        )  # fmt: skip
        results.write_outputs(
            batch,
            started=started,
            submissions=submissions,
            jobs=jobs,
            kept=kept.rows if kept else [],
            shard=None if shard is None else str(shard),
        )
        return batch
    finally:
        log.removeHandler(handler)
        handler.close()


def _kept(out: Path, name: str) -> Path | None:
    """A course file kept in ``out`` by an earlier batch, if there is one."""
    return out / name if (out / name).is_file() else None


def _autograde(
    submissions: Path,
    out: Path,
    jobs: int,
    timeout: float | None,
    seed: int,
    keys: dict[str, LabKey],
    progress: bool,
    isolation: str,
    shard: Shard | None = None,
    layout: str | None = None,
    zone: dt.tzinfo = dt.timezone.utc,
    lone: bool = False,
) -> Batch:
    limits = (
        config.DEFAULT_LIMITS
        if timeout is None
        else replace(config.DEFAULT_LIMITS, cell_timeout=timeout)
    )
    lab_ids = list(keys)
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
    notebooks = {get_lab(lab).notebook: lab for lab in lab_ids}
    with tempfile.TemporaryDirectory(prefix="mgp-unpack-") as unpack_to:
        found = discover(
            submissions,
            notebooks,
            unpack_to=Path(unpack_to),
            max_bytes=limits.notebook_size,
            layout=layout,
            zone=zone,
            lone=lone,
        )
        print(f"layout: {found.layout}", file=sys.stderr)
        for note in found.notes:
            log.info("%s", note)
        if shard is not None:
            everyone = len(found.found)
            found.found = {s: labs for s, labs in found.found.items() if shard.owns(s)}
            log.info("shard %s: %d of %d students", shard, len(found.found), everyone)
            print(f"shard {shard}: {len(found.found)} of {everyone} students", file=sys.stderr)
        results = grade_all(found.found, keys, jobs=jobs, limits=limits, progress=progress)
        gradebook.keep_notebooks(out, found.found, keys)
    rows = []
    for student in sorted(found.found):
        lab_results = {
            lab: results.get((student, lab))
            or LabResult(lab, "missing", max_score=keys[lab].max_score)
            for lab in lab_ids
        }
        flags = found.flags.get(student, []) + (
            ["reduced-isolation"] if isolation == "reduced" else []
        )
        handins = {lab: h for (s, lab), h in found.handins.items() if s == student}
        name = found.names.get(student, "")
        ungraded = [i.name for i in found.ignored if i.student == student and i.reason in UNGRADED]
        if ungraded and all(r.status == "missing" for r in lab_results.values()):
            detail = f"handed in, but no file could be graded: {', '.join(ungraded)}"
            lab_results = {
                lab: LabResult(
                    lab, "ungradable:no-gradable-file", max_score=r.max_score, detail=detail
                )
                for lab, r in lab_results.items()
            }
        rows.append(StudentRow(student, lab_results, flags, name, handins))
    unowned = [(i.name, i.reason) for i in found.ignored if i.student is None]
    return Batch(keys, rows, seed, out, isolation, limits, unowned)
