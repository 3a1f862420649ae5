"""Hidden checks of lab 1.7.3: deeper structures, more shapes, more dropout rates."""

from __future__ import annotations

from typing import Any

import numpy as np

from grader.compare import Row
from grader.harness import data_of
from grader.spec import Inputs, spec
from grader.specs import layers as L
from grader.specs import trees as T
from grader.specs.lab3 import INIT_HINT, LAYOUT, TRAIN_EVAL_HINT, ZERO_GRAD_HINT, tree_spec
from micrograd_plus.tensor import Tensor

tree_spec(
    "lab3.module.modules_deep",
    2,
    T.DEEP,
    T.search_sides(T.DEEP, "modules"),
    "modules() must reach modules in lists inside dicts and four levels down",
    hidden=True,
)
tree_spec(
    "lab3.module.parameters_deep",
    2,
    T.DEEP,
    T.search_sides(T.DEEP, "parameters"),
    "parameters() must reach tensors in lists and dicts of deeply nested modules, once each",
    hidden=True,
)
tree_spec(
    "lab3.module.zero_grad_nested",
    2,
    T.CONTAINERS,
    T.zero_grad_sides(T.CONTAINERS),
    ZERO_GRAD_HINT,
    hidden=True,
)
tree_spec(
    "lab3.module.train_eval_deep",
    2,
    T.DEEP,
    T.train_eval_sides(T.DEEP),
    TRAIN_EVAL_HINT,
    hidden=True,
)

INIT_SIZES = [(1, 3000), (3000, 2), (7, 5)]
init_learner, init_reference = L.init_sides(INIT_SIZES)
spec(
    id="lab3.linear.init_sizes",
    points=2,
    symbols=("Linear",),
    inputs=lambda rng: {},
    learner=init_learner,
    reference=init_reference,
    compare=L.init_compare(INIT_SIZES),
    hint=INIT_HINT,
    hidden=True,
)

batched_learner, batched_reference = L.linear_sides("grads")
spec(
    id="lab3.linear.batched",
    points=2,
    symbols=("Linear",),
    inputs=L.linear_inputs((2, 3), 5, 4),
    learner=batched_learner,
    reference=batched_reference,
    hint=f"inputs may have extra leading axes, (batch, time, in_features); {LAYOUT}",
    hidden=True,
)

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


spec(
    id="lab3.linear.no_bias",
    points=2,
    symbols=("Linear",),
    inputs=L.linear_inputs((5,), 3, 6),
    learner=_no_bias_learner,
    reference=_no_bias_reference,
    hint="Linear(in, out, bias=False) has self.bias = None and computes x @ W.T only",
    hidden=True,
)

RATES = (0.1, 0.5, 0.8)


def _rates_learner(inputs: Inputs, Dropout: type) -> dict[str, Any]:
    out = {f"p={p:g}": data_of(Dropout(p).forward(Tensor(inputs["x"]))) for p in RATES}
    out["p=0"] = data_of(Dropout(0.0).forward(Tensor(inputs["x"])))
    return out


def _rates_compare(got: dict[str, Any], expected: dict[str, Any], inputs: Inputs) -> list[Row]:
    x = inputs["x"]
    rows: list[Row] = []
    for p in RATES:
        rows += L.rate_rows(
            f"p={p:g}", np.asarray(got[f"p={p:g}"]), x, p, expected[f"scale p={p:g}"]
        )
    same = np.asarray(got["p=0"])
    ok = same.shape == x.shape and np.array_equal(same, x)
    why = "with p = 0 nothing is dropped: the output is x"
    rows.append(L.stat_row("p=0 in training: output = x", ok, "x", "x" if ok else "not x", why))
    return rows


spec(
    id="lab3.dropout.rates",
    points=2,
    symbols=("Dropout",),
    inputs=L.dropout_inputs((20, 50, 50)),
    learner=_rates_learner,
    reference=L.scales_reference(RATES),
    compare=_rates_compare,
    hint="drop with probability p (any p in [0, 1)), on inputs of any shape, scaling by 1/(1-p)",
    hidden=True,
)

nested_learner, nested_reference = L.mlp_sides(nested=True)
spec(
    id="lab3.mlp.nested",
    points=2,
    symbols=("Sequential", "Linear", "ReLU", "Dropout"),
    inputs=L.net_inputs((6, 16, 4)),
    learner=nested_learner,
    reference=nested_reference,
    hint="a Sequential inside a Sequential: eval() must reach the Dropout two levels down",
    hidden=True,
)
