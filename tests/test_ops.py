"""Every differentiable operation against PyTorch in float64, on shapes and values hypothesis draws.

One helper, :func:`assert_matches_torch`, runs an operation in both libraries and
compares the forward values and the gradient of every input (``torch.autograd.grad``
with the same random upstream gradient). The operations are listed in one table,
``OPS``, one line each. Tolerances: ``EXACT`` (rtol 1e-10) for arithmetic,
reductions and data movement, ``TRANSCENDENTAL`` (rtol 1e-7) for exp, log, tanh,
sigmoid and the softmax family.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hypothesis import given
from hypothesis import strategies as st
from strategies import (
    AWAY_FROM_KINK,
    NONZERO,
    POSITIVE,
    TIES,
    Case,
    along_axis,
    binary,
    classification,
    floats,
    index,
    matmul_pair,
    permutation,
    reduction,
    reshape_target,
    shapes,
    unary,
)

from micrograd_plus import ops
from micrograd_plus.tensor import Tensor


@dataclass(frozen=True)
class Tol:
    rtol: float
    atol: float


EXACT = Tol(rtol=1e-10, atol=1e-12)
TRANSCENDENTAL = Tol(rtol=1e-7, atol=1e-12)


def _dims(axis: Any, ndim: int) -> Any:
    """numpy's ``axis`` as torch's ``dim`` (None means every axis)."""
    return tuple(range(ndim)) if axis is None else axis


def _torch_index(idx: Any) -> Any:
    """A numpy index with torch tensors in place of integer arrays."""
    if isinstance(idx, tuple):
        return tuple(_torch_index(i) for i in idx)
    return torch.from_numpy(idx) if isinstance(idx, np.ndarray) else idx


def assert_matches_torch(
    ours: Callable[..., Tensor],
    theirs: Callable[..., torch.Tensor],
    arrays: tuple[np.ndarray, ...],
    kwargs: dict[str, Any],
    tol: Tol = EXACT,
) -> None:
    """Does ``ours`` give torch's forward values and input gradients (float64)?

    Each array becomes a tensor in both libraries; both outputs are
    backpropagated with the same random upstream gradient, so that every
    output element's contribution is checked (``out.sum()`` would hide a
    wrong softmax gradient, whose columns sum to zero).
    """
    xs = [Tensor(a.copy()) for a in arrays]
    ts = [torch.tensor(a, requires_grad=True) for a in arrays]
    out = ours(*xs, **kwargs)
    expected = theirs(*ts, **kwargs)
    assert out.dtype == np.float64, f"float64 inputs gave a {out.dtype} output"
    assert out.shape == tuple(expected.shape), f"shape {out.shape}, torch {tuple(expected.shape)}"
    np.testing.assert_allclose(
        out.data, expected.detach().numpy(), rtol=tol.rtol, atol=tol.atol, err_msg="forward"
    )
    upstream = np.random.default_rng(0).standard_normal(out.shape)
    out.backward(upstream)
    grads = torch.autograd.grad(expected, ts, grad_outputs=torch.from_numpy(upstream))
    for i, (x, g) in enumerate(zip(xs, grads, strict=True)):
        assert x.grad.shape == x.shape, f"input {i}: gradient shape {x.grad.shape} != {x.shape}"
        np.testing.assert_allclose(
            x.grad, g.numpy(), rtol=tol.rtol, atol=tol.atol, err_msg=f"gradient of input {i}"
        )


@dataclass(frozen=True)
class Op:
    """One line of the table: torch runs ``theirs``, or ``ours`` itself when it is None."""

    name: str
    inputs: st.SearchStrategy[Case]
    ours: Callable[..., Tensor]
    theirs: Callable[..., torch.Tensor] | None = None
    tol: Tol = EXACT


EXPONENTS = st.sampled_from([0, 1, 2, 3, -1, -2])
REAL_EXPONENTS = st.sampled_from([0.5, -0.5, 1.5, -1.5, 2.5])
T = TRANSCENDENTAL


def _sum(a: Any, axis: Any, keepdims: bool) -> Any:
    return a.sum(_dims(axis, a.ndim), keepdims)


def _mean(a: Any, axis: Any, keepdims: bool) -> Any:
    return a.mean(_dims(axis, a.ndim), keepdims)


def _amax(a: Any, axis: Any, keepdims: bool) -> Any:
    return torch.amax(a, _dims(axis, a.ndim), keepdims)


def _cross_entropy(a: Any, targets: np.ndarray) -> Any:
    return F.cross_entropy(a, torch.from_numpy(targets))


# fmt: off
OPS = [
    Op("add",          binary(),               lambda a, b: a + b),
    Op("add_number",   unary(),                lambda a: 1.5 + a + 2),
    Op("sub",          binary(),               lambda a, b: a - b),
    Op("sub_number",   unary(),                lambda a: 1.5 - a - 2),
    Op("mul",          binary(),               lambda a, b: a * b),
    Op("mul_number",   unary(),                lambda a: 3 * a * -0.5),
    Op("div",          binary(right=NONZERO),  lambda a, b: a / b),
    Op("div_number",   unary(NONZERO),         lambda a: 2 / a / 4),
    Op("neg",          unary(),                lambda a: -a),
    Op("pow",          unary(NONZERO, k=EXPONENTS), lambda a, k: a**k),
    Op("pow_real",     unary(POSITIVE, k=REAL_EXPONENTS), lambda a, k: a**k, tol=T),
    Op("sum",          reduction(),            lambda a, **kw: a.sum(**kw), _sum),
    Op("mean",         reduction(),            lambda a, **kw: a.mean(**kw), _mean),
    Op("max",          reduction(),            lambda a, **kw: a.max(**kw), _amax),
    Op("max_ties",     reduction(TIES),        ops.amax, _amax),
    Op("matmul",       matmul_pair(),          lambda a, b: a @ b),
    Op("matmul_fn",    matmul_pair(),          ops.matmul, torch.matmul),
    Op("matmul_method", matmul_pair(),         lambda a, b: a.matmul(b)),
    Op("exp",          unary(),                lambda a: a.exp(), tol=T),
    Op("log",          unary(POSITIVE),        lambda a: a.log(), tol=T),
    Op("relu",         unary(AWAY_FROM_KINK),  lambda a: a.relu()),
    Op("tanh",         unary(),                lambda a: a.tanh(), tol=T),
    Op("sigmoid",      unary(floats(-50, 50)), lambda a: a.sigmoid(), tol=T),
    Op("reshape",      reshape_target(),       lambda a, shape: a.reshape(*shape)),
    Op("reshape_tuple", reshape_target(),      lambda a, shape: a.reshape(shape)),
    Op("transpose",    permutation(),          lambda a, axes: a.transpose(*axes),
       lambda a, axes: a.permute(axes)),
    Op("transpose_tuple", permutation(),       lambda a, axes: a.transpose(axes),
       lambda a, axes: a.permute(axes)),
    Op("transpose_all", unary(),               lambda a: a.transpose(),
       lambda a: a.permute(tuple(reversed(range(a.ndim))))),
    Op(".T",           unary(shape=shapes(2, 2)), lambda a: a.T),
    Op("getitem",      index(),                lambda a, idx: a[idx],
       lambda a, idx: a[_torch_index(idx)]),
    Op("softmax",      along_axis(),           lambda a, axis: a.softmax(axis),
       lambda a, axis: torch.softmax(a, axis), T),
    Op("log_softmax",  along_axis(),           lambda a, axis: a.log_softmax(axis),
       lambda a, axis: torch.log_softmax(a, axis), T),
    Op("softmax_last", unary(),                ops.softmax, lambda a: torch.softmax(a, -1), T),
    Op("cross_entropy", classification(),      ops.cross_entropy, _cross_entropy, T),
    Op("composite",    binary(POSITIVE, POSITIVE),
       lambda a, b: ((a * b).log() + a / b - a.exp()).tanh().mean() * 2, tol=T),
]
# fmt: on


@pytest.mark.parametrize("op", OPS, ids=[op.name for op in OPS])
@given(data=st.data())
def test_op_matches_torch(op: Op, data: st.DataObject) -> None:
    """Do the forward values and every input's gradient match PyTorch's?"""
    arrays, kwargs = data.draw(op.inputs, label="inputs")
    assert_matches_torch(op.ours, op.theirs or op.ours, arrays, kwargs, op.tol)


def test_the_table_names_are_unique() -> None:
    """Is every line of the operations table a different test id?"""
    names = [op.name for op in OPS]
    assert len(names) == len(set(names))


@pytest.mark.parametrize("scale", [1e4, -1e4, 1e300])
@pytest.mark.parametrize(
    ("ours", "theirs"),
    [
        (ops.softmax, lambda a: torch.softmax(a, -1)),
        (ops.log_softmax, lambda a: torch.log_softmax(a, -1)),
    ],
    ids=["softmax", "log_softmax"],
)
def test_softmax_family_is_exact_for_huge_logits(ours: Any, theirs: Any, scale: float) -> None:
    """Are softmax and log_softmax finite and equal to torch's for logits of ±1e4 and beyond?"""
    logits = np.array([[1.0, -1.0, 0.0], [1.0, 1.0, -1.0], [0.0, 0.0, 0.0]]) * scale
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        out = ours(Tensor(logits))
    assert np.isfinite(out.data).all()
    assert_matches_torch(ours, theirs, (logits,), {}, EXACT)


@pytest.mark.parametrize("scale", [1e4, -1e4])
def test_cross_entropy_is_exact_for_huge_logits(scale: float) -> None:
    """Is cross_entropy finite and equal to torch's for logits of ±1e4?"""
    logits = np.array([[1.0, -1.0, 0.0], [1.0, 1.0, -1.0], [0.5, 0.0, -0.5]]) * scale
    targets = np.array([1, 0, 2])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        loss = ops.cross_entropy(Tensor(logits), targets)
    assert np.isfinite(loss.data).all()
    assert_matches_torch(ops.cross_entropy, _cross_entropy, (logits,), {"targets": targets})


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_softmax_family_stays_finite_in_float32_and_float64(dtype: Any) -> None:
    """Are softmax, log_softmax and cross_entropy finite (no warnings) at ±1e4 in either dtype?"""
    logits = Tensor(np.array([[1e4, -1e4, 0.0], [-1e4, -1e4, 1e4]], dtype=dtype))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        outs = [logits.softmax(), logits.log_softmax(), ops.cross_entropy(logits, [2, 0])]
        outs[2].backward()
    for out in outs:
        assert out.dtype == dtype
        assert np.isfinite(out.data).all()
    assert np.isfinite(logits.grad).all()


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_sigmoid_saturates_without_warnings(dtype: Any) -> None:
    """Does sigmoid give 0 and 1 for ±50 … ±1000 with no overflow warning, like torch?"""
    x = np.array([-1000.0, -100.0, -50.0, 0.0, 50.0, 100.0, 1000.0], dtype=dtype)
    t = Tensor(x)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        out = t.sigmoid()
        out.sum().backward()
    expected = torch.sigmoid(torch.from_numpy(x)).numpy()
    np.testing.assert_allclose(out.data, expected, rtol=1e-6, atol=1e-30)
    assert out.dtype == dtype
    assert np.isfinite(t.grad).all()


def test_max_splits_the_gradient_among_ties() -> None:
    """Does max give each of k tied maxima 1/k of the gradient, like torch.amax?"""
    x = Tensor(np.array([[1.0, 3.0, 3.0], [2.0, 2.0, 2.0]]))
    x.max(axis=1).sum().backward()
    np.testing.assert_array_equal(x.grad, [[0, 0.5, 0.5], [1 / 3, 1 / 3, 1 / 3]])


def test_getitem_accumulates_repeated_indices() -> None:
    """Does x[[0, 0, 2]] give x[0] a gradient of 2?"""
    x = Tensor(np.arange(4.0))
    x[np.array([0, 0, 2])].sum().backward()
    np.testing.assert_array_equal(x.grad, [2, 0, 1, 0])


def test_getitem_takes_tensor_indices() -> None:
    """Can a tensor of (float) indices, alone or in a tuple, index a tensor?"""
    x = Tensor(np.arange(6.0).reshape(2, 3))
    rows = Tensor([1, 0, 1])
    cols = Tensor([2, 2, 0])
    np.testing.assert_array_equal(x[rows].data, x.data[[1, 0, 1]])
    picked = x[rows, cols]
    np.testing.assert_array_equal(picked.data, [5.0, 2.0, 3.0])
    picked.sum().backward()
    np.testing.assert_array_equal(x.grad, [[0, 0, 1], [1, 0, 1]])


def test_matmul_with_a_numpy_array_on_either_side() -> None:
    """Do ``tensor @ array`` and ``array @ tensor`` work and give the tensor its gradient?"""
    a = np.arange(6.0).reshape(2, 3)
    w = Tensor(np.ones((3, 2)))
    (a @ w).sum().backward()
    np.testing.assert_array_equal(w.grad, np.broadcast_to(a.sum(0)[:, None], (3, 2)))
    x = Tensor(np.ones((2, 3)))
    out = x @ a.T
    assert isinstance(out, Tensor) and out.shape == (2, 2)


def test_matmul_skips_inputs_that_need_no_gradient() -> None:
    """Does a requires_grad=False input keep a zero gradient while the other gets its own?"""
    x = Tensor(np.ones((4, 3)), requires_grad=False)
    w = Tensor(np.ones((3, 2)))
    (x @ w).sum().backward()
    assert not x.grad.any()
    np.testing.assert_array_equal(w.grad, np.full((3, 2), 4.0))


def test_ops_are_also_functions() -> None:
    """Are the operations callable as functions as well as methods?"""
    x = Tensor(np.array([[0.5, -1.0], [2.0, 0.25]]))
    for name in ("exp", "relu", "tanh", "sigmoid", "softmax", "log_softmax"):
        np.testing.assert_array_equal(getattr(ops, name)(x).data, getattr(x, name)().data)
    np.testing.assert_array_equal(ops.log(x.relu() + 1).data, (x.relu() + 1).log().data)
    np.testing.assert_array_equal(ops.mean(x, 0).data, x.mean(axis=0).data)
    np.testing.assert_array_equal(ops.transpose(x).data, x.T.data)
    np.testing.assert_array_equal(ops.reshape(x, 4).data, x.reshape(-1).data)
    np.testing.assert_array_equal(ops.getitem(x, 1).data, x[1].data)


def test_cross_entropy_accepts_lists_and_float_tensors_of_class_indices() -> None:
    """Do targets given as a list or as a float tensor of whole numbers give the same loss?"""
    logits = Tensor(np.array([[1.0, 2.0, 0.5], [0.0, -1.0, 3.0]]))
    reference = ops.cross_entropy(logits, np.array([1, 2])).item()
    assert ops.cross_entropy(logits, [1, 2]).item() == reference
    assert ops.cross_entropy(logits, Tensor([1.0, 2.0])).item() == reference


@pytest.mark.parametrize(
    ("logits_shape", "targets", "match"),
    [
        ((4,), [0, 1, 2, 3], r"logits must be \(N, C\)"),
        ((2, 3, 4), [0, 1], r"logits must be \(N, C\)"),
        ((2, 3), [0, 1, 2], "targets must be 2 integer class indices"),
        ((2, 3), [[0, 1]], "targets must be 2 integer class indices"),
        ((2, 3), [0.5, 1.0], "targets must be 2 integer class indices"),
        ((2, 3), [0, 3], r"targets must lie in \[0, 3\)"),
        ((2, 3), [-1, 0], r"targets must lie in \[0, 3\)"),
    ],
)
def test_cross_entropy_rejects_bad_inputs(logits_shape: Any, targets: Any, match: str) -> None:
    """Does cross_entropy say what is wrong with logits or targets of the wrong kind?"""
    logits = Tensor(np.zeros(logits_shape))
    with pytest.raises(ValueError, match=match):
        ops.cross_entropy(logits, targets)


def test_float32_stays_float32_through_every_operation() -> None:
    """Do float32 tensors give float32 outputs and gradients through every operation?"""
    rng = np.random.default_rng(1)
    x = Tensor(rng.random((3, 4), dtype=np.float32) + 0.5)
    w = Tensor(rng.random((4, 2), dtype=np.float32))
    h = (x @ w).relu() + x.log().mean(axis=1, keepdims=True) * x.exp().max()
    h = h.tanh().sigmoid().reshape(2, 3).T.transpose()[0:2]
    loss = ops.cross_entropy(h.softmax().log_softmax(), [0, 1]) / 2 - 1
    loss.backward()
    for t in (loss, h, x, w):
        assert t.dtype == np.float32
    assert x.grad.dtype == np.float32 and w.grad.dtype == np.float32
