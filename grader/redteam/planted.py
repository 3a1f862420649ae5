"""Planted bugs as data: one learner's mistake as a text substitution in a solution cell.

A lab's bugs (``grader/redteam/<lab>.py``) are built with :func:`lab_bugs` and listed by
:func:`bugs_for`; :func:`apply_bug` plants one in a notebook.
"""

from __future__ import annotations

import copy
import importlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from grader import notebook


@dataclass(frozen=True)
class PlantedBug:
    """One realistic mistake.

    Attributes:
        name: short slug, e.g. ``grad-assign-not-accumulate``.
        lab: ``lab1`` ... ``lab5``.
        grade_id: the nbgrader ``grade_id`` of the solution cell to edit.
        old: exact text in that cell (must occur exactly once).
        new: its replacement.
        fails: ids of the checks that must fail; all others must pass.
        description: what the mistake is, in a learner's words.
    """

    name: str
    lab: str
    grade_id: str
    old: str
    new: str
    fails: frozenset[str]
    description: str = ""


Row = tuple[str, str, str, str, set[str], str]
"""One bug of a lab's table: ``(name, grade_id, old, new, fails, description)``."""


def lab_bugs(lab: str, *rows: Row) -> list[PlantedBug]:
    """The planted bugs of ``lab``, one per row of its table."""
    return [
        PlantedBug(name, lab, grade_id, old, new, frozenset(fails), description)
        for name, grade_id, old, new, fails, description in rows
    ]


def apply_bug(nb: Any, bug: PlantedBug) -> Any:
    """A copy of ``nb`` with ``bug`` applied (raises if its text is not found exactly once)."""
    nb = copy.deepcopy(nb)
    model = notebook.from_json(nb)
    for cell, known in zip(nb.cells, model.cells, strict=True):
        if known.grade_id == bug.grade_id:
            if cell.source.count(bug.old) != 1:
                raise ValueError(
                    f"{bug.name}: expected the text once in cell {bug.grade_id}, "
                    f"found it {cell.source.count(bug.old)} times: {bug.old!r}"
                )
            cell.source = cell.source.replace(bug.old, bug.new)
            return nb
    raise ValueError(f"{bug.name}: no cell with grade_id {bug.grade_id!r}")


def _assigning(
    lab: str, topic: str, grade_id: str, old: str, rule: str, also: Sequence[str], what: str
) -> PlantedBug:
    """``old`` replaced by ``rule`` with every ``.grad +=`` written ``.grad =``: it fails
    ``<lab>.<topic>.reuse`` and the reuse checks ``also`` names."""
    return PlantedBug(
        f"{topic.replace('_', '-')}-grad-assigned",
        lab,
        grade_id,
        old,
        rule.replace(".grad +=", ".grad ="),
        frozenset({f"{lab}.{topic}.reuse", *(f"{lab}.{a}.reuse" for a in also)}),
        f"{what} assigns (=) its gradient instead of adding it (+=): an input used twice keeps "
        "only the last contribution.",
    )


def assigned_bugs(lab: str, *rules: tuple[str, ...]) -> list[PlantedBug]:
    """The accumulation mistake planted in each of ``rules``, ``(topic, grade_id, rule text,
    *also)``: every ``.grad +=`` of the rule written ``.grad =``. Each fails its
    ``<lab>.<topic>.reuse`` check (one input used twice is the only case where the two
    differ) and the reuse checks ``also`` names: those of operations derived from it."""
    return [
        _assigning(lab, topic, grade_id, rule, rule, also, f"{topic}'s rule")
        for topic, grade_id, rule, *also in rules
    ]


def own_rule_bugs(lab: str, *ops: tuple[str, ...]) -> list[PlantedBug]:
    """An operation the solution derives from others, written with a gradient rule of its own
    that assigns (=): ``(topic, grade_id, derived code, own rule with +=, *also)``. The rule
    with ``+=`` is right; its ``=`` mistake fails ``<lab>.<topic>.reuse`` and the reuse checks
    ``also`` names (operations the solution derives from this one)."""
    what = "written with a gradient rule of its own instead of derived,"
    return [
        _assigning(lab, topic, grade_id, derived, rule, also, f"{topic}, {what}")
        for topic, grade_id, derived, rule, *also in ops
    ]


def bugs_for(lab_id: str) -> list[PlantedBug]:
    """The planted bugs of one lab."""
    return list(importlib.import_module(f"grader.redteam.{lab_id}").BUGS)
