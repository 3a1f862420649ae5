"""Reference side of specs: PyTorch in float64. Runs only in trusted processes."""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping, Sequence
from typing import Any

import numpy as np


def torch_op(
    fn: Callable[..., Any],
    inputs: dict[str, np.ndarray],
    args: Sequence[str] = ("x",),
    grad: str | None = "g",
) -> dict[str, np.ndarray]:
    """``fn(*tensors)`` in torch float64 and, with ``grad``, ``torch.autograd.grad`` of every arg.

    Same keys as :func:`grader.checking.numpy_side.learner_op`.
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


def torch_cases(
    cases: Mapping[str, Callable[..., Any]],
    inputs: Mapping[str, np.ndarray],
    *,
    raw: Collection[str] = (),
    want: str = "out",
    pool: str = "g",
) -> dict[str, np.ndarray]:
    """The torch float64 side of :func:`~grader.checking.numpy_side.learner_cases` (same keys).

    Tensor parameters become float64 leaves; the gradients come from
    ``torch.autograd.grad`` with the same upstream values as the learner's.
    """
    import torch

    from grader.checking.numpy_side import case_params, upstream

    result: dict[str, np.ndarray] = {}
    for label, fn in cases.items():
        names = case_params(fn)
        tensors = {
            n: torch.tensor(inputs[n], dtype=torch.float64, requires_grad=True)
            for n in names
            if n not in raw
        }
        out = fn(**{n: tensors[n] if n in tensors else inputs[n] for n in names})
        value = out.detach().numpy()
        if want in ("out", "both"):
            result[label] = value
        if want in ("grad", "both"):
            g = torch.as_tensor(upstream(inputs[pool], tuple(value.shape)))
            grads = torch.autograd.grad(out, list(tensors.values()), g, allow_unused=True)
            for (n, t), d in zip(tensors.items(), grads, strict=True):
                result[f"{label}: {n}.grad"] = np.zeros(t.shape) if d is None else d.numpy()
    return result
