"""Quickstart: scalar reverse-mode autograd in the style of micrograd.

>>> a = Value(2.0); b = Value(3.0)
>>> c = a * b + a
>>> c.backward()
>>> c
Value(data=8.0000, grad=1.0000)
>>> a.grad, b.grad
(4.0, 2.0)
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable


class Value:
    """A scalar that remembers how it was computed, so it can backpropagate."""

    def __init__(self, data: float, _children: Iterable[Value] = (), _op: str = "") -> None:
        self.data = float(data)
        self.grad = 0.0
        self._backward: Callable[[], None] = lambda: None
        self._prev = set(_children)
        self._op = _op

    def __add__(self, other: Value | float) -> Value:
        r"""out = a + b;  da = 1, db = 1"""
        other = other if isinstance(other, Value) else Value(other)
        out = Value(self.data + other.data, (self, other), "+")

        def _backward() -> None:
            self.grad += out.grad
            other.grad += out.grad

        out._backward = _backward
        return out

    def __mul__(self, other: Value | float) -> Value:
        r"""out = a * b;  da = b, db = a"""
        other = other if isinstance(other, Value) else Value(other)
        out = Value(self.data * other.data, (self, other), "*")

        def _backward() -> None:
            self.grad += other.data * out.grad
            other.grad += self.data * out.grad

        out._backward = _backward
        return out

    def __pow__(self, k: float) -> Value:
        r"""out = a ** k (k a number);  da = k a^(k-1)"""
        if not isinstance(k, (int, float)):
            raise TypeError(f"Value ** only takes an int or float exponent, got {type(k).__name__}")
        out = Value(self.data**k, (self,), f"**{k}")

        def _backward() -> None:
            if k != 0:  # a**0 is constant: gradient 0, even at a = 0 (0.0 ** -1 would raise)
                self.grad += k * self.data ** (k - 1) * out.grad

        out._backward = _backward
        return out

    def relu(self) -> Value:
        r"""relu(a) = max(a, 0);  da = 1[a > 0]"""
        out = Value(self.data if self.data > 0 else 0.0, (self,), "relu")

        def _backward() -> None:
            self.grad += (out.data > 0) * out.grad

        out._backward = _backward
        return out

    def tanh(self) -> Value:
        r"""tanh(a);  da = 1 - tanh(a)^2"""
        t = math.tanh(self.data)
        out = Value(t, (self,), "tanh")

        def _backward() -> None:
            self.grad += (1 - t * t) * out.grad

        out._backward = _backward
        return out

    def exp(self) -> Value:
        r"""exp(a);  da = exp(a)"""
        out = Value(math.exp(self.data), (self,), "exp")

        def _backward() -> None:
            self.grad += out.data * out.grad

        out._backward = _backward
        return out

    def backward(self) -> None:
        """Fill ``.grad`` of every node this value depends on (d self / d node)."""
        order: list[Value] = []
        visited: set[int] = set()
        stack: list[tuple[Value, bool]] = [(self, False)]
        while stack:
            node, expanded = stack.pop()
            if expanded:
                order.append(node)
            elif id(node) not in visited:
                visited.add(id(node))
                stack.append((node, True))
                stack.extend((child, False) for child in node._prev)
        for node in order:  # leaves accumulate across calls, like PyTorch; the rest restart
            if node._prev:
                node.grad = 0.0
        self.grad += 1.0
        for node in reversed(order):
            node._backward()

    # Derived operations: no gradient rule of their own.
    def __neg__(self) -> Value:
        return self * -1

    def __radd__(self, other: float) -> Value:
        return self + other

    def __sub__(self, other: Value | float) -> Value:
        return self + (-other)

    def __rsub__(self, other: float) -> Value:
        return other + (-self)

    def __rmul__(self, other: float) -> Value:
        return self * other

    def __truediv__(self, other: Value | float) -> Value:
        return self * other**-1

    def __rtruediv__(self, other: float) -> Value:
        return other * self**-1

    def __repr__(self) -> str:
        return f"Value(data={self.data:.4f}, grad={self.grad:.4f})"
