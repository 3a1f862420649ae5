"""What a known misconception is: a wrong rule, the checks where it shows, how it is recognised.

The labs' catalogues (``grader/checking/misconceptions/<lab>.py``) are lists of
:class:`Misconception`; the package's face finds, computes and diagnoses them.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from grader.checking.spec import Inputs, Outputs, Spec
from grader.labs import lab_of

WrongReference = Callable[[Spec, Inputs], Outputs]
"""``(spec, inputs) -> outputs``: the wrong rule's outputs, keyed like the check's reference."""

Observation = Callable[[Spec, Inputs, Outputs], bool]
"""``(spec, inputs, got) -> bool``: do the learner's outputs of a failing check show this wrong
rule (and no other known one)? Run on the trusted side, on the arrays the learner side returned."""


@dataclass(frozen=True)
class Misconception:
    """One known wrong rule.

    Attributes:
        id: ``<lab>.<topic>.<mistake>``, e.g. ``lab2.softmax.diagonal_jacobian``.
        checks: ids of the checks where it shows (visible or hidden).
        explanation: two or three sentences for the learner: what the code does, why it is
            wrong, what to think about (never the solution line).
        wrong: the wrong reference, or None for a misconception recognised by its error.
        error: a regular expression the learner's error message matches (for a wrong rule that
            raises rather than returns wrong numbers); empty when ``wrong`` is given.
        observed: a distinguishing observation, for checks where no wrong reference can be
            compared (exactly one of ``wrong``, ``error`` and ``observed`` is given).
        planted: names of the red-team planted bugs (``grader/redteam/<lab>.py``) that are
            this misconception.
    """

    id: str
    checks: tuple[str, ...]
    explanation: str
    wrong: WrongReference | None = None
    error: str = ""
    planted: tuple[str, ...] = ()
    observed: Observation | None = None

    @property
    def lab(self) -> str:
        return lab_of(self.id)

    @property
    def summary(self) -> str:
        """The explanation's first sentence."""
        return re.split(r"(?<=[.!?])\s", self.explanation.strip(), maxsplit=1)[0]
