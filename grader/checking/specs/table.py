"""Checks as a table: one row per operation or behaviour, expanded into its registered checks.

A :class:`Row` names an operation or behaviour (``lab1.add``), the labelled cases and the
inputs its checks share, and its checks in order: usually a forward check (the values), a
backward check (the gradients) and edge cases that bring cases or inputs of their own::

    Row("lab1.add", [
        forward(3, hint="out = Tensor(self.data + other.data, (self, other), '+')"),
        backward(4, hint="d(a + b)/da = 1 and d(a + b)/db = 1: both get out.grad"),
        Check("broadcast", 4, "both", {"a + r": lambda a, r: a + r}, operands(a=(2, 3), r=(3,)),
              hint="reduce r's gradient to r's shape"),
    ], {"a + b": lambda a, b: a + b}, operands(a=(3, 4), b=(3, 4))).register(learner, reference)

registers ``lab1.add.forward``, ``lab1.add.backward`` and ``lab1.add.broadcast``. A lab says
*how* its cases run with two functions, its learner side and its reference side, usually in
one small function per kind of row (lab 1.7.1's ``op`` and ``programs``, lab 1.7.2's ``fn``);
for expressions run unchanged on the learner's tensors and on torch's, these wrap
:func:`grader.checking.numpy_side.learner_cases` and :func:`torch_reference`.
:func:`operands` draws a
row's inputs: float arrays of given shapes and a pool of upstream-gradient values.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from grader.checking.spec import Hint, Inputs, Outputs, Spec, spec
from grader.checking.torch_side import torch_cases

Cases = Mapping[str, Callable[..., Any]]
"""Labelled things a check runs, ``{"a + b": lambda a, b: a + b}``: expressions, programs."""
Draw = Callable[[np.random.Generator], Inputs]
"""How a check draws its inputs: ``rng -> {name: array}``."""
Learner = Callable[..., Outputs]
"""A row's learner side, ``(cases, inputs, want, *learner_symbols) -> outputs``."""
Reference = Callable[[Cases, Inputs, str], Outputs]
"""A row's reference side, ``(cases, inputs, want) -> outputs`` (torch allowed)."""
Shape = tuple[int, ...]

POOL = 512
"""Size of the flat pool of upstream-gradient values each spec draws."""


FORWARD = "the forward pass: a new Tensor holding the result and remembering its inputs"
"""The first rung of the hint of a check of an operation's forward values."""


# ------------------------------------------------------------------ checks
@dataclass(frozen=True)
class Check:
    """One check of a row: its name, what passing it is worth, what it compares, its hint.

    ``want`` is ``out`` (forward values), ``grad`` (gradients) or ``both``. ``cases`` and
    ``inputs`` replace the row's when given: an edge case of its own.
    """

    name: str
    points: float
    want: str
    cases: Cases = field(default_factory=dict)
    inputs: Draw | None = None
    hint: Hint = field(kw_only=True)


def forward(points: float, cases: Cases | None = None, *, hint: Hint) -> Check:
    """The ``forward`` check: the values of the row's cases (or of ``cases``)."""
    return Check("forward", points, "out", cases or {}, hint=hint)


def backward(points: float, cases: Cases | None = None, *, hint: Hint) -> Check:
    """The ``backward`` check: the gradients of the row's cases (or of ``cases``)."""
    return Check("backward", points, "grad", cases or {}, hint=hint)


@dataclass(frozen=True)
class Row:
    """One operation or behaviour: its id, its checks in order, and what they share.

    ``symbols`` are the learner's objects every check needs; ``hidden`` rows hold hidden
    checks. A check named ``""`` takes the row's id itself.
    """

    id: str
    checks: Sequence[Check]
    cases: Cases = field(default_factory=dict)
    inputs: Draw | None = None
    symbols: tuple[str, ...] = ("Tensor",)
    hidden: bool = False

    def register(self, learner: Learner, reference: Reference) -> list[Spec]:
        """Register every check in order: ``learner`` against ``reference`` on the check's
        cases and inputs, or else the row's."""
        return [self.spec(check, learner, reference) for check in self.checks]

    def spec(self, check: Check, learner: Learner, reference: Reference) -> Spec:
        """Register one check (see :meth:`register`)."""
        check_id = f"{self.id}.{check.name}" if check.name else self.id
        cases, want, inputs = check.cases or self.cases, check.want, check.inputs or self.inputs
        if inputs is None:
            raise ValueError(f"{check_id}: neither the check nor its row draws inputs")
        return spec(
            id=check_id,
            points=check.points,
            symbols=self.symbols,
            inputs=inputs,
            learner=lambda inp, *objs: learner(cases, inp, want, *objs),
            reference=lambda inp: reference(cases, inp, want),
            hint=check.hint,
            hidden=self.hidden,
        )


def torch_reference(cases: Cases, inputs: Inputs, want: str) -> Outputs:
    """The reference side of a row of expressions: the cases in torch float64."""
    return torch_cases(cases, inputs, want=want)


# ------------------------------------------------------------------ inputs
def draw(rng: np.random.Generator, shape: Shape, domain: str = "any") -> np.ndarray:
    """Random float64 values of ``shape``: ``any`` in [-2, 2], ``nonzero`` with
    0.5 <= |v| <= 2 (safe to divide by; away from kinks), ``positive`` in [0.5, 2]."""
    if domain == "any":
        return np.asarray(rng.uniform(-2.0, 2.0, shape))
    values = np.asarray(rng.uniform(0.5, 2.0, shape))
    if domain == "positive":
        return values
    return values * rng.choice([-1.0, 1.0], size=shape)


def operands(**shapes: Shape | tuple[Shape, str]) -> Draw:
    """``inputs(rng)``: one array per named shape (optionally ``(shape, domain)``) and a pool
    ``g`` of upstream-gradient values."""

    def inputs(rng: np.random.Generator) -> Inputs:
        out = {}
        for name, item in shapes.items():
            if len(item) == 2 and isinstance(item[1], str):
                out[name] = draw(rng, item[0], item[1])
            else:
                out[name] = draw(rng, item)
        out["g"] = draw(rng, (POOL,))
        return out

    return inputs
