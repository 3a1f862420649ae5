"""Misconceptions of lab 1.7.1 (core tensor): broadcasting, the gradient rules, ``backward()``."""

from __future__ import annotations

from typing import Any

import numpy as np

from grader.checking.misconceptions.model import Misconception
from grader.checking.misconceptions.rules import (
    assigned_method,
    class_attribute,
    local,
    rerun,
    tensor_method,
)
from grader.checking.spec import Inputs, Outputs, Spec

# ------------------------------------------------------------- unbroadcast


def _unbroadcast_wrong(reduce: Any) -> Any:
    """Wrong ``unbroadcast``: ``reduce(g, shape)`` for each pair of the check (keys in order)."""

    def wrong(spec: Spec, inputs: Inputs) -> Outputs:
        expected = spec.reference(inputs)
        return {
            label: reduce(inputs[f"g{i}"], np.shape(value))
            for i, (label, value) in enumerate(expected.items())
        }

    return wrong


def _leading_only(g: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    return g.sum(axis=tuple(range(g.ndim - len(shape))))


def _ones_only(g: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    lead = g.ndim - len(shape)
    axes = tuple(lead + i for i, size in enumerate(shape) if size == 1 and g.shape[lead + i] != 1)
    return g.sum(axis=axes, keepdims=True) if axes else g


# ------------------------------------------------------------------ init
PYTHON_VALUES = ("Tensor(list)", "Tensor(python float)")


def _float64_numbers(spec: Spec, inputs: Inputs) -> Outputs:
    """Python numbers and lists kept as numpy makes them: float64."""
    expected = dict(spec.reference(inputs))
    for label in PYTHON_VALUES:
        for part in ("data", "grad"):
            if f"{label}.{part} bits" in expected:
                expected[f"{label}.{part} bits"] = np.asarray(64)
    return expected


# ------------------------------------------------------------ gradient rules
def _pow_rule(slope: Any) -> Any:
    def rule(original: Any, self: Any, k: Any) -> Any:
        return local(self, original(self, k), slope(original, self.detach(), k))

    return rule


# --------------------------------------------------------------- backward()
def _seed(side: Any, out: Any, seeded: bool) -> Any:
    from grader.checking.numpy_side import upstream

    torch = side.torch
    if seeded:
        return torch.as_tensor(upstream(side.inputs["g"], tuple(out.shape)))
    return torch.ones_like(out)


def _only_last_operation(original: Any) -> Any:
    """Closures run inputs first: only the output's own rule reaches the leaves it uses directly."""

    def backward(self: Any, out: Any, seeded: bool = True) -> None:
        node = out.grad_fn
        grads = node(_seed(self, out, seeded))
        for (fn, _), grad in zip(node.next_functions, grads, strict=False):
            if fn is not None and hasattr(fn, "variable") and grad is not None:
                leaf = fn.variable
                grad = grad.sum_to_size(leaf.shape).detach()
                leaf.grad = grad if leaf.grad is None else leaf.grad + grad

    return backward


def _stale_intermediates(original: Any) -> Any:
    """Gradients of non-leaf nodes (the output too) never reset: each backward adds to what
    they held before."""

    def backward(self: Any, out: Any, seeded: bool = True) -> None:
        stale = self.__dict__.setdefault("_stale", {})
        stack, seen = [out.grad_fn], set()
        while stack:
            node = stack.pop()
            if node is None or node in seen or hasattr(node, "variable"):
                continue
            seen.add(node)
            stack.extend(fn for fn, _ in node.next_functions)
            if node not in stale:
                stale[node] = None

                def hook(grads: Any, node: Any = node) -> Any:
                    before = stale[node]
                    if before is not None:
                        grads = tuple(a + b for a, b in zip(grads, before, strict=True))
                    total = grads
                    stale[node] = tuple(t.detach() for t in total)
                    return total

                node.register_prehook(hook)
        original(self, out, seeded)

    return backward


def _zero_seed(original: Any) -> Any:
    def backward(self: Any, out: Any, seeded: bool = True) -> None:
        if seeded:
            original(self, out, seeded)
        else:
            out.backward(self.torch.zeros_like(out), retain_graph=True)

    return backward


def _assigned(spec: Spec, inputs: Inputs) -> Outputs:
    """``*`` assigns its gradients (=): a later ``*`` overwrites what earlier rules added.

    For the programs of ``lab1.backward.chain`` and ``lab1.backward.reuse``, in the order a
    topological sort runs them, written with torch's ``detach`` (the overwritten paths cut).
    """
    import torch

    from grader.checking.numpy_side import upstream

    def leaf(name: str) -> Any:
        return torch.tensor(inputs[name], dtype=torch.float64, requires_grad=True)

    def grad(out: Any, t: Any, seeded: bool = True) -> np.ndarray:
        g = torch.as_tensor(upstream(inputs["g"], tuple(out.shape))) if seeded else None
        (d,) = torch.autograd.grad(out, t, g)
        return np.asarray(d.numpy())

    if spec.id == "lab1.backward.chain":
        out: dict[str, Any] = {}
        for u, v, seeded in (("a", "b", False), ("x", "w", True)):
            p, q = leaf(u), leaf(v)
            out[f"{u}.grad"] = grad(p * q.detach() * q.detach(), p, seeded)  # = q q g
            out[f"{v}.grad"] = grad(p.detach() * q * q.detach(), q, seeded)  # = p q g, reduced
        return out
    if spec.id == "lab1.backward.reuse":
        a, x = leaf("a"), leaf("x")
        return {
            "a.grad": grad((a + a) * (a + a).detach(), a),  # b.grad = b g, once
            "x.grad": grad(x * x.detach(), x),  # the + rule's g overwritten
        }
    if spec.id in REUSE_METHODS:
        return assigned_method(REUSE_METHODS[spec.id])(spec, inputs)
    raise KeyError(spec.id)


REUSE_METHODS = {"lab1.pow.reuse": "__pow__", "lab1.sum.reuse": "sum"}
"""The accumulation checks of single operations, with the method whose rule they test."""


SIDE = ("grader.checking.specs.lab1", "TorchSide", "backward")

MISCONCEPTIONS = [
    Misconception(
        "lab1.init.python_numbers_float64",
        ("lab1.init.dtype",),
        "Your Tensor keeps Python numbers and lists as numpy makes them, float64. The labs "
        "store everything that does not arrive as a numpy float array in float32, the dtype "
        "networks train in. Think about which inputs should keep their dtype and which are "
        "converted.",
        wrong=_float64_numbers,
        planted=("init-no-float32",),
    ),
    Misconception(
        "lab1.unbroadcast.size_one_axes",
        ("lab1.unbroadcast.ones", "lab1.unbroadcast.mixed"),
        "Your unbroadcast sums away the leading axes broadcasting added, but not the axes that "
        "had size 1 in the input and were stretched. Those axes also received one gradient per "
        "copy, and the input holds only one value there. Think about which axes of shape are 1 "
        "while the gradient's are not.",
        wrong=_unbroadcast_wrong(_leading_only),
        planted=("unbroadcast-leading-axes-only",),
    ),
    Misconception(
        "lab1.unbroadcast.leading_axes",
        ("lab1.unbroadcast.leading", "lab1.unbroadcast.mixed"),
        "Your unbroadcast reduces the stretched size-1 axes but keeps the leading axes that "
        "broadcasting added in front. A gradient must have exactly its tensor's shape. Think "
        "about what happens when the gradient has more dimensions than the tensor.",
        wrong=_unbroadcast_wrong(_ones_only),
    ),
    Misconception(
        "lab1.broadcast.grad_not_reduced",
        (
            "lab1.add.broadcast",
            "lab1.mul.broadcast",
            "lab1.add.number",
            "lab1.mul.number",
            "lab1.backward.chain",
            "lab1.sub_div.backward",
            "lab1.sub_div.numbers",
        ),
        "An operation passes a gradient of the output's shape to an input that was broadcast, "
        "so numpy cannot add it into the smaller .grad. Each input must receive a gradient of "
        "its own shape. Think about where unbroadcast belongs in each binary operation.",
        error=r"non-broadcastable output operand",
        planted=("add-no-unbroadcast", "mul-no-unbroadcast"),
    ),
    Misconception(
        "lab1.backward.grad_assigned",
        ("lab1.backward.chain", "lab1.backward.reuse", *REUSE_METHODS),
        "An operation assigns (=) its input's gradient instead of adding to it (+=), so a "
        "tensor used twice keeps only the last contribution. The chain rule sums the "
        "contributions of every path. Think about what .grad already holds when a rule runs.",
        wrong=lambda spec, inputs: _assigned(spec, inputs),
        planted=("mul-grad-assigned", "pow-grad-assigned", "sum-grad-assigned"),
    ),
    Misconception(
        "lab1.backward.recursive_sort",
        ("lab1.backward.deep",),
        "Your topological sort is recursive, and a graph 10,000 operations deep exceeds "
        "Python's recursion limit (RecursionError). Raising the limit only moves the crash. "
        "Think about how an explicit stack can do the same walk.",
        error=r"RecursionError",
        planted=("recursive-topological-sort",),
    ),
    Misconception(
        "lab1.backward.seed_zero",
        ("lab1.backward.chain",),
        "backward() without an argument seeds the output's gradient with 0, so every "
        "gradient stays 0. The derivative of the output with respect to itself is 1. Think "
        "about what the first .grad in the chain must be.",
        wrong=rerun(class_attribute(*SIDE, _zero_seed)),
        planted=("backward-seeds-zeros",),
    ),
    Misconception(
        "lab1.backward.stale_intermediate_grads",
        ("lab1.backward.twice",),
        "A second backward() adds to the intermediate nodes' gradients left over from the "
        "first, so the leaves receive those stale values again. Only the leaves should "
        "accumulate across calls. Think about what each backward() must clear before it runs.",
        wrong=rerun(class_attribute(*SIDE, _stale_intermediates)),
        planted=("backward-keeps-intermediate-grads",),
    ),
    Misconception(
        "lab1.backward.wrong_order",
        (
            "lab1.backward.chain",
            "lab1.backward.reuse",
            "lab1.backward.twice",
            "lab1.backward.diamond",
        ),  # not deep: there, + assigning (=) gives the same gradient
        "backward() runs the rules from the leaves towards the output, so each rule runs "
        "before its output's gradient exists and passes on zeros; only the last operation's "
        "direct inputs get a gradient. Think about which node's rule must run first.",
        wrong=rerun(class_attribute(*SIDE, _only_last_operation)),
        planted=("backward-wrong-order",),
    ),
    Misconception(
        "lab1.pow.exponent_not_lowered",
        ("lab1.pow.backward", "lab1.pow.exponents"),
        "Your power rule multiplies by k but keeps the exponent k, giving k * x**k. "
        "Differentiating lowers the power by one. Check it on x**2, whose derivative you know.",
        wrong=rerun(tensor_method("__pow__", _pow_rule(lambda pow, x, k: k * pow(x, k)))),
        planted=("pow-grad-one-power-too-many",),
    ),
    Misconception(
        "lab1.pow.missing_factor_k",
        ("lab1.pow.backward", "lab1.pow.exponents"),
        "Your power rule lowers the exponent but forgets the factor k in front, giving "
        "x**(k - 1). The old exponent comes down as a factor. Check it on x**2.",
        wrong=rerun(tensor_method("__pow__", _pow_rule(lambda pow, x, k: pow(x, k - 1)))),
    ),
    Misconception(
        "lab1.reflected.sub_swapped",
        ("lab1.sub_div.numbers",),
        "2.0 - a computes a - 2.0: the reflected method __rsub__ receives the tensor as self "
        "and the number as other, and your code keeps that order. Subtraction does not "
        "commute. Think about which operand comes first in 2.0 - a.",
        wrong=rerun(tensor_method("__rsub__", lambda original, self, other: self - other)),
        planted=("rsub-reversed",),
    ),
    Misconception(
        "lab1.reflected.div_swapped",
        ("lab1.sub_div.numbers",),
        "2.0 / a computes a / 2.0: the reflected method __rtruediv__ receives the tensor as "
        "self and the number as other, and your code keeps that order. Division does not "
        "commute. Think about which operand is the numerator in 2.0 / a.",
        wrong=rerun(tensor_method("__rtruediv__", lambda original, self, other: self / other)),
    ),
    Misconception(
        "lab1.sum.axis_not_restored",
        ("lab1.sum.axis", "lab1.sum.negative_axis", "lab1.sum.keepdims"),
        "sum's gradient is broadcast to the input's shape without giving back the summed "
        "axis, so numpy lines the axes up wrongly or cannot broadcast at all. Without "
        "keepdims the summed axis is gone from out.grad. Think about where it must reappear "
        "before broadcasting.",
        error=r"could not be broadcast",
        planted=("sum-grad-no-expand-dims",),
    ),
]
