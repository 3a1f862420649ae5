"""Hidden checks of lab 1.7.3: deeper structures, more shapes, more dropout rates."""

from __future__ import annotations

from typing import Any

import grader.checking.specs.draws as D
import grader.checking.specs.layers as L
import grader.checking.specs.trees as T
from grader.checking.numpy_side import data_of
from grader.checking.spec import Inputs
from grader.checking.specs.lab3 import (
    DRAWN_DROPOUT,
    DRAWN_LINEAR,
    INIT_HINT,
    LAYOUT,
    LINEAR,
    MLP,
    TRAIN_EVAL_HINT,
    ZERO_GRAD_HINT,
    linear_checks,
    tree_checks,
)
from grader.checking.specs.shared import add_check
from micrograd_plus.tensor import Tensor

HINTS = {
    "module.modules_deep": (
        "modules() must reach modules in lists inside dicts and four levels down"
    ),
    "module.parameters_deep": (
        "parameters() must reach tensors in lists and dicts of deeply nested modules, once each"
    ),
    "module.zero_grad_nested": ZERO_GRAD_HINT,
    "module.train_eval_deep": TRAIN_EVAL_HINT,
    "linear.batched": f"inputs may have extra leading axes, (batch, time, in_features); {LAYOUT}",
}
"""The hints of the hidden checks written as table rows, by name."""

# fmt: off
tree_checks([
    # name                      points  tree          method
    ("module.modules_deep",      2,     T.DEEP,       "modules"),
    ("module.parameters_deep",   2,     T.DEEP,       "parameters"),
    ("module.zero_grad_nested",  2,     T.CONTAINERS, "zero_grad"),
    ("module.train_eval_deep",   2,     T.DEEP,       "train_eval"),
], HINTS, hidden=True)
# fmt: on

INIT_SIZES = [(1, 3000), (3000, 2), (7, 5)]
add_check(
    "lab3.linear.init_sizes",
    2,
    DRAWN_LINEAR,
    D.seed_only,
    D.init_sides(INIT_SIZES),
    INIT_HINT,
    hidden=True,
)

# fmt: off
linear_checks([
    # name             points  output   x shape  in  out
    ("linear.batched",  2,     "grads", (2, 3),  5,  4),
], HINTS, hidden=True)
# fmt: on

no_bias_learner, no_bias_reference = L.linear_sides("grads", bias=False)


def _no_bias_learner(inputs: Inputs, Linear: type) -> dict[str, Any]:
    out = no_bias_learner(inputs, Linear)
    n_out, n_in = inputs["W"].shape
    layer = Linear(n_in, n_out, bias=False)
    layer.weight = Tensor(inputs["W"])
    out["out"] = data_of(layer.forward(Tensor(inputs["x"])))
    return out


def _no_bias_reference(inputs: Inputs) -> dict[str, Any]:
    out = no_bias_reference(inputs)
    out["out"] = inputs["x"] @ inputs["W"].T
    return out


add_check(
    "lab3.linear.no_bias",
    2,
    LINEAR,
    L.linear_inputs((5,), 3, 6),
    (_no_bias_learner, _no_bias_reference),
    "Linear(in, out, bias=False) has self.bias = None and computes x @ W.T only",
    hidden=True,
)

RATES = (0.1, 0.5, 0.8)


add_check(
    "lab3.dropout.rates",
    2,
    DRAWN_DROPOUT,
    D.dropout_inputs((20, 50, 50)),
    D.rates_sides(RATES),
    "drop with probability p (any p in [0, 1)), on inputs of any shape, scaling by 1/(1-p): "
    "the mask drawn from the notebook's rng as Task 7 states, whatever p",
    hidden=True,
)
add_check(
    "lab3.mlp.nested",
    2,
    MLP,
    L.net_inputs((6, 16, 4)),
    L.mlp_sides(nested=True),
    "a Sequential inside a Sequential: eval() must reach the Dropout two levels down",
    hidden=True,
)
