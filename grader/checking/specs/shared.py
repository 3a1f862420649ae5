"""Register a check in one call from its sides, and the other helpers labs 1.7.3–1.7.5 share.

The sides helpers of :mod:`grader.checking.specs.layers` and :mod:`grader.checking.specs.training`
return a check's learner and reference sides (and its compare, where it has one)
as one tuple; :func:`add_check` takes that tuple as it is. A lab's checks that
repeat a pattern are tables, one row per check, and each table's function turns a
row into one :func:`add_check` call; one-of-a-kind checks call it themselves.
The torch helpers import torch when called: only reference sides call them.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from grader.checking.compare import Row
from grader.checking.spec import Hint, Inputs, Spec, spec

Side = Callable[..., dict[str, Any]]
"""A learner side ``(inputs, *symbols) -> outputs`` or a reference side ``inputs -> outputs``."""
Compare = Callable[..., list[Row]]
"""A check's own comparison ``(got, expected, inputs) -> rows`` (statistical checks)."""
MakeInputs = Callable[[np.random.Generator], Inputs]
"""A check's inputs, drawn from the generator the grader seeds."""


def add_check(
    check_id: str,
    points: float,
    symbols: tuple[str, ...],
    inputs: MakeInputs,
    sides: tuple[Side, Side] | tuple[Side, Side, Compare],
    hint: Hint,
    *,
    hidden: bool = False,
    **tolerances: float,
) -> Spec:
    """Register one check; ``sides`` is (learner, reference) or (learner, reference, compare)."""
    learner, reference, *compare = sides
    return spec(
        id=check_id,
        points=points,
        symbols=symbols,
        inputs=inputs,
        learner=learner,
        reference=reference,
        compare=compare[0] if compare else None,
        hint=hint,
        hidden=hidden,
        **tolerances,
    )


def no_inputs(rng: np.random.Generator) -> Inputs:
    """The inputs of a check whose data is fixed (its learner side builds it): none."""
    return {}


def stat_row(name: str, ok: bool, expected: str, got: str, why: str) -> Row:
    """One row of a statistical or yes/no check (``why`` is shown when it fails)."""
    return Row(name, ok, "" if ok else why, expected=expected, got=got)


def torch_grad(t: Any) -> np.ndarray:
    """A copy of a torch tensor's gradient as numpy (zeros when backward never reached it)."""
    return np.zeros(tuple(t.shape)) if t.grad is None else t.grad.numpy().copy()


def torch_linear(weight: np.ndarray, bias: np.ndarray | None) -> Any:
    """A float64 ``torch.nn.Linear`` holding ``weight`` (out, in) and ``bias`` (None: no bias)."""
    import torch

    n_out, n_in = weight.shape
    layer = torch.nn.Linear(n_in, n_out, bias=bias is not None, dtype=torch.float64)
    with torch.no_grad():
        layer.weight.copy_(torch.tensor(weight))
        if bias is not None:
            layer.bias.copy_(torch.tensor(bias))
    return layer
