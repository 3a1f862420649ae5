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

    @property
    def shows_hint(self) -> bool:
        """Whether :meth:`report` gives a hint: a failure whose error does not name its cause."""
        return not self.passed and self.show_hint and bool(self.spec.hints)

    def hint_text(self, level: int = 1, rerun: bool = True) -> str:
        """The hint ladder up to rung ``level``: ``hint:`` then ``more:`` lines, and how to
        climb further while a rung is left: a second failing run (``rerun``: in the same
        kernel) or ``hint=``."""
        rungs = self.spec.hints
        level = max(1, min(level, len(rungs)))
        lines = [f"{'hint' if i == 0 else 'more'}: {text}" for i, text in enumerate(rungs[:level])]
        if level < len(rungs):
            call = f'check("{self.spec.id}", hint={level + 1})'
            how = f"run it again, or {call}, for" if rerun else f"in the notebook, {call} shows"
            lines.append(f"(hint {level} of {len(rungs)}: {how} more)")
        return "\n".join(lines)

    def report(self, verbose: bool = False, level: int = 1, rerun: bool = True) -> str:
        """The text of this outcome, assembled here only: one line for a pass (the table too
        when ``verbose``); for a failure the error, the table and the hint ladder up to rung
        ``level`` (``rerun=False`` where a second run does not climb it: ``validate``)."""
        parts = [self.headline()]
        if self.passed and not verbose:
            return parts[0]
        if self.error:
            parts.append(f"  {self.error}")
        details = self.details(level, rerun)
        if details:
            parts.append(details)
        if not self.passed and self.diagnosis is not None:
            parts.append(self.diagnosis.text())
        return "\n".join(parts)

    def details(self, level: int = 1, rerun: bool = True) -> str:
        """The table of a report and, for a failure, its hint ladder up to rung ``level``:
        what follows the headline and the error."""
        parts = [format_table(self.rows)] if self.rows else []
        if self.shows_hint:
            parts.append(self.hint_text(level, rerun))
        return "\n".join(parts)


def judge(spec: Spec, got: Outputs, expected: Outputs, inputs: Inputs) -> list[Row]:
    """Compare got with expected: the spec's own rule, or every expected key element-wise."""
    if spec.compare is not None:
        return spec.compare(got, expected, inputs)
    return [
        compare_arrays(key, got.get(key), value, spec.rtol, spec.atol)
        for key, value in expected.items()
    ]
