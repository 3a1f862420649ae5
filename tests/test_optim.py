"""Optimizers and schedules (lab 1.7.4) step for step against torch.optim.

Both libraries optimise the same float64 parameters with the same gradients,
computed from the parameters by one numpy function each step, so the
comparison measures the update rules alone: 50 steps, rtol 1e-6.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
import torch

from micrograd_plus import optim
from micrograd_plus.tensor import Tensor

STEPS = 50
SHAPES = [(3, 4), (4,)]


def gradient(p: np.ndarray, i: int) -> np.ndarray:
    """A gradient that changes with the parameters (and sign), different for each parameter."""
    return p - 0.5 * (i + 1) + 0.3 * np.sin(3 * p)


def run_both(ours_cls: Any, torch_cls: Any, **options: Any) -> tuple[list[Tensor], list[Any]]:
    """Optimise the same parameters for STEPS steps in both libraries."""
    rng = np.random.default_rng(0)
    start = [rng.standard_normal(shape) for shape in SHAPES]
    ours = [Tensor(a.copy()) for a in start]
    theirs = [torch.tensor(a, requires_grad=True) for a in start]
    opt = ours_cls(ours, **options)
    topt = torch_cls(theirs, **options)
    for _ in range(STEPS):
        opt.zero_grad()
        topt.zero_grad()
        for i, (p, tp) in enumerate(zip(ours, theirs, strict=True)):
            p.grad += gradient(p.data, i)
            tp.grad = torch.from_numpy(gradient(tp.detach().numpy(), i))
        opt.step()
        topt.step()
    return ours, theirs


def assert_same_parameters(ours: list[Tensor], theirs: list[Any]) -> None:
    for i, (p, tp) in enumerate(zip(ours, theirs, strict=True)):
        np.testing.assert_allclose(
            p.data, tp.detach().numpy(), rtol=1e-6, atol=1e-9, err_msg=f"parameter {i}"
        )


SGD_OPTIONS = [
    dict(momentum=m, dampening=d, weight_decay=wd, nesterov=n)
    for m, d, wd, n in itertools.product([0.0, 0.9], [0.0, 0.3], [0.0, 0.1], [False, True])
]


def _ids(options: dict[str, Any]) -> str:
    return "-".join(f"{k}={v}" for k, v in options.items())


@pytest.mark.parametrize("options", SGD_OPTIONS, ids=_ids)
def test_sgd_matches_torch(options: dict[str, Any]) -> None:
    """Does SGD follow torch.optim.SGD for 50 steps, with every option combination?"""
    try:
        torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=0.05, **options)
    except ValueError:  # nesterov without momentum, or with dampening
        with pytest.raises(ValueError, match="Nesterov"):
            optim.SGD([Tensor([0.0])], lr=0.05, **options)
        return
    assert_same_parameters(*run_both(optim.SGD, torch.optim.SGD, lr=0.05, **options))


ADAM_OPTIONS = [
    dict(lr=lr, betas=betas, eps=eps, weight_decay=wd)
    for lr, betas, eps, wd in itertools.product(
        [1e-3, 0.05], [(0.9, 0.999), (0.5, 0.9)], [1e-8, 1e-2], [0.0, 1e-2, 0.1]
    )
]


@pytest.mark.parametrize("options", ADAM_OPTIONS, ids=_ids)
@pytest.mark.parametrize(
    ("ours_cls", "torch_cls"),
    [(optim.Adam, torch.optim.Adam), (optim.AdamW, torch.optim.AdamW)],
    ids=["Adam", "AdamW"],
)
def test_adam_and_adamw_match_torch(ours_cls: Any, torch_cls: Any, options: dict[str, Any]) -> None:
    """Do Adam and AdamW follow torch.optim for 50 steps, with every option combination?"""
    assert_same_parameters(*run_both(ours_cls, torch_cls, **options))


@pytest.mark.parametrize(
    ("ours_cls", "torch_cls"),
    [(optim.Adam, torch.optim.Adam), (optim.AdamW, torch.optim.AdamW)],
    ids=["Adam", "AdamW"],
)
def test_adam_defaults_match_torch(ours_cls: Any, torch_cls: Any) -> None:
    """Are the default lr, betas, eps and weight_decay torch's?"""
    assert_same_parameters(*run_both(ours_cls, torch_cls))
    ours = ours_cls([Tensor([0.0])])
    defaults = torch_cls([torch.zeros(1, requires_grad=True)]).defaults
    assert ours.lr == defaults["lr"] and tuple(ours.betas) == tuple(defaults["betas"])
    assert ours.eps == defaults["eps"] and ours.weight_decay == defaults["weight_decay"]


Factory = Callable[[list[Tensor]], Any]

INVALID: list[tuple[str, Factory, Factory]] = [
    ("empty", lambda p: optim.SGD([], lr=0.1), lambda p: torch.optim.SGD([], lr=0.1)),
    ("sgd-lr", lambda p: optim.SGD(p, lr=-1), lambda p: torch.optim.SGD(p, lr=-1)),
    (
        "momentum",
        lambda p: optim.SGD(p, lr=0.1, momentum=-0.5),
        lambda p: torch.optim.SGD(p, lr=0.1, momentum=-0.5),
    ),
    (
        "sgd-weight-decay",
        lambda p: optim.SGD(p, lr=0.1, weight_decay=-1),
        lambda p: torch.optim.SGD(p, lr=0.1, weight_decay=-1),
    ),
    ("adam-lr", lambda p: optim.Adam(p, lr=-1), lambda p: torch.optim.Adam(p, lr=-1)),
    ("eps", lambda p: optim.Adam(p, eps=-1), lambda p: torch.optim.Adam(p, eps=-1)),
    (
        "beta1",
        lambda p: optim.Adam(p, betas=(1.0, 0.9)),
        lambda p: torch.optim.Adam(p, betas=(1.0, 0.9)),
    ),
    (
        "beta2",
        lambda p: optim.AdamW(p, betas=(0.9, -0.1)),
        lambda p: torch.optim.AdamW(p, betas=(0.9, -0.1)),
    ),
    (
        "adam-weight-decay",
        lambda p: optim.Adam(p, weight_decay=-1),
        lambda p: torch.optim.Adam(p, weight_decay=-1),
    ),
]


@pytest.mark.parametrize(("name", "ours", "theirs"), INVALID, ids=[c[0] for c in INVALID])
def test_options_torch_rejects_are_rejected(name: str, ours: Factory, theirs: Factory) -> None:
    """Does every option torch.optim refuses raise a ValueError here too?"""
    with pytest.raises(ValueError):
        theirs([torch.zeros(1, requires_grad=True)])
    with pytest.raises(ValueError):
        ours([Tensor([0.0])])


@pytest.mark.parametrize(
    "make",
    [
        lambda p: optim.SGD(p, lr=0.1, momentum=0.9, weight_decay=0.1, nesterov=True),
        lambda p: optim.SGD(p, lr=0.1),
        lambda p: optim.Adam(p, weight_decay=0.1),
        lambda p: optim.AdamW(p),
    ],
    ids=["sgd-nesterov", "sgd", "adam", "adamw"],
)
def test_float32_parameters_stay_float32(make: Factory) -> None:
    """Does a step keep float32 parameters (and their state) in float32?"""
    p = Tensor(np.ones(3, dtype=np.float32))
    opt = make([p])
    for _ in range(3):
        opt.zero_grad()
        (p * p).sum().backward()
        opt.step()
    assert p.dtype == np.float32 and p.grad.dtype == np.float32
    assert p.data[0] < 1.0


def test_zero_grad_clears_every_parameter() -> None:
    """Does the optimizer's zero_grad() reset every parameter's gradient?"""
    params = [Tensor(np.ones(2)), Tensor(np.ones(3))]
    opt = optim.SGD(params, lr=0.1)
    for p in params:
        (p * p).sum().backward()
    opt.zero_grad()
    assert not any(p.grad.any() for p in params)


def test_replaced_data_and_grad_are_still_optimised() -> None:
    """Does a step use a parameter's new data and grad arrays (load_parameters, p.grad = ...)?"""
    p, q = Tensor(np.ones(3)), Tensor(np.zeros((2, 2)))
    opt = optim.SGD([p, q], lr=0.5)
    p.data = np.full(3, 4.0)
    p.grad = np.ones(3)
    q.grad += 2.0
    opt.step()
    np.testing.assert_array_equal(p.data, np.full(3, 3.5))
    np.testing.assert_array_equal(q.data, np.full((2, 2), -1.0))
    opt.zero_grad()
    assert not p.grad.any() and not q.grad.any()


def test_state_is_per_parameter_and_dtypes_are_kept() -> None:
    """Are m and v one array per parameter, and do mixed float32/float64 parameters keep theirs?"""
    a, b = Tensor(np.ones(2, dtype=np.float32)), Tensor(np.ones((3, 1)))
    opt = optim.Adam([a, b, a], lr=0.1)  # a repeated parameter is updated once per step
    (a.sum() + (b * b).sum()).backward()
    opt.step()
    assert [m.shape for m in opt.m] == [(2,), (3, 1), (2,)] and opt.m[0] is opt.m[2]
    assert a.dtype == np.float32 and b.dtype == np.float64 and opt.v[1].dtype == np.float64
    np.testing.assert_allclose(a.data, 0.9, rtol=1e-6)
    np.testing.assert_allclose(b.data, 0.9)


def test_a_parameter_that_changes_shape_is_refused() -> None:
    """Does a step refuse a parameter whose data was replaced by an array of another shape?"""
    p = Tensor(np.ones(3))
    opt = optim.Adam([p])
    p.data = np.ones(4)
    with pytest.raises(ValueError, match="changed shape"):
        opt.step()


SCHEDULES = [
    (
        "step",
        lambda o: optim.StepLR(o, step_size=3, gamma=0.5),
        lambda o: torch.optim.lr_scheduler.StepLR(o, step_size=3, gamma=0.5),
    ),
    (
        "cosine",
        lambda o: optim.CosineAnnealingLR(o, T_max=10),
        lambda o: torch.optim.lr_scheduler.CosineAnnealingLR(o, T_max=10),
    ),
    (
        "cosine-eta-min",
        lambda o: optim.CosineAnnealingLR(o, T_max=7, eta_min=0.01),
        lambda o: torch.optim.lr_scheduler.CosineAnnealingLR(o, T_max=7, eta_min=0.01),
    ),
]


@pytest.mark.parametrize(("name", "ours", "theirs"), SCHEDULES, ids=[s[0] for s in SCHEDULES])
def test_schedules_match_torch(name: str, ours: Any, theirs: Any) -> None:
    """Does the learning rate follow torch's scheduler epoch by epoch (past T_max too)?"""
    opt = optim.SGD([Tensor([0.0])], lr=0.1)
    topt = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=0.1)
    schedule, tschedule = ours(opt), theirs(topt)
    for epoch in range(25):
        assert opt.lr == pytest.approx(topt.param_groups[0]["lr"], rel=1e-9, abs=1e-12), epoch
        topt.step()
        schedule.step()
        tschedule.step()
