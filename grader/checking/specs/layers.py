"""Learner and reference sides of lab 1.7.3's layer checks (Linear, Dropout, Sequential, MLP).

Each learner side runs the learner's class with numpy inputs only; each
reference side builds the same computation with ``torch.nn`` in float64.
Where weights matter, the check sets them itself (``layer.weight = Tensor(W)``),
so a forward check does not depend on the learner's initialisation. Each
``*_sides`` function returns the tuple :func:`grader.checking.specs.shared.add_check` takes.
"""

from __future__ import annotations

from collections.abc import Callable
from itertools import pairwise
from typing import Any

import numpy as np

import micrograd_plus.ops  # noqa: F401  (attaches @, .T and .tanh to Tensor)
from grader.checking.compare import Row, compare_arrays
from grader.checking.numpy_side import data_of
from grader.checking.spec import Inputs
from grader.checking.specs.shared import Compare, Side, stat_row, torch_grad, torch_linear
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


def init_sides(sizes: list[tuple[int, int]]) -> tuple[Side, Side, Compare]:
    """An initialisation check of ``Linear(n_in, n_out)`` for each size: the learner's weights,
    torch's shapes and bound k = 1/sqrt(in_features), and a statistical compare."""

    def learner(inputs: Inputs, Linear: type) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for n_in, n_out in sizes:
            layer, again, key = Linear(n_in, n_out), Linear(n_in, n_out), f"{n_in}->{n_out}"
            out[f"{key} weight"] = data_of(layer.weight).astype(np.float64)
            bias = layer.bias
            out[f"{key} bias"] = np.zeros(0) if bias is None else data_of(bias).astype(np.float64)
            out[f"{key} again"] = data_of(again.weight)
        return out

    def reference(inputs: Inputs) -> dict[str, Any]:
        import torch

        out: dict[str, Any] = {}
        for n_in, n_out in sizes:
            layer = torch.nn.Linear(n_in, n_out)
            fan_in = torch.nn.init._calculate_fan_in_and_fan_out(layer.weight)[0]
            out[f"{n_in}->{n_out} weight.shape"] = np.array(layer.weight.shape)
            out[f"{n_in}->{n_out} bias.shape"] = np.array(layer.bias.shape)
            out[f"{n_in}->{n_out} bound"] = np.array(fan_in**-0.5)
        return out

    def compare(got: dict[str, Any], expected: dict[str, Any], inputs: Inputs) -> list[Row]:
        """Shapes exactly; values that look drawn from U(-k, k), k = 1/sqrt(in_features)."""
        rows: list[Row] = []
        for n_in, n_out in sizes:
            key = f"{n_in}->{n_out}"
            weight, bias = np.asarray(got[f"{key} weight"]), np.asarray(got[f"{key} bias"])
            want = {name: expected[f"{key} {name}.shape"] for name in ("weight", "bias")}
            shapes = [
                compare_arrays(f"Linear({key}) {name}.shape", np.array(v.shape), want[name], 0, 0)
                for name, v in (("weight", weight), ("bias", bias))
            ]
            rows += shapes
            k = float(expected[f"{key} bound"])
            if shapes[0].ok:
                rows += uniform_rows(f"Linear({key}) weight", weight, k, variance=True)
                same = np.array_equal(np.asarray(got[f"{key} again"]), weight)
                got_twice = "identical" if same else "different"
                why = "each Linear draws new random numbers"
                name = f"Linear({key}) twice: different weights"
                rows.append(stat_row(name, not same, "different", got_twice, why))
            if shapes[1].ok:
                rows += uniform_rows(f"Linear({key}) bias", bias, k, variance=False)
        return rows

    return learner, reference, compare


def uniform_rows(name: str, values: np.ndarray, k: float, variance: bool) -> list[Row]:
    """Do ``values`` fill [-k, k], and (for many values) have U(-k, k)'s variance k^2/3?"""
    peak = float(np.abs(values).max()) / k if values.size else 0.0
    floor = min(0.99, 1e-6 ** (1 / max(values.size, 1)))  # P(max below floor) <= 1e-6
    why = f"values should fill [-k, k], k = 1/sqrt(in_features) = {k:.4g}"
    fills = floor <= peak <= 1 + 1e-9
    rows = [stat_row(f"{name}: max |value| / k", fills, f"in [{floor:g}, 1]", f"{peak:.4g}", why)]
    if variance and values.size >= 1000:
        tol = 0.05 if values.size >= 20_000 else 0.12
        ratio = float(values.var()) / (k * k / 3)
        why = "U(-k, k) has variance k^2/3: draw uniformly, not from a normal"
        ok, got = abs(ratio - 1) <= tol, f"{ratio:.4g}"
        rows.append(stat_row(f"{name}: variance / (k^2/3)", ok, f"1 ± {tol:g}", got, why))
    return rows


# ----------------------------------------------------------------- Dropout


def dropout_inputs(shape: tuple[int, ...]) -> Callable[..., Inputs]:
    """Positive inputs (a zero output then means dropped) and an upstream gradient."""

    def inputs(rng: np.random.Generator) -> Inputs:
        return {"x": rng.uniform(0.5, 1.5, size=shape), "g": rng.normal(size=shape)}

    return inputs


def dropout_scale(p: float) -> float:
    """What torch multiplies kept elements by, read off ``F.dropout`` of ones."""
    import torch

    with torch.random.fork_rng():
        torch.manual_seed(0)
        ones = torch.ones(10_000, dtype=torch.float64)
        return float(torch.nn.functional.dropout(ones, p, training=True).max())


def scales_reference(ps: tuple[float, ...]) -> Side:
    """The reference side of the Dropout checks: torch's scale of kept elements for each p."""
    return lambda inputs: {f"scale p={p:g}": np.array(dropout_scale(p)) for p in ps}


def rate_rows(label: str, out: np.ndarray, x: np.ndarray, p: float, scale: float) -> list[Row]:
    """Is about a fraction p of the elements zeroed, and is every kept element x / (1 - p)?"""
    if out.shape != x.shape:
        return [Row(f"{label}: shape", False, f"shape {out.shape}, expected {x.shape}")]
    dropped = out == 0
    rate = float(dropped.mean())
    tol = max(0.01, 6 * float(np.sqrt(p * (1 - p) / x.size)))
    ok = abs(rate - p) <= tol
    why = f"zero each element with probability p = {p:g} (keep it when rng.random() >= p)"
    kept = x[~dropped] * scale
    return [
        stat_row(f"{label}: fraction zeroed", ok, f"{p:g} ± {tol:.3g}", f"{rate:.4f}", why),
        compare_arrays(f"{label}: kept = x / (1 - p)", out[~dropped], kept, 1e-6, 1e-12),
    ]


def dropout_sides(behaviour: str, p: float) -> tuple[Side, Side] | tuple[Side, Side, Compare]:
    """The sides of one behaviour of ``Dropout(p)``: ``"train"`` (about p dropped, the rest
    scaled, a new mask at every call), ``"backward"`` (the gradient flows through the kept
    elements only, scaled) or ``"eval"`` (the identity, gradient included)."""
    if behaviour == "train":
        return _two_calls(p), scales_reference((p,)), _train_compare(p)
    if behaviour == "backward":
        return _forward_backward(p, training=True), scales_reference((p,)), _backward_compare(p)
    if behaviour == "eval":
        return _forward_backward(p, training=False), _identity_reference(p)
    raise ValueError(f"no Dropout behaviour {behaviour!r}: train, backward or eval")


def _two_calls(p: float) -> Side:
    """Two forward calls of one ``Dropout(p)`` on x, in training."""

    def learner(inputs: Inputs, Dropout: type) -> dict[str, Any]:
        layer = Dropout(p)
        first = data_of(layer.forward(Tensor(inputs["x"])))
        return {"first call": first, "second call": data_of(layer.forward(Tensor(inputs["x"])))}

    return learner


def _train_compare(p: float) -> Compare:
    """The first call drops about p and scales the rest; the second draws a new full mask."""

    def compare(got: dict[str, Any], expected: dict[str, Any], inputs: Inputs) -> list[Row]:
        x, scale = inputs["x"], float(expected[f"scale p={p:g}"])
        first, second = np.asarray(got["first call"]), np.asarray(got["second call"])
        rows = rate_rows("first call", first, x, p, scale)
        if first.shape != x.shape or second.shape != x.shape:
            return rows
        differ, want = float(((first == 0) != (second == 0)).mean()), 2 * p * (1 - p)
        name, ok = "two calls: fraction of mask entries that differ", abs(differ - want) <= 0.02
        why = "draw a new random mask at every forward call"
        rows.append(stat_row(name, ok, f"{want:.3f} ± 0.02", f"{differ:.4f}", why))
        dropped = first == 0
        whole = [float((dropped.all(axis=a) | ~dropped.any(axis=a)).mean()) for a in (0, 1)]
        constant = max(whole)
        name, ok = "rows or columns dropped as a whole", constant <= 0.05
        why = "draw one random number per element: the mask has x's full shape"
        rows.append(stat_row(name, ok, "none", f"{constant:.0%}", why))
        return rows

    return compare


def _forward_backward(p: float, training: bool) -> Side:
    """Forward x through ``Dropout(p)`` (in evaluation mode unless ``training``), backward g."""

    def learner(inputs: Inputs, Dropout: type) -> dict[str, Any]:
        layer = Dropout(p)
        if not training:
            layer.training = False
        x = Tensor(inputs["x"])
        out = layer.forward(x)
        out.backward(inputs["g"])
        return {"out": data_of(out), "x.grad": x.grad}

    return learner


def _backward_compare(p: float) -> Compare:
    """About p dropped; the gradient is g times the scale where kept, zero where dropped."""

    def compare(got: dict[str, Any], expected: dict[str, Any], inputs: Inputs) -> list[Row]:
        x, g, scale = inputs["x"], inputs["g"], float(expected[f"scale p={p:g}"])
        out = np.asarray(got["out"])
        rows = rate_rows("out", out, x, p, scale)[:1]
        if out.shape == x.shape:
            want = np.where(out == 0, 0.0, g * scale)
            rows.append(compare_arrays("x.grad = g * keep / (1 - p)", got["x.grad"], want, 1e-6, 0))
        return rows

    return compare


def _identity_reference(p: float) -> Side:
    """torch's dropout in evaluation (``training=False``): the identity, gradient included."""

    def reference(inputs: Inputs) -> dict[str, Any]:
        import torch

        x = torch.tensor(inputs["x"], requires_grad=True)
        out = torch.nn.functional.dropout(x, p, training=False)
        out.backward(torch.tensor(inputs["g"]))
        return {"out": out.detach().numpy(), "x.grad": torch_grad(x)}

    return reference


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
