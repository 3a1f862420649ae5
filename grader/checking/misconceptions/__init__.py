"""Known misconceptions: each failing check asks whether the learner implemented a known wrong rule.

A :class:`~grader.checking.misconceptions.model.Misconception` is data beside the checks it
affects (``grader/checking/misconceptions/<lab>.py``):
an id such as ``lab2.softmax.diagonal_jacobian``, the checks where it shows, a learner-facing
explanation, and either a *wrong reference* — the check's reference computed with the wrong rule
(torch or numpy on the same inputs, usually the check's own reference rerun with one torch rule
replaced: see :mod:`grader.checking.misconceptions.rules`) — or the error the wrong rule raises, or,
for a check whose comparison cannot take a wrong reference (a random mask, the visit orders of a
loader, a model left in training mode), a *distinguishing observation*: a test, on the trusted
side, of the learner's outputs for what only this wrong rule produces.

A failing outcome is diagnosed when the learner's outputs match one misconception's wrong
reference within the check's own tolerance (its ``judge``), and no other misconception's;
otherwise nothing is claimed. The trusted grader computes the wrong references once per lab and
seed (:func:`wrong_references`, kept in :class:`grader.batch.LabKey`); ``check()`` in the
learner's kernel computes them for the failing check only.
"""

from __future__ import annotations

import contextlib
import importlib
import io
import re
import warnings

from grader.checking.misconceptions.model import Misconception, Observation
from grader.checking.outcome import Diagnosis, Outcome, judge
from grader.checking.spec import Inputs, Outputs, Spec
from grader.labs import LABS, lab_of


def catalogue(lab_id: str | None = None) -> list[Misconception]:
    """The catalogued misconceptions of one lab (or of every lab)."""
    labs = [lab_id] if lab_id is not None else list(LABS)
    found: list[Misconception] = []
    for lab in labs:
        try:
            module = importlib.import_module(f"grader.checking.misconceptions.{lab}")
        except ModuleNotFoundError as exc:
            if exc.name != f"grader.checking.misconceptions.{lab}":
                raise
            continue
        found += module.MISCONCEPTIONS
    return found


def get(misconception_id: str) -> Misconception:
    """The misconception with this id."""
    for item in catalogue(lab_of(misconception_id)):
        if item.id == misconception_id:
            return item
    raise KeyError(f"no misconception named {misconception_id!r}")


def for_check(check_id: str) -> list[Misconception]:
    """The misconceptions that can show in this check."""
    try:
        lab = lab_of(check_id)
    except (KeyError, ValueError):
        return []
    if lab not in LABS:
        return []
    return [m for m in catalogue(lab) if check_id in m.checks]


def wrong_references(spec: Spec, inputs: Inputs, expected: Outputs) -> dict[str, Outputs]:
    """Each misconception's wrong reference for this check (misconception id -> outputs).

    A wrong reference that raises, or that the check cannot tell from the right one on these
    inputs, is left out: it could never be diagnosed here.
    """
    found: dict[str, Outputs] = {}
    for item in for_check(spec.id):
        if item.wrong is None:
            continue
        try:
            with contextlib.redirect_stdout(io.StringIO()), warnings.catch_warnings():
                warnings.simplefilter("ignore")
                wrong = item.wrong(spec, {k: v.copy() for k, v in inputs.items()})
                rows = judge(spec, wrong, expected, inputs)
        except Exception:
            continue
        if not all(row.ok for row in rows):
            found[item.id] = wrong
    return found


def diagnose(
    spec: Spec,
    inputs: Inputs,
    *,
    got: Outputs | None = None,
    error: str = "",
    wrong: dict[str, Outputs] | None = None,
    expected: Outputs | None = None,
) -> Diagnosis | None:
    """The one misconception a failing outcome matches, or None.

    Args:
        spec: the check.
        inputs: its inputs.
        got: the learner's outputs (None when the learner's code raised).
        error: the learner's error message, when it raised.
        wrong: precomputed :func:`wrong_references` (computed here when None; then ``expected``
            is needed).
        expected: the right reference (only used to compute ``wrong``).
    """
    candidates = for_check(spec.id)
    if not candidates:
        return None
    matched: list[Misconception] = []
    if got is None:
        matched = [m for m in candidates if m.error and error and re.search(m.error, error)]
    else:
        if wrong is None:
            if expected is None:
                expected = spec.reference({k: v.copy() for k, v in inputs.items()})
            wrong = wrong_references(spec, inputs, expected)
        for item in candidates:
            if item.observed is not None:
                matched += [item] if shows(item.observed, spec, inputs, got) else []
                continue
            if item.id not in wrong:
                continue
            try:
                rows = judge(spec, got, wrong[item.id], inputs)
            except Exception:
                continue
            if rows and all(row.ok for row in rows):
                matched.append(item)
    if len({m.id for m in matched}) != 1:
        return None  # nothing matched, or the check cannot tell several apart: claim nothing
    return Diagnosis(matched[0].id, matched[0].explanation)


def shows(observed: Observation, spec: Spec, inputs: Inputs, got: Outputs) -> bool:
    """Whether the learner's outputs show an observed wrong rule (False when unreadable)."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return bool(observed(spec, inputs, got))
    except Exception:
        return False


def diagnosed(
    outcome: Outcome,
    inputs: Inputs,
    got: Outputs | None = None,
    expected: Outputs | None = None,
    wrong: dict[str, Outputs] | None = None,
) -> Outcome:
    """``outcome`` with its :attr:`~grader.checking.outcome.Outcome.diagnosis` set when it failed.

    A diagnosis never changes a score and never breaks a check: a wrong reference that
    cannot be computed here (no torch, a catalogue left out of a bundle) claims nothing.
    """
    if outcome.passed or (got is None and not outcome.error):
        return outcome
    try:
        outcome.diagnosis = diagnose(
            outcome.spec,
            inputs,
            got=got if not outcome.error else None,
            error=outcome.error,
            wrong=wrong,
            expected=expected,
        )
    except Exception:
        outcome.diagnosis = None
    return outcome


def cell(outcomes: dict[str, Outcome]) -> str:
    """The ``diagnoses`` cell of ``grades.csv``: ``id (check, check); id (check)``."""
    found: dict[str, list[str]] = {}
    for check_id, outcome in outcomes.items():
        if outcome.diagnosis is not None and not outcome.passed:
            found.setdefault(outcome.diagnosis.id, []).append(check_id)
    return "; ".join(f"{mid} ({', '.join(checks)})" for mid, checks in sorted(found.items()))


def parse_cell(text: str) -> dict[str, list[str]]:
    """The misconceptions of a ``diagnoses`` cell, each with its checks."""
    return {
        match[1]: [c.strip() for c in match[2].split(",") if c.strip()]
        for match in re.finditer(r"([\w.]+) \(([^)]*)\)", text or "")
    }
