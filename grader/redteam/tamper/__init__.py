"""Red-team cases that are not planted bugs: tampering, cheating and hostile code, as data.

The format is :mod:`~grader.redteam.tamper.case`; the cases come by kind:
:mod:`~grader.redteam.tamper.files` (test cells, metadata and the notebook file),
:mod:`~grader.redteam.tamper.runaway` (loops, exits, memory, forks, output),
:mod:`~grader.redteam.tamper.cheating` and :mod:`~grader.redteam.tamper.isolation`
(attacks on the sandbox). :mod:`grader.redteam.corpus` turns them into submissions
and ``expected.json``.
"""

from __future__ import annotations

from grader.redteam.tamper import cheating, files, isolation, runaway
from grader.redteam.tamper.case import ACTIONS, EXPECTATIONS, TamperCase

__all__ = ["ACTIONS", "CASES", "EXPECTATIONS", "ISOLATION_CASES", "NEEDS_REPO", "TamperCase"]

ISOLATION_CASES: list[TamperCase] = isolation.CASES
"""Attacks on the sandbox itself, graded as root and as an unprivileged instructor
(``tests/test_isolation.py``); not part of :data:`CASES`, the corpus graded once as root."""

CASES: list[TamperCase] = [*files.CASES, *runaway.CASES, *cheating.CASES]
"""Every non-bug red-team case."""

NEEDS_REPO = (cheating.READ_SOLUTIONS, isolation.WRITE_GRADER)
"""Cases whose code is formatted with the repository path (``{repo!r}``)."""
