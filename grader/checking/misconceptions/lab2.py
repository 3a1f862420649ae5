"""Misconceptions of lab 1.7.2 (operations): matmul, activations, reductions, indexing, softmax."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from grader.checking.misconceptions.model import Misconception
from grader.checking.misconceptions.rules import (
    assigned_function,
    attribute,
    derived_assigning,
    local,
    rerun,
    tensor_method,
)
from grader.checking.spec import Inputs, Outputs, Spec, load_lab

MATMUL = ("lab2.matmul.backward", "lab2.matmul.batched", "lab2.matmul.vector")
CROSS_ENTROPY = (
    "lab2.cross_entropy.forward",
    "lab2.cross_entropy.backward",
    "lab2.cross_entropy.large",
)

REUSED: tuple[str, ...] = (
    *("matmul", "exp", "log", "relu", "tanh", "sigmoid", "reshape", "transpose", "max"),
    *("getitem", "softmax", "log_softmax"),
)
"""The operations whose ``lab2.<topic>.reuse`` check uses an input twice."""


# ------------------------------------------------------------------ rules
def _reduced_dims(x: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> tuple[Any, bool]:
    """``amax``'s dims (all of them when none is given) and keepdim."""
    dim = kwargs.get("dim", args[0] if args else None)
    keepdim = bool(kwargs.get("keepdim", args[1] if len(args) > 1 else False))
    if dim is None:
        dim = tuple(range(x.dim()))
    return (dim if isinstance(dim, tuple) else (dim,)), keepdim


def _max_rule(mask_of: Callable[[Any, tuple[int, ...]], Any]) -> Any:
    """``amax`` whose gradient reaches the elements ``mask_of(x, dims)`` selects."""

    def rule(original: Any, self: Any, *args: Any, **kwargs: Any) -> Any:
        dims, keepdim = _reduced_dims(self, args, kwargs)
        value = original(self, *args, **kwargs)
        mask = mask_of(self.detach(), dims).to(self.dtype)
        return value.detach() + ((self - self.detach()) * mask).sum(dim=dims, keepdim=keepdim)

    return rule


def _every_tie(x: Any, dims: tuple[int, ...]) -> Any:
    import torch

    return x == torch.amax(x, dim=dims, keepdim=True)  # not x.amax: that is the patched rule


def _first_tie(x: Any, dims: tuple[int, ...]) -> Any:
    """The first maximum along one axis (or of the whole array)."""
    import torch

    if len(dims) == x.dim():
        mask = torch.zeros(x.numel(), dtype=torch.bool)
        mask[int(x.reshape(-1).argmax())] = True
        return mask.reshape(x.shape)
    if len(dims) != 1:
        raise ValueError("one axis or all of them")
    first = x.argmax(dim=dims[0], keepdim=True)
    return torch.zeros_like(x, dtype=torch.bool).scatter(dims[0], first, True)


def _cross_entropy(reduce: str = "mean") -> Any:
    """``F.cross_entropy`` built from ``log_softmax`` (so a wrong log_softmax shows through)."""

    def make(original: Any) -> Any:
        def cross_entropy(x: Any, t: Any, *args: Any, **kwargs: Any) -> Any:
            picked = x.log_softmax(-1)[np.arange(x.shape[0]), t]
            return -(picked.mean() if reduce == "mean" else picked.sum())

        return cross_entropy

    return make


def _unshifted_softmax(original: Any, self: Any, dim: int, *args: Any, **kwargs: Any) -> Any:
    e = self.exp()
    return e / e.sum(dim=dim, keepdim=True)


def _buffered_index_grad(indices: dict[str, Callable[[Inputs], Any]]) -> Any:
    """Indexing whose gradient is written with ``grad[idx] += g``: a repeated index counts once."""

    def wrong(spec: Spec, inputs: Inputs) -> Outputs:
        from grader.checking.numpy_side import upstream

        result = dict(spec.reference(inputs))
        for label, index in indices.items():
            if label not in result:  # a check with the other case only
                continue
            grad = np.zeros_like(inputs["x"])
            grad[index(inputs)] += upstream(inputs["g"], np.shape(result[label]))
            result[f"{label}: x.grad"] = grad
        return result

    return wrong


F = "torch.nn.functional"

EVERY_CHECK = tuple(spec.id for spec in load_lab("lab2"))
"""Every check of the lab: each one's forward pass must leave its inputs' data unchanged."""

MISCONCEPTIONS = [
    Misconception(
        "lab2.forward.changes_input",
        EVERY_CHECK,
        "Your operation writes into its input's data during the forward pass (an in-place "
        "numpy operation, or out= pointing at x.data). Its own output can still be right, but "
        "every other use of that input (another branch of the graph, the backward rule, the "
        "next call) reads the changed numbers. Think about where the result should live so "
        "that the input is left as it was.",
        error=r"changed its input \w+\.data in place",
        planted=("relu-clips-input-in-place", "softmax-shifts-input-in-place"),
    ),
    Misconception(
        "lab2.matmul.grad_not_transposed",
        (*MATMUL, "lab2.matmul.shared_weight"),
        "The gradient of a @ b multiplies out.grad by the other operand as it is, without "
        "transposing it, so the shapes do not fit (numpy's matmul complains). Each gradient "
        "must have its operand's shape. Write down the shapes of out.grad, a and b and see "
        "which product gives a's shape.",
        error=r"mismatch in its core dimension",
        planted=("matmul-grad-not-transposed",),
    ),
    Misconception(
        "lab2.matmul.shared_weight_not_summed",
        ("lab2.matmul.shared_weight",),
        "A matrix shared by every item of a batch receives one gradient per item, and your "
        "code keeps them all instead of adding them up. A weight used several times gets the "
        "sum of its contributions, as with broadcasting in lab 1.7.1. Think about which axes "
        "the operand did not have.",
        error=r"cannot reshape array",
        planted=("matmul-no-unbroadcast",),
    ),
    Misconception(
        "lab2.relu.no_mask",
        ("lab2.relu.backward", "lab2.relu.shapes"),
        "Your relu passes the whole upstream gradient back, also where x < 0. Where relu "
        "outputs a constant 0 its slope is 0, so no gradient flows there. Think about relu's "
        "derivative on each side of 0.",
        wrong=rerun(tensor_method("relu", lambda original, x: local(x, original(x), x * 0 + 1))),
        planted=("relu-passes-negative-gradient",),
    ),
    Misconception(
        "lab2.tanh.grad_from_input",
        ("lab2.tanh.backward", "lab2.tanh_sigmoid.large"),
        "Your tanh gradient is 1 - x**2, computed from the input. The identity "
        "1 - tanh(x)**2 is about tanh's output. Think about which array holds tanh(x) when "
        "the backward rule runs.",
        wrong=rerun(tensor_method("tanh", lambda original, x: local(x, original(x), 1 - x**2))),
    ),
    Misconception(
        "lab2.sigmoid.grad_from_input",
        ("lab2.sigmoid.backward", "lab2.tanh_sigmoid.large"),
        "Your sigmoid gradient is x * (1 - x), computed from the input. The identity "
        "s * (1 - s) is about sigmoid's output s. Think about which array holds s when the "
        "backward rule runs.",
        wrong=rerun(
            tensor_method("sigmoid", lambda original, x: local(x, original(x), x * (1 - x)))
        ),
    ),
    Misconception(
        "lab2.transpose.same_permutation",
        ("lab2.transpose.axes",),
        "transpose's gradient permutes out.grad by the same axes as the forward pass. That "
        "undoes a permutation only when it is its own inverse, as swapping two axes is. "
        "Think about which permutation brings each axis back where it came from.",
        # x (2, 3, 4) permuted by (1, 2, 0) is (3, 4, 2); permuted again, (4, 2, 3): only the
        # same permutation gives that shape (reversed axes give (2, 4, 3), none (3, 4, 2))
        error=r"could not be broadcast together with shapes "
        r"(\(2,3,4\) \(4,2,3\)|\(4,2,3\) \(2,3,4\))",
        planted=("transpose-grad-same-permutation",),
    ),
    Misconception(
        "lab2.mean.divides_by_total_size",
        ("lab2.mean.forward", "lab2.mean.axis", "lab2.mean.keepdims"),
        "Your mean over an axis divides by the number of elements of the whole input, not by "
        "the number of elements averaged. Both agree only for the mean of everything. Think "
        "about how many values went into each output element.",
        wrong=rerun(
            tensor_method(
                "mean", lambda original, x, *a, **k: (out := original(x, *a, **k)) / out.numel()
            )
        ),
        planted=("mean-divides-by-size",),
    ),
    Misconception(
        "lab2.mean.divides_by_output_size",
        ("lab2.mean.forward", "lab2.mean.backward", "lab2.mean.axis", "lab2.mean.keepdims"),
        "Your mean divides the sum by the number of elements of the result, not by the number "
        "of elements averaged, so the mean of everything is the plain sum. Think about how "
        "many values went into each output element.",
        wrong=rerun(
            tensor_method(
                "mean",
                lambda original, x, *a, **k: (
                    (out := original(x, *a, **k))
                    * (x.numel() / max(out.numel(), 1))
                    / max(out.numel(), 1)
                ),
            )
        ),
        planted=("mean-divides-by-output-size",),
    ),
    Misconception(
        "lab2.max.grad_to_every_tie",
        ("lab2.max.ties", "lab2.max.keepdims"),
        "When several elements tie for the maximum, your gradient gives each of them the full "
        "upstream gradient, so the maximum's gradient is counted several times. PyTorch shares "
        "it evenly among the ties. Think about what the gradients of the ties must add up to.",
        wrong=rerun(tensor_method("amax", _max_rule(_every_tie))),
        planted=("max-grad-to-every-tie",),
    ),
    Misconception(
        "lab2.max.grad_to_one_tie",
        ("lab2.max.ties",),
        "When several elements tie for the maximum, your gradient goes to one of them only "
        "(the one argmax picks). PyTorch's amax shares it evenly among the ties. Think about "
        "a mask that finds every tied maximum.",
        wrong=rerun(tensor_method("amax", _max_rule(_first_tie))),
    ),
    Misconception(
        "lab2.getitem.repeated_index_lost",
        ("lab2.getitem.array", "lab2.getitem.repeated"),
        "Your indexing gradient is written with grad[idx] += g, and numpy applies that once "
        "per distinct index: a row picked twice gets one contribution, not two. The gradient "
        "of a value used twice is the sum of both. Look for a numpy function that adds "
        "unbuffered at repeated indices.",
        wrong=_buffered_index_grad(
            {
                "x[idx]": lambda inputs: inputs["idx"],
                "x[rows, cols]": lambda inputs: (inputs["rows"], inputs["cols"]),
            }
        ),
        planted=("getitem-buffered-add",),
    ),
    Misconception(
        "lab2.softmax.no_max_shift",
        ("lab2.softmax.large",),
        "Your softmax exponentiates the logits as they are, and exp overflows to inf for "
        "logits in the hundreds, giving nan. Softmax does not change when the same number is "
        "subtracted from every logit of a row. Think about which number makes every exponent "
        "at most 0.",
        wrong=rerun(tensor_method("softmax", _unshifted_softmax)),
        planted=("softmax-no-max-shift",),
    ),
    Misconception(
        "lab2.softmax.diagonal_jacobian",
        ("lab2.softmax.backward", "lab2.softmax.axis", "lab2.softmax.large"),
        "Your softmax gradient is s * (1 - s) * g, only the diagonal of the Jacobian. Every "
        "output of a softmax depends on every input of its row, because they share the "
        "normaliser. Think about the terms of ds_i/dx_j for i != j.",
        wrong=rerun(
            tensor_method(
                "softmax",
                lambda original, x, *a, **k: local(x, s := original(x, *a, **k), s * (1 - s)),
            )
        ),
    ),
    Misconception(
        "lab2.log_softmax.grad_no_sum",
        (
            "lab2.log_softmax.backward",
            "lab2.log_softmax.large",
        ),
        "Your log_softmax gradient is g - softmax(x) * g: softmax multiplies each element's "
        "own g. Every output of log_softmax depends on every input of its row through the "
        "log-sum-exp. Think about what each x_j receives from all the outputs of its row.",
        wrong=rerun(
            tensor_method(
                "log_softmax",
                lambda original, x, *a, **k: local(x, y := original(x, *a, **k), 1 - y.exp()),
            ),
        ),
        planted=("log-softmax-grad-no-sum",),
    ),
    Misconception(
        "lab2.cross_entropy.summed",
        CROSS_ENTROPY,
        "Your cross_entropy adds up the losses of the batch instead of averaging them, so the "
        "loss and its gradient grow with the batch size. PyTorch's default is the mean. Think "
        "about what a learning rate would mean if the loss scaled with the batch.",
        wrong=rerun(attribute(F, "cross_entropy", _cross_entropy("sum"))),
        planted=("cross-entropy-sum",),
    ),
    Misconception(
        "lab2.backward.grad_assigned",
        tuple(f"lab2.{topic}.reuse" for topic in (*REUSED, "mean")),
        "Your operation's rule assigns (=) its input's gradient instead of adding to it (+=), "
        "so an input used twice keeps only the last contribution. The chain rule sums the "
        "contributions of every path. Think about what .grad already holds when a rule runs.",
        wrong=lambda spec, inputs: (
            rerun(derived_assigning("mean"))(spec, inputs)
            if spec.id == "lab2.mean.reuse"  # derived in Task 5, a rule of its own here
            else assigned_function(spec, inputs)
        ),
        planted=tuple(f"{topic.replace('_', '-')}-grad-assigned" for topic in (*REUSED, "mean")),
    ),
]
