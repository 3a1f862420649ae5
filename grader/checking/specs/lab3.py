"""Checks of lab 1.7.3 (layers): ``Module``, ``Linear``, ``ReLU``, ``Dropout``, ``Sequential``.

Deterministic checks copy weights into ``torch.nn`` layers (float64) and compare
outputs and every gradient. Parameter and module searches are compared with
what ``torch.nn.Module`` finds in the same structure (see
:mod:`grader.checking.specs.trees`). Initialisation and dropout are random, so their
checks are statistical, with tolerances far wider than the sampling noise.

Checks call ``forward`` directly and set weights themselves where they can, so
that, e.g., a ``Linear`` check does not fail only because ``Module.__call__``
or the learner's initialisation is wrong.

The checks that repeat a pattern are tables, one row per check (its id is
``lab3.<name>``), with their hints in :data:`HINTS`; the table functions serve
the hidden checks too. The sides live in :mod:`grader.checking.specs.layers`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

import grader.checking.specs.layers as L
import grader.checking.specs.trees as T
from grader.checking.numpy_side import data_of, learner_op
from grader.checking.spec import Inputs
from grader.checking.specs.shared import Side, add_check, no_inputs
from grader.checking.torch_side import torch_op
from micrograd_plus.tensor import Tensor

MODULE, LINEAR, DROPOUT = ("Module",), ("Linear",), ("Dropout",)
MLP = ("Sequential", "Linear", "ReLU", "Dropout")
DROPOUT_P = 0.3
"""The rate of the visible Dropout checks."""

TreeRow = tuple[str, float, Any, str]
"""(name, points, tree of modules and tensors (see :mod:`grader.checking.specs.trees`), method)."""
LinearRow = tuple[str, float, str, tuple[int, ...], int, int]
"""(name, points, ``"out"`` or ``"grads"``, leading shape of x, in_features, out_features)."""
DropoutRow = tuple[str, float, tuple[int, ...], str]
"""(name, points, shape of x, behaviour: ``"train"``, ``"backward"`` or ``"eval"``)."""


def tree_sides(tree: Any, method: str) -> tuple[Side, Side]:
    """Sides that build ``tree`` from the learner's Module and from torch.nn and call ``method``
    (``modules``, ``parameters``, ``zero_grad`` or ``train_eval``) on both."""
    if method == "zero_grad":
        return T.zero_grad_sides(tree)
    if method == "train_eval":
        return T.train_eval_sides(tree)
    return T.search_sides(tree, method)


def tree_checks(rows: Sequence[TreeRow], hints: Mapping[str, str], hidden: bool = False) -> None:
    """One check of ``Module`` per row: ``method`` on the tree, against torch.nn."""
    for name, points, tree, method in rows:
        inputs, sides = T.tree_inputs(tree), tree_sides(tree, method)
        add_check(f"lab3.{name}", points, MODULE, inputs, sides, hints[name], hidden=hidden)


def linear_checks(
    rows: Sequence[LinearRow], hints: Mapping[str, str], hidden: bool = False
) -> None:
    """One check of ``Linear.forward`` per row, with the check's weights: its output, or the
    gradients of x, weight and bias."""
    for name, points, want, shape, n_in, n_out in rows:
        inputs, sides = L.linear_inputs(shape, n_in, n_out), L.linear_sides(want)
        add_check(f"lab3.{name}", points, LINEAR, inputs, sides, hints[name], hidden=hidden)


def dropout_checks(
    rows: Sequence[DropoutRow], hints: Mapping[str, str], hidden: bool = False
) -> None:
    """One check of ``Dropout(DROPOUT_P)`` per row; in evaluation, the identity, it is exact."""
    for name, points, shape, behaviour in rows:
        inputs, sides = L.dropout_inputs(shape), L.dropout_sides(behaviour, DROPOUT_P)
        exact = {"rtol": 0, "atol": 0} if behaviour == "eval" else {}
        add_check(
            f"lab3.{name}", points, DROPOUT, inputs, sides, hints[name], hidden=hidden, **exact
        )


# ------------------------------------------------- hints of the table rows

ZERO_GRAD_HINT = (
    "zero_grad() sets p.grad to zeros for every p in self.parameters(): an array of the "
    "parameter's shape (np.zeros_like(p.data)), not None or 0, since backward adds into it"
)
TRAIN_EVAL_HINT = (
    "train(mode=True) sets m.training = mode for every m in self.modules(), not only self; "
    "eval() is train(False)"
)
LAYOUT = "weight has shape (out_features, in_features), like torch.nn.Linear: y = x @ W.T + b"
INIT_HINT = (
    "like torch.nn.Linear: weight (out, in) and bias (out,), both drawn from U(-k, k) with "
    "k = 1/sqrt(in_features): rng.uniform(-k, k, size=...)"
)
HINTS = {
    "module.modules": (
        "modules() returns self and every Module reachable through attributes, lists and dicts, "
        "each once (remember the id() of every module already found)"
    ),
    "module.parameters": (
        "parameters() returns the Tensors held by this module AND by every module inside it (look "
        "at the attributes of each m in self.modules()); strings, floats, arrays are not "
        "parameters"
    ),
    "module.parameters_containers": (
        "models keep layers and tensors in lists and dicts (self.layers = [...]): look inside "
        "list, tuple and dict attributes, for modules in modules() and for tensors in parameters()"
    ),
    "module.parameters_unique": (
        "a module or tensor used twice (shared or tied weights) is still one parameter: return "
        "each Tensor once (compare id()s, not values)"
    ),
    "module.zero_grad": ZERO_GRAD_HINT,
    "module.train_eval": TRAIN_EVAL_HINT,
    "linear.forward": (
        f"{LAYOUT} (the check sets layer.weight and layer.bias itself, then calls forward)"
    ),
    "linear.backward": (
        "build the output with Tensor operations on x, self.weight and self.bias (@, .T, +), so "
        "that backward reaches all three; wrapping numpy results in a new Tensor cuts the graph"
    ),
    "dropout.train": (
        "in training: keep = rng.random(x.shape) >= p, return x * (keep / (1 - p)) (inverted "
        "dropout: every element keeps its expected value)"
    ),
    "dropout.backward": (
        "multiply x by the scaled mask with a Tensor operation (x * (keep / (1 - p))): the "
        "gradient then flows through kept elements only, times 1/(1-p)"
    ),
    "dropout.eval": "when self.training is False, Dropout is the identity: return x itself",
}
"""The hints of the visible checks written as table rows, by name."""


# ------------------------------------------------------------------ Module


def _call_inputs(rng: np.random.Generator) -> Inputs:
    return {"a": rng.normal(size=(3, 4)), "b": rng.normal(size=(3, 4))}


def _call_learner(inputs: Inputs, Module: type) -> dict[str, Any]:
    class Affine(Module):
        def __init__(self) -> None:
            super().__init__()
            self.calls = 0

        def forward(self, a: Any, b: Any) -> Any:
            self.calls += 1
            return a * 2.0 + b

    model = Affine()
    out = model(Tensor(inputs["a"]), Tensor(inputs["b"]))
    return {"model(a, b)": data_of(out), "forward calls": np.array(model.calls)}


def _call_reference(inputs: Inputs) -> dict[str, Any]:
    import torch

    class Affine(torch.nn.Module):
        def forward(self, a: Any, b: Any) -> Any:
            return a * 2.0 + b

    out = Affine()(torch.tensor(inputs["a"]), torch.tensor(inputs["b"]))
    return {"model(a, b)": out.numpy(), "forward calls": np.array(1)}


add_check(
    "lab3.module.call",
    3,
    MODULE,
    _call_inputs,
    (_call_learner, _call_reference),
    "__call__(self, *args) returns self.forward(*args): pass every argument through",
)

# fmt: off
tree_checks([
    # name                           points  tree          method
    ("module.modules",                5,     T.MODULES,    "modules"),
    ("module.parameters",             6,     T.NESTED,     "parameters"),
    ("module.parameters_containers",  5,     T.CONTAINERS, "parameters"),
    ("module.parameters_unique",      3,     T.SHARED,     "parameters"),
    ("module.zero_grad",              4,     T.FLAT,       "zero_grad"),
    ("module.train_eval",             6,     T.MODES,      "train_eval"),
], HINTS)
# fmt: on

# ------------------------------------------------------------------ Linear

# fmt: off
linear_checks([
    # name              points  output   x shape  in  out
    ("linear.forward",   6,     "out",   (6,),    4,  3),
    ("linear.backward",  7,     "grads", (6,),    4,  3),
], HINTS)
# fmt: on
add_check("lab3.linear.init", 7, LINEAR, no_inputs, L.init_sides([(400, 200)]), INIT_HINT)

# ------------------------------------------------------------------- ReLU


def _relu_inputs(rng: np.random.Generator) -> Inputs:
    return {"x": rng.normal(size=(5, 7)), "g": rng.normal(size=(5, 7))}


def _relu_learner(inputs: Inputs, ReLU: type) -> dict[str, Any]:
    return learner_op(Tensor, lambda x: ReLU().forward(x), inputs)


def _relu_reference(inputs: Inputs) -> dict[str, Any]:
    import torch

    return torch_op(torch.relu, inputs)


add_check(
    "lab3.relu.module",
    3,
    ("ReLU",),
    _relu_inputs,
    (_relu_learner, _relu_reference),
    "ReLU.forward(x) returns x.relu(), the operation of lab 1.7.2",
)

# ---------------------------------------------------------------- Dropout

# fmt: off
dropout_checks([
    # name               points  x shape     behaviour
    ("dropout.train",     6,     (400, 250), "train"),
    ("dropout.backward",  4,     (200, 100), "backward"),
    ("dropout.eval",      4,     (30, 40),   "eval"),
], HINTS)
# fmt: on

# ------------------------------------------------------------- Sequential

add_check(
    "lab3.sequential.forward",
    4,
    ("Sequential",),
    L.net_inputs((5, 7, 3), batch=4),
    L.chain_sides(),
    "Sequential(*layers) keeps the layers in order; forward feeds each output to the next "
    "layer: for layer in self.layers: x = layer(x)",
)

HALVES = [("M", {"w": 0, "b": 1}), ("M", {"w": 2, "b": 3})]


def _halves_learner(inputs: Inputs, Sequential: type, Module: type) -> dict[str, Any]:
    halves = [T.learner_build(Module, half, inputs)[0] for half in HALVES]
    return T.parameters_found(Sequential(*halves).parameters())


def _halves_reference(inputs: Inputs) -> dict[str, Any]:
    import torch

    halves = [T.torch_build(half, inputs)[0] for half in HALVES]
    return T.parameters_found(torch.nn.Sequential(*halves).parameters())


add_check(
    "lab3.sequential.parameters",
    3,
    ("Sequential", "Module"),
    T.tree_inputs(("M", {"w": 3})),
    (_halves_learner, _halves_reference),
    "Sequential keeps its layers in a list attribute, so parameters() must look inside lists",
)

# ------------------------------------------------------ a whole small MLP

add_check(
    "lab3.mlp.torch",
    6,
    MLP,
    L.net_inputs((6, 16, 4)),
    L.mlp_sides(nested=False),
    "Sequential(Linear, ReLU, Dropout, Linear) in eval mode against torch.nn: model.eval() "
    "must reach the Dropout inside Sequential's list, and model(x) must call forward",
)

# ------------------------------------------- what each task attaches to Module (in order)
DEFINED = {"Module": "Task 1"}
"""The task whose cell defines each class: running it again makes a new, bare class."""
ATTACHED = [
    ("Task 1", "Module", (), ("module.call",)),
    ("Task 2", "Module", ("modules",), ("module.modules",)),
    ("Task 3", "Module", ("parameters",), ("module.parameters",)),
    ("Task 4", "Module", ("zero_grad", "train", "eval"), ("module.zero_grad", "module.train_eval")),
    ("Task 5", "Module", (), ("linear", "relu", "dropout", "sequential", "mlp")),
]
"""``(task, class, attributes its cells attach, check topics)`` as in lab 1's specs."""
