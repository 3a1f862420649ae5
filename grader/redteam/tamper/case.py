"""The tamper-case format: what is done to a learner's notebook and the grade it must get.

Each :class:`TamperCase` says which lab, what the learner's code is before the
tampering (the solution, the released stub, or the lab's first planted bug),
what is done to the notebook (one of :data:`ACTIONS`), and the outcome the
autograder must produce (one of :data:`EXPECTATIONS`).
"""

from __future__ import annotations

from dataclasses import dataclass

ACTIONS = (
    "append",  # add ``code`` at the end of the target solution cell (module level)
    "insert-in-region",  # add ``code`` as the first line of the target cell's first solution region
    "edit-tests",  # replace the test cells that call the base bug's failing checks with ``code``
    "delete-test",  # delete the first graded test cell
    "points",  # set the first graded test cell's points to 1000
    "duplicate-test",  # paste a copy of the last graded test cell after it (same grade_id)
    "invalid-json",  # cut the notebook's JSON text in half
    "not-a-notebook",  # valid JSON that is no notebook
    "too-large",  # a valid notebook padded beyond the size cap
    "rename",  # save the notebook under another name
    "missing",  # submit no notebook at all (only a text file)
    "extra",  # add an unrelated notebook next to the lab's
)

EXPECTATIONS = ("full", "zero", "bug", "simulated", "deleted", "missing")
"""Besides these, ``ungradable:<reason>``: the lab scores 0 with that status."""


@dataclass(frozen=True)
class TamperCase:
    """One hostile or unusual submission.

    Attributes:
        name: slug, also the student id suffix (``tamper-<name>``) unless ``student`` is set.
        description: what the learner did, in words.
        action: one of :data:`ACTIONS`.
        code: the code the action adds (for ``append``, ``insert-in-region``, ``edit-tests``).
        base: the learner's code before tampering: ``solution``, ``stub`` or ``bug``.
        cell: the target solution cell, ``first`` or ``last`` in notebook order.
        expect: ``full``, ``zero``, ``bug`` (as the base bug alone), ``simulated`` (as the
            same notebook with ``simulate`` in place of ``code``, evaluated in process),
            ``deleted`` (the deleted cell's checks fail), ``missing`` or ``ungradable:<reason>``.
        simulate: for ``simulated``: code with the same effect outside the sandbox.
        flags: substrings the student's flags must contain.
        lab: the lab it is applied to (the first lab with a solution when that one has none).
        student: the student id, when several cases share one student (one per lab).
    """

    name: str
    description: str
    action: str
    code: str = ""
    base: str = "solution"
    cell: str = "first"
    expect: str = "full"
    simulate: str = ""
    flags: tuple[str, ...] = ()
    lab: str = "lab1"
    student: str = ""

    @property
    def student_id(self) -> str:
        return self.student or f"tamper-{self.name}"
