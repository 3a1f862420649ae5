"""Checks of lab 1.7.4 (optimizers): each optimizer step by step against ``torch.optim``.

The optimizers: ``Optimizer.zero_grad``, ``SGD`` (momentum, dampening, Nesterov,
weight decay), ``Adam`` (bias correction, L2 weight decay) and ``AdamW``
(decoupled decay).

Each optimizer check starts the learner's optimizer and ``torch.optim``'s from
the same parameters, feeds both the same fixed sequence of gradients, and
compares the parameters after EVERY step (float64, rtol 1e-6): the first index
of a mismatch in the report is the step number (0 = after the first step).
These checks are one table, a :class:`Run` per check, with their hints in
:data:`HINTS`; the hidden checks are a table of the same rows.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from grader.checking.spec import Hint, Inputs
from grader.checking.specs.shared import Side, add_check, torch_grad
from micrograd_plus.tensor import Tensor

SHAPES = ((3, 4), (4,))
"""Two parameters, so that state kept per parameter (momentum buffers, m and v) is exercised."""


def trajectory_inputs(
    shapes: Sequence[tuple[int, ...]], steps: int, spread: float = 0.0
) -> Callable[[np.random.Generator], Inputs]:
    """Initial parameters ``p<i>`` and gradients ``g<i>`` of shape ``(steps, *shape)``.

    Gradients have random signs and magnitudes 0.5 + |N(0, 1)|: never near zero, so that
    Adam's eps only matters in the checks that mean it to (small eps is invisible next to
    sqrt(v) >= 0.5). With ``spread`` > 0 each gradient element gets its own scale 10**u,
    u ~ U(-spread, spread): gradients from 10**-spread to 10**spread.
    """

    def inputs(rng: np.random.Generator) -> Inputs:
        out = {}
        for i, shape in enumerate(shapes):
            out[f"p{i}"] = rng.normal(size=shape)
            normal = rng.normal(size=(steps, *shape))
            grads = np.sign(normal) * (0.5 + np.abs(normal))
            if spread:
                grads *= 10.0 ** rng.uniform(-spread, spread, size=shape)
            out[f"g{i}"] = grads
        return out

    return inputs


def trajectory_sides(
    torch_name: str, options: dict[str, Any], lrs: Sequence[float] | None = None
) -> tuple[Side, Side]:
    """Learner and reference sides: N steps of ``Optimizer(params, **options)``.

    With ``lrs``, the learning rate is set to ``lrs[t]`` before step t (``opt.lr`` for the
    learner, ``param_groups[0]["lr"]`` for torch), as a schedule does.
    """

    def names(inputs: Inputs) -> list[str]:
        return sorted(k for k in inputs if k.startswith("p"))

    def learner(inputs: Inputs, Optimizer: type) -> dict[str, Any]:
        params = [Tensor(inputs[name].copy()) for name in names(inputs)]
        opt = Optimizer(params, **options)
        steps = len(inputs["g0"])
        history: list[list[np.ndarray]] = [[] for _ in params]
        for t in range(steps):
            if lrs is not None:
                opt.lr = lrs[t]
            for i, p in enumerate(params):
                p.grad = inputs[f"g{i}"][t].copy()
            opt.step()
            for i, p in enumerate(params):
                history[i].append(np.array(p.data, dtype=np.float64))
        return {
            f"p{i} after each step (index: step, element)": np.stack(h)
            for i, h in enumerate(history)
        }

    def reference(inputs: Inputs) -> dict[str, Any]:
        import torch

        params = [torch.tensor(inputs[name], requires_grad=True) for name in names(inputs)]
        opt = getattr(torch.optim, torch_name)(params, **options)
        steps = len(inputs["g0"])
        history: list[list[np.ndarray]] = [[] for _ in params]
        for t in range(steps):
            if lrs is not None:
                opt.param_groups[0]["lr"] = lrs[t]
            for i, p in enumerate(params):
                p.grad = torch.tensor(inputs[f"g{i}"][t])
            opt.step()
            for i, p in enumerate(params):
                history[i].append(p.detach().numpy().copy())
        return {
            f"p{i} after each step (index: step, element)": np.stack(h)
            for i, h in enumerate(history)
        }

    return learner, reference


@dataclass(frozen=True)
class Run:
    """One optimizer check: ``steps`` steps of ``optimizer(params, **options)`` against
    ``torch.optim.<optimizer>``, on parameters of ``shapes``; its id is ``lab4.<name>``.

    ``spread`` widens the range of gradient magnitudes (see :func:`trajectory_inputs`);
    ``lrs``, one learning rate per step, changes the learning rate between steps.
    """

    name: str
    points: float
    optimizer: str
    steps: int
    options: dict[str, Any]
    shapes: Sequence[tuple[int, ...]] = SHAPES
    spread: float = 0.0
    lrs: Sequence[float] | None = None

    def __post_init__(self) -> None:
        if self.lrs is not None and len(self.lrs) != self.steps:
            raise ValueError(f"{self.name}: {len(self.lrs)} learning rates for {self.steps} steps")


def optimizer_checks(runs: Sequence[Run], hints: Mapping[str, Hint], hidden: bool = False) -> None:
    """One step-by-step comparison with ``torch.optim`` per row of the table ``runs``."""
    for run in runs:
        add_check(
            f"lab4.{run.name}",
            run.points,
            (run.optimizer,),
            trajectory_inputs(run.shapes, run.steps, run.spread),
            trajectory_sides(run.optimizer, run.options, run.lrs),
            hints[run.name],
            hidden=hidden,
        )


# --------------------------------------------------------------- zero_grad
DTYPES = (np.float64, np.float32)
"""The dtypes of the zero_grad check's two parameters: a float32 model's gradients must stay
float32 (``np.zeros(shape)`` would make them float64, silently doubling every update's cost)."""


def bits(array: Any) -> np.ndarray:
    """An array's dtype as its number of bits (a ``... bits`` output compares dtypes)."""
    return np.array(8 * np.asarray(array).dtype.itemsize)


def _zero_grad_learner(inputs: Inputs, Optimizer: type) -> dict[str, Any]:
    params = [Tensor(inputs[f"p{i}"].astype(d)) for i, d in enumerate(DTYPES)]
    for i, (p, d) in enumerate(zip(params, DTYPES, strict=True)):
        p.grad = inputs[f"g{i}"][0].astype(d)
    Optimizer(params, lr=0.1).zero_grad()
    out = {f"p{i}.grad after zero_grad": np.array(p.grad) for i, p in enumerate(params)}
    out.update({f"p{i}.grad after zero_grad bits": bits(p.grad) for i, p in enumerate(params)})
    out.update({f"p{i} after zero_grad": np.array(p.data) for i, p in enumerate(params)})
    loss = (params[0] * inputs["g0"][1]).sum() + (params[1] * inputs["g1"][1]).sum()
    loss.backward()
    out.update({f"p{i}.grad after a new backward": p.grad for i, p in enumerate(params)})
    return out


def _zero_grad_reference(inputs: Inputs) -> dict[str, Any]:
    import torch

    kinds = (torch.float64, torch.float32)
    params = [
        torch.tensor(inputs[f"p{i}"], dtype=d, requires_grad=True) for i, d in enumerate(kinds)
    ]
    for i, (p, d) in enumerate(zip(params, kinds, strict=True)):
        p.grad = torch.tensor(inputs[f"g{i}"][0], dtype=d)
    torch.optim.SGD(params, lr=0.1).zero_grad(set_to_none=False)
    out = {f"p{i}.grad after zero_grad": torch_grad(p) for i, p in enumerate(params)}
    out.update(
        {f"p{i}.grad after zero_grad bits": bits(torch_grad(p)) for i, p in enumerate(params)}
    )
    out.update({f"p{i} after zero_grad": p.detach().numpy().copy() for i, p in enumerate(params)})
    loss = sum((p * torch.tensor(inputs[f"g{i}"][1])).sum() for i, p in enumerate(params))
    loss.backward()  # type: ignore[union-attr]
    out.update({f"p{i}.grad after a new backward": torch_grad(p) for i, p in enumerate(params)})
    return out


add_check(
    "lab4.optimizer.zero_grad",
    6,
    ("Optimizer",),
    trajectory_inputs(SHAPES, 2),
    (_zero_grad_learner, _zero_grad_reference),
    "zero_grad() resets the gradient of every parameter in self.params to zeros of the "
    "parameter's shape and dtype (an array, not None); it leaves the values alone",
)

# ------------------------------------------------------- SGD, Adam, AdamW

ADAM_HINT = (
    "one m and one v per parameter, kept between steps: m a running average of the gradient "
    "(weight b1), v of its element-wise square (weight b2); both divided by their bias "
    "corrections, then each element moves by lr times m over (the root of v plus eps); the "
    "step count t starts at 1"
)
HINTS = {
    "sgd.plain": (
        "plain SGD: every step moves each parameter's data against its gradient by lr times "
        "the gradient (change the data, in place or as a new array; never replace the Tensor)"
    ),
    "sgd.momentum": (
        "one buffer per parameter, kept between steps: at the first step it is the gradient "
        "itself, after that momentum times the old buffer plus the new gradient; the parameter "
        "moves by lr times the buffer"
    ),
    "sgd.dampening": (
        "with dampening d the new gradient enters the buffer scaled by (1 - d), except at the "
        "FIRST step, where torch starts the buffer as the gradient itself (no dampening): a "
        "buffer started at zeros gets that step wrong"
    ),
    "sgd.nesterov": (
        "Nesterov: update the buffer as usual, then step along the gradient plus momentum "
        "times the buffer (not along the buffer alone)"
    ),
    "sgd.weight_decay": (
        "weight decay adds wd times the parameter's values to its gradient, before anything "
        "else uses the gradient"
    ),
    "sgd.weight_decay_momentum": (
        "the decayed gradient (gradient plus wd times the values) goes INTO the momentum "
        "buffer; adding the decay after the momentum gives a different optimizer"
    ),
    "adam.default": ADAM_HINT,
    "adam.bias_correction": (
        "without bias correction the first steps are far too small (m and v start at 0): divide "
        "m by (1 - b1^t) and v by (1 - b2^t), with t = 1 at the first step; then even gradients "
        "of size 1e-4 or 1e4 move each parameter by about lr"
    ),
    "adam.betas_eps": (
        "use the betas and eps you are given (self.betas, self.eps); eps goes OUTSIDE the square "
        "root: sqrt(v_hat) + eps"
    ),
    "adam.weight_decay": (
        "Adam's weight_decay is L2, as in torch.optim.Adam: wd times the values is added to "
        "the gradient before m and v see it"
    ),
    "adamw": (
        "AdamW decouples the decay: first shrink the values by the factor (1 - lr * wd), then "
        "a plain Adam step with the raw gradient (the decay never enters m or v)"
    ),
}
"""The hints of the optimizer checks, by name."""

# fmt: off
optimizer_checks([
    #   name                        points optimizer steps options
    Run("sgd.plain",                  10, "SGD",   20, dict(lr=0.1)),
    Run("sgd.momentum",               10, "SGD",   30, dict(lr=0.05, momentum=0.9)),
    Run("sgd.dampening",               5, "SGD",   30, dict(lr=0.05, momentum=0.9, dampening=0.5)),
    Run("sgd.nesterov",                8, "SGD",   30, dict(lr=0.05, momentum=0.9, nesterov=True)),
    Run("sgd.weight_decay",            6, "SGD",   20, dict(lr=0.1, weight_decay=0.1)),
    Run("sgd.weight_decay_momentum",   5, "SGD",   30,
        dict(lr=0.05, momentum=0.9, weight_decay=0.1)),
    Run("adam.default",               12, "Adam",  30, dict(lr=0.01)),
    Run("adam.bias_correction",        6, "Adam",   5, dict(lr=0.01), spread=4.0),
    Run("adam.betas_eps",              6, "Adam",  20, dict(lr=0.05, betas=(0.5, 0.9), eps=1e-3)),
    Run("adam.weight_decay",           6, "Adam",  20, dict(lr=0.01, weight_decay=0.1)),
    Run("adamw",                       8, "AdamW", 20, dict(lr=0.01, weight_decay=0.1)),
], HINTS)
# fmt: on
