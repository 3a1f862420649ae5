"""Lab 1.7.3's checks of random draws: ``Linear``'s initial weights and ``Dropout``'s masks.

Each check draws a seed at grading time (in its inputs, sent after the learner's cells ran).
Inside the sandbox the learner side sets the notebook's generator ``rng`` to
``np.random.default_rng(seed)`` (:func:`reseeded`, which puts the learner's own state back
afterwards) and calls the learner's layer; the trusted side draws the same numbers from its own
``np.random.default_rng(seed)`` by the lab's rule and compares them value for value:

* ``Linear(in, out)``: ``rng.uniform(-k, k, (out, in))`` for the weight, then
  ``rng.uniform(-k, k, out)`` for the bias, k = 1/sqrt(in) (torch.nn.Linear's shapes and bound);
* ``Dropout(p)`` in training: ``keep = rng.random(x.shape) >= p`` at every call, the output
  ``x * keep`` times torch's scale 1/(1 - p).

Only a working layer that draws as the lab says produces those numbers; a mask or weights of
the right rate and bounds drawn some other way fail, and the report then says so in words (the
statistics that were the checks before are shown as a diagnosis, never scored alone).
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np

from grader.checking.compare import Row, compare_arrays
from grader.checking.numpy_side import data_of
from grader.checking.spec import Inputs
from grader.checking.specs.shared import Compare, Side, stat_row, torch_grad
from micrograd_plus.tensor import Tensor

RTOL, ATOL = 1e-6, 1e-8
"""Tolerances of the value comparisons (float32 weights against the float64 draw)."""
SEEDS = 2**31


@contextlib.contextmanager
def reseeded(rng: Any, seed: int) -> Iterator[None]:
    """The notebook's generator ``rng`` set to ``np.random.default_rng(seed)``; its own state
    is put back afterwards (numpy only: this runs inside the sandbox)."""
    if not isinstance(rng, np.random.Generator):
        raise TypeError(
            f"rng is a {type(rng).__name__}, not the notebook's np.random.default_rng(...): "
            "keep the seeds cell's rng and draw every random number from it"
        )
    saved = rng.bit_generator.state
    rng.bit_generator.state = np.random.default_rng(int(seed)).bit_generator.state
    try:
        yield
    finally:
        rng.bit_generator.state = saved


def seed_only(rng: np.random.Generator) -> Inputs:
    """Only a seed for the notebook's generator."""
    return {"seed": np.array(rng.integers(0, SEEDS))}


# ------------------------------------------------------------------ Linear
LINEAR_RULE = (
    "rng.uniform(-k, k, (out_features, in_features)), then rng.uniform(-k, k, out_features)"
)


def linear_draw(seed: int, n_in: int, n_out: int, k: float, bias_len: int) -> dict[str, Any]:
    """Two ``Linear(n_in, n_out)`` made one after the other from ``default_rng(seed)``: the
    first one's weight and bias, the second one's weight (float32, as the lab stores them)."""
    gen = np.random.default_rng(seed)
    weight = gen.uniform(-k, k, (n_out, n_in)).astype(np.float32)
    bias = gen.uniform(-k, k, bias_len).astype(np.float32)
    again = gen.uniform(-k, k, (n_out, n_in)).astype(np.float32)
    return {"weight": weight, "bias": bias, "again": again}


def init_sides(sizes: list[tuple[int, int]]) -> tuple[Side, Side, Compare]:
    """The initialisation check of ``Linear(n_in, n_out)`` for each size (the i-th size from
    the seed + i): two layers, made with the notebook's ``rng`` reseeded, against the draw."""

    def learner(inputs: Inputs, Linear: type, rng: Any) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for i, (n_in, n_out) in enumerate(sizes):
            with reseeded(rng, int(inputs["seed"]) + i):
                layer, again = Linear(n_in, n_out), Linear(n_in, n_out)
            key, bias = f"{n_in}->{n_out}", layer.bias
            out[f"{key} weight"] = data_of(layer.weight)
            out[f"{key} bias"] = np.zeros(0) if bias is None else data_of(bias)
            out[f"{key} again"] = data_of(again.weight)
        return out

    def reference(inputs: Inputs) -> dict[str, Any]:
        import torch

        out: dict[str, Any] = {}
        for i, (n_in, n_out) in enumerate(sizes):
            layer, key = torch.nn.Linear(n_in, n_out), f"{n_in}->{n_out}"
            fan_in = torch.nn.init._calculate_fan_in_and_fan_out(layer.weight)[0]
            k = fan_in**-0.5
            draw = linear_draw(int(inputs["seed"]) + i, n_in, n_out, k, layer.bias.shape[0])
            out |= {f"{key} {name}": value for name, value in draw.items()}
            out[f"{key} bound"] = np.array(k)
        return out

    return learner, reference, init_compare


def init_compare(got: dict[str, Any], expected: dict[str, Any], inputs: Inputs) -> list[Row]:
    """Each layer's weight, bias and the next layer's weight, value for value; where they
    differ, what the learner's numbers look like (a diagnosis, not a second score)."""
    rows: list[Row] = []
    for bound_key in [k for k in expected if k.endswith(" bound")]:
        key, k = bound_key.removesuffix(" bound"), float(expected[bound_key])
        label = f"Linear({key.replace('->', ', ')})"
        names = {"weight": "weight", "bias": "bias", "again": "a second Linear's weight"}
        exact = [
            compare_arrays(
                f"{label} {what}", got.get(f"{key} {n}"), expected[f"{key} {n}"], RTOL, ATOL
            )
            for n, what in names.items()
        ]
        rows += exact
        if all(row.ok for row in exact):
            continue
        rows += _init_diagnosis(label, np.asarray(got.get(f"{key} weight")), k, exact)
    return rows


def _init_diagnosis(label: str, weight: np.ndarray, k: float, exact: list[Row]) -> list[Row]:
    """Why an initialisation is not the lab's draw: the weight's statistics, and where they
    are right, one row naming the rule (the weight drawn right: the draws after it)."""
    why = f"draw from the notebook's rng, {LINEAR_RULE}, one call each, as Task 5 says"
    if exact[0].ok:
        why = f"your weight is the lab's draw, but what follows it is not: {why}"
        return [stat_row(f"{label}: drawn by the lab's rule", False, LINEAR_RULE, "other", why)]
    if weight.dtype.kind not in "fiu" or weight.ndim != 2:
        return []
    stats = uniform_rows(f"{label} weight", weight.astype(np.float64), k, variance=True)
    if not all(row.ok for row in stats):
        return stats
    why = (
        "your weights look drawn from U(-k, k) as they should, but they are not the numbers "
        f"the lab's rule gives for this seed: {why}"
    )
    name = f"{label}: drawn by the lab's rule"
    return [*stats, stat_row(name, False, LINEAR_RULE, "other numbers", why)]


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
DROPOUT_RULE = "keep = rng.random(x.shape) >= p"


def dropout_inputs(shape: tuple[int, ...]) -> Callable[..., Inputs]:
    """Positive inputs (a zero output then means dropped), an upstream gradient and a seed."""

    def inputs(rng: np.random.Generator) -> Inputs:
        x, g = rng.uniform(0.5, 1.5, size=shape), rng.normal(size=shape)
        return {"x": x, "g": g, "seed": np.array(rng.integers(0, SEEDS))}

    return inputs


def dropout_scale(p: float) -> float:
    """What torch multiplies kept elements by, read off ``F.dropout`` of ones."""
    import torch

    with torch.random.fork_rng():
        torch.manual_seed(0)
        ones = torch.ones(10_000, dtype=torch.float64)
        return float(torch.nn.functional.dropout(ones, p, training=True).max())


def masks(seed: int, shape: tuple[int, ...], p: float, calls: int = 1) -> list[np.ndarray]:
    """The lab's masks of ``calls`` successive training calls from ``default_rng(seed)``."""
    gen = np.random.default_rng(seed)
    return [gen.random(shape) >= p for _ in range(calls)]


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


def drawn_by_rule(label: str, p: float, stats: list[Row]) -> list[Row]:
    """The diagnosis of a mask that is not the lab's draw: its statistics, and where they are
    right, one row that names the rule."""
    if not all(row.ok for row in stats):
        return stats
    why = (
        f"your mask drops about {p:.0%} and scales the rest as it should, but it is not the mask "
        f"`{DROPOUT_RULE}` gives for this seed: draw with the notebook's rng exactly as Task 7 "
        "says (one rng.random(x.shape) per call in training, nothing else drawn from rng)"
    )
    return [*stats, stat_row(f"{label}: the lab's mask", False, DROPOUT_RULE, "another mask", why)]


def dropout_sides(behaviour: str, p: float) -> tuple[Side, Side] | tuple[Side, Side, Compare]:
    """The sides of one behaviour of ``Dropout(p)``: ``"train"`` (two calls from a reseeded
    rng: the lab's two masks), ``"backward"`` (the gradient flows through the kept elements
    only, scaled) or ``"eval"`` (the identity, gradient included; nothing drawn)."""
    if behaviour == "train":
        return _two_calls(p), _masked_reference(p, ("first call", "second call")), _train_compare(p)
    if behaviour == "backward":
        return _forward_backward(p, True), _masked_reference(p, ("out",)), _backward_compare(p)
    if behaviour == "eval":
        return _forward_backward(p, training=False), _identity_reference(p)
    raise ValueError(f"no Dropout behaviour {behaviour!r}: train, backward or eval")


def _two_calls(p: float) -> Side:
    """Two forward calls of one ``Dropout(p)`` on x, in training, from the reseeded rng."""

    def learner(inputs: Inputs, Dropout: type, rng: Any) -> dict[str, Any]:
        layer, x = Dropout(p), inputs["x"]
        with reseeded(rng, int(inputs["seed"])):
            first = data_of(layer.forward(Tensor(x)))
            second = data_of(layer.forward(Tensor(x)))
        return {"first call": first, "second call": second}

    return learner


def _forward_backward(p: float, training: bool) -> Side:
    """Forward x through ``Dropout(p)`` (in evaluation mode unless ``training``), backward g;
    in training from the reseeded rng."""

    def run(inputs: Inputs, Dropout: type) -> dict[str, Any]:
        layer = Dropout(p)
        if not training:
            layer.training = False
        x = Tensor(inputs["x"])
        out = layer.forward(x)
        out.backward(inputs["g"])
        return {"out": data_of(out), "x.grad": x.grad}

    def learner(inputs: Inputs, Dropout: type, rng: Any) -> dict[str, Any]:
        with reseeded(rng, int(inputs["seed"])):
            return run(inputs, Dropout)

    return learner if training else run


def _masked_reference(p: float, keys: tuple[str, ...]) -> Side:
    """x times the lab's masks (one per key, in order) and torch's scale; ``x.grad`` after
    ``out``: g times the mask and the scale."""

    def reference(inputs: Inputs) -> dict[str, Any]:
        x, scale = inputs["x"], dropout_scale(p)
        drawn = masks(int(inputs["seed"]), x.shape, p, len(keys))
        out: dict[str, Any] = {key: x * keep * scale for key, keep in zip(keys, drawn, strict=True)}
        if keys == ("out",):
            out["x.grad"] = inputs["g"] * drawn[0] * scale
        return out | {f"scale p={p:g}": np.array(scale)}

    return reference


def _exact(got: dict[str, Any], expected: dict[str, Any], keys: tuple[str, ...]) -> list[Row]:
    return [compare_arrays(key, got.get(key), expected[key], RTOL, ATOL) for key in keys]


def _train_compare(p: float) -> Compare:
    """Both calls value for value; otherwise the statistics of the first call and of the pair."""

    def compare(got: dict[str, Any], expected: dict[str, Any], inputs: Inputs) -> list[Row]:
        rows = _exact(got, expected, ("first call", "second call"))
        if all(row.ok for row in rows):
            return rows
        x, scale = inputs["x"], float(expected[f"scale p={p:g}"])
        first, second = np.asarray(got["first call"]), np.asarray(got["second call"])
        stats = rate_rows("first call", first, x, p, scale)
        if first.shape == x.shape == second.shape:
            differ, want = float(((first == 0) != (second == 0)).mean()), 2 * p * (1 - p)
            name, ok = "two calls: fraction of mask entries that differ", abs(differ - want) <= 0.02
            why = "draw a new random mask at every forward call"
            stats.append(stat_row(name, ok, f"{want:.3f} ± 0.02", f"{differ:.4f}", why))
        return rows + drawn_by_rule("first call", p, stats)

    return compare


def _backward_compare(p: float) -> Compare:
    """The output and the gradient value for value; otherwise the rate and the gradient
    through the learner's own mask."""

    def compare(got: dict[str, Any], expected: dict[str, Any], inputs: Inputs) -> list[Row]:
        rows = _exact(got, expected, ("out", "x.grad"))
        if all(row.ok for row in rows):
            return rows
        x, g, scale = inputs["x"], inputs["g"], float(expected[f"scale p={p:g}"])
        out = np.asarray(got["out"])
        stats = rate_rows("out", out, x, p, scale)[:1]
        if out.shape == x.shape:
            own = np.where(out == 0, 0.0, g * scale)
            name = "x.grad = g * keep / (1 - p) with your mask"
            stats.append(compare_arrays(name, got["x.grad"], own, 1e-6, 0))
        return rows + drawn_by_rule("out", p, stats)

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


def rates_sides(rates: tuple[float, ...]) -> tuple[Side, Side, Compare]:
    """``Dropout(p)`` in training for each rate (the i-th from the seed + i), and ``Dropout(0)``,
    the identity."""

    def learner(inputs: Inputs, Dropout: type, rng: Any) -> dict[str, Any]:
        out = {}
        for i, p in enumerate(rates):
            with reseeded(rng, int(inputs["seed"]) + i):
                out[f"p={p:g}"] = data_of(Dropout(p).forward(Tensor(inputs["x"])))
        out["p=0"] = data_of(Dropout(0.0).forward(Tensor(inputs["x"])))
        return out

    def reference(inputs: Inputs) -> dict[str, Any]:
        x, out = inputs["x"], {"p=0": inputs["x"]}
        for i, p in enumerate(rates):
            scale = dropout_scale(p)
            out[f"p={p:g}"] = x * masks(int(inputs["seed"]) + i, x.shape, p)[0] * scale
            out[f"scale p={p:g}"] = np.array(scale)
        return out

    def compare(got: dict[str, Any], expected: dict[str, Any], inputs: Inputs) -> list[Row]:
        rows: list[Row] = []
        for p in rates:
            key = f"p={p:g}"
            exact = _exact(got, expected, (key,))
            rows += exact
            if not exact[0].ok:
                scale = float(expected[f"scale {key}"])
                stats = rate_rows(key, np.asarray(got[key]), inputs["x"], p, scale)
                rows += drawn_by_rule(key, p, stats)
        name = "p=0 in training: output = x"
        return [*rows, compare_arrays(name, got.get("p=0"), expected["p=0"], 0, 0)]

    return learner, reference, compare


def p_of(key: str, default: float) -> float:
    """The rate an output's name gives (``p=0.1``), else ``default``."""
    found = re.fullmatch(r"p=([\d.]+)", key)
    return float(found.group(1)) if found else default
