"""What a batch's stages and its outputs share: a hand-in, a lab's key, a learner's result.

The stages (:mod:`grader.pipeline`) make these records and the outputs (:mod:`grader.outputs`)
write them; both import them from here, and neither imports the other.
:class:`Handin` is how one notebook was handed in (found by discovery); :class:`TestCell` a
graded test cell of the source notebook; :class:`LabKey` everything trusted about a lab for one
batch (its test cells, each check's inputs and references); :class:`LabResult` one learner's
result for one lab.
"""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Mapping
from concurrent.futures import Future
from dataclasses import dataclass, field
from pathlib import Path

from grader import cellsource
from grader.cellsource import CheckCall
from grader.checking import misconceptions
from grader.checking.outcome import Outcome
from grader.checking.spec import Inputs, Outputs, get_spec
from grader.labs import Lab
from grader.notebook import Notebook
from grader.sandbox.results import RunResult


@dataclass(frozen=True)
class Handin:
    """How one graded notebook was handed in: its file name (escaped), time and late flag."""

    file: str = ""
    submitted: dt.datetime | None = None
    late: bool = False
    order: tuple[int, ...] = ()

    def rank(self) -> tuple[bool, dt.datetime, tuple[int, ...], str]:
        """Later submissions rank higher: by time, then upload order or copy number, then name."""
        when = self.submitted or dt.datetime.min.replace(tzinfo=dt.timezone.utc)
        return (self.submitted is not None, when, self.order, self.file)


@dataclass(frozen=True)
class TestCell:
    """A graded test cell of the source notebook."""

    grade_id: str
    points: float
    checks: tuple[CheckCall, ...]
    source: str
    declared: float = 0.0
    """The cell's ``points`` metadata (equal to ``points`` except for visible-only validation)."""
    check_points: Mapping[str, float] = field(default_factory=dict)
    """Each check's points, read from its spec once, here."""
    hidden: frozenset[str] = frozenset()
    """The cell's hidden checks: called in its hidden-test block, or declared hidden (decided
    here only)."""

    @property
    def visible_source(self) -> str:
        """The source as released to learners (hidden block removed)."""
        return cellsource.without_hidden(self.source)


@dataclass
class LabKey:
    """Everything trusted about one lab for one batch: test cells, checks, references.

    The inputs are drawn when the key is made; the expected outputs are computed in the
    background (:meth:`expected` waits for them), and a check's wrong references (its
    misconceptions) only when a learner fails it (:meth:`wrong`).
    """

    lab: Lab
    cells: list[TestCell]
    seed: int
    inputs: dict[str, Inputs]
    """check id -> its inputs at ``seed``."""
    hidden_ids: frozenset[str]
    """The hidden checks (decided by :func:`grader.pipeline.scoring.test_cells`)."""
    given: dict[str, str] = field(default_factory=dict)
    """The source's locked code cells (setup, self-checks): not scanned when left untouched."""
    hidden_source: str = ""
    """The learner side of the lab's hidden checks, sent into the sandbox after the cells ran."""
    imports: tuple[str, ...] = ()
    """What the source's locked cells import: the sandbox imports it while it waits."""
    _expected: Future[dict[str, Outputs]] | None = field(default=None, repr=False)
    _wrong: dict[str, dict[str, Outputs]] = field(default_factory=dict, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @property
    def spec_ids(self) -> list[str]:
        return [call.id for cell in self.cells for call in cell.checks]

    def hidden(self, check_id: str) -> bool:
        """A hidden check (see :attr:`hidden_ids`)."""
        return check_id in self.hidden_ids

    @property
    def max_score(self) -> float:
        return sum(cell.points for cell in self.cells)

    def expected(self, check_id: str) -> Outputs:
        """The reference outputs of a check (waits for the background computation).

        Raises:
            grader.pipeline.grading.ReferenceFailed: a reference raised.
        """
        assert self._expected is not None
        return self._expected.result()[check_id]

    def wrong(self, check_id: str) -> dict[str, Outputs]:
        """The check's wrong references, misconception id -> outputs (computed on first use)."""
        with self._lock:  # the wrong references redirect stdout: one at a time
            if check_id not in self._wrong:
                self._wrong[check_id] = misconceptions.wrong_references(
                    get_spec(check_id), self.inputs[check_id], self.expected(check_id)
                )
            return self._wrong[check_id]


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
    run: RunResult | None = None
    notebook: Notebook | None = None
    path: Path | None = None
    detail: str = ""
    seconds: float = 0.0
