"""Lab 1.7.1 hidden checks: scalars (0-d), size-1 axes, broadcasting on both sides,
negative axes, keepdims, Python numbers on either side, other exponents, a diamond graph."""

from __future__ import annotations

import operator
from collections.abc import Mapping
from typing import Any

import numpy as np

from grader.checking.specs.lab1 import (
    ACCUMULATE,
    draw,
    dtype_check,
    op,
    operands,
    program,
    programs,
    unbroadcast_check,
)
from grader.checking.specs.table import Cases, Check


def scalar_dtype_cases(x: np.ndarray) -> dict[str, tuple[Any, int]]:
    """0-d tensors and integer data."""
    return {
        "Tensor(numpy float64 scalar)": (np.float64(x[0]), 64),
        "Tensor(0-d float32 array)": (np.asarray(x[1], dtype=np.float32), 32),
        "Tensor(python int)": (3, 32),
        "Tensor(int64 array)": (np.arange(3), 32),
    }


def diamond(t: Any) -> Mapping[str, Any]:
    """Paths of different lengths between the same nodes: order matters."""
    a, b = t.leaf("a"), t.leaf("b")
    c = a * b
    d = c + a
    e = d * c
    t.backward(e + d * b)
    return {"a": a, "b": b}


def pow_reuse(t: Any) -> Mapping[str, Any]:
    """Two powers of one tensor, each node's rule run alone: ``x ** 3`` then ``x ** 2``."""
    x = t.leaf("x")
    t.local(x**3)
    t.local(x**2)
    return {"x": x}


def sum_reuse(t: Any) -> Mapping[str, Any]:
    """Two sums of one tensor, each node's rule run alone: over axis 0, then over all."""
    x = t.leaf("x")
    t.local(x.sum(axis=0))
    t.local(x.sum())
    return {"x": x}


REUSE_HINT = (
    "x feeds two {op} nodes, so x.grad must hold both contributions: add (+=) into .grad in "
    "{op}'s _backward, never assign (=), or the second node's rule erases the first's"
)

OPERATORS = {"add": ("+", operator.add), "mul": ("*", operator.mul)}


def both_sides(topic: str) -> Cases:
    """Both inputs broadcast: (3, 1) with (1, 4), and (2, 1, 3) with (4, 1)."""
    sign, f = OPERATORS[topic]
    return {f"a {sign} b": lambda a, b: f(a, b), f"c {sign} d": lambda c, d: f(c, d)}


def with_number(topic: str) -> Cases:
    """A Python number on the right, and a 0-d tensor broadcast against a matrix."""
    sign, f = OPERATORS[topic]
    return {f"a {sign} 2.5": lambda a: f(a, 2.5), f"s {sign} a": lambda s, a: f(s, a)}


# fmt: off
dtype_check("lab1.init.scalar", 2, scalar_dtype_cases,
            hint="a numpy float scalar keeps its dtype; Python ints and integer arrays become "
            "float32; a 0-d input gives a 0-d tensor (shape ())", hidden=True)

unbroadcast_check("lab1.unbroadcast.mixed", 2, [((5, 3, 4), (1, 4)), ((2, 3, 4), (3, 1))],
                  hint="first sum away the extra leading axes, then sum (keepdims=True) over the "
                  "size-1 axes", hidden=True)
unbroadcast_check("lab1.unbroadcast.scalar", 2, [((2, 3), ()), ((3, 4), (3, 4)), ((1,), ())],
                  hint="a 0-d input's gradient is the sum of everything (shape ()); equal shapes: "
                  "unchanged", hidden=True)

for topic in OPERATORS:
    op(topic, both_sides(topic), operands(a=(3, 1), b=(1, 4), c=(2, 1, 3), d=(4, 1)),
        Check("both_sides", 2, "both", hint="both inputs can be broadcast at once: reduce EACH "
              "gradient to its own input's shape"),
        Check("number", 1, "both", with_number(topic), operands(a=(3, 4), s=()),
              hint="a Python number becomes a 0-d tensor (self._lift); a 0-d input's gradient "
              "is a sum"),
        hidden=True)

programs("backward",
    program("diamond", 3, diamond, operands(a=(2, 2), b=(2, 2)),
            hint="a node's _backward may run only once all of its users have run: use a "
            "topological order (children after parents, reversed), not the order nodes were "
            "first reached"),
    hidden=True)

op("pow", {"x ** -1": lambda x: x**-1,
           "x ** 0.5": lambda x: x**0.5,
           "x ** -2.5": lambda x: x**-2.5,
           "x ** 1": lambda x: x**1},
    lambda rng: {"x": draw(rng, (2, 3), "positive"), "g": draw(rng, (64,))},
    Check("exponents", 2, "both", hint="k * x ** (k - 1) holds for negative and fractional k "
          "too"),
    hidden=True)

op("sub_div", {"2.0 - a": lambda a: 2.0 - a,
               "a - 1.5": lambda a: a - 1.5,
               "3.0 * a": lambda a: 3.0 * a,
               "1.0 + a": lambda a: 1.0 + a,
               "2.0 / a": lambda a: 2.0 / a,
               "a / 4.0": lambda a: a / 4.0,
               "a / r": lambda a, r: a / r},
    operands(a=((2, 3), "nonzero"), r=((3,), "nonzero")),
    Check("numbers", 1, "both", hint="a number on the left calls __radd__, __rsub__, __rmul__ or "
          "__rtruediv__; 2.0 - a is (-a) + 2.0, 2.0 / a is a ** -1 * 2.0"),
    local=False, hidden=True)

DERIVED_REUSE_HINT = (
    "in {case}, a reaches {op} and another operation, so a.grad must collect both "
    "contributions: derived from + * ** (as Task 7 says) it needs no rule of its own; a rule of "
    "your own must add (+=) into .grad, never assign (=)"
)
NONZERO = ((2, 3), "nonzero")
for topic, sign, case, f, leaves in (
    ("neg", "-", "-a + -a", lambda a: -a + -a, operands(a=NONZERO)),
    ("sub", "-", "(a - b) + a", lambda a, b: (a - b) + a, operands(a=NONZERO, b=NONZERO)),
    ("truediv", "/", "(a / b) + a", lambda a, b: (a / b) + a, operands(a=NONZERO, b=NONZERO)),
):
    op(topic, {case: f}, leaves,
        Check("reuse", 1, "grad", hint=DERIVED_REUSE_HINT.format(case=case, op=sign)),
        local=False, hidden=True)

op("sum", {"x.sum(axis=-1)": lambda x: x.sum(axis=-1),
           "x.sum(axis=(0, 2))": lambda x: x.sum(axis=(0, 2)),
           "x.sum(axis=-2)": lambda x: x.sum(axis=-2)}, operands(x=(2, 3, 4)),
    Check("negative_axis", 2, "both", hint="np.expand_dims accepts negative axes and tuples of "
          "axes: pass axis through unchanged"),
    Check("keepdims", 1, "both",
          {"x.sum(axis=(0, 2), keepdims=True)": lambda x: x.sum(axis=(0, 2), keepdims=True),
           "x.sum(axis=None, keepdims=True)": lambda x: x.sum(axis=None, keepdims=True),
           "s.sum()": lambda s: s.sum()},
          operands(x=(2, 3, 4), s=()),
          hint="with keepdims=True the gradient already has x's number of axes: only broadcast "
          "it"),
    hidden=True)

programs("pow",
    program("reuse", 1, pow_reuse, operands(x=(3, 4)),
            hint=(ACCUMULATE, REUSE_HINT.format(op="**"))),
    hidden=True)
programs("sum",
    program("reuse", 1, sum_reuse, operands(x=(3, 4)),
            hint=(ACCUMULATE, REUSE_HINT.format(op="sum"))),
    hidden=True)
# fmt: on
