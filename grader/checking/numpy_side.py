"""Learner-side helpers for specs: numpy only (they run inside the sandbox)."""

from __future__ import annotations

import inspect
from collections.abc import Callable, Collection, Mapping, Sequence
from typing import Any

import numpy as np


def data_of(value: Any) -> np.ndarray:
    """The numpy array inside a tensor (or the value itself as an array)."""
    return np.asarray(getattr(value, "data", value))


class InputChanged(Exception):
    """An operation's forward pass changed the data of a tensor it was given."""


def unchanged(tensors: Mapping[str, Any], before: Mapping[str, np.ndarray]) -> None:
    """Raise :class:`InputChanged` when a forward pass left an input's data different from
    ``before`` (written in place, or replaced): the values its other uses would then read."""
    for name, tensor in tensors.items():
        now, was = data_of(tensor), before[name]
        if now.shape != was.shape:
            what = f"shape {now.shape} instead of {was.shape}"
        elif np.array_equal(now, was, equal_nan=now.dtype.kind == "f"):
            continue
        else:
            what = f"{int(np.count_nonzero(now != was))} of {was.size} elements differ"
        raise InputChanged(
            f"the forward pass changed its input {name}.data in place ({what} afterwards): "
            "an operation must leave its inputs' data as they were"
        )


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


def upstream(pool: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """An upstream gradient of ``shape``: the first elements of ``pool`` (drawn by the spec's rng).

    Specs draw one flat ``pool`` so that learner and reference seed every output,
    whatever its shape, with the same random values.
    """
    size = int(np.prod(shape, dtype=np.int64))
    if size > pool.size:
        raise ValueError(
            f"an output of shape {shape} needs {size} upstream values; pool has {pool.size}"
        )
    return pool[:size].reshape(shape).copy()


def case_params(fn: Callable[..., Any]) -> list[str]:
    """The parameter names of a case function: the input keys it is called with."""
    return list(inspect.signature(fn).parameters)


def learner_cases(
    Tensor: type,
    cases: Mapping[str, Callable[..., Any]],
    inputs: Mapping[str, np.ndarray],
    *,
    raw: Collection[str] = (),
    want: str = "out",
    pool: str = "g",
    local: bool = False,
) -> dict[str, np.ndarray]:
    """Run each case on fresh learner tensors; optionally backpropagate.

    Each case is ``label -> fn``; ``fn``'s parameter names are input keys. Those
    in ``raw`` are passed as plain arrays (indices, targets), the others as
    ``Tensor(inputs[name])``. A case whose forward pass changes the data of a tensor it was
    given raises :class:`InputChanged` (``relu`` clipping ``x.data`` in place: its values
    come out right, but every other use of ``x`` would read the clipped data).

    Args:
        Tensor: the tensor class to wrap inputs in.
        cases: ``{label: fn}``, e.g. ``{"a + b": lambda a, b: a + b}``.
        inputs: the spec's inputs.
        raw: parameter names passed as arrays, not tensors.
        want: ``"out"`` (forward values, keyed by label), ``"grad"`` (gradients, keyed
            ``"<label>: <name>.grad"``) or ``"both"``.
        pool: the input key holding the upstream-gradient pool (see :func:`upstream`).
        local: instead of ``out.backward(g)``, set ``out.grad = g`` and call
            ``out._backward()`` once: one node's gradient rule, without ``backward()``.

    Returns:
        Plain arrays, keyed as :func:`grader.checking.torch_side.torch_cases` keys them.
    """
    result: dict[str, np.ndarray] = {}
    for label, fn in cases.items():
        try:
            result.update(_learner_case(Tensor, label, fn, inputs, raw, want, pool, local))
        except Exception as exc:
            exc.check_case = label  # type: ignore[attr-defined]  # the report names the case
            raise
    return result


def _learner_case(
    Tensor: type,
    label: str,
    fn: Callable[..., Any],
    inputs: Mapping[str, np.ndarray],
    raw: Collection[str],
    want: str,
    pool: str,
    local: bool,
) -> dict[str, np.ndarray]:
    """One case of :func:`learner_cases`."""
    result: dict[str, np.ndarray] = {}
    names = case_params(fn)
    tensors = {n: Tensor(inputs[n]) for n in names if n not in raw}
    before = {n: data_of(t).copy() for n, t in tensors.items()}
    out = fn(**{n: tensors[n] if n in tensors else inputs[n] for n in names})
    unchanged(tensors, before)
    value = data_of(out)
    if want in ("out", "both"):
        result[label] = value
    if want in ("grad", "both"):
        g = upstream(inputs[pool], value.shape).astype(value.dtype)
        if local:
            out.grad = g
            out._backward()
        else:
            out.backward(g)
        result.update({f"{label}: {n}.grad": data_of(t.grad) for n, t in tensors.items()})
    return result
