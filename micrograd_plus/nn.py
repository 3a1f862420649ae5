"""Lab 1.7.3 — layers: modules that hold parameters and compose.

A :class:`Module` finds its parameters by looking through its attributes
(tensors, other modules, and lists, tuples or dicts of them), so a model is
plain Python: assign layers in ``__init__``, use them in ``forward``.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from typing import Any

import numpy as np

from micrograd_plus import ops
from micrograd_plus.tensor import Tensor

_rng = np.random.default_rng()


def manual_seed(seed: int) -> None:
    """Seed the generator that initialises layers and draws dropout masks."""
    global _rng
    _rng = np.random.default_rng(seed)


def _children(value: Any, prefix: str) -> Iterator[tuple[str, Any]]:
    """The (name, item) pairs inside one attribute value, for the parameter search."""
    if isinstance(value, (list, tuple)):
        for i, item in enumerate(value):
            yield f"{prefix}.{i}", item
    elif isinstance(value, dict):
        for key, item in value.items():
            yield f"{prefix}.{key}", item
    else:
        yield prefix, value


def linear(x: Tensor, weight: Tensor, bias: Tensor | None = None) -> Tensor:
    r"""y = x W^T + b;  dx = g W,  dW = g^T x,  db = g summed over rows

    One fused operation instead of transpose, matmul and add: the same
    gradients, without the intermediate nodes and copies (``torch.nn.functional.linear``).
    """
    parents = (x, weight) if bias is None else (x, weight, bias)
    data = x.data @ weight.data.T
    if bias is not None:
        data += bias.data
    out = Tensor(data, parents, "linear")

    def _backward() -> None:
        g = out.grad.reshape(-1, out.shape[-1])
        if x.requires_grad:
            x.grad += (g @ weight.data).reshape(x.shape)
        weight.grad += g.T @ x.data.reshape(-1, x.shape[-1])
        if bias is not None:
            bias.grad += g.sum(axis=0)

    out._backward = _backward
    return out


class Module:
    """Base class of every layer and model."""

    training: bool = True

    def forward(self, *args: Any) -> Any:
        raise NotImplementedError(f"{type(self).__name__} must define forward()")

    def __call__(self, *args: Any) -> Any:
        return self.forward(*args)

    def named_parameters(self) -> list[tuple[str, Tensor]]:
        """Every tensor reachable through attributes, lists and dicts, once each, in order."""
        found: list[tuple[str, Tensor]] = []
        seen: set[int] = set()
        stack: list[tuple[str, Any]] = [("", self)]
        while stack:  # depth-first, attributes in definition order
            name, item = stack.pop()
            if id(item) in seen:
                continue
            if isinstance(item, Tensor):
                seen.add(id(item))
                found.append((name, item))
            elif isinstance(item, Module):
                seen.add(id(item))
                pending = [
                    pair
                    for key, value in vars(item).items()
                    for pair in _children(value, f"{name}.{key}" if name else key)
                ]
                stack.extend(reversed(pending))
            elif isinstance(item, (list, tuple, dict)):
                stack.extend(reversed(list(_children(item, name))))
        return found

    def parameters(self) -> list[Tensor]:
        """The trainable tensors of this module and of every module inside it."""
        return [p for _, p in self.named_parameters()]

    def modules(self) -> list[Module]:
        """This module and every module inside it."""
        found: list[Module] = []
        seen: set[int] = set()
        stack: list[Any] = [self]
        while stack:
            item = stack.pop()
            if isinstance(item, Module):
                if id(item) in seen:  # a shared module is listed once, as in torch
                    continue
                seen.add(id(item))
                found.append(item)
                stack.extend(reversed(list(vars(item).values())))
            elif isinstance(item, (list, tuple)):
                stack.extend(reversed(item))
            elif isinstance(item, dict):
                stack.extend(reversed(list(item.values())))
        return found

    def zero_grad(self) -> None:
        for p in self.parameters():
            p.zero_grad()

    def train(self, mode: bool = True) -> Module:
        """Switch this module and every module inside it to training mode."""
        for m in self.modules():
            m.training = mode
        return self

    def eval(self) -> Module:
        """Switch to evaluation mode (dropout off)."""
        return self.train(False)

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"  # layers without settings print like torch's: ReLU()


class Linear(Module):
    r"""y = x W^T + b, with W of shape (out, in), initialised like ``torch.nn.Linear``.

    W and b are drawn from U(-k, k) with k = 1/sqrt(in_features), so the
    output's scale does not grow or shrink with the layer's width.
    """

    def __init__(
        self, in_features: int, out_features: int, bias: bool = True, dtype: Any = np.float32
    ) -> None:
        if in_features <= 0 or out_features <= 0:
            raise ValueError(f"Linear({in_features}, {out_features}): sizes must be positive")
        self.in_features, self.out_features = in_features, out_features
        k = 1.0 / math.sqrt(in_features)
        self.weight = Tensor(_rng.uniform(-k, k, (out_features, in_features)).astype(dtype))
        self.bias = Tensor(_rng.uniform(-k, k, out_features).astype(dtype)) if bias else None

    def forward(self, x: Tensor) -> Tensor:
        if x.shape[-1] != self.in_features:
            raise ValueError(
                f"Linear expects inputs with {self.in_features} features, got shape {x.shape}"
            )
        return linear(x, self.weight, self.bias)

    def __repr__(self) -> str:
        return f"Linear({self.in_features}, {self.out_features}, bias={self.bias is not None})"


class ReLU(Module):
    def forward(self, x: Tensor) -> Tensor:
        return ops.relu(x)


class Tanh(Module):
    def forward(self, x: Tensor) -> Tensor:
        return ops.tanh(x)


class Sigmoid(Module):
    def forward(self, x: Tensor) -> Tensor:
        return ops.sigmoid(x)


class Dropout(Module):
    r"""Zero each element with probability p in training, scaling the rest by 1/(1-p).

    The scaling keeps every element's expected value unchanged, so nothing
    needs rescaling at evaluation time, when the layer is the identity.
    The last mask drawn is kept in ``self.mask``.
    """

    def __init__(self, p: float = 0.5) -> None:
        if not 0.0 <= p <= 1.0:
            raise ValueError(f"Dropout probability must be in [0, 1], got {p}")
        self.p = p
        self.mask: np.ndarray | None = None

    def forward(self, x: Tensor) -> Tensor:
        if not self.training or self.p == 0.0:
            return x
        keep = _rng.random(x.shape) >= self.p
        self.mask = keep
        scale = 0.0 if self.p == 1.0 else 1.0 / (1.0 - self.p)
        return x * (keep * scale).astype(x.dtype)

    def __repr__(self) -> str:
        return f"Dropout(p={self.p})"


class Flatten(Module):
    """(N, d1, d2, ...) -> (N, d1*d2*...)."""

    def forward(self, x: Tensor) -> Tensor:
        return ops.reshape(x, x.shape[0], -1)


class Sequential(Module):
    """Layers applied one after another."""

    def __init__(self, *layers: Module) -> None:
        self.layers = list(layers)

    def forward(self, x: Tensor) -> Tensor:
        for layer in self.layers:
            x = layer(x)
        return x

    def __getitem__(self, i: int) -> Module:
        return self.layers[i]

    def __len__(self) -> int:
        return len(self.layers)

    def __iter__(self) -> Iterator[Module]:
        return iter(self.layers)

    def __repr__(self) -> str:
        inner = "".join(f"\n  ({i}): {layer!r}" for i, layer in enumerate(self.layers))
        return f"Sequential({inner}\n)"


class CrossEntropyLoss(Module):
    """Mean cross-entropy of logits (N, C) against integer targets (N,)."""

    def forward(self, logits: Tensor, targets: Any) -> Tensor:
        return ops.cross_entropy(logits, targets)
