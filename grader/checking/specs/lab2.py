"""Lab 1.7.2 checks: the learner's operations on lab 1's reference ``Tensor``, against PyTorch.

The checks are a table (:mod:`grader.checking.specs.table`): one row per operation, naming the
learner's function(s) it calls (``relu``, ``matmul``, ...), its labelled cases and inputs,
and its forward, backward and edge-case checks. A case takes ``F`` first, ``{"relu(x)":
lambda F, x: F.relu(x)}``: on the learner side ``F`` holds the learner's functions, on the
reference side their torch equivalents (:data:`TORCH`, float64), so one expression serves
both. Gradients go through the reference ``Tensor.backward``, so only the learner's
operations are on trial.
"""

from __future__ import annotations

import ast
from collections.abc import Callable
from functools import partial
from types import SimpleNamespace
from typing import Any

import numpy as np

from grader.checking.numpy_side import learner_cases
from grader.checking.spec import Hint, Inputs, Outputs, Spec
from grader.checking.specs.parts import (
    cross_entropy_parts,
    stand_ins,
    with_cross_entropy_parts,
)
from grader.checking.specs.table import (
    FORWARD,
    POOL,
    Cases,
    Check,
    Draw,
    Row,
    backward,
    draw,
    forward,
    operands,
)
from grader.checking.torch_side import torch_cases
from micrograd_plus.tensor import Tensor


# ------------------------------------------------------------ torch's side
def as_torch(idx: Any) -> Any:
    """A numpy index (or class targets) with torch tensors in place of integer arrays."""
    import torch

    if isinstance(idx, tuple):
        return tuple(as_torch(i) for i in idx)
    return torch.as_tensor(idx) if isinstance(idx, np.ndarray) else idx


def torch_transpose(x: Any, *axes: Any) -> Any:
    """numpy's ``transpose`` in torch: axes as ints or one tuple; none reverses them all."""
    if len(axes) == 1 and isinstance(axes[0], tuple):
        axes = axes[0]
    return x.permute(*(axes or reversed(range(x.ndim))))


def torch_cross_entropy(x: Any, t: np.ndarray) -> Any:
    import torch.nn.functional as F

    return F.cross_entropy(x, as_torch(t))


TORCH = SimpleNamespace(
    matmul=lambda a, b: a @ b,
    exp=lambda x: x.exp(),
    log=lambda x: x.log(),
    relu=lambda x: x.relu(),
    tanh=lambda x: x.tanh(),
    sigmoid=lambda x: x.sigmoid(),
    reshape=lambda x, *shape: x.reshape(*shape),
    transpose=torch_transpose,
    mean=lambda x, axis=None, keepdims=False: (
        x.mean() if axis is None else x.mean(axis=axis, keepdims=keepdims)
    ),
    amax=lambda x, axis=None, keepdims=False: (
        x.amax() if axis is None else x.amax(dim=axis, keepdim=keepdims)
    ),
    getitem=lambda x, idx: x[as_torch(idx)],
    softmax=lambda x, axis=-1: x.softmax(axis),
    log_softmax=lambda x, axis=-1: x.log_softmax(axis),
    cross_entropy=torch_cross_entropy,
)
"""``F`` on the reference side: each of the learner's functions as torch computes it."""


# ------------------------------------------------------------------ rows
def fn(
    topic: str,
    cases: Cases,
    inputs: Draw,
    *checks: Check,
    symbols: tuple[str, ...] = (),
    hidden: bool = False,
) -> list[Spec]:
    """Register one row: the checks ``lab2.<topic>.*`` of the learner's functions ``symbols``
    (by default the one named ``topic``). Integer inputs (indices, targets) are passed to the
    cases as arrays, the others as float64 tensors."""
    symbols = symbols or (topic,)

    def learner(cases: Cases, inp: Inputs, want: str, *fns: Callable[..., Any]) -> Outputs:
        F = SimpleNamespace(**dict(zip(symbols, fns, strict=True)))
        return learner_cases(Tensor, bind(cases, F), inp, raw=integers(inp), want=want)

    def reference(cases: Cases, inp: Inputs, want: str) -> Outputs:
        return torch_cases(bind(cases, TORCH), inp, raw=integers(inp), want=want)

    row = Row(f"lab2.{topic}", checks, cases, inputs, symbols, hidden)
    return row.register(learner, reference)


def composed(
    topic: str, cases: Cases, inputs: Draw, parts: Any, *checks: Check, hidden: bool = False
) -> list[Spec]:
    """Register one row of a compound operation (the learner's function ``topic``): as
    :func:`fn`, but while its cases run, the parts it is built from are stand-ins with the
    oracle's values (``parts(inputs)``, see :mod:`grader.checking.specs.parts`), so that only
    the composition is on trial."""

    def learner(cases: Cases, inp: Inputs, want: str, own: Callable[..., Any]) -> Outputs:
        F = SimpleNamespace(**{topic: own})
        with stand_ins(Tensor, own, parts(inp)):
            return learner_cases(Tensor, bind(cases, F), inp, raw=integers(inp), want=want)

    def reference(cases: Cases, inp: Inputs, want: str) -> Outputs:
        return torch_cases(bind(cases, TORCH), inp, raw=integers(inp), want=want)

    return Row(f"lab2.{topic}", checks, cases, inputs, (topic,), hidden).register(
        learner, reference
    )


def bind(cases: Cases, F: Any) -> Cases:
    """The cases with ``F`` given: what is left are the inputs they take."""
    return {label: partial(case, F) for label, case in cases.items()}


def reduced(op: str, *arguments: str) -> Cases:
    """The cases ``op(x)``, ``op(x, axis=0)``, ... of a reduction, one for each string of
    keyword arguments (``""`` for none)."""

    def case(keywords: dict[str, Any]) -> Callable[..., Any]:
        return lambda F, x: getattr(F, op)(x, **keywords)

    cases = {}
    for text in arguments:
        pairs = [part.split("=") for part in text.split(", ") if part]
        label = f"{op}({', '.join(['x', *(f'{k}={v}' for k, v in pairs)])})"
        cases[label] = case({k: ast.literal_eval(v) for k, v in pairs})
    return cases


def reduction(
    topic: str,
    op: str,
    axes: tuple[str, ...],
    backward_points: float,
    *,
    forward_hint: Hint,
    backward_hint: str,
    axis_hint: str,
    more: tuple[Check, ...] = (),
) -> list[Spec]:
    """Register a reduction's row (``op(x)`` over a (3, 4) matrix): its forward values with
    no axis and with ``axes``, its gradient, and its gradient along ``axes`` reversed
    (``axis=1`` and ``axis=0, keepdims=True``), then ``more`` checks."""
    return fn(
        topic,
        reduced(op, ""),
        operands(x=(3, 4)),
        forward(2, reduced(op, "", *axes), hint=forward_hint),
        backward(backward_points, hint=backward_hint),
        Check("axis", 2, "grad", reduced(op, "axis=1", "axis=0, keepdims=True"), hint=axis_hint),
        *more,
        symbols=(op,) if op != topic else (),
    )


def integers(inputs: Inputs) -> list[str]:
    """The inputs holding integer arrays."""
    return [name for name, a in inputs.items() if a.dtype.kind in "iu"]


# ---------------------------------------------------------------- inputs
def with_ints(base: Draw, **ints: Callable[[np.random.Generator], Any]) -> Draw:
    """``base``'s inputs and integer arrays (indices, targets) drawn by ``ints`` after them."""

    def inputs(rng: np.random.Generator) -> Inputs:
        return base(rng) | {name: np.asarray(make(rng)) for name, make in ints.items()}

    return inputs


def large_logits(rng: np.random.Generator, shape: tuple[int, ...] = (4, 5)) -> Inputs:
    """Logits up to ±1e4: exp overflows without the max shift."""
    return {"x": np.asarray(rng.uniform(-1e4, 1e4, shape)), "g": draw(rng, (POOL,))}


def tied(rng: np.random.Generator) -> Inputs:
    """A (4, 5) matrix whose rows and columns each hold a tied maximum."""
    x = np.asarray(rng.integers(-3, 1, (4, 5)), dtype=np.float64)
    for i in range(4):
        j = rng.choice(5, size=2, replace=False)
        x[i, j] = 2.0  # row maximum, twice; the global maximum appears 8 times
    x[rng.choice(4, size=2, replace=False), 4] = 2.0  # and column 4 has a tie too
    return {"x": x, "g": draw(rng, (POOL,))}


def huge_logits(rng: np.random.Generator) -> Inputs:
    """Logits of about ±1000 (the lesson's example), whatever the seed: a row holding 1000
    (exp overflows to inf) and a row of values below -800 (every exp underflows to 0)."""
    x = np.asarray(rng.uniform(-1000.0, 1000.0, (3, 5)))
    x[0, rng.integers(5)] = 1000.0
    x[1] = rng.uniform(-1000.0, -800.0, 5)
    return large_logits(rng, (3, 5)) | {"x": x}


def along_axis(
    topic: str, cases: Cases, forward_hint: Hint, backward_hint: Hint, stable_hint: Hint
) -> list[Spec]:
    """Register the row of a function along an axis of (3, 5) logits (softmax, log_softmax):
    its values, its gradient, and both on logits of ±1000, where the textbook formula
    overflows."""
    return fn(
        topic,
        cases,
        operands(x=(3, 5)),
        forward(2, hint=forward_hint),
        backward(2, hint=backward_hint),
        Check("stable", 2, "both", inputs=huge_logits, hint=stable_hint),
    )


# ================================================================ the table
MATMUL = {"matmul(a, b)": lambda F, a, b: F.matmul(a, b)}
UNARY = "numpy's {f} of x's data in a new Tensor whose only child is x, labelled '{f}'"
MATMUL_HINT = "d(a @ b)/da = g @ b^T and d(a @ b)/db = a^T @ g (transpose the OTHER operand)"
SOFTMAX = {"softmax(x)": lambda F, x: F.softmax(x)}
LOG_SOFTMAX = {"log_softmax(x)": lambda F, x: F.log_softmax(x)}
CROSS_ENTROPY = {"cross_entropy(x, t)": lambda F, x, t: F.cross_entropy(x, t)}
CE_TARGETS = {"t": lambda rng: rng.integers(0, 5, 4)}

# fmt: off
fn("matmul", MATMUL, operands(a=(3, 4), b=(4, 5)),
    forward(3, MATMUL | {"a @ b": lambda F, a, b: a @ b},
            hint=(FORWARD, "the product of the two arrays in a new Tensor whose children are a "
                  "and b; attach the function to Tensor as __matmul__ so that a @ b calls it")),
    backward(2, hint=MATMUL_HINT),
    Check("batched", 3, "both", inputs=operands(a=(2, 3, 4), b=(2, 4, 5)),
          hint="for stacks of matrices transpose only the last two axes (numpy's swapaxes); "
          ".T reverses ALL the axes of a 3-D array"),
    Check("vector", 3, "both", {"matmul(v, m)": lambda F, v, m: F.matmul(v, m),
                                "matmul(n, v)": lambda F, n, v: F.matmul(n, v),
                                "matmul(v, u)": lambda F, v, u: F.matmul(v, u)},
          operands(v=(4,), u=(4,), m=(4, 3), n=(3, 4)),
          hint="numpy treats a 1-D operand as a row (left) or a column (right) and then drops "
          "that axis: promote the 1-D operands to matrices first, give g the shape of their "
          "product, compute as for matrices, then reshape each gradient to its input's shape "
          "(expanding g alone breaks for vector @ vector)"))

fn("exp", {"exp(x)": lambda F, x: F.exp(x)}, operands(x=(3, 4)),
    forward(1, hint=(FORWARD, UNARY.format(f="exp"))),
    backward(1, hint="d exp(x)/dx = exp(x), which the forward pass already stored in out.data: "
             "multiply it by out.grad and add the product into x's gradient"))
fn("log", {"log(x)": lambda F, x: F.log(x)}, operands(x=((3, 4), "positive")),
    forward(1, hint=(FORWARD, UNARY.format(f="log"))),
    backward(1, hint="d log(x)/dx = 1 / x: x's gradient grows by out.grad divided by x's "
             "values; e.g. x = 2, out.grad = 3 adds 1.5"))
fn("relu", {"relu(x)": lambda F, x: F.relu(x)}, operands(x=((3, 4), "nonzero")),
    forward(2, hint=(FORWARD, "max(x, 0) element-wise: numpy's maximum of the data and 0 (not "
                     "Python's max), in a new Tensor whose only child is x")),
    backward(1, hint="the gradient passes only where x > 0 and is 0 elsewhere: a 0/1 mask of "
             "the positive inputs; e.g. x = [-1, 2], out.grad = [5, 5] gives [0, 5]"))
fn("tanh", {"tanh(x)": lambda F, x: F.tanh(x)}, operands(x=(3, 4)),
    forward(1, hint=(FORWARD, UNARY.format(f="tanh"))),
    backward(1, hint="d tanh(x)/dx = 1 - tanh(x)^2 = 1 - out.data**2"))
fn("sigmoid", {"sigmoid(x)": lambda F, x: F.sigmoid(x)}, operands(x=(3, 4)),
    forward(1, hint="sigmoid(x) = 1 / (1 + exp(-x))"),
    backward(1, hint="d sigmoid(x)/dx = s * (1 - s) with s = out.data"))

fn("reshape", {"reshape(x, 2, 6)": lambda F, x: F.reshape(x, 2, 6),
               "reshape(x, 12)": lambda F, x: F.reshape(x, 12)}, operands(x=(3, 4)),
    Check("", 1, "both", hint="the gradient is out.grad reshaped back to x's shape"))
fn("transpose", {"transpose(x)": lambda F, x: F.transpose(x)}, operands(x=(3, 4)),
    Check("default", 1, "both", hint="with no axes, reverse them (numpy's default); the "
          "gradient is out.grad transposed back"),
    Check("T", 2, "both", {"x.T": lambda F, x: x.T},
          hint="x.T is read without parentheses: attach transpose to Tensor as a property, "
          "not as a method"),
    Check("axes", 2, "both", {"transpose(x, 1, 2, 0)": lambda F, x: F.transpose(x, 1, 2, 0),
                              "transpose(x, (2, 0, 1))": lambda F, x: F.transpose(x, (2, 0, 1)),
                              "transpose(x)": lambda F, x: F.transpose(x)}, operands(x=(2, 3, 4)),
          hint="the gradient needs the INVERSE permutation, which differs from axes itself "
          "for (1, 2, 0): each axis goes back where it came from; for (1, 2, 0) that is "
          "(2, 0, 1)"))

reduction("mean", "mean", ("axis=0", "axis=1, keepdims=True"), 1,
          forward_hint="mean = sum over the axes / the number of elements summed (not x's whole "
          "size)",
          backward_hint="each element gets out.grad / n, n the number of elements averaged; "
          "derive mean from sum and * and the gradient comes for free",
          axis_hint="n is the number of elements along the averaged axes: x.size // out.size")

reduction("max", "amax", ("axis=1", "axis=0, keepdims=True"), 1,
          forward_hint=(FORWARD, "numpy's max of the data over axis, keepdims passed through, "
                        "in a new Tensor whose only child is x"),
          backward_hint="only the maximum element gets the gradient: a mask x.data == max (with "
          "keepdims)",
          axis_hint="compare x with the maximum kept as a size-1 axis (keepdims=True), and "
          "expand out.grad the same way before multiplying by the mask",
          more=(Check("tie", 2, "grad", reduced("amax", "", "axis=1"), tied,
                      hint="when k elements tie for the maximum, each gets out.grad / k (like "
                      "torch.amax), not the whole of it: divide the mask by its count along "
                      "the axis (keepdims=True)"),))

fn("getitem", {"x[1]": lambda F, x: F.getitem(x, 1),
               "x[1:3]": lambda F, x: F.getitem(x, slice(1, 3)),
               "x[:, 2]": lambda F, x: F.getitem(x, (slice(None), 2)),
               "x[-1, 1:4]": lambda F, x: F.getitem(x, (-1, slice(1, 4)))}, operands(x=(4, 5)),
    Check("basic", 2, "both", hint="index the data with idx unchanged; the gradient goes back "
          "to the same positions: zeros of x's shape, with out.grad placed where idx points"),
    Check("array", 2, "both", {"x[idx]": lambda F, x, idx: F.getitem(x, idx)},
          with_ints(operands(x=(4, 5)), idx=lambda rng: rng.integers(0, 4, 5)),  # repeats
          hint="an integer array picks rows (numpy does it for you), some of them twice; the "
          "gradient of each picked row goes back to the row it came from, adding up where a "
          "row was picked more than once"),
    Check("pairs", 2, "both",
          {"x[rows, cols]": lambda F, x, rows, cols: F.getitem(x, (rows, cols))},
          with_ints(operands(x=(4, 5)), rows=lambda rng: np.arange(4),
                    cols=lambda rng: rng.integers(0, 5, 4)),
          hint="a tuple of integer arrays picks single elements x[rows[i], cols[i]] "
          "(cross_entropy uses it); pass the tuple through to numpy unchanged"))

along_axis("softmax", SOFTMAX,
    "subtract the maximum along the axis (kept as a size-1 axis), exponentiate, divide by the "
    "sum along the same axis; e.g. [1, 2, 3] gives exp([-2, -1, 0]) / its sum, about "
    "[0.09, 0.24, 0.67]",
    "with s the output and g the upstream gradient, each element gets s times (g minus the "
    "s-weighted sum of g along the axis); no loop over a Jacobian",
    "exp(1000) overflows to inf and inf / inf is nan: subtract the maximum along the axis first "
    "(softmax(x) = softmax(x - c) for any c)")
along_axis("log_softmax", LOG_SOFTMAX,
    "the log-sum-exp trick: shift x by its maximum m along the axis, then subtract the log of "
    "the sum of the exponentials of the shifted values",
    "the gradient is g minus softmax(x) times the sum of g along the axis; softmax(x) is the "
    "exponential of the output, so no second softmax is needed",
    "log(softmax(x)) is log(0) = -inf for logits of ±1000: never take the log of a softmax; use "
    "the shifted form of the forward check")
composed("cross_entropy", CROSS_ENTROPY,
         with_cross_entropy_parts(with_ints(operands(x=(4, 5)), **CE_TARGETS)),
         cross_entropy_parts,
    forward(4, hint="the mean over rows of minus the log-probability of each row's target: "
            "pick one entry per row with a pair of integer arrays (row numbers, targets), "
            "the indexing of Task 7"),
    backward(4, hint="built from log_softmax, indexing and mean, its gradient is "
             "(softmax(x) - onehot(t)) / n; this check runs your cross_entropy on correct "
             "log_softmax, getitem and mean, so a failure here is in how you combine them"))
# fmt: on
