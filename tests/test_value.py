"""The quickstart scalar engine ``Value``, against PyTorch scalars in float64."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import pytest
import torch
from hypothesis import given
from strategies import NONZERO, POSITIVE, VALUES

from micrograd_plus.value import Value


def test_quickstart_example() -> None:
    """For a=2, b=3, c=a*b+a: is c 8, a.grad 4, b.grad 2, and the repr exact?"""
    a = Value(2.0)
    b = Value(3.0)
    c = a * b + a
    c.backward()
    assert c.data == 8.0
    assert a.grad == 4.0
    assert b.grad == 2.0
    assert repr(c) == "Value(data=8.0000, grad=1.0000)"


def test_quickstart_example_matches_torch() -> None:
    """Does the quickstart example give PyTorch's values and gradients?"""
    a = torch.tensor(2.0, dtype=torch.float64, requires_grad=True)
    b = torch.tensor(3.0, dtype=torch.float64, requires_grad=True)
    c = a * b + a
    c.backward()
    ours_a, ours_b = Value(2.0), Value(3.0)
    ours_c = ours_a * ours_b + ours_a
    ours_c.backward()
    assert (ours_c.data, ours_a.grad, ours_b.grad) == (c.item(), a.grad.item(), b.grad.item())


def test_value_attributes() -> None:
    """Does a Value keep its data as a float, its inputs in _prev and its op label in _op?"""
    a, b = Value(2), Value(3.0)
    c = a * b
    assert isinstance(a.data, float) and a.grad == 0.0
    assert c._prev == {a, b} and c._op == "*"
    assert a._prev == set() and a._op == ""
    a._backward()  # a leaf's backward does nothing


Binary = Callable[[Any, Any], Any]

# fmt: off
BINARY: list[tuple[str, Binary]] = [
    ("add",      lambda a, b: a + b),
    ("radd",     lambda a, b: 1.5 + a + b),
    ("sub",      lambda a, b: a - b),
    ("rsub",     lambda a, b: 2.0 - a - b),
    ("mul",      lambda a, b: a * b),
    ("rmul",     lambda a, b: 3.0 * a * b),
    ("neg",      lambda a, b: -a + -b),
    ("div",      lambda a, b: a / b),
    ("rdiv",     lambda a, b: 2.0 / b + a),
    ("pow",      lambda a, b: a**2 + b**3 + a**-1),
    ("relu",     lambda a, b: (a * b).relu() + (-a).relu()),
    ("tanh",     lambda a, b: (a * b).tanh()),
    ("exp",      lambda a, b: (a / 4).exp() * b),
    ("reuse",    lambda a, b: (a + a) * (a + b) * (a + a)),
    ("mlp_unit", lambda a, b: (a * 0.5 + b * -1.5 + 0.25).tanh() * 2 - (a * b).relu()),
]
# fmt: on


@pytest.mark.parametrize(("name", "fn"), BINARY, ids=[name for name, _ in BINARY])
@given(a=NONZERO, b=NONZERO)
def test_value_op_matches_torch(name: str, fn: Binary, a: float, b: float) -> None:
    """Does each Value operation give torch's value and both gradients (float64, rtol 1e-12)?"""
    ta = torch.tensor(a, dtype=torch.float64, requires_grad=True)
    tb = torch.tensor(b, dtype=torch.float64, requires_grad=True)
    expected = fn(ta, tb)
    expected.backward()
    va, vb = Value(a), Value(b)
    out = fn(va, vb)
    out.backward()
    assert math.isclose(out.data, expected.item(), rel_tol=1e-12, abs_tol=1e-12)
    assert math.isclose(va.grad, ta.grad.item(), rel_tol=1e-12, abs_tol=1e-12)
    assert math.isclose(vb.grad, tb.grad.item(), rel_tol=1e-12, abs_tol=1e-12)


@given(a=POSITIVE, b=VALUES)
def test_value_real_power_matches_torch(a: float, b: float) -> None:
    """Does a ** 0.5 and a ** -1.5 (a > 0) match torch's value and gradient?"""
    ta = torch.tensor(a, dtype=torch.float64, requires_grad=True)
    (ta**0.5 + ta**-1.5).backward()
    va = Value(a)
    out = va**0.5 + va**-1.5
    out.backward()
    assert math.isclose(va.grad, ta.grad.item(), rel_tol=1e-12)


def test_relu_gradient_is_zero_for_negative_inputs() -> None:
    """Does relu pass the gradient for a > 0 only?"""
    pos, neg = Value(2.0), Value(-2.0)
    (pos.relu() + neg.relu()).backward()
    assert (pos.grad, neg.grad) == (1.0, 0.0)


def test_power_needs_a_number() -> None:
    """Does ``Value ** Value`` raise a TypeError naming the accepted types?"""
    with pytest.raises(TypeError, match="int or float exponent"):
        Value(2.0) ** Value(3.0)  # type: ignore[operator]


def test_power_zero_has_a_zero_gradient_at_zero() -> None:
    """Is d(a**0)/da zero at a = 0 (no ZeroDivisionError), as in torch?"""
    a = Value(0.0)
    (a**0).backward()
    assert a.grad == 0.0


def test_backward_twice_accumulates_in_leaves_like_torch() -> None:
    """Does a second backward() double the leaves' gradients, as torch's does?"""
    a, b = Value(2.0), Value(3.0)
    c = a * b + a
    c.backward()
    c.backward()
    assert (a.grad, b.grad) == (8.0, 4.0)
    assert c.grad == 1.0


def test_a_deep_chain_backpropagates() -> None:
    """Does backward() walk a 20,000-step chain without a RecursionError?"""
    x = Value(0.5)
    y = x
    for _ in range(20_000):
        y = y + 1.0
    y.backward()
    assert x.grad == 1.0
