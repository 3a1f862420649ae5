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

from grader import config, gradebook, misconceptions, sandbox
from grader.grading import (
    LabKey,
    LabResult,
    ReferenceFailed,
    grade_notebook,
    in_background,
    load_key,
)
from grader.labs import LABS, get_lab, resolve_lab
from grader.safetext import LogFormatter, escape, neutralise, write_csv
from grader.sandbox.bwrap import INSTALL_HINT
from grader.shard import Shard
from grader.submissions import Handin, discover

log = logging.getLogger("grader")

HEAD = ("student_id", "name", "status", "score", "raw_score", "penalty", "max_score", "flags")
OVERRIDES = "overrides"
DIAGNOSES = "diagnoses"
"""The last column: the misconceptions failing checks recognised, each with its checks."""
LAB_DETAILS = ("raw", "penalty", "submitted", "late", "file")
"""Per lab after ``<lab>`` and ``<lab>_status``: ``<lab>_raw``, ``<lab>_penalty``, …"""


@dataclass
class StudentRow:
    """One line of ``grades.csv``."""

    student: str
    labs: dict[str, LabResult]
    flags: list[str] = field(default_factory=list)
    name: str = ""
    handins: dict[str, Handin] = field(default_factory=dict)

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
        """Every flag, lab flags prefixed with their lab, escaped to one line each."""
        lab_flags = [f"{r.lab}:{f}" for r in self.labs.values() for f in r.flags]
        return [escape(flag) for flag in self.flags + lab_flags]


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


def batch_labs(labs: Sequence[str] | None, solutions: Path) -> list[str]:
    """The labs to grade: those asked for (any form :func:`resolve_lab` takes), or every lab
    whose source notebook exists."""
    if labs:
        return list(dict.fromkeys(resolve_lab(lab).id for lab in labs))
    return [lab.id for lab in LABS.values() if (solutions / lab.notebook).exists()]


def fmt(points: float) -> str:
    return f"{points:g}"


def csv_header(keys: dict[str, LabKey]) -> list[str]:
    """The columns of ``grades.csv``: :data:`HEAD` and the overrides; per lab its points, status,
    :data:`LAB_DETAILS` and checks; the diagnoses last."""
    header = [*HEAD, OVERRIDES]
    for lab, key in keys.items():
        header += [lab, f"{lab}_status", *(f"{lab}_{d}" for d in LAB_DETAILS), *key.spec_ids]
    return [*header, DIAGNOSES]


def csv_line(row: StudentRow, batch: Batch) -> list[str]:
    """One student's line of ``grades.csv`` (cells as written, before neutralising)."""
    score = fmt(row.score)  # raw here; exports.finalise applies penalties and overrides
    line = [row.student, escape(row.name), row.status, score, score, "0", fmt(batch.max_score)]
    line += ["; ".join(row.all_flags()), ""]
    for lab, key in batch.keys.items():
        result = row.labs[lab]
        handin = row.handins.get(lab, Handin())
        when = handin.submitted.isoformat() if handin.submitted else ""
        late = "late" if handin.late else ""
        line += [fmt(result.score), result.status, fmt(result.score), "0", when, late, handin.file]
        graded = result.status == "graded"
        line += [fmt(result.checks.get(i, 0.0)) if graded else "" for i in key.spec_ids]
    graded_labs = [r for r in row.labs.values() if r.status == "graded"]
    outcomes = {i: o for r in graded_labs for i, o in r.outcomes.items()}
    return [*line, misconceptions.cell(outcomes)]


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


def _grade_one(path: Path | str, key: LabKey, limits: config.Limits) -> LabResult:
    if isinstance(path, str):  # a status decided at discovery
        detail = DISCOVERY_DETAILS.get(path, "")
        return LabResult(key.lab.id, path, max_score=key.max_score, detail=detail)
    try:
        return grade_notebook(path, key, limits=limits)
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
        shard: grade only this shard's students (:mod:`grader.shard`); recorded in
            ``grading.json`` so that ``python -m grader merge`` can combine the shards.
        layout: the submissions' layout (:data:`grader.layouts.LAYOUTS`); detected when None.
        course: a ``course.toml`` (due dates, extensions, late policy), copied into ``out``.
        roster: a ``roster.csv`` (ids, names, emails, SIS ids, sections), copied into ``out``.

    Returns:
        The batch graded now (``out`` holds it merged with the students kept).

    Raises:
        FileNotFoundError: no submissions, or no source notebooks.
        MergeError: ``out`` holds a batch of other labs or another seed (and not ``replace``).
        IsolationUnavailable: no full isolation here and ``allow_reduced_isolation`` is off.
    """
    isolation = choose_isolation(allow_reduced_isolation)
    started = time.time()
    if not submissions.exists():
        raise FileNotFoundError(f"{submissions} does not exist")
    lab_ids = batch_labs(labs, solutions)
    if not lab_ids:
        raise FileNotFoundError(f"no source notebooks in {solutions}")
    kept = None if replace else previous_batch(out)
    if kept is not None:
        seed = kept.fit(seed, lab_ids)
    seed = secrets.randbelow(2**31) if seed is None else seed
    keys = {
        lab: load_key(lab, source=solutions / get_lab(lab).notebook, seed=seed, background=True)
        for lab in lab_ids
    }
    if kept is not None:
        kept.check_columns(csv_header(keys))
    in_background(prepare_outputs)
    out.mkdir(parents=True, exist_ok=True)
    keep_course_files(out, course=course, roster=roster)
    handler = logging.FileHandler(
        out / "autograde.log", mode="w" if kept is None else "a", encoding="utf-8"
    )
    handler.setFormatter(LogFormatter("%(asctime)s %(levelname)s %(message)s"))
    log.addHandler(handler)
    log.setLevel(logging.INFO)
    try:
        if kept is not None:
            log.info(
                "regrade into %s: %d student(s) kept from the batch there", out, len(kept.rows)
            )
        elif replace:
            _clear(out)
        batch = _autograde(
            submissions, out, jobs, timeout, seed, keys, progress, isolation, shard, layout
        )
        write_outputs(
            batch,
            started=started,
            submissions=submissions,
            jobs=jobs,
            kept=kept.rows if kept else [],
        )
        if shard is not None:
            from grader.merge import record_shard

            record_shard(out, shard)
        return batch
    finally:
        log.removeHandler(handler)
        handler.close()


class MergeError(ValueError):
    """``OUT`` holds a batch this run cannot be merged into (the message says what to do)."""


@dataclass
class Previous:
    """The batch already in a results folder: its rows and what it was graded with."""

    out: Path
    header: list[str]
    rows: list[dict[str, str]]
    meta: dict[str, object]

    def fit(self, seed: int | None, lab_ids: list[str]) -> int | None:
        """The seed to regrade with: the recorded one (raises MergeError on another seed
        or other labs)."""
        recorded = self.meta.get("seed")
        labs = self.meta.get("labs")
        advice = "grade into another folder, or pass --replace to start it afresh"
        if labs is not None and labs != lab_ids:
            raise MergeError(
                f"{self.out} holds a batch of labs {labs}, not {lab_ids}: a regrade merges only "
                f"into a batch of the same labs; {advice}"
            )
        if seed is not None and recorded is not None and seed != recorded:
            raise MergeError(
                f"{self.out} holds a batch graded with seed {recorded}: regrade with --seed "
                f"{recorded} (or no --seed) to merge into it, or {advice}"
            )
        return seed if recorded is None else int(str(recorded))

    def check_columns(self, header: list[str]) -> None:
        if header != self.header:
            raise MergeError(
                f"{self.out / 'grades.csv'} has other columns than this batch (its labs' checks "
                "changed?): grade into another folder, or pass --replace to start it afresh"
            )


def previous_batch(out: Path) -> Previous | None:
    """The batch in ``out`` (None when there is none to merge into)."""
    grades = out / "grades.csv"
    if not grades.is_file():
        return None
    try:
        with open(grades, newline="", encoding="utf-8") as handle:
            reader = csv.reader(handle)
            header = next(reader, [])
            rows = [dict(zip(header, line, strict=True)) for line in reader]
        meta_path = out / "grading.json"
        meta = json.loads(meta_path.read_text(encoding="utf-8")) if meta_path.is_file() else {}
    except (OSError, ValueError) as exc:
        raise MergeError(
            f"{grades} cannot be read back ({exc}): pass --replace to start {out} afresh"
        ) from exc
    return Previous(out, header, rows, meta if isinstance(meta, dict) else {})


OUTPUTS = (
    "grades.csv",
    "lms.csv",
    "summary.md",
    "score_histogram.png",
    "gradebook.db",
    "grading.json",
    "feedback",
    "canvas.csv",
    "moodle.csv",
    "autograded",
    "feedback-canvas.zip",
    "feedback-moodle.zip",
    "feedback-nbgrader",
)
"""What a batch writes into OUT (``--replace`` removes them; ``overrides.csv``,
``course.toml`` and ``roster.csv`` stay)."""


def keep_course_files(out: Path, *, course: Path | None, roster: Path | None) -> None:
    """Copy the course file and the roster into ``out``, where reports and regrades read them
    (checked first: a file that does not parse is refused before anything is graded)."""
    from grader import exports
    from grader.course import load_course, load_roster

    load_course(course)
    load_roster(roster)
    for source, name in ((course, exports.COURSE), (roster, exports.ROSTER)):
        if source is not None:
            shutil.copyfile(source, out / name)


def _clear(out: Path) -> None:
    """Remove what a previous batch wrote into ``out`` (``--replace``)."""
    for name in OUTPUTS:
        path = out / name
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path)
        elif path.exists() or path.is_symlink():
            path.unlink()


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
        )
        print(f"layout: {found.layout}", file=sys.stderr)
        for note in found.notes:
            log.info("%s", note)
        if shard is not None:
            everyone = len(found.found)
            found.found = {s: labs for s, labs in found.found.items() if shard.owns(s)}
            log.info("shard %s: %d of %d students", shard, len(found.found), everyone)
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
        rows.append(StudentRow(student, lab_results, flags, name, handins))
    return Batch(keys, rows, seed, out, isolation, limits)


def prepare_outputs() -> None:
    """Import what writing the outputs needs (nbgrader's gradebook, matplotlib, mistune) while
    the sandboxes run, so that the batch's last step only writes."""
    import matplotlib.figure  # noqa: F401
    import mistune  # noqa: F401

    gradebook.prepare()


def write_outputs(
    batch: Batch,
    *,
    started: float,
    submissions: Path,
    jobs: int,
    kept: list[dict[str, str]] | None = None,
) -> None:
    """Feedback, then the merged table and everything derived from it: gradebook, grades.csv,
    lms.csv, grading.json, summary and histogram.

    ``kept`` are rows of a previous batch in ``batch.out`` (as read from its grades.csv); the
    students graded now replace theirs. A failure while writing one student's feedback or
    gradebook entry becomes that student's status (``ungradable:crash``, logged).
    """
    from grader import feedback, gradebook, report

    out = batch.out
    header = csv_header(batch.keys)
    regraded = {neutralise(row.student) for row in batch.rows}
    kept = [r for r in kept or [] if r.get("student_id") not in regraded]
    folders = feedback.folders([*regraded, *(r["student_id"] for r in kept)])
    for row in batch.rows:
        folder = folders[neutralise(row.student)]
        shutil.rmtree(out / "feedback" / folder, ignore_errors=True)
        for lab, result in row.labs.items():
            if result.status == "missing":
                continue
            try:
                feedback.write(out / "feedback", row.student, result, batch.keys[lab], folder)
            except Exception as exc:  # a grader bug: this student's status, not the batch's end
                log.exception("GRADER ERROR writing the feedback of %s %s", row.student, lab)
                row.labs[lab] = LabResult(
                    lab,
                    "ungradable:crash",
                    max_score=result.max_score,
                    detail=f"grader error while writing feedback: {type(exc).__name__}: {exc}",
                )
    table = {neutralise(r["student_id"]): r for r in kept}
    for row in batch.rows:
        table[neutralise(row.student)] = dict(zip(header, csv_line(row, batch), strict=True))
    merged = [table[student] for student in sorted(table)]
    for student, error in gradebook.write(out / "gradebook.db", batch.keys, merged).items():
        log.error("the gradebook entry of %s was not written: %s", student, error)
        table[neutralise(student)]["status"] = "ungradable:crash"
    write_csv(out / "grades.csv", header, ([r.get(h, "") for h in header] for r in merged))
    times = [r.seconds for row in batch.rows for r in row.labs.values() if r.run]
    meta = {
        "seed": batch.seed,
        "labs": list(batch.keys),
        "max_score": batch.max_score,
        "check_labs": {i: lab for lab, key in batch.keys.items() for i in key.spec_ids},
        **report.check_meta(batch.keys),
        "students": len(merged),
        "graded_now": len(batch.rows),
        "notebooks": len(times),
        "isolation": batch.isolation,
        "jobs": jobs,
        "cell_timeout": batch.limits.cell_timeout,
        "notebook_timeout": batch.limits.wall_clock,
        "seconds": round(time.time() - started, 1),
        "seconds_per_notebook": round(sum(times) / len(times), 2) if times else None,
        "submissions": escape(str(submissions)),
        "started": dt.datetime.fromtimestamp(started, dt.timezone.utc).isoformat(
            timespec="seconds"
        ),
        "python": platform.python_version(),
    }
    (out / "grading.json").write_text(json.dumps(meta, indent=2) + "\n")
    report.refresh(out)
    log.info(
        "done: %d students graded now (%d in %s), %d notebooks in %.1f s",
        len(batch.rows),
        len(merged),
        out.name,
        len(times),
        meta["seconds"],
    )
