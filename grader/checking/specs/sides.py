"""The two sides of lab 1.7.1's backward programs: the learner's ``Tensor`` and torch.

A program (``grader.checking.specs.lab1.programs``) builds a graph from leaves, backpropagates
and returns the leaves to compare; it runs unchanged on :class:`LearnerSide` (numpy only: it
runs inside the sandbox) and on :class:`TorchSide` (float64, trusted side only).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from grader.checking.numpy_side import data_of, upstream
from grader.checking.spec import Inputs


class LearnerSide:
    """What a backward program needs from the learner's ``Tensor`` (numpy only)."""

    def __init__(self, Tensor: type, inputs: Inputs) -> None:
        self.Tensor, self.inputs = Tensor, inputs

    def leaf(self, name: str) -> Any:
        return self.Tensor(self.inputs[name])

    def backward(self, out: Any, seeded: bool = True) -> None:
        """``out.backward(g)`` with upstream values from the pool, or ``out.backward()``."""
        if seeded:
            out.backward(upstream(self.inputs["g"], data_of(out).shape))
        else:
            out.backward()

    def local(self, out: Any) -> None:
        """One node's rule alone: ``out.grad = g; out._backward()`` (not ``backward()``)."""
        out.grad = upstream(self.inputs["g"], data_of(out).shape).astype(data_of(out).dtype)
        out._backward()

    def zero_grad(self, t: Any) -> None:
        t.zero_grad()

    def grad(self, t: Any) -> np.ndarray:
        return data_of(t.grad)


class TorchSide:
    """The same program in torch float64 (graphs are retained so backward can run twice)."""

    def __init__(self, inputs: Inputs) -> None:
        import torch

        self.torch, self.inputs = torch, inputs

    def leaf(self, name: str) -> Any:
        return self.torch.tensor(self.inputs[name], dtype=self.torch.float64, requires_grad=True)

    def backward(self, out: Any, seeded: bool = True) -> None:
        g = self.torch.as_tensor(upstream(self.inputs["g"], tuple(out.shape))) if seeded else None
        out.backward(g, retain_graph=True)

    def local(self, out: Any) -> None:
        """One operation's gradient added into its inputs' (a graph of one node here)."""
        self.backward(out)

    def zero_grad(self, t: Any) -> None:
        t.grad.zero_()

    def grad(self, t: Any) -> np.ndarray:
        return np.zeros(tuple(t.shape)) if t.grad is None else t.grad.numpy()
