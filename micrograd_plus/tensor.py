"""Lab 1.7.1 — the core tensor: an n-dimensional array that backpropagates.

``Tensor`` wraps a numpy array. Every operation returns a new tensor that
remembers its inputs (``_prev``), a label (``_op``) and a closure
(``_backward``) that pushes the output's gradient into the inputs' ``.grad``.
``backward()`` orders the graph with an *iterative* topological sort and calls
the closures from the output back to the leaves.

Only lab 1's operations live here: ``+ - * / **``, unary ``-`` and ``sum``.
Later labs attach more methods (``Tensor.relu = relu``), the way the quickstart
grows :class:`~micrograd_plus.value.Value`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

import numpy as np

ArrayLike = Any
"""Anything ``np.asarray`` accepts: numbers, (nested) lists, numpy arrays."""


def _noop() -> None:
    return None


def _to_array(data: ArrayLike, dtype: Any = None) -> np.ndarray:
    """Turn ``data`` into a floating numpy array.

    numpy floating input keeps its dtype (float64 stays float64); Python
    numbers, lists and integer or boolean arrays become float32.
    """
    if isinstance(data, Tensor):
        data = data.data
    if dtype is not None:
        return np.asarray(data, dtype=dtype)
    arr = np.asarray(data)
    if isinstance(data, (np.ndarray, np.generic)) and arr.dtype.kind == "f":
        return arr
    if arr.dtype.kind not in "biuf":
        raise TypeError(f"Tensor data must be numeric, got an array of dtype {arr.dtype}")
    return arr.astype(np.float32)


def unbroadcast(grad: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """Sum ``grad`` down to ``shape``, undoing numpy broadcasting.

    Broadcasting copies an input along new leading axes and along axes of
    size 1, so each copy's gradient must be added back into the original.

    >>> unbroadcast(np.ones((2, 3, 4)), (3, 1)).tolist()
    [[8.0], [8.0], [8.0]]
    """
    extra = grad.ndim - len(shape)
    if extra > 0:
        grad = grad.sum(axis=tuple(range(extra)))
    ones = tuple(i for i, n in enumerate(shape) if n == 1 and grad.shape[i] != 1)
    if ones:
        grad = grad.sum(axis=ones, keepdims=True)
    return grad


class Tensor:
    """An array with a gradient.

    Args:
        data: numbers, nested lists or a numpy array.
        _children: the tensors this one was computed from (set by operations).
        _op: a short label of the operation that made it (for graphs and errors).
        dtype: force a numpy dtype; by default numpy floats keep theirs and
            everything else becomes float32.
        requires_grad: ``False`` for inputs nobody needs the gradient of
            (a batch of images); operations may then skip work.
    """

    __array_priority__ = 1000  # make ``ndarray + Tensor`` call Tensor.__radd__
    grad: np.ndarray
    """d(output)/d(self), same shape and dtype as ``data``; zeros until backward fills it."""

    def __getattr__(self, name: str) -> Any:
        # ``grad`` is allocated on first use: a forward pass that is never
        # backpropagated (evaluation) allocates no gradient memory at all.
        if name == "grad":
            self.grad = np.zeros(self.data.shape, self.data.dtype)
            return self.grad
        raise AttributeError(f"'Tensor' object has no attribute '{name}'")

    def __init__(
        self,
        data: ArrayLike,
        _children: Iterable[Tensor] = (),
        _op: str = "",
        dtype: Any = None,
        requires_grad: bool = True,
    ) -> None:
        self.data: np.ndarray = _to_array(data, dtype)
        self._backward: Callable[[], None] = _noop
        self._prev: tuple[Tensor, ...] = tuple(_children)  # ordered: deterministic sums
        self._op = _op
        self.requires_grad = requires_grad

    # ------------------------------------------------------------------ info
    @property
    def shape(self) -> tuple[int, ...]:
        return self.data.shape

    @property
    def dtype(self) -> np.dtype:
        return self.data.dtype

    @property
    def ndim(self) -> int:
        return self.data.ndim

    @property
    def size(self) -> int:
        return int(self.data.size)

    def item(self) -> float:
        """The value of a one-element tensor as a Python float."""
        return float(self.data.item())

    def numpy(self) -> np.ndarray:
        return self.data

    def __len__(self) -> int:
        return len(self.data)

    def __repr__(self) -> str:
        body = np.array2string(self.data, precision=4, separator=", ", prefix="Tensor(")
        op = f", op='{self._op}'" if self._op else ""
        return f"Tensor({body}, dtype={self.dtype}{op})"

    def _lift(self, other: Tensor | ArrayLike) -> Tensor:
        """Wrap a non-tensor operand in this tensor's dtype (numbers never upcast)."""
        if isinstance(other, Tensor):
            return other
        return Tensor(np.asarray(other, dtype=self.dtype), requires_grad=False)

    # ------------------------------------------------------------ primitives
    def __add__(self, other: Tensor | ArrayLike) -> Tensor:
        r"""out = a + b;  da = g, db = g (each reduced to its own shape)"""
        other = self._lift(other)
        out = Tensor(self.data + other.data, (self, other), "+")

        def _backward() -> None:
            self.grad += unbroadcast(out.grad, self.shape)
            other.grad += unbroadcast(out.grad, other.shape)

        out._backward = _backward
        return out

    def __mul__(self, other: Tensor | ArrayLike) -> Tensor:
        r"""out = a * b;  da = g * b, db = g * a"""
        other = self._lift(other)
        out = Tensor(self.data * other.data, (self, other), "*")

        def _backward() -> None:
            self.grad += unbroadcast(out.grad * other.data, self.shape)
            other.grad += unbroadcast(out.grad * self.data, other.shape)

        out._backward = _backward
        return out

    def __pow__(self, k: float) -> Tensor:
        r"""out = a ** k for a number k;  da = g * k * a^(k-1)"""
        if not isinstance(k, (int, float, np.integer, np.floating)):
            raise TypeError("Tensor ** takes a number as exponent (use exp/log for a tensor one)")
        out = Tensor(self.data**k, (self,), f"**{k}")

        def _backward() -> None:
            if k != 0:  # x**0 is constant: its gradient is 0 even at x = 0, where 0 * 0**-1 is NaN
                self.grad += out.grad * k * self.data ** (k - 1)

        out._backward = _backward
        return out

    def sum(self, axis: int | tuple[int, ...] | None = None, keepdims: bool = False) -> Tensor:
        r"""out = sum of a over axis;  da = g broadcast back to a's shape"""
        out = Tensor(self.data.sum(axis=axis, keepdims=keepdims), (self,), "sum")

        def _backward() -> None:
            g = out.grad
            if axis is not None and not keepdims:
                g = np.expand_dims(g, axis)
            self.grad += np.broadcast_to(g, self.shape)

        out._backward = _backward
        return out

    # --------------------------------------------------------- derived ops
    def __neg__(self) -> Tensor:
        return self * -1.0

    def __radd__(self, other: ArrayLike) -> Tensor:
        return self + other

    def __sub__(self, other: Tensor | ArrayLike) -> Tensor:
        return self + (-self._lift(other))

    def __rsub__(self, other: ArrayLike) -> Tensor:
        return self._lift(other) + (-self)

    def __rmul__(self, other: ArrayLike) -> Tensor:
        return self * other

    def __truediv__(self, other: Tensor | ArrayLike) -> Tensor:
        return self * self._lift(other) ** -1.0

    def __rtruediv__(self, other: ArrayLike) -> Tensor:
        return self._lift(other) * self**-1.0

    # ------------------------------------------------------------- autograd
    def _topological_order(self) -> list[Tensor]:
        """Every node this tensor depends on, children before parents.

        An explicit stack instead of recursion: a 100,000-step chain works.
        """
        order: list[Tensor] = []
        visited: set[int] = set()
        stack: list[tuple[Tensor, bool]] = [(self, False)]
        while stack:
            node, children_done = stack.pop()
            if children_done:
                order.append(node)
                continue
            if id(node) in visited:
                continue
            visited.add(id(node))
            stack.append((node, True))
            stack.extend((child, False) for child in node._prev if id(child) not in visited)
        return order

    def backward(self, grad: Tensor | ArrayLike | None = None) -> None:
        """Add d(self)/d(node) · grad into ``node.grad`` for every node upstream.

        Args:
            grad: the gradient of some final scalar with respect to this tensor.
                Optional for a one-element tensor (the seed is 1).

        Leaves accumulate across calls, like PyTorch; the gradients of
        intermediate nodes are recomputed from zero on every call.
        """
        if grad is None:
            if self.data.size != 1:
                raise RuntimeError(
                    f"backward() without a gradient needs a one-element tensor, but this one "
                    f"has shape {self.shape}; call backward(grad) with an array of that shape"
                )
            seed = np.ones_like(self.data)
        else:
            seed = np.asarray(grad.data if isinstance(grad, Tensor) else grad, dtype=self.dtype)
            if seed.shape != self.shape:
                raise ValueError(
                    f"backward(grad): grad has shape {seed.shape} but the tensor has {self.shape}"
                )
        order = self._topological_order()
        for node in order:
            if node._prev:  # intermediate: forget an earlier backward's gradient
                vars(node).pop("grad", None)
        self.grad += seed
        for node in reversed(order):
            node._backward()

    def zero_grad(self) -> None:
        """Reset this tensor's gradient to zeros (in place: no new memory each step)."""
        grad = vars(self).get("grad")
        if grad is not None and grad.shape == self.data.shape and grad.dtype == self.data.dtype:
            grad.fill(0)
        else:
            self.grad = np.zeros(self.data.shape, self.data.dtype)
