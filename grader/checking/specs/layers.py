"""Learner and reference sides of lab 1.7.3's layer checks (Linear, Sequential, MLP).

Each learner side runs the learner's class with numpy inputs only; each
reference side builds the same computation with ``torch.nn`` in float64.
Where weights matter, the check sets them itself (``layer.weight = Tensor(W)``),
so a forward check does not depend on the learner's initialisation. Each
``*_sides`` function returns the tuple :func:`grader.checking.specs.shared.add_check` takes.
The checks of random draws (initialisation, Dropout) are in :mod:`grader.checking.specs.draws`.
"""

from __future__ import annotations

from collections.abc import Callable
from itertools import pairwise
from typing import Any

import numpy as np

import micrograd_plus.ops  # noqa: F401  (attaches @, .T and .tanh to Tensor)
from grader.checking.numpy_side import data_of
from grader.checking.spec import Inputs
from grader.checking.specs.shared import Side, torch_grad, torch_linear
from micrograd_plus.tensor import Tensor

# ------------------------------------------------------------------ Linear


def linear_inputs(shape: tuple[int, ...], n_in: int, n_out: int) -> Callable[..., Inputs]:
    """x of ``shape + (n_in,)``, W (n_out, n_in), b (n_out,) and an upstream gradient g."""

    def inputs(rng: np.random.Generator) -> Inputs:
        return {
            "x": rng.normal(size=(*shape, n_in)),
            "W": rng.normal(size=(n_out, n_in)) / np.sqrt(n_in),
            "b": rng.normal(size=n_out),
            "g": rng.normal(size=(*shape, n_out)),
        }

    return inputs


def linear_sides(want: str, bias: bool = True) -> tuple[Side, Side]:
    """Learner and reference of a Linear check; ``want`` is ``"out"`` or ``"grads"``."""

    def learner(inputs: Inputs, Linear: type) -> dict[str, Any]:
        n_out, n_in = inputs["W"].shape
        layer = Linear(n_in, n_out) if bias else Linear(n_in, n_out, bias=False)
        result: dict[str, Any] = {}
        if not bias:
            result["bias is None"] = np.array(float(getattr(layer, "bias", 0) is None))
        layer.weight = Tensor(inputs["W"])
        if bias:
            layer.bias = Tensor(inputs["b"])
        x = Tensor(inputs["x"])
        out = layer.forward(x)
        if want == "out":
            return {**result, "out": data_of(out)}
        out.backward(inputs["g"])
        result.update({"x.grad": x.grad, "weight.grad": layer.weight.grad})
        if bias:
            result["bias.grad"] = layer.bias.grad
        return result

    def reference(inputs: Inputs) -> dict[str, Any]:
        import torch

        layer = torch_linear(inputs["W"], inputs["b"] if bias else None)
        x = torch.tensor(inputs["x"], requires_grad=True)
        out = layer(x)
        result: dict[str, Any] = {} if bias else {"bias is None": np.array(1.0)}
        if want == "out":
            return {**result, "out": out.detach().numpy()}
        out.backward(torch.tensor(inputs["g"]))
        result.update({"x.grad": torch_grad(x), "weight.grad": torch_grad(layer.weight)})
        if bias:
            result["bias.grad"] = torch_grad(layer.bias)
        return result

    return learner, reference


# -------------------------------------------------------- Sequential, MLP


class CheckAffine:
    """The check's own affine layer (not a learner Module): only Sequential is under test."""

    def __init__(self, weight: np.ndarray, bias: np.ndarray) -> None:
        self.weight, self.bias = Tensor(weight), Tensor(bias)

    def forward(self, x: Any) -> Any:
        return x @ self.weight.T + self.bias

    def __call__(self, x: Any) -> Any:
        return self.forward(x)


class CheckTanh:
    """The check's own tanh layer."""

    def forward(self, x: Any) -> Any:
        return x.tanh()

    def __call__(self, x: Any) -> Any:
        return self.forward(x)


def net_inputs(sizes: tuple[int, ...], batch: int = 8) -> Callable[..., Inputs]:
    """x (batch, sizes[0]), W<i> and b<i> for each layer, and an upstream gradient."""

    def inputs(rng: np.random.Generator) -> Inputs:
        out = {"x": rng.normal(size=(batch, sizes[0]))}
        for i, (n_in, n_out) in enumerate(pairwise(sizes), start=1):
            out[f"W{i}"] = rng.normal(size=(n_out, n_in)) / np.sqrt(n_in)
            out[f"b{i}"] = rng.normal(size=n_out) / 2
        out["g"] = rng.normal(size=(batch, sizes[-1]))
        return out

    return inputs


def run_torch(model: Any, inputs: Inputs, layers: list[Any]) -> dict[str, Any]:
    """Forward x, backward g; the output and the gradients of x and of every layer."""
    import torch

    x = torch.tensor(inputs["x"], requires_grad=True)
    out = model(x)
    out.backward(torch.tensor(inputs["g"]))
    result = {"out": out.detach().numpy(), "x.grad": torch_grad(x)}
    for i, layer in enumerate(layers, start=1):
        result[f"W{i}.grad"] = torch_grad(layer.weight)
        result[f"b{i}.grad"] = torch_grad(layer.bias)
    return result


def run_learner(model_out: Callable[[Any], Any], x: Any, inputs: Inputs, layers: list[Any]) -> Any:
    """Like :func:`run_torch` for the learner's model (``model_out(x)`` runs it)."""
    out = model_out(x)
    out.backward(inputs["g"])
    result = {"out": data_of(out), "x.grad": x.grad}
    for i, layer in enumerate(layers, start=1):
        result[f"W{i}.grad"] = layer.weight.grad
        result[f"b{i}.grad"] = layer.bias.grad
    return result


def chain_sides() -> tuple[Side, Side]:
    """Sequential(affine, tanh, affine) of the check's own layers, against torch.nn.Sequential."""

    def learner(inputs: Inputs, Sequential: type) -> dict[str, Any]:
        layers = [CheckAffine(inputs[f"W{i}"], inputs[f"b{i}"]) for i in (1, 2)]
        model = Sequential(layers[0], CheckTanh(), layers[1])
        return run_learner(model.forward, Tensor(inputs["x"]), inputs, layers)

    def reference(inputs: Inputs) -> dict[str, Any]:
        import torch

        layers = [torch_linear(inputs[f"W{i}"], inputs[f"b{i}"]) for i in (1, 2)]
        return run_torch(torch.nn.Sequential(layers[0], torch.nn.Tanh(), layers[1]), inputs, layers)

    return learner, reference


def mlp_sides(nested: bool) -> tuple[Side, Side]:
    """The learner's Linear, ReLU, Dropout and Sequential as one model in eval mode."""

    def learner(inputs: Inputs, Sequential: type, Linear: type, ReLU: type, Dropout: type) -> Any:
        layers = []
        for i in (1, 2):
            n_out, n_in = inputs[f"W{i}"].shape
            layer = Linear(n_in, n_out)
            layer.weight, layer.bias = Tensor(inputs[f"W{i}"]), Tensor(inputs[f"b{i}"])
            layers.append(layer)
        model = _mlp(nested, layers, Sequential, ReLU, Dropout)
        return run_learner(model, Tensor(inputs["x"]), inputs, layers)

    def reference(inputs: Inputs) -> dict[str, Any]:
        import torch

        layers = [torch_linear(inputs[f"W{i}"], inputs[f"b{i}"]) for i in (1, 2)]
        model = _mlp(nested, layers, torch.nn.Sequential, torch.nn.ReLU, torch.nn.Dropout)
        return run_torch(model, inputs, layers)

    return learner, reference


def _mlp(nested: bool, layers: list[Any], Sequential: Any, ReLU: Any, Dropout: Any) -> Any:
    """Linear, ReLU, Dropout, Linear in eval mode, from the learner's classes or torch.nn's;
    ``nested`` puts the first three in a Sequential of their own, with one more Dropout."""
    if nested:
        model = Sequential(Sequential(layers[0], ReLU(), Dropout(0.3)), Dropout(0.2), layers[1])
    else:
        model = Sequential(layers[0], ReLU(), Dropout(0.5), layers[1])
    model.eval()
    return model
