"""Reference side of specs: PyTorch in float64. Runs only in trusted processes."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np


def torch_op(
    fn: Callable[..., Any],
    inputs: dict[str, np.ndarray],
    args: Sequence[str] = ("x",),
    grad: str | None = "g",
) -> dict[str, np.ndarray]:
    """``fn(*tensors)`` in torch float64 and, with ``grad``, ``torch.autograd.grad`` of every arg.

    Same keys as :func:`grader.harness.learner_op`.
    """
    import torch

    tensors = [torch.tensor(inputs[name], dtype=torch.float64, requires_grad=True) for name in args]
    out = fn(*tensors)
    result = {"out": out.detach().numpy()}
    if grad is not None:
        grads = torch.autograd.grad(
            out, tensors, torch.as_tensor(inputs[grad], dtype=torch.float64), allow_unused=True
        )
        for name, t, g in zip(args, tensors, grads, strict=True):
            result[f"{name}.grad"] = np.zeros(t.shape) if g is None else g.numpy()
    return result
