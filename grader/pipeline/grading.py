"""Grade one notebook: read it safely, run it in the sandbox, judge the arrays, score it.

The trusted half of the two-process check: references are computed here (once
per lab and seed, on inputs regenerated from the seed, never read back from the
sandbox), the sandbox's arrays are compared with :func:`grader.checking.outcome.judge`,
and points come from the source notebook's test cells (:mod:`grader.pipeline.scoring`).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import grader.pipeline.scoring as scoring
from grader import cellsource, config, sandbox
from grader.batch import LabKey, LabResult
from grader.checking import misconceptions
from grader.checking.outcome import Outcome, judge
from grader.checking.spec import Inputs, Outputs, Spec, get_spec, load_lab
from grader.labs import get_lab
from grader.notebook import REASONS as READ_REASONS
from grader.notebook import NotebookError, read
from grader.sandbox.spares import Spares

log = logging.getLogger("grader")

REASONS = (
    *READ_REASONS,
    "timeout",
    "memory",
    "crash",
    "output-limit",
    "no-gradable-file",
)
"""Why a lab can be ``ungradable:<reason>``."""


class ReferenceFailed(RuntimeError):
    """A reference (the trusted side of a check) could not be computed: the grader's fault,
    so the batch stops rather than marking every learner ungradable."""


_BACKGROUND = ThreadPoolExecutor(max_workers=1, thread_name_prefix="mgp-background")
"""The grader's background thread: each key's references, one lab after another, then the
outputs' imports, while the first sandboxes run (torch's import and the reference runs
overlap the learners' code)."""


def in_background(fn: Callable[..., Any], *args: Any) -> Future[Any]:
    """Run ``fn(*args)`` in the grader's background thread, after the work queued before it."""
    return _BACKGROUND.submit(fn, *args)


def _references(inputs: dict[str, Inputs]) -> dict[str, Outputs]:
    """Each check's reference outputs (torch runs here, in the trusted process)."""
    out = {}
    for check_id, values in inputs.items():
        try:
            out[check_id] = get_spec(check_id).reference({k: v.copy() for k, v in values.items()})
        except Exception as exc:
            raise ReferenceFailed(f"the reference of {check_id} failed: {exc!r}") from exc
    return out


def load_key(
    lab_id: str,
    *,
    source: Path,
    seed: int,
    visible_only: bool = False,
    background: bool = False,
) -> LabKey:
    """Read a source notebook's test cells, draw every check's inputs for ``seed`` and compute
    the references.

    Args:
        lab_id: the lab.
        source: its source notebook (``solutions/<notebook>``); for a learner's
            own validation, the released notebook holds the visible test cells.
        seed: seed of the check inputs.
        visible_only: keep only visible checks (hidden ones dropped).
        background: compute the references in a background thread (the batch's sandboxes
            start meanwhile); else before returning.

    Raises:
        FileNotFoundError: no source notebook.
        grader.pipeline.scoring.ScoringError: the source breaks the scoring contract.
        ReferenceFailed: a reference raised (at once, or from :meth:`LabKey.expected`).
    """
    lab = get_lab(lab_id)
    load_lab(lab_id)
    try:
        nb = read(source, max_bytes=config.DEFAULT_LIMITS.notebook_size)
    except NotebookError as exc:
        raise scoring.ScoringError(f"{source}: {exc}") from exc
    cells = scoring.test_cells(nb, lab_id, visible_only)
    calls = [call for cell in cells for call in cell.checks]
    inputs = {call.id: get_spec(call.id).make_inputs(seed) for call in calls}
    hidden = frozenset().union(*(cell.hidden for cell in cells))
    hidden_module = config.REPO / "grader" / "checking" / "hidden" / f"{lab_id}.py"
    hidden_source = (
        hidden_module.read_text(encoding="utf-8")
        if not visible_only and hidden_module.is_file()
        else ""
    )
    given = scoring.given_cells(nb)
    imports = tuple(
        dict.fromkeys(name for cell in given.values() for name in cellsource.imports(cell))
    )
    key = LabKey(lab, cells, seed, inputs, hidden, given, hidden_source, imports)
    if background:
        key._expected = in_background(_references, inputs)
    else:
        key._expected = Future()
        key._expected.set_result(_references(inputs))
    return key


class _NonNumeric:
    """Stands for a value the learner's code returned that is not a numeric array."""

    def __init__(self, type_name: str) -> None:
        self.type_name = type_name

    def __repr__(self) -> str:
        return self.type_name


def judge_run(spec: Spec, run: sandbox.SpecRun | None, key: LabKey) -> Outcome:
    """Compare what the sandbox returned for one check with the key's reference, and a
    failure with the wrong references of known misconceptions."""
    inputs = key.inputs[spec.id]
    if run is None:
        return Outcome(spec, error="this check did not run (the notebook stopped before it)")
    if run.error:
        return misconceptions.diagnosed(Outcome(spec, error=run.error), inputs, wrong={})
    got: dict[str, Any] = dict(run.arrays)
    for name, type_name in run.non_numeric.items():
        got[name] = type(type_name, (_NonNumeric,), {})(type_name)
    expected = key.expected(spec.id)
    try:
        outcome = Outcome(spec, judge(spec, got, expected, inputs))
        if outcome.passed:
            return outcome
        return misconceptions.diagnosed(outcome, inputs, got, expected, key.wrong(spec.id))
    except Exception as exc:  # a custom compare meeting malformed arrays
        return Outcome(
            spec, error=f"the outputs could not be compared: {type(exc).__name__}: {exc}"
        )


@dataclass
class Grading:
    """One notebook on its way through :data:`STAGES`: what each stage leaves for the next."""

    path: Path
    key: LabKey
    limits: config.Limits
    result: LabResult
    submission: scoring.Submission | None = None
    spares: Spares | None = None

    def stop(self, status: str, detail: str) -> None:
        """End the notebook's way here: ``ungradable:<status>`` with a sentence why."""
        self.result.status, self.result.detail = f"ungradable:{status}", detail


def read_notebook(g: Grading) -> None:
    """Read the file as an untrusted notebook (:func:`grader.notebook.read`)."""
    try:
        g.result.notebook = read(g.path, max_bytes=g.limits.notebook_size)
    except NotebookError as exc:
        g.stop(exc.reason, f"{g.path.name}: {exc.detail}")


def match_test_cells(g: Grading) -> None:
    """Match its cells with the source's test cells: the program to run, the test cells kept,
    edited or deleted (:func:`grader.pipeline.scoring.analyse`)."""
    assert g.result.notebook is not None
    g.submission = scoring.analyse(g.result.notebook, g.key.cells, g.key.given)
    g.result.flags = list(g.submission.flags)


def scan_integrity(g: Grading) -> None:
    """Flag what the learner's own cells reach for (:func:`grader.pipeline.integrity.scan`)."""
    import grader.pipeline.integrity as integrity

    assert g.result.notebook is not None and g.submission is not None
    sources = [""] * len(g.result.notebook.cells)
    for index, source in g.submission.written:
        sources[index] = source
    g.result.flags += [str(flag) for flag in integrity.scan(sources)]


def run_sandbox(g: Grading) -> None:
    """Run the program, then the checks' learner sides, in the sandbox (:mod:`grader.sandbox`)."""
    assert g.submission is not None
    key = g.key
    job = sandbox.Job(
        key.lab.id,
        g.submission.program,
        visible={i: key.inputs[i] for i in key.spec_ids if not key.hidden(i)},
        hidden={i: key.inputs[i] for i in key.spec_ids if key.hidden(i)},
        hidden_source=key.hidden_source,
        preload=key.imports,
    )
    try:
        g.result.run = run = sandbox.run(job, limits=g.limits, spares=g.spares)
    except sandbox.SandboxSetupError as exc:
        log.error("GRADER ERROR while grading %s: %s", g.path, exc)
        g.stop("crash", f"grader error: {exc}")
        return
    if run.tampered:
        g.result.flags.append("sandbox-channel")
    if run.status != "ok":
        g.stop(run.status, run.detail)


def judge_checks(g: Grading) -> None:
    """Compare each check's arrays with the key's references (:func:`judge_run`)."""
    assert g.result.run is not None
    for check_id in g.key.spec_ids:
        spec = get_spec(check_id)
        g.result.outcomes[check_id] = judge_run(spec, g.result.run.specs.get(check_id), g.key)


def score_cells(g: Grading) -> None:
    """Points per test cell from the passing checks (:func:`grader.pipeline.scoring.score_lab`)."""
    assert g.submission is not None
    passed = {i: o.passed for i, o in g.result.outcomes.items()}
    lab_score = scoring.score_lab(g.key.cells, g.submission.present, passed)
    g.result.score, g.result.checks = lab_score.score, lab_score.checks
    g.result.cells_score = lab_score.cells


STAGES: tuple[Callable[[Grading], None], ...] = (
    read_notebook,
    match_test_cells,
    scan_integrity,
    run_sandbox,
    judge_checks,
    score_cells,
)
"""One notebook's way through the grader, in order (as nbgrader lists its preprocessors). A
stage that makes the notebook ungradable ends its way."""


def grade_notebook(
    path: Path,
    key: LabKey,
    *,
    limits: config.Limits = config.DEFAULT_LIMITS,
    spares: Spares | None = None,
) -> LabResult:
    """Grade one learner notebook for one lab through :data:`STAGES`; never raises for
    anything in the notebook. ``spares``: the batch's sandboxes started ahead."""
    start = time.monotonic()
    result = LabResult(key.lab.id, "graded", max_score=key.max_score, path=path)
    g = Grading(path, key, limits, result, spares=spares)
    try:
        for stage in STAGES:
            if stage is run_sandbox:
                spares = None  # this notebook's sandbox is taken (or started) now
            stage(g)
            if g.result.status != "graded":
                break
    finally:
        if spares is not None:  # it ended before its sandbox
            spares.skip(key.lab.id)
    g.result.seconds = time.monotonic() - start
    return g.result
