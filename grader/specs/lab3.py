"""Lab 1.7.3 — layers: ``Module``, ``Linear``, ``ReLU``, ``Dropout``, ``Sequential``.

Deterministic checks copy weights into ``torch.nn`` layers (float64) and compare
outputs and every gradient. Parameter and module searches are compared with
what ``torch.nn.Module`` finds in the same structure (see
:mod:`grader.specs.trees`). Initialisation and dropout are random, so their
checks are statistical, with tolerances far wider than the sampling noise.

Checks call ``forward`` directly and set weights themselves where they can, so
that, e.g., a ``Linear`` check does not fail only because ``Module.__call__``
or the learner's initialisation is wrong.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from grader.harness import data_of, learner_op
from grader.refs import torch_op
from grader.spec import Inputs, Spec, spec
from grader.specs import layers as L
from grader.specs import trees as T
from micrograd_plus.tensor import Tensor


def tree_spec(check_id: str, points: float, tree: Any, sides: Any, hint: str, **kw: Any) -> Spec:
    """A check that builds ``tree`` from the learner's Module and from torch.nn."""
    learner, reference = sides
    return spec(
        id=check_id,
        points=points,
        symbols=("Module",),
        inputs=T.tree_inputs(tree),
        learner=learner,
        reference=reference,
        hint=hint,
        **kw,
    )


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


spec(
    id="lab3.module.call",
    points=3,
    symbols=("Module",),
    inputs=_call_inputs,
    learner=_call_learner,
    reference=_call_reference,
    hint="__call__(self, *args) returns self.forward(*args): pass every argument through",
)

tree_spec(
    "lab3.module.modules",
    5,
    T.MODULES,
    T.search_sides(T.MODULES, "modules"),
    "modules() returns self and every Module reachable through attributes, lists and dicts, "
    "each once (remember the id() of every module already found)",
)
tree_spec(
    "lab3.module.parameters",
    6,
    T.NESTED,
    T.search_sides(T.NESTED, "parameters"),
    "parameters() returns the Tensors held by this module AND by every module inside it (look "
    "at the attributes of each m in self.modules()); strings, floats, arrays are not parameters",
)
tree_spec(
    "lab3.module.parameters_containers",
    5,
    T.CONTAINERS,
    T.search_sides(T.CONTAINERS, "parameters"),
    "models keep layers and tensors in lists and dicts (self.layers = [...]): look inside list, "
    "tuple and dict attributes, for modules in modules() and for tensors in parameters()",
)
tree_spec(
    "lab3.module.parameters_unique",
    3,
    T.SHARED,
    T.search_sides(T.SHARED, "parameters"),
    "a module or tensor used twice (shared or tied weights) is still one parameter: return "
    "each Tensor once (compare id()s, not values)",
)

ZERO_GRAD_HINT = (
    "zero_grad() sets p.grad to zeros for every p in self.parameters(): an array of the "
    "parameter's shape (np.zeros_like(p.data)), not None or 0, since backward adds into it"
)
tree_spec("lab3.module.zero_grad", 4, T.FLAT, T.zero_grad_sides(T.FLAT), ZERO_GRAD_HINT)

TRAIN_EVAL_HINT = (
    "train(mode=True) sets m.training = mode for every m in self.modules(), not only self; "
    "eval() is train(False)"
)
tree_spec("lab3.module.train_eval", 6, T.MODES, T.train_eval_sides(T.MODES), TRAIN_EVAL_HINT)

# ------------------------------------------------------------------ Linear

LAYOUT = "weight has shape (out_features, in_features), like torch.nn.Linear: y = x @ W.T + b"
INIT_HINT = (
    "like torch.nn.Linear: weight (out, in) and bias (out,), both drawn from U(-k, k) with "
    "k = 1/sqrt(in_features): rng.uniform(-k, k, size=...)"
)

forward_learner, forward_reference = L.linear_sides("out")
spec(
    id="lab3.linear.forward",
    points=6,
    symbols=("Linear",),
    inputs=L.linear_inputs((6,), 4, 3),
    learner=forward_learner,
    reference=forward_reference,
    hint=f"{LAYOUT} (the check sets layer.weight and layer.bias itself, then calls forward)",
)

backward_learner, backward_reference = L.linear_sides("grads")
spec(
    id="lab3.linear.backward",
    points=7,
    symbols=("Linear",),
    inputs=L.linear_inputs((6,), 4, 3),
    learner=backward_learner,
    reference=backward_reference,
    hint="build the output with Tensor operations on x, self.weight and self.bias (@, .T, +), so "
    "that backward reaches all three; wrapping numpy results in a new Tensor cuts the graph",
)

INIT_SIZES = [(400, 200)]
init_learner, init_reference = L.init_sides(INIT_SIZES)
spec(
    id="lab3.linear.init",
    points=7,
    symbols=("Linear",),
    inputs=lambda rng: {},
    learner=init_learner,
    reference=init_reference,
    compare=L.init_compare(INIT_SIZES),
    hint=INIT_HINT,
)

# ------------------------------------------------------------------- ReLU


def _relu_inputs(rng: np.random.Generator) -> Inputs:
    return {"x": rng.normal(size=(5, 7)), "g": rng.normal(size=(5, 7))}


def _relu_reference(inputs: Inputs) -> dict[str, Any]:
    import torch

    return torch_op(torch.relu, inputs)


spec(
    id="lab3.relu.module",
    points=3,
    symbols=("ReLU",),
    inputs=_relu_inputs,
    learner=lambda inputs, ReLU: learner_op(Tensor, lambda x: ReLU().forward(x), inputs),
    reference=_relu_reference,
    hint="ReLU.forward(x) returns x.relu(), the operation of lab 1.7.2",
)

# ---------------------------------------------------------------- Dropout

DROPOUT_P = 0.3

spec(
    id="lab3.dropout.train",
    points=6,
    symbols=("Dropout",),
    inputs=L.dropout_inputs((400, 250)),
    learner=L.dropout_train_learner(DROPOUT_P),
    reference=L.scales_reference((DROPOUT_P,)),
    compare=L.dropout_train_compare(DROPOUT_P),
    hint="in training: keep = rng.random(x.shape) >= p, return x * (keep / (1 - p)) (inverted "
    "dropout: every element keeps its expected value)",
)
spec(
    id="lab3.dropout.backward",
    points=4,
    symbols=("Dropout",),
    inputs=L.dropout_inputs((200, 100)),
    learner=L.dropout_backward_learner(DROPOUT_P),
    reference=L.scales_reference((DROPOUT_P,)),
    compare=L.dropout_backward_compare(DROPOUT_P),
    hint="multiply x by the scaled mask with a Tensor operation (x * (keep / (1 - p))): the "
    "gradient then flows through kept elements only, times 1/(1-p)",
)
eval_learner, eval_reference = L.dropout_eval_sides(DROPOUT_P)
spec(
    id="lab3.dropout.eval",
    points=4,
    symbols=("Dropout",),
    inputs=L.dropout_inputs((30, 40)),
    learner=eval_learner,
    reference=eval_reference,
    rtol=0,
    atol=0,
    hint="when self.training is False, Dropout is the identity: return x itself",
)

# ------------------------------------------------------------- Sequential

chain_learner, chain_reference = L.chain_sides()
spec(
    id="lab3.sequential.forward",
    points=4,
    symbols=("Sequential",),
    inputs=L.net_inputs((5, 7, 3), batch=4),
    learner=chain_learner,
    reference=chain_reference,
    hint="Sequential(*layers) keeps the layers in order; forward feeds each output to the next "
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


spec(
    id="lab3.sequential.parameters",
    points=3,
    symbols=("Sequential", "Module"),
    inputs=T.tree_inputs(("M", {"w": 3})),
    learner=_halves_learner,
    reference=_halves_reference,
    hint="Sequential keeps its layers in a list attribute, so parameters() must look inside lists",
)

# ------------------------------------------------------ a whole small MLP

mlp_learner, mlp_reference = L.mlp_sides(nested=False)
spec(
    id="lab3.mlp.torch",
    points=6,
    symbols=("Sequential", "Linear", "ReLU", "Dropout"),
    inputs=L.net_inputs((6, 16, 4)),
    learner=mlp_learner,
    reference=mlp_reference,
    hint="Sequential(Linear, ReLU, Dropout, Linear) in eval mode against torch.nn: model.eval() "
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
