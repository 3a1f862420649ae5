"""The core tensor (lab 1.7.1): dtypes, the autograd walk, and its errors.

Each operation's values and gradients are compared with PyTorch in
``test_ops.py``; this file covers what the table cannot: dtype rules, node
reuse, deep graphs, repeated ``backward`` calls and the error messages.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch

from micrograd_plus.tensor import Tensor, unbroadcast


@pytest.mark.parametrize(
    ("data", "dtype"),
    [
        (np.arange(3, dtype=np.float64), np.float64),
        (np.arange(3, dtype=np.float32), np.float32),
        (np.float64(2.0), np.float64),
        ([1.0, 2.0], np.float32),
        ([[1, 2], [3, 4]], np.float32),
        (3, np.float32),
        (2.5, np.float32),
        (True, np.float32),
        (np.arange(3), np.float32),
        (np.arange(3, dtype=np.uint8), np.float32),
        (np.array([True, False]), np.float32),
    ],
    ids=[
        "float64-array",
        "float32-array",
        "float64-scalar",
        "float-list",
        "int-list",
        "int",
        "float",
        "bool",
        "int64-array",
        "uint8-array",
        "bool-array",
    ],
)
def test_dtype_follows_numpy_floats_and_defaults_to_float32(data: object, dtype: type) -> None:
    """Do numpy floats keep their dtype, and numbers, lists and int arrays become float32?"""
    t = Tensor(data)
    assert t.dtype == dtype
    assert t.grad.dtype == dtype and t.grad.shape == t.shape and not t.grad.any()


def test_explicit_dtype_wins() -> None:
    """Does ``dtype=`` override the default?"""
    assert Tensor([1, 2], dtype=np.float64).dtype == np.float64
    assert Tensor(np.ones(2), dtype=np.float32).dtype == np.float32


@pytest.mark.parametrize("data", ["abc", np.array(["a"]), np.array([{}], dtype=object)])
def test_non_numeric_data_is_rejected(data: object) -> None:
    """Is a tensor of strings or objects refused with a TypeError?"""
    with pytest.raises(TypeError, match="numeric"):
        Tensor(data)


@pytest.mark.parametrize(
    "op",
    [
        lambda t: t + 2.5,
        lambda t: 2.5 + t,
        lambda t: t - 1e10,
        lambda t: 1 - t,
        lambda t: t * 3,
        lambda t: 0.1 * t,
        lambda t: t / 7.0,
        lambda t: 7.0 / t,
        lambda t: t**2,
        lambda t: t**0.5,
        lambda t: -t,
        lambda t: t + np.float64(2.0),
        lambda t: t * True,
    ],
)
def test_a_python_scalar_never_upcasts_float32(op: object) -> None:
    """Does a float32 tensor stay float32 (value and gradient) next to a Python number?"""
    t = Tensor(np.array([1.0, 4.0], dtype=np.float32))
    out = op(t)  # type: ignore[operator]
    assert out.dtype == np.float32
    out.backward(np.ones(2))
    assert t.grad.dtype == np.float32


def test_float64_stays_float64() -> None:
    """Do float64 inputs give float64 outputs and gradients, numbers included?"""
    t = Tensor(np.array([1.0, 2.0]))
    out = (t * 2 + 1) / 3 - t**2
    out.sum().backward()
    assert out.dtype == np.float64 and t.grad.dtype == np.float64


def test_mixed_tensor_dtypes_promote_like_numpy() -> None:
    """Does float32 + float64 (two tensors) give float64, with each gradient in its own dtype?"""
    a = Tensor(np.ones(2, dtype=np.float32))
    b = Tensor(np.ones(2, dtype=np.float64))
    out = a * b
    assert out.dtype == np.float64
    out.sum().backward()
    assert a.grad.dtype == np.float32 and b.grad.dtype == np.float64


def test_numpy_array_on_the_left_calls_the_tensor() -> None:
    """Does ``ndarray + tensor`` (and -, *, /) give a Tensor rather than an array of objects?"""
    t = Tensor(np.array([1.0, 2.0]))
    a = np.array([3.0, 4.0])
    for out, expected in [(a + t, [4, 6]), (a - t, [2, 2]), (a * t, [3, 8]), (a / t, [3, 2])]:
        assert isinstance(out, Tensor)
        np.testing.assert_allclose(out.data, expected)


def test_info_properties_and_repr() -> None:
    """Do shape, ndim, size, dtype, len, item, numpy and repr describe the tensor?"""
    t = Tensor(np.arange(6.0).reshape(2, 3))
    assert (t.shape, t.ndim, t.size, len(t)) == ((2, 3), 2, 6, 2)
    assert t.numpy() is t.data
    assert Tensor(np.array([[2.5]])).item() == 2.5
    assert repr(Tensor([1.0, 2.0])) == "Tensor([1., 2.], dtype=float32)"
    assert repr(Tensor([1.0]) * 2) == "Tensor([2.], dtype=float32, op='*')"


def test_unbroadcast_sums_back_to_the_input_shape() -> None:
    """Does unbroadcast add up the copies broadcasting made, over new and size-1 axes?"""
    g = np.arange(24.0).reshape(2, 3, 4)
    np.testing.assert_array_equal(unbroadcast(g, (3, 1)), g.sum(axis=(0, 2))[:, None])
    np.testing.assert_array_equal(unbroadcast(g, ()), g.sum())
    assert unbroadcast(g, (2, 3, 4)) is g


def test_reused_node_accumulates() -> None:
    """With b = a + a and c = b * b, is dc/da = 8a, as in torch?"""
    a = Tensor(np.array([1.5, -2.0]))
    b = a + a
    c = b * b
    c.backward(np.ones(2))
    ta = torch.tensor([1.5, -2.0], dtype=torch.float64, requires_grad=True)
    tb = ta + ta
    (tb * tb).sum().backward()
    np.testing.assert_array_equal(a.grad, ta.grad.numpy())
    np.testing.assert_array_equal(a.grad, 8 * a.data)


def test_diamond_graph_gradient() -> None:
    """Does a value used by two branches that meet again get both branches' gradients?"""
    x = Tensor(np.array(3.0))
    y = x * 2
    z = (y + 1) * (y - 1)  # 4x^2 - 1
    z.backward()
    assert x.grad == 24.0


def test_a_chain_of_20000_operations_backpropagates() -> None:
    """Does backward() walk a 20,000-operation chain (20 times Python's recursion limit)
    without a RecursionError?"""
    x = Tensor(np.array(0.5))
    y = x
    for _ in range(10_000):
        y = y * 1.0 + 1.0
    y.backward()
    assert y.item() == 10_000.5
    assert x.grad == 1.0


def test_backward_twice_accumulates_in_leaves_like_torch() -> None:
    """Does a second backward() double the leaves' gradients, as torch's does?"""
    data = np.array([[1.0, -2.0], [0.5, 3.0]])
    w = Tensor(data)
    loss = ((w * w).sum(axis=1) * w.sum(axis=1)).sum()
    loss.backward()
    once = w.grad.copy()
    loss.backward()
    tw = torch.tensor(data, requires_grad=True)
    tloss = ((tw * tw).sum(dim=1) * tw.sum(dim=1)).sum()
    tloss.backward(retain_graph=True)
    np.testing.assert_allclose(once, tw.grad.numpy(), rtol=1e-12)
    tloss.backward()
    np.testing.assert_allclose(w.grad, tw.grad.numpy(), rtol=1e-12)
    np.testing.assert_allclose(w.grad, 2 * once, rtol=1e-12)


def test_intermediate_gradients_are_recomputed_on_each_backward() -> None:
    """Does an intermediate node hold d(out)/d(node) of the last backward, not a running sum?"""
    x = Tensor(np.array(2.0))
    h = x * 3
    out = h * h
    out.backward()
    out.backward()
    assert h.grad == 2 * h.data  # 12, not 24
    assert x.grad == 2 * 36.0


def test_backward_of_a_non_scalar_needs_a_gradient() -> None:
    """Does backward() on a (2, 3) tensor without a gradient say which shape it needs?"""
    y = Tensor(np.ones((2, 3))) * 2
    with pytest.raises(RuntimeError, match=r"one-element tensor.*shape \(2, 3\).*backward\(grad\)"):
        y.backward()


def test_backward_rejects_a_gradient_of_the_wrong_shape() -> None:
    """Does backward(grad) with a (3, 2) grad on a (2, 3) tensor raise a ValueError naming both?"""
    y = Tensor(np.ones((2, 3))) * 2
    with pytest.raises(ValueError, match=r"\(3, 2\).*\(2, 3\)"):
        y.backward(np.ones((3, 2)))


def test_backward_accepts_a_tensor_gradient_and_a_one_element_output() -> None:
    """Does backward take a Tensor as its gradient, and seed 1 for a (1, 1) output?"""
    x = Tensor(np.array([1.0, 2.0]))
    (x * 3).backward(Tensor(np.array([1.0, -1.0])))
    np.testing.assert_array_equal(x.grad, [3.0, -3.0])
    z = Tensor(np.array([[2.0]]))
    (z * z).backward()
    np.testing.assert_array_equal(z.grad, [[4.0]])


def test_zero_grad_resets_in_place() -> None:
    """Does zero_grad() clear the gradient in the same array (and repair a replaced one)?"""
    x = Tensor(np.array([1.0, 2.0]))
    (x * x).sum().backward()
    buffer = x.grad
    x.zero_grad()
    assert x.grad is buffer and not x.grad.any()
    x.grad = np.ones(5)
    x.zero_grad()
    assert x.grad.shape == (2,) and x.grad.dtype == np.float64 and not x.grad.any()


def test_a_tensor_exponent_is_refused() -> None:
    """Does ``tensor ** tensor`` raise a TypeError that points to exp/log?"""
    with pytest.raises(TypeError, match="exp/log"):
        Tensor([2.0]) ** Tensor([3.0])  # type: ignore[operator]


def test_the_power_zero_has_a_zero_gradient_everywhere() -> None:
    """Is d(x**0)/dx zero at x = 0 too (no NaN, no warning), as in torch?"""
    x = Tensor(np.array([0.0, 2.0]))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        (x**0).sum().backward()
    np.testing.assert_array_equal(x.grad, [0.0, 0.0])


@pytest.mark.parametrize("axis", [None, 0, 1, -1, (0, 1), (-1, 0)])
@pytest.mark.parametrize("keepdims", [False, True])
def test_sum_over_axes_like_numpy(axis: object, keepdims: bool) -> None:
    """Does sum(axis, keepdims) give numpy's values and a gradient of ones?"""
    data = np.arange(6.0).reshape(2, 3)
    x = Tensor(data)
    out = x.sum(axis=axis, keepdims=keepdims)  # type: ignore[arg-type]
    np.testing.assert_array_equal(out.data, data.sum(axis=axis, keepdims=keepdims))  # type: ignore[call-overload]
    out.backward(np.ones(out.shape))
    np.testing.assert_array_equal(x.grad, np.ones((2, 3)))


def test_a_tensor_of_a_tensor_is_a_new_leaf_with_the_same_values() -> None:
    """Does Tensor(t) take t's values and dtype, without t's graph?"""
    t = Tensor(np.array([1.0, 2.0])) * 2
    leaf = Tensor(t)
    assert leaf.dtype == np.float64 and leaf._prev == () and leaf._op == ""
    np.testing.assert_array_equal(leaf.data, [2.0, 4.0])


def test_an_unknown_attribute_raises_attribute_error() -> None:
    """Does a misspelt attribute raise AttributeError naming it (so hasattr works)?"""
    t = Tensor([1.0])
    with pytest.raises(AttributeError, match="'gard'"):
        _ = t.gard  # type: ignore[attr-defined]
    assert not hasattr(t, "requires_gard")
