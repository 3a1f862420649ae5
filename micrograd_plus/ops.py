"""Lab 1.7.2 — operations: the functions a neural network is made of.

Each function builds its output, defines the local gradient rule beside it,
and is attached to :class:`~micrograd_plus.tensor.Tensor` as a method at the
bottom of this module (``Tensor.relu = relu``), so both ``relu(x)`` and
``x.relu()`` work. ``mean`` and ``cross_entropy`` are derived from other
operations and need no gradient rule of their own.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from micrograd_plus.tensor import ArrayLike, Tensor, unbroadcast

Axis = int | tuple[int, ...] | None


def _expand_to(g: np.ndarray, axis: Axis, keepdims: bool, ndim: int) -> np.ndarray:
    """Give a reduced gradient back the reduced axes (as size 1)."""
    if keepdims:
        return g
    if axis is None:
        return g.reshape((1,) * ndim)
    return np.expand_dims(g, axis)


def matmul(a: Tensor, b: Tensor | ArrayLike) -> Tensor:
    r"""out = a @ b (numpy semantics: 1-D, 2-D, batched);  da = g @ b^T, db = a^T @ g"""
    b = a._lift(b)
    out = Tensor(a.data @ b.data, (a, b), "@")

    def _backward() -> None:
        # Treat 1-D operands as matrices, as numpy does, then undo it.
        g, ad, bd = out.grad, a.data, b.data
        if bd.ndim == 1:
            bd, g = bd[:, None], np.expand_dims(g, -1)
        if ad.ndim == 1:
            ad, g = ad[None, :], np.expand_dims(g, -2)
        if a.requires_grad:  # skip the product when nobody needs it (input batches)
            a.grad += unbroadcast(g @ np.swapaxes(bd, -1, -2), ad.shape).reshape(a.shape)
        if b.requires_grad:
            b.grad += unbroadcast(np.swapaxes(ad, -1, -2) @ g, bd.shape).reshape(b.shape)

    out._backward = _backward
    return out


def rmatmul(b: Tensor, a: ArrayLike) -> Tensor:
    """``array @ tensor``."""
    return matmul(b._lift(a), b)


def exp(x: Tensor) -> Tensor:
    r"""out = e^x;  dx = g * e^x"""
    out = Tensor(np.exp(x.data), (x,), "exp")

    def _backward() -> None:
        x.grad += out.grad * out.data

    out._backward = _backward
    return out


def log(x: Tensor) -> Tensor:
    r"""out = ln x;  dx = g / x"""
    out = Tensor(np.log(x.data), (x,), "log")

    def _backward() -> None:
        x.grad += out.grad / x.data

    out._backward = _backward
    return out


def relu(x: Tensor) -> Tensor:
    r"""out = max(x, 0);  dx = g * 1[x > 0]"""
    out = Tensor(np.maximum(x.data, 0), (x,), "relu")

    def _backward() -> None:
        x.grad += out.grad * (x.data > 0)

    out._backward = _backward
    return out


def tanh(x: Tensor) -> Tensor:
    r"""out = tanh x;  dx = g * (1 - out^2)"""
    out = Tensor(np.tanh(x.data), (x,), "tanh")

    def _backward() -> None:
        x.grad += out.grad * (1 - out.data**2)

    out._backward = _backward
    return out


def sigmoid(x: Tensor) -> Tensor:
    r"""out = 1 / (1 + e^-x);  dx = g * out * (1 - out)"""
    out = Tensor(np.exp(-np.logaddexp(0, -x.data)), (x,), "sigmoid")  # no overflow

    def _backward() -> None:
        x.grad += out.grad * out.data * (1 - out.data)

    out._backward = _backward
    return out


def mean(x: Tensor, axis: Axis = None, keepdims: bool = False) -> Tensor:
    r"""mean = sum / count (derived: no gradient rule of its own)"""
    total = x.sum(axis=axis, keepdims=keepdims)
    return total * (total.data.size / x.data.size)


def amax(x: Tensor, axis: Axis = None, keepdims: bool = False) -> Tensor:
    r"""out = max over axis;  dx = g split evenly among the tied maxima (like torch.amax)"""
    m = x.data.max(axis=axis, keepdims=True)
    data = m if keepdims else (m.reshape(()) if axis is None else np.squeeze(m, axis))
    out = Tensor(data, (x,), "max")

    def _backward() -> None:
        winners = x.data == m
        share = winners / winners.sum(axis=axis, keepdims=True)
        x.grad += share * _expand_to(out.grad, axis, keepdims, x.ndim)

    out._backward = _backward
    return out


def reshape(x: Tensor, *shape: Any) -> Tensor:
    r"""out = x with a new shape;  dx = g reshaped back"""
    if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
        shape = tuple(shape[0])
    out = Tensor(x.data.reshape(shape), (x,), "reshape")

    def _backward() -> None:
        x.grad += out.grad.reshape(x.shape)

    out._backward = _backward
    return out


def transpose(x: Tensor, *axes: Any) -> Tensor:
    r"""out = x with permuted axes (numpy semantics);  dx = g with the inverse permutation"""
    if len(axes) == 1 and isinstance(axes[0], (tuple, list)):
        axes = tuple(axes[0])
    perm = tuple(axes) if axes else tuple(reversed(range(x.ndim)))
    out = Tensor(x.data.transpose(perm), (x,), "transpose")

    def _backward() -> None:
        x.grad += out.grad.transpose(np.argsort(perm))

    out._backward = _backward
    return out


def getitem(x: Tensor, idx: Any) -> Tensor:
    r"""out = x[idx];  dx[idx] += g (repeated indices accumulate)"""
    if isinstance(idx, Tensor):
        idx = idx.data.astype(np.intp)
    elif isinstance(idx, tuple):
        idx = tuple(i.data.astype(np.intp) if isinstance(i, Tensor) else i for i in idx)
    out = Tensor(x.data[idx], (x,), "getitem")

    def _backward() -> None:
        np.add.at(x.grad, idx, out.grad)

    out._backward = _backward
    return out


def softmax(x: Tensor, axis: int = -1) -> Tensor:
    r"""s = e^(x - max x) / sum e^(x - max x);  dx = s * (g - sum(g * s))"""
    e = np.exp(x.data - x.data.max(axis=axis, keepdims=True))
    out = Tensor(e / e.sum(axis=axis, keepdims=True), (x,), "softmax")

    def _backward() -> None:
        s, g = out.data, out.grad
        x.grad += s * (g - (g * s).sum(axis=axis, keepdims=True))

    out._backward = _backward
    return out


def log_softmax(x: Tensor, axis: int = -1) -> Tensor:
    r"""out = (x - max x) - ln sum e^(x - max x);  dx = g - softmax(x) * sum(g)"""
    shifted = x.data - x.data.max(axis=axis, keepdims=True)
    out = Tensor(shifted - np.log(np.exp(shifted).sum(axis=axis, keepdims=True)), (x,), "logsm")

    def _backward() -> None:
        g = out.grad
        x.grad += g - np.exp(out.data) * g.sum(axis=axis, keepdims=True)

    out._backward = _backward
    return out


def cross_entropy(logits: Tensor, targets: Tensor | ArrayLike) -> Tensor:
    r"""loss = -mean_i log_softmax(logits)[i, t_i] (derived: no gradient rule of its own)

    Args:
        logits: shape (N, C), unnormalised class scores.
        targets: N integer class indices in [0, C).
    """
    t = np.asarray(targets.data if isinstance(targets, Tensor) else targets)
    if logits.ndim != 2:
        raise ValueError(f"cross_entropy: logits must be (N, C), got shape {logits.shape}")
    n, c = logits.shape
    if t.shape != (n,) or (t.dtype.kind not in "iu" and not np.all(t == np.round(t))):
        raise ValueError(f"cross_entropy: targets must be {n} integer class indices, got {t!r}")
    t = t.astype(np.intp)
    if t.size and (t.min() < 0 or t.max() >= c):
        raise ValueError(f"cross_entropy: targets must lie in [0, {c}), got {t.min()}..{t.max()}")
    picked = getitem(log_softmax(logits, axis=1), (np.arange(n), t))
    return -mean(picked)


Tensor.__matmul__ = matmul  # type: ignore[operator]
Tensor.__rmatmul__ = rmatmul  # type: ignore[attr-defined]
Tensor.matmul = matmul  # type: ignore[attr-defined]
Tensor.exp = exp  # type: ignore[attr-defined]
Tensor.log = log  # type: ignore[attr-defined]
Tensor.relu = relu  # type: ignore[attr-defined]
Tensor.tanh = tanh  # type: ignore[attr-defined]
Tensor.sigmoid = sigmoid  # type: ignore[attr-defined]
Tensor.mean = mean  # type: ignore[attr-defined]
Tensor.max = amax  # type: ignore[attr-defined]
Tensor.reshape = reshape  # type: ignore[attr-defined]
Tensor.transpose = transpose  # type: ignore[attr-defined]
Tensor.T = property(transpose)  # type: ignore[attr-defined]
Tensor.__getitem__ = getitem  # type: ignore[misc]
Tensor.softmax = softmax  # type: ignore[attr-defined]
Tensor.log_softmax = log_softmax  # type: ignore[attr-defined]
