"""Grade one notebook: read it safely, run it in the sandbox, judge the arrays, score it.

The trusted half of the two-process check: references are computed here (once
per lab and seed, on inputs regenerated from the seed, never read back from the
sandbox), the sandbox's arrays are compared with :func:`grader.check.judge`,
and points come from the source notebook's test cells (:mod:`grader.scoring`).
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from grader import config, misconceptions, sandbox, scoring
from grader.check import Outcome, judge
from grader.labs import Lab, get_lab
from grader.notebook import REASONS as READ_REASONS
from grader.notebook import Notebook, NotebookError, read
from grader.spec import Inputs, Outputs, Spec, get_spec, load_lab

log = logging.getLogger("grader")

REASONS = (
    *READ_REASONS,
    "timeout",
    "memory",
    "crash",
    "output-limit",
)
"""Why a lab can be ``ungradable:<reason>``."""


@dataclass
class LabKey:
    """Everything trusted about one lab for one batch: test cells, checks, references."""

    lab: Lab
    cells: list[scoring.TestCell]
    seed: int
    references: dict[str, tuple[Inputs, Outputs]]
    given: dict[str, str] = field(default_factory=dict)
    """The source's locked code cells (setup, self-checks): not scanned when left untouched."""
    hidden_source: str = ""
    """The learner side of the lab's hidden checks, sent into the sandbox after the cells ran."""
    wrong: dict[str, dict[str, Outputs]] = field(default_factory=dict)
    """check id -> misconception id -> its wrong reference (:mod:`grader.misconceptions`)."""

    @property
    def spec_ids(self) -> list[str]:
        return [call.id for cell in self.cells for call in cell.checks]

    def hidden(self, check_id: str) -> bool:
        """A hidden check: called in a hidden-test block, or declared hidden."""
        calls = [call for cell in self.cells for call in cell.checks if call.id == check_id]
        return any(call.hidden for call in calls) or get_spec(check_id).hidden

    @property
    def max_score(self) -> float:
        return sum(cell.points for cell in self.cells)


def load_key(lab_id: str, *, source: Path, seed: int, visible_only: bool = False) -> LabKey:
    """Read a source notebook's test cells and compute every reference for ``seed``.

    Args:
        lab_id: the lab.
        source: its source notebook (``solutions/<notebook>``); for a learner's
            own validation, the released notebook holds the visible test cells.
        seed: seed of the check inputs.
        visible_only: keep only visible checks (hidden ones dropped).

    Raises:
        FileNotFoundError: no source notebook.
        grader.scoring.ScoringError: the source breaks the scoring contract.
    """
    lab = get_lab(lab_id)
    load_lab(lab_id)
    try:
        nb = read(source, max_bytes=config.DEFAULT_LIMITS.notebook_size)
    except NotebookError as exc:
        raise scoring.ScoringError(f"{source}: {exc}") from exc
    cells = scoring.test_cells(nb, lab_id, visible_only)
    references, wrong = {}, {}
    for cell in cells:
        for call in cell.checks:
            spec = get_spec(call.id)
            inputs = spec.make_inputs(seed)
            references[call.id] = (inputs, spec.reference({k: v.copy() for k, v in inputs.items()}))
            wrong[call.id] = misconceptions.wrong_references(spec, inputs, references[call.id][1])
    hidden_module = config.REPO / "grader" / "hidden" / f"{lab_id}.py"
    hidden_source = (
        hidden_module.read_text(encoding="utf-8")
        if not visible_only and hidden_module.is_file()
        else ""
    )
    return LabKey(lab, cells, seed, references, scoring.given_cells(nb), hidden_source, wrong)


@dataclass
class LabResult:
    """One learner's result for one lab.

    Attributes:
        status: ``graded``, ``missing`` or ``ungradable:<reason>``.
        score, max_score: points (0 unless graded).
        checks: check id -> points earned (empty unless graded).
        flags: what the notebook did to its test cells, and integrity findings.
        outcomes: check id -> the judged outcome (for feedback).
        detail: why it is ungradable.
    """

    lab: str
    status: str
    score: float = 0.0
    max_score: float = 0.0
    checks: dict[str, float] = field(default_factory=dict)
    flags: list[str] = field(default_factory=list)
    outcomes: dict[str, Outcome] = field(default_factory=dict)
    cells_score: dict[str, tuple[float, float]] = field(default_factory=dict)
    run: sandbox.RunResult | None = None
    notebook: Notebook | None = None
    path: Path | None = None
    detail: str = ""
    seconds: float = 0.0


class _NonNumeric:
    """Stands for a value the learner's code returned that is not a numeric array."""

    def __init__(self, type_name: str) -> None:
        self.type_name = type_name

    def __repr__(self) -> str:
        return self.type_name


def judge_run(
    spec: Spec,
    run: sandbox.SpecRun | None,
    reference: tuple[Inputs, Outputs],
    wrong: dict[str, Outputs] | None = None,
) -> Outcome:
    """Compare what the sandbox returned for one check with the trusted reference, and a
    failure with the ``wrong`` references of known misconceptions."""
    if run is None:
        return Outcome(spec, error="this check did not run (the notebook stopped before it)")
    if run.error:
        return misconceptions.diagnosed(Outcome(spec, error=run.error), reference[0], wrong={})
    got: dict[str, Any] = dict(run.arrays)
    for key, type_name in run.non_numeric.items():
        got[key] = type(type_name, (_NonNumeric,), {})(type_name)
    inputs, expected = reference
    try:
        outcome = Outcome(spec, judge(spec, got, expected, inputs))
        return misconceptions.diagnosed(outcome, inputs, got, expected, wrong or {})
    except Exception as exc:  # a custom compare meeting malformed arrays
        return Outcome(
            spec, error=f"the outputs could not be compared: {type(exc).__name__}: {exc}"
        )


def integrity_flags(nb: Notebook, cells: list[tuple[int, str]]) -> list[str]:
    """:func:`grader.integrity.scan` over the learner's cells (numbered as in the notebook)."""
    from grader import integrity

    sources = [""] * len(nb.cells)
    for index, source in cells:
        sources[index] = source
    return [str(flag) for flag in integrity.scan(sources)]


def grade_notebook(
    path: Path, key: LabKey, *, limits: config.Limits = config.DEFAULT_LIMITS
) -> LabResult:
    """Grade one learner notebook for one lab; never raises for anything in the notebook."""
    start = time.monotonic()
    result = LabResult(key.lab.id, "graded", max_score=key.max_score, path=path)
    try:
        nb = read(path, max_bytes=limits.notebook_size)
    except NotebookError as exc:
        result.status, result.detail = f"ungradable:{exc.reason}", f"{path.name}: {exc.detail}"
        return result
    result.notebook = nb
    submission = scoring.analyse(nb, key.cells, key.given)
    result.flags = submission.flags + integrity_flags(nb, submission.written)
    job = sandbox.Job(
        key.lab.id,
        submission.program,
        visible={i: key.references[i][0] for i in key.spec_ids if not key.hidden(i)},
        hidden={i: key.references[i][0] for i in key.spec_ids if key.hidden(i)},
        hidden_source=key.hidden_source,
    )
    try:
        run = sandbox.run(job, limits=limits)
    except sandbox.SandboxSetupError as exc:
        log.error("GRADER ERROR while grading %s: %s", path, exc)
        result.status, result.detail = "ungradable:crash", f"grader error: {exc}"
        return result
    result.run = run
    result.seconds = time.monotonic() - start
    if run.tampered:
        result.flags.append("sandbox-channel")
    if run.status != "ok":
        result.status, result.detail = f"ungradable:{run.status}", run.detail
        return result
    for check_id in key.spec_ids:
        spec = get_spec(check_id)
        result.outcomes[check_id] = judge_run(
            spec, run.specs.get(check_id), key.references[check_id], key.wrong.get(check_id)
        )
    passed = {i: o.passed for i, o in result.outcomes.items()}
    lab_score = scoring.score_lab(key.cells, submission.present, passed)
    result.score, result.checks, result.cells_score = (
        lab_score.score,
        lab_score.checks,
        lab_score.cells,
    )
    result.seconds = time.monotonic() - start
    return result
