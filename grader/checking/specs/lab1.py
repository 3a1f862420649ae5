"""Lab 1.7.1 checks: the learner's ``Tensor`` against PyTorch in float64.

The learner writes ``Tensor`` in this lab, so nothing here imports
``micrograd_plus.tensor``: each check receives the learner's class (symbol
``"Tensor"``) or ``unbroadcast``. The checks are a table at the bottom (see
:mod:`grader.checking.specs.table`): one row per operation or behaviour, yielding its forward,
backward and edge-case checks. An operation's cases are labelled expressions that run
unchanged on both libraries (``lambda a, b: a + b``). Gradients of single operations
are checked *locally* (``out.grad = g; out._backward()``), so that an operation's check
does not depend on the learner's ``backward()``; the ``lab1.backward.*`` checks test
``backward()`` itself.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

from grader.checking.numpy_side import data_of, learner_cases
from grader.checking.spec import Hint, Inputs, Outputs, Spec, spec
from grader.checking.specs.sides import LearnerSide as LearnerSide  # re-exported, with
from grader.checking.specs.sides import TorchSide as TorchSide  # the misconceptions' patches
from grader.checking.specs.table import (
    FORWARD,
    Cases,
    Check,
    Draw,
    Row,
    Shape,
    backward,
    draw,
    forward,
    operands,
    torch_reference,
)
from grader.checking.specs.table import POOL as POOL  # re-exported, with draw and operands

Program = Callable[[Any], Mapping[str, Any]]


# ------------------------------------------------------------------ rows
def op(
    topic: str, cases: Cases, inputs: Draw, *checks: Check, local: bool = True, hidden: bool = False
) -> list[Spec]:
    """Register one row: the checks ``lab1.<topic>.*`` of labelled expressions on the learner's
    ``Tensor`` against torch. ``local`` checks gradients with one ``_backward()`` call; an
    operation derived from others needs ``backward()``."""

    def learner(cases: Cases, inp: Inputs, want: str, Tensor: type) -> Outputs:
        return learner_cases(Tensor, cases, inp, want=want, local=local)

    row = Row(f"lab1.{topic}", checks, cases, inputs, hidden=hidden)
    return row.register(learner, torch_reference)


# ------------------------------------------------------------ unbroadcast
def unbroadcast_check(
    id: str, points: float, pairs: list[tuple[Shape, Shape]], hint: Hint, hidden: bool = False
) -> Spec:
    """Register a check of ``unbroadcast(g, shape)`` for each ``(g's shape, shape)`` pair;
    the reference is torch's gradient of ``broadcast_to``."""

    def label(small: Shape) -> str:
        return f"unbroadcast(g, {small})"

    def inputs(rng: np.random.Generator) -> Inputs:
        return {f"g{i}": draw(rng, big) for i, (big, _) in enumerate(pairs)}

    def learner(inp: Inputs, unbroadcast: Callable[..., Any]) -> Outputs:
        return {
            label(small): np.asarray(unbroadcast(inp[f"g{i}"].copy(), small))
            for i, (_, small) in enumerate(pairs)
        }

    def reference(inp: Inputs) -> Outputs:
        import torch

        result = {}
        for i, (big, small) in enumerate(pairs):
            x = torch.zeros(small, dtype=torch.float64, requires_grad=True)
            g = torch.as_tensor(inp[f"g{i}"])
            (grad,) = torch.autograd.grad(torch.broadcast_to(x, big), x, g)
            result[label(small)] = grad.numpy()
        return result

    return spec(
        id=id,
        points=points,
        symbols=("unbroadcast",),
        inputs=inputs,
        learner=learner,
        reference=reference,
        hint=hint,
        hidden=hidden,
    )


# --------------------------------------------------------------- programs
def programs(topic: str, *checks: Check, hidden: bool = False) -> list[Spec]:
    """Register one row of backward programs, the checks ``lab1.<topic>.*``: each check's
    program runs on both sides, and the gradients of the leaves it returns are compared."""

    def run(programs: Cases, side: Any) -> Outputs:
        return {
            f"{name}.grad": side.grad(t) for p in programs.values() for name, t in p(side).items()
        }

    return Row(f"lab1.{topic}", checks, hidden=hidden).register(
        lambda cases, inp, want, Tensor: run(cases, LearnerSide(Tensor, inp)),
        lambda cases, inp, want: run(cases, TorchSide(inp)),
    )


def program(name: str, points: float, program: Program, inputs: Draw, *, hint: Hint) -> Check:
    """A check of ``program(side)``, which builds a graph, backpropagates and returns the
    leaves to compare, ``{name: leaf}`` (named ``""``, the check takes its row's id)."""
    return Check(name, points, "grad", {name or "program": program}, inputs, hint=hint)


def chain(t: Any) -> Mapping[str, Any]:
    """The quickstart's ``c = (a*b + a) * b`` on scalars (seed 1), then on arrays."""
    a, b = t.leaf("a"), t.leaf("b")
    t.backward((a * b + a) * b, seeded=False)
    x, w = t.leaf("x"), t.leaf("w")
    t.backward((x * w + x) * w)
    return {"a": a, "b": b, "x": x, "w": w}


def reuse(t: Any) -> Mapping[str, Any]:
    """A node used twice: ``b = a + a; c = b * b`` and ``y = x * x + x``."""
    a = t.leaf("a")
    b = a + a
    t.backward(b * b)
    x = t.leaf("x")
    t.backward(x * x + x)
    return {"a": a, "x": x}


def deep(t: Any) -> Mapping[str, Any]:
    """A chain 10,000 operations deep: ``y = x + x + ... + x``."""
    x = t.leaf("x")
    y = x
    for _ in range(10_000):
        y = y + x
    t.backward(y)
    return {"x": x}


def twice(t: Any) -> Mapping[str, Any]:
    """``backward`` called twice on one graph: leaves hold the sum of both passes."""
    a, b = t.leaf("a"), t.leaf("b")
    c = a * b + a
    d = c * c
    t.backward(d)
    t.backward(d)
    return {"a": a, "b": b}


def zero_grad(t: Any) -> Mapping[str, Any]:
    """Backward, ``zero_grad()`` on the leaves, then backward through a new graph."""
    a, b = t.leaf("a"), t.leaf("b")
    t.backward(a * b)
    t.zero_grad(a)
    t.zero_grad(b)
    t.backward((a + b) * b)
    return {"a": a, "b": b}


# ------------------------------------------------------------------ init
def init_attrs(inputs: Inputs, Tensor: type) -> Outputs:
    x = inputs["x"]
    t = Tensor(x)
    a, b = Tensor(x[0]), Tensor(x[1])
    out = Tensor(x[0] + x[1], (a, b), "+")
    return {
        "Tensor(x).data": data_of(t.data),
        "Tensor(x).grad": data_of(t.grad),
        "len(Tensor(x)._prev)": np.asarray(len(t._prev)),
        "Tensor(x)._backward() is None": np.asarray(float(t._backward() is None)),
        "len(Tensor(x0 + x1, (a, b), '+')._prev)": np.asarray(len(out._prev)),
        "its _prev, as positions in (a, b); -1 for anything else": np.sort(
            [next((i for i, q in enumerate((a, b)) if p is q), -1) for p in out._prev]
        ),
    }


def init_attrs_reference(inputs: Inputs) -> Outputs:
    x = inputs["x"]
    return {
        "Tensor(x).data": x,
        "Tensor(x).grad": np.zeros_like(x),
        "len(Tensor(x)._prev)": np.asarray(0),
        "Tensor(x)._backward() is None": np.asarray(1.0),
        "len(Tensor(x0 + x1, (a, b), '+')._prev)": np.asarray(2),
        "its _prev, as positions in (a, b); -1 for anything else": np.array([0, 1]),
    }


def float_bits(arr: Any) -> np.ndarray:
    """32 or 64 for a float array, 0 for anything else (ints, objects)."""
    arr = np.asarray(arr)
    return np.asarray(arr.dtype.itemsize * 8 if arr.dtype.kind == "f" else 0)


def dtype_cases(x: np.ndarray) -> dict[str, tuple[Any, int]]:
    """Constructor argument and the float width the spec requires, per label."""
    return {
        "Tensor(list)": ([float(v) for v in x], 32),
        "Tensor(python float)": (float(x[0]), 32),
        "Tensor(float64 array)": (x.copy(), 64),
        "Tensor(float32 array)": (x.astype(np.float32), 32),
    }


def dtype_check(
    id: str, points: float, cases: Callable[[np.ndarray], dict[str, tuple[Any, int]]], **kw: Any
) -> Spec:
    """Register a check of the data and grad dtypes ``Tensor(arg)`` gives for each case."""

    def learner(inp: Inputs, Tensor: type) -> Outputs:
        result = {}
        for label, (arg, _) in cases(inp["x"]).items():
            t = Tensor(arg)
            result[f"{label}.data bits"] = float_bits(t.data)
            result[f"{label}.grad bits"] = float_bits(t.grad)
            result[f"{label}.data"] = data_of(t.data)
        return result

    def reference(inp: Inputs) -> Outputs:
        result = {}
        for label, (arg, bits) in cases(inp["x"]).items():
            result[f"{label}.data bits"] = np.asarray(bits)
            result[f"{label}.grad bits"] = np.asarray(bits)
            result[f"{label}.data"] = np.asarray(arg, dtype=np.float32 if bits == 32 else None)
        return result

    return spec(
        id=id,
        points=points,
        symbols=("Tensor",),
        inputs=lambda rng: {"x": draw(rng, (3,))},
        learner=learner,
        reference=reference,
        **kw,
    )


# ============================================================== the table
RESULT = (
    "{what} in a new Tensor whose children are the two operands (self, other) and whose label "
    "is '{op}', so that backward() can walk back through it"
)
BINARY_HINT = "d(a {op} b)/da = {da}, d(a {op} b)/db = {db}; add (+=) into .grad, never assign"
ACCUMULATE = (
    "gradient accumulation: a tensor used twice collects one contribution per use, so look at "
    "where `+=` belongs in your _backward"
)
"""The first rung of every reuse check: the concept, the same for every operation."""
REUSE_HINT = (
    "{case} uses a on both sides, so a.grad must collect two contributions ({want}); getting "
    "one of them means a `self.grad = ...` (or `other.grad = ...`) where `+=` belongs"
)

# fmt: off
spec(id="lab1.init.attrs", points=4, symbols=("Tensor",),
     inputs=lambda rng: {"x": draw(rng, (2, 3))},
     learner=init_attrs, reference=init_attrs_reference,
     hint="store data as a numpy array, grad as zeros of the same shape, _prev = the children "
     "passed in, _op = the label, and _backward = a function that does nothing (lambda: None)")
dtype_check("lab1.init.dtype", 4, dtype_cases,
            hint="numpy float arrays keep their dtype (float64 stays float64); Python numbers "
            "and lists become float32; grad is zeros with data's shape AND dtype (numpy has a "
            "function that copies both from an array)")

unbroadcast_check("lab1.unbroadcast.leading", 3, [((2, 3, 4), (3, 4)), ((5, 3), (3,))],
                  hint="broadcasting added leading axes: sum the gradient over its first axis "
                  "until it has as many axes as shape; e.g. (2, 3, 4) for shape (3, 4): once")
unbroadcast_check("lab1.unbroadcast.ones", 3,
                  [((2, 3, 4), (2, 1, 4)), ((3, 4), (3, 1)), ((3, 4), (1, 4))],
                  hint="an axis of size 1 in shape was stretched: sum the gradient over it with "
                  "keepdims=True")

op("add", {"a + b": lambda a, b: a + b}, operands(a=(3, 4), b=(3, 4)),
    forward(3, hint=(FORWARD, RESULT.format(what="the sum of the two arrays", op="+"))),
    backward(4, hint=BINARY_HINT.format(op="+", da="1", db="1") + ": both get out.grad"),
    Check("broadcast", 4, "both", {"a + r": lambda a, r: a + r, "r + a": lambda a, r: r + a},
          operands(a=(2, 3), r=(3,)),
          hint="r (shape (3,)) was broadcast to (2, 3): its gradient arrives with shape "
          "(2, 3) and must be summed back to r's shape, which Task 2's helper does"),
    Check("reuse", 2, "grad", {"a + a": lambda a: a + a}, operands(a=(2, 3)),
          hint=(ACCUMULATE, REUSE_HINT.format(case="a + a", want="2 * out.grad"))))
op("mul", {"a * b": lambda a, b: a * b}, operands(a=(3, 4), b=(3, 4)),
    forward(3, hint=(FORWARD, RESULT.format(what="the element-wise product", op="*"))),
    backward(4, hint=BINARY_HINT.format(op="*", da="b", db="a")
             + ": each operand's gradient is the OTHER operand's values times out.grad"),
    Check("broadcast", 4, "both", {"a * r": lambda a, r: a * r, "r * a": lambda a, r: r * a},
          operands(a=(2, 3), r=(3,)),
          hint="multiply out.grad by the other operand first, then sum the product back to "
          "this operand's shape (reducing first loses which values belong together)"),
    Check("reuse", 2, "grad", {"a * a": lambda a: a * a}, operands(a=(2, 3)),
          hint=(ACCUMULATE,
                                REUSE_HINT.format(case="a * a", want="2 * a * out.grad"))))

programs("backward",
    program("chain", 5, chain, operands(a=(), b=(), x=(2, 3), w=(3,)),
            hint="order the graph with an iterative topological sort, reset the gradients of "
            "intermediate nodes to zero, seed the output's grad (ones, or the given grad), then "
            "call each node's _backward from the output back to the leaves; backward() with no "
            "argument seeds 1 (only for one-element tensors)"),
    program("reuse", 4, reuse, operands(a=(3,), x=(2, 2)),
            hint="a node used twice gets two contributions: every _backward must ADD (+=) into "
            ".grad, and a node's _backward may run only after all its users' (topological "
            "order)"),
    program("deep", 5, deep, operands(x=(3,)),
            hint="a chain of 10,000 operations: a recursive graph walk hits Python's recursion "
            "limit; build the topological order with an explicit stack instead"),
    program("twice", 3, twice, operands(a=(2, 3), b=(2, 3)),
            hint="calling backward() twice must add the same gradient to the leaves again (as "
            "PyTorch does): reset intermediate nodes' grads to zero at the start of each "
            "backward()"))

op("pow", {"x ** 3": lambda x: x**3, "x ** 2": lambda x: x**2}, operands(x=(3, 4)),
    forward(2, hint=(FORWARD, "raise the data to the number k element-wise; the new Tensor's "
                     "only child is self, and its label names the power (**2, **-1)")),
    backward(2, hint="d(x**k)/dx = k * x**(k - 1): one power less"))
op("sub_div", {"a - b": lambda a, b: a - b, "a / b": lambda a, b: a / b, "-a": lambda a: -a},
    operands(a=(3, 4), b=((3, 4), "nonzero")),
    forward(2, hint="derive them: -a is a * -1, a - b is a + (-b), a / b is a * b ** -1"),
    backward(2, hint="built from + * ** the gradients come for free once those and backward() "
             "work"),
    Check("left", 1, "both", {"2.0 - a": lambda a: 2.0 - a, "2.0 / a": lambda a: 2.0 / a},
          operands(a=((2, 3), "nonzero")),
          hint="a number on the left calls a.__rsub__(2.0) or a.__rtruediv__(2.0): other - a "
          "is other + (-a) and other / a is other * a ** -1, not a - other or a / other"),
    local=False)
op("sum", {"x.sum()": lambda x: x.sum()}, operands(x=(3, 4)),
    forward(2, {"x.sum()": lambda x: x.sum(),
                "x.sum(axis=0)": lambda x: x.sum(axis=0),
                "x.sum(axis=1, keepdims=True)": lambda x: x.sum(axis=1, keepdims=True)},
            hint=(FORWARD, "numpy's sum of the data, with axis and keepdims passed through "
                  "unchanged; the new Tensor's only child is self")),
    backward(1, hint="every element contributed once, so each receives out.grad: broadcast "
             "out.grad to x's shape and add it"),
    Check("axis", 3, "grad",
          {"x.sum(axis=1)": lambda x: x.sum(axis=1),
           "x.sum(axis=0, keepdims=True)": lambda x: x.sum(axis=0, keepdims=True)},
          hint="without keepdims the summed axis is gone: put it back as a size-1 axis "
          "before broadcasting; e.g. x (3, 4) summed over axis 1 gives (3,), made (3, 1), "
          "then broadcast to (3, 4)"))

programs("zero_grad",
    program("", 2, zero_grad, operands(a=(3,), b=(3,)),
            hint="zero_grad() sets self.grad to zeros of data's shape and dtype"))
# fmt: on

# ------------------------------------------- what each task attaches to Tensor (in order)
DEFINED = {"Tensor": "Task 1"}
"""The task whose cell defines each class: running it again makes a new, bare class."""
ATTACHED = [
    ("Task 1", "Tensor", ("shape", "dtype", "ndim", "_lift"), ("init",)),
    ("Task 3", "Tensor", ("__add__",), ("add",)),
    ("Task 4", "Tensor", ("__mul__",), ("mul",)),
    ("Task 5", "Tensor", ("backward",), ("backward",)),
    ("Task 6", "Tensor", ("__pow__",), ("pow",)),
    (
        "Task 7",
        "Tensor",
        ("__neg__", "__sub__", "__truediv__", "__rsub__"),
        ("sub_div", "neg", "sub", "truediv"),
    ),
    ("Task 8", "Tensor", ("sum",), ("sum",)),
    ("Task 9", "Tensor", ("zero_grad",), ("zero_grad",)),
]
"""``(task, class, attributes its cells attach, check topics)``: a check of a topic needs
everything attached up to its task (see :func:`grader.checking.rerun.missing_methods`)."""
