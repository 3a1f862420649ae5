"""Learner-side helpers for specs: numpy only (they run inside the sandbox)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np


def data_of(value: Any) -> np.ndarray:
    """The numpy array inside a tensor (or the value itself as an array)."""
    return np.asarray(getattr(value, "data", value))


def learner_op(
    Tensor: type,
    fn: Callable[..., Any],
    inputs: dict[str, np.ndarray],
    args: Sequence[str] = ("x",),
    grad: str | None = "g",
) -> dict[str, np.ndarray]:
    """Run ``fn(*tensors)`` with the learner's ``Tensor`` and backpropagate ``inputs[grad]``.

    Returns ``{"out": ..., "<arg>.grad": ...}`` (no gradients when ``grad`` is None).
    """
    tensors = [Tensor(inputs[name]) for name in args]
    out = fn(*tensors)
    result = {"out": data_of(out)}
    if grad is not None:
        out.backward(inputs[grad])
        result.update(
            {f"{name}.grad": data_of(t.grad) for name, t in zip(args, tensors, strict=True)}
        )
    return result
