"""Misconceptions of lab 1.7.4 (optimizers): each wrong reference is ``torch.optim``'s own
optimizer, reconfigured or with its state changed between steps, run on the same trajectory."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from grader.checking.misconceptions.model import Misconception
from grader.checking.misconceptions.rules import attribute, rerun

SGD_MOMENTUM = (
    "lab4.sgd.momentum",
    "lab4.sgd.dampening",
    "lab4.sgd.momentum_shapes",
    "lab4.sgd.nesterov",
    "lab4.sgd.nesterov_weight_decay",
    "lab4.sgd.weight_decay_momentum",
    "lab4.sgd.lr_change",
)
ADAM = (
    "lab4.adam.default",
    "lab4.adam.bias_correction",
    "lab4.adam.betas_eps",
    "lab4.adam.weight_decay",
    "lab4.adam.shapes",
    "lab4.adamw",
    "lab4.adamw.custom",
)
OPTIM = "torch.optim"


def _options(change: dict[str, Any]) -> Any:
    """The optimizer built with some options replaced."""

    def make(original: Any) -> Any:
        def build(params: Any, **options: Any) -> Any:
            return original(params, **{**options, **change})

        return build

    return make


def _buffer_not_kept(original: Any) -> Any:
    class Forgetful(original):
        def step(self, closure: Any = None) -> Any:
            self.state.clear()  # every step starts a new momentum buffer
            return super().step(closure)

    return Forgetful


def _dampened_first_step(original: Any) -> Any:
    class DampenedStart(original):
        def step(self, closure: Any = None) -> Any:
            group = self.param_groups[0]
            for p in group["params"]:
                if p not in self.state or "momentum_buffer" not in self.state[p]:
                    p.grad = p.grad * (1 - group["dampening"])  # the first buffer, dampened
            return super().step(closure)

    return DampenedStart


def _decay_after_momentum(original: Any) -> Any:
    class DecayAfter(original):
        def __init__(self, params: Any, **options: Any) -> None:
            self.decay = options.pop("weight_decay", 0.0)
            super().__init__(params, **options)

        def step(self, closure: Any = None) -> Any:
            group = self.param_groups[0]
            before = [p.detach().clone() for p in group["params"]]
            super().step(closure)
            with __import__("torch").no_grad():
                for p, old in zip(group["params"], before, strict=True):
                    p -= group["lr"] * self.decay * old
            return None

    return DecayAfter


def _lr_read_once(original: Any) -> Any:
    class FirstRate(original):
        def step(self, closure: Any = None) -> Any:
            group = self.param_groups[0]
            self.first_lr = getattr(self, "first_lr", group["lr"])
            group["lr"] = self.first_lr
            return super().step(closure)

    return FirstRate


def _no_bias_correction(original: Any) -> Any:
    """torch's Adam with lr and eps rescaled at each step so that its bias correction cancels:
    ``lr * m / (sqrt(v) + eps)``."""

    class Uncorrected(original):
        def step(self, closure: Any = None) -> Any:
            group = self.param_groups[0]
            t = getattr(self, "t", 0) + 1
            self.t = t
            b1, b2 = group["betas"]
            root = math.sqrt(1 - b2**t)
            saved = {k: group[k] for k in ("lr", "eps", "weight_decay")}
            group["lr"] = saved["lr"] * (1 - b1**t) / root
            group["eps"] = saved["eps"] / root
            if group.get("decoupled_weight_decay", original.__name__ == "AdamW"):
                group["weight_decay"] = saved["weight_decay"] * saved["lr"] / group["lr"]
            try:
                return super().step(closure)
            finally:
                group.update(saved)

    return Uncorrected


def _step_per_parameter(original: Any) -> Any:
    """torch's Adam whose step count advances once per parameter: the i-th of n parameters
    sees t = n (s - 1) + i + 1 at step s."""

    class Overcounted(original):
        def step(self, closure: Any = None) -> Any:
            import torch

            params = self.param_groups[0]["params"]
            s = getattr(self, "s", 0) + 1
            self.s = s
            for i, p in enumerate(params):
                state = self.state[p]
                if not state:
                    state["exp_avg"] = torch.zeros_like(p, memory_format=torch.preserve_format)
                    state["exp_avg_sq"] = torch.zeros_like(p, memory_format=torch.preserve_format)
                state["step"] = torch.tensor(float(len(params) * (s - 1) + i))
            return super().step(closure)

    return Overcounted


def _float64_zeros(spec: Any, inputs: Any, got: Any) -> bool:
    """The float32 parameter's gradient came out of zero_grad as float64 zeros."""
    return int(got["p1.grad after zero_grad bits"]) == 64 and not np.any(
        got["p1.grad after zero_grad"]
    )


def _parameters_unchanged(spec: Any, inputs: Any, got: Any) -> bool:
    """Every parameter after every step is still its initial value."""
    keys = [k for k in got if k.endswith("after each step (index: step, element)")]
    return bool(keys) and all(
        np.array_equal(got[k], np.broadcast_to(inputs[k.split()[0]], np.shape(got[k])))
        for k in keys
    )


def _zero_grad_does_nothing(original: Any) -> Any:
    def zero_grad(self: Any, set_to_none: bool = True) -> None:
        return None

    return zero_grad


MISCONCEPTIONS = [
    Misconception(
        "lab4.zero_grad.no_effect",
        ("lab4.optimizer.zero_grad",),
        "Your zero_grad leaves the parameters' gradients as they were, so the next backward "
        "adds to the old ones. Binding zeros to a local name changes nothing outside the "
        "loop. Think about which object's attribute must hold the new zeros.",
        wrong=rerun(
            lambda: [(__import__("torch").optim.SGD, "zero_grad", _zero_grad_does_nothing(None))]
        ),
        planted=("zero-grad-rebinds-local",),
    ),
    Misconception(
        "lab4.step.parameters_unchanged",
        ("lab4.sgd.plain", "lab4.sgd.weight_decay", "lab4.sgd.shapes", *SGD_MOMENTUM, *ADAM),
        "Your step() computes new values but the parameters stay exactly as they were: the "
        "result is bound to a local name (p = p - ...) or to a copy, not stored in the "
        "parameter the model holds. Think about which object the model reads its weights from "
        "and which of its attributes must change.",
        observed=_parameters_unchanged,
        planted=("sgd-step-rebinds-local",),
    ),
    Misconception(
        "lab4.zero_grad.float64_zeros",
        ("lab4.optimizer.zero_grad",),
        "Your zero_grad makes float64 zeros for a float32 parameter: numpy's zeros default to "
        "float64 whatever the parameter holds. The gradient then stays float64 through every "
        "backward and step, doubling the memory and time of a float32 model. Think about which "
        "numpy function makes zeros shaped and typed like another array.",
        observed=_float64_zeros,
        planted=("zero-grad-float64",),
    ),
    Misconception(
        "lab4.sgd.momentum_buffer_reset",
        SGD_MOMENTUM,
        "Your momentum buffer starts afresh at every step, so SGD with momentum moves like "
        "plain SGD. Momentum is a running average that must survive from one step to the "
        "next, one buffer per parameter. Think about where the buffer lives between steps.",
        wrong=rerun(attribute(OPTIM, "SGD", _buffer_not_kept)),
        planted=("momentum-buffer-not-kept",),
    ),
    Misconception(
        "lab4.sgd.dampening_first_step",
        ("lab4.sgd.dampening", "lab4.sgd.momentum_shapes"),
        "Your first momentum buffer is dampened, (1 - dampening) * g, as if it had started at "
        "zeros. PyTorch starts the buffer at the first gradient itself. Think about what the "
        "buffer is before there is a previous one.",
        wrong=rerun(attribute(OPTIM, "SGD", _dampened_first_step)),
        planted=("dampening-on-first-step",),
    ),
    Misconception(
        "lab4.sgd.nesterov_ignored",
        ("lab4.sgd.nesterov", "lab4.sgd.nesterov_weight_decay"),
        "With nesterov=True your SGD still steps along the momentum buffer, so it behaves as "
        "plain momentum. Nesterov looks ahead: the step combines the gradient with the "
        "updated buffer. Think about what the step direction is with nesterov on.",
        wrong=rerun(attribute(OPTIM, "SGD", _options({"nesterov": False}))),
        planted=("nesterov-steps-along-buffer",),
    ),
    Misconception(
        "lab4.sgd.weight_decay_ignored",
        (
            "lab4.sgd.weight_decay",
            "lab4.sgd.weight_decay_momentum",
            "lab4.sgd.nesterov_weight_decay",
        ),
        "Your SGD stores weight_decay but never uses it, so the weights are not pulled towards "
        "zero. Weight decay adds wd * p to what the optimizer follows. Think about where that "
        "term enters the update.",
        wrong=rerun(attribute(OPTIM, "SGD", _options({"weight_decay": 0.0}))),
        planted=("weight-decay-ignored",),
    ),
    Misconception(
        "lab4.sgd.weight_decay_after_momentum",
        ("lab4.sgd.weight_decay_momentum", "lab4.sgd.nesterov_weight_decay"),
        "Your SGD adds the weight decay to the step after the momentum, so the decay never "
        "enters the buffer. In torch.optim.SGD the decayed gradient is what the momentum "
        "averages. Think about the order: decay, then momentum, then the step.",
        wrong=rerun(attribute(OPTIM, "SGD", _decay_after_momentum)),
        planted=("weight-decay-after-momentum",),
    ),
    Misconception(
        "lab4.sgd.lr_read_once",
        ("lab4.sgd.lr_change",),
        "Your optimizer keeps the learning rate it was built with and ignores later changes "
        "of opt.lr, so a schedule has no effect. Think about where the step reads the rate.",
        wrong=rerun(attribute(OPTIM, "SGD", _lr_read_once)),
    ),
    Misconception(
        "lab4.adam.no_bias_correction",
        ADAM,
        "Your Adam divides by the raw running averages m and v, without bias correction. They "
        "start at zero, so the first steps are far too small (or too large) depending on the "
        "betas. Think about what m and v are worth after one step, compared with g and g**2.",
        wrong=rerun(
            attribute(OPTIM, "Adam", _no_bias_correction),
            attribute(OPTIM, "AdamW", _no_bias_correction),
        ),
        planted=("adam-no-bias-correction",),
    ),
    Misconception(
        "lab4.adam.step_count_per_parameter",
        ADAM,
        "Your Adam advances its step counter once per parameter instead of once per step, so "
        "the bias correction of every parameter after the first uses a wrong t. t counts the "
        "optimizer's steps. Think about where in step() the counter belongs.",
        wrong=rerun(
            attribute(OPTIM, "Adam", _step_per_parameter),
            attribute(OPTIM, "AdamW", _step_per_parameter),
        ),
        planted=("adam-step-count-per-parameter",),
    ),
    Misconception(
        "lab4.adamw.decay_through_gradient",
        ("lab4.adamw", "lab4.adamw.custom"),
        "Your AdamW adds the weight decay to the gradient, which makes it Adam with L2 "
        "regularisation: the decay then passes through m and v and is rescaled per element. "
        "AdamW decouples the decay from the adaptive step. Think about applying it to the "
        "weights directly.",
        wrong=rerun(attribute(OPTIM, "AdamW", lambda original: __import__("torch").optim.Adam)),
        planted=("adamw-decay-through-gradient",),
    ),
]


# ------------------------------------------------------- Adam's finer rules


def _eps_under_root(original: Any) -> Any:
    """torch's Adam (or AdamW) with eps under the square root, sqrt(v_hat + eps): torch steps
    with eps = 0 while v is raised by eps (1 - b2^t), and v is restored after the step."""

    class Rooted(original):
        def step(self, closure: Any = None) -> Any:
            import torch

            group = self.param_groups[0]
            eps, (_, b2) = group["eps"], group["betas"]
            lifted = []
            for p in group["params"]:
                state = self.state[p]
                if not state:
                    state["step"] = torch.tensor(0.0)
                    state["exp_avg"] = torch.zeros_like(p, memory_format=torch.preserve_format)
                    state["exp_avg_sq"] = torch.zeros_like(p, memory_format=torch.preserve_format)
                lift = eps * (1 - b2 ** (float(state["step"]) + 1))
                state["exp_avg_sq"].add_(lift / b2)  # b2 * (v + lift / b2) = b2 v + lift
                lifted.append((state, lift))
            group["eps"] = 0.0
            try:
                return super().step(closure)
            finally:
                group["eps"] = eps
                for state, lift in lifted:
                    state["exp_avg_sq"].sub_(lift)

    return Rooted


def _decay_after_step(original: Any) -> Any:
    """torch's AdamW without its own decay, the weights shrunk by (1 - lr wd) after each step."""

    class DecayLast(original):
        def __init__(self, params: Any, **options: Any) -> None:
            self.decay = options.pop("weight_decay", 1e-2)
            super().__init__(params, weight_decay=0.0, **options)

        def step(self, closure: Any = None) -> Any:
            import torch

            group = self.param_groups[0]
            super().step(closure)
            with torch.no_grad():
                for p in group["params"]:
                    p.mul_(1 - group["lr"] * self.decay)
            return None

    return DecayLast


MISCONCEPTIONS += [
    Misconception(
        "lab4.adam.eps_inside_sqrt",
        ADAM,
        "Your Adam adds eps under the square root, sqrt(v_hat + eps), so wherever v_hat is "
        "small the step is damped far more than PyTorch's. In torch.optim.Adam eps is added to "
        "the root, only to keep the division finite. Think about which quantity eps protects.",
        wrong=rerun(
            attribute(OPTIM, "Adam", _eps_under_root),
            attribute(OPTIM, "AdamW", _eps_under_root),
        ),
        planted=("adam-eps-inside-sqrt",),
    ),
    Misconception(
        "lab4.adamw.decay_after_step",
        ("lab4.adamw", "lab4.adamw.custom"),
        "Your AdamW shrinks the weights after the Adam step, so the decay also scales that "
        "step's update. AdamW decays the weights as they were before the step and adds the Adam "
        "step to the result. Think about which weights the factor (1 - lr * wd) multiplies.",
        wrong=rerun(attribute(OPTIM, "AdamW", _decay_after_step)),
        planted=("adamw-decay-after-step",),
    ),
]
