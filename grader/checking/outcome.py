"""What running a check gives: its rows, or the error that stopped it, and how rows are judged.

:func:`judge` compares the learner's outputs with the reference (the spec's own rule, or
element-wise); :class:`Outcome` holds the rows and reports them; a failure may carry the
:class:`Diagnosis` of a known misconception (:mod:`grader.checking.misconceptions`).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from grader.checking.compare import Row, compare_arrays, format_table
from grader.checking.spec import Inputs, Outputs, Spec


@dataclass(frozen=True)
class Diagnosis:
    """The misconception a failing check recognised."""

    id: str
    explanation: str

    def text(self) -> str:
        return f"This looks like {self.id}: {self.explanation}"


@dataclass
class Outcome:
    """What running one spec produced: its rows (one per output) or the error that stopped it."""

    spec: Spec
    rows: list[Row] = field(default_factory=list)
    error: str = ""
    show_hint: bool = True
    """False when the error already names the cause (the spec's hint would mislead)."""
    diagnosis: Diagnosis | None = None
    """The known misconception a failure matches (:mod:`grader.checking.misconceptions`)."""

    @property
    def passed(self) -> bool:
        return not self.error and bool(self.rows) and all(r.ok for r in self.rows)

    @property
    def score(self) -> float:
        return self.spec.points if self.passed else 0.0

    def headline(self) -> str:
        """``✓ id: passed (p/p points)`` or ``✗ id: FAILED (0/p points)``."""
        mark, word = ("\u2713", "passed") if self.passed else ("\u2717", "FAILED")
        return f"{mark} {self.spec.id}: {word} ({self.score:g}/{self.spec.points:g} points)"

    def report(self, verbose: bool = False) -> str:
        """The text of this outcome, assembled here only: one line for a pass (the table too
        when ``verbose``); for a failure the error, the table and the hint."""
        parts = [self.headline()]
        if self.passed and not verbose:
            return parts[0]
        if self.error:
            parts.append(f"  {self.error}")
        if self.details():
            parts.append(self.details())
        if not self.passed and self.diagnosis is not None:
            parts.append(self.diagnosis.text())
        return "\n".join(parts)

    def details(self) -> str:
        """The table of a report and, for a failure, the hint: what follows the headline and
        the error."""
        parts = [format_table(self.rows)] if self.rows else []
        if not self.passed and self.spec.hint and self.show_hint:
            parts.append(f"hint: {self.spec.hint}")
        return "\n".join(parts)


def judge(spec: Spec, got: Outputs, expected: Outputs, inputs: Inputs) -> list[Row]:
    """Compare got with expected: the spec's own rule, or every expected key element-wise."""
    if spec.compare is not None:
        return spec.compare(got, expected, inputs)
    return [
        compare_arrays(key, got.get(key), value, spec.rtol, spec.atol)
        for key, value in expected.items()
    ]
