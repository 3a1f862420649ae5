"""The universal forger: answers to every check made up from what the check sends in.

Everything inside the sandbox is the learner's once their first cell has run, so a learner
can take over the runner's check dispatch and answer each check with arrays of their choosing.
Only checks whose expected values a working implementation alone produces resist that. This
module makes the forger's answers for one check: it knows each output's name and shape (it
has read the grader's code) but not the values, and fills them with

* ``echo``: an input of the same shape (else zeros),
* ``zeros``, ``ones``,
* ``permutation``: a random permutation of 0 .. size-1,
* ``fractions``: random numbers in [0, 1),
* ``draws``: what a learner who wrote the math but not the lab's draw would answer: a
  Linear's weights and bias from U(-k, k), k = 1/sqrt(in_features), and Dropout's outputs
  (and gradients) with a Bernoulli mask of the check's rate, scaled by 1/(1 - p), all drawn
  from the forger's own generator (the right shapes, rates and bounds, not the seeded draw),

one strategy for a whole check. :func:`forgeable` says which strategies a check accepts, and
also whether a forger free to pick a strategy per output could pass it (``mixed``).
:func:`forger_cell` is the same forger as a learner's cell for the sandbox: it replaces
``Runner.run_checks`` of the runner (``sys.modules["__main__"]``).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from grader.checking.check import expected_outputs
from grader.checking.outcome import judge
from grader.checking.spec import Inputs, Spec

STRATEGIES = ("echo", "zeros", "ones", "permutation", "fractions", "draws")
DROPOUT_P = 0.3
"""The rate of a Dropout check whose output names give none (the forger read the grader)."""


def fabricate(
    strategy: str, shape: tuple[int, ...], inputs: Mapping[str, np.ndarray], seed: int = 0
) -> np.ndarray:
    """One made-up output of ``shape`` by ``strategy`` from the check's ``inputs``."""
    rng = np.random.default_rng(seed)
    size = int(np.prod(shape, dtype=np.int64))
    if strategy == "echo":
        same = [np.asarray(v) for v in inputs.values() if np.shape(v) == shape]
        return same[0].copy() if same else np.zeros(shape)
    if strategy == "zeros":
        return np.zeros(shape)
    if strategy == "ones":
        return np.ones(shape)
    if strategy == "permutation":
        return rng.permutation(size).reshape(shape)
    if strategy == "fractions":
        return rng.random(shape)
    if strategy == "draws":
        return drawn("", shape, inputs, seed)
    raise ValueError(f"no strategy {strategy!r}: {', '.join(STRATEGIES)}")


def drawn(
    key: str, shape: tuple[int, ...], inputs: Mapping[str, np.ndarray], seed: int = 0
) -> np.ndarray:
    """The ``draws`` answer for the output ``key``: the right distribution, the forger's own draw.

    A weight (2-D, named ``weight`` or ``again``) and a bias (named ``in->out ... bias``) come
    from U(-k, k), k = 1/sqrt(in_features); an output of x's shape is x times a Bernoulli mask
    of the rate its name gives (``p=0.1``; else :data:`DROPOUT_P`) over 1 - p, and ``x.grad``
    is g times the mask of ``out`` over 1 - p (each other output draws a mask of its own).
    """
    size = re.search(r"(\d+)->(\d+)", key)
    n_in = int(size.group(1)) if size else (shape[-1] if shape else 1)
    k = 1 / np.sqrt(max(n_in, 1))
    if re.search(r"\b(weight|again|bias)$", key):
        return np.random.default_rng(seed).uniform(-k, k, shape)
    rate = re.search(r"p=([\d.]+)", key)
    p = float(rate.group(1)) if rate else DROPOUT_P
    mask_of = key.removesuffix("x.grad") or "out"  # out and x.grad share one mask
    keep = np.random.default_rng([round(p * 1000), *map(ord, mask_of)]).random(shape) >= p
    for name, source in (("x.grad", "g"), ("", "x")):
        value = inputs.get(source)
        if (not name or key.endswith(name)) and value is not None and np.shape(value) == shape:
            return np.asarray(value) * (keep / (1 - p)) if p < 1 else np.zeros(shape)
    return np.random.default_rng(seed).random(shape)


def forged(strategy: str, shapes: Mapping[str, tuple[int, ...]], inputs: Inputs) -> dict[str, Any]:
    """The forger's answer to one check: every output named in ``shapes`` made up."""
    return {
        key: drawn(key, shape, inputs, seed=i)
        if strategy == "draws"
        else fabricate(strategy, shape, inputs, seed=i)
        for i, (key, shape) in enumerate(shapes.items())
    }


def shapes_of(outputs: Mapping[str, Any]) -> dict[str, tuple[int, ...]]:
    """The shape of each of a check's outputs (what the forger knows)."""
    return {key: tuple(np.shape(value)) for key, value in outputs.items()}


def forgeable(spec: Spec, shapes: Mapping[str, tuple[int, ...]], seed: int = 0) -> list[str]:
    """The strategies whose made-up answers, with the output names and ``shapes`` a learner
    side gives, pass ``spec`` at ``seed``; ``mixed`` when every output is matched by some
    strategy (a forger picking one per output would pass)."""
    inputs = spec.make_inputs(seed)
    expected = expected_outputs(spec, inputs, seed)
    passed, matched = [], {key: False for key in shapes}
    for strategy in STRATEGIES:
        got = forged(strategy, shapes, inputs)
        try:
            rows = judge(spec, got, expected, inputs)
        except Exception:
            continue
        if rows and all(row.ok for row in rows):
            passed.append(strategy)
        if spec.compare is None:
            for key in set(shapes) & set(expected):
                one = judge(spec, {key: got[key]}, {key: expected[key]}, inputs)
                matched[key] = matched[key] or all(row.ok for row in one)
    if spec.compare is None and shapes and all(matched.values()) and not passed:
        passed.append("mixed")
    return passed


def learner_shapes(specs: list[Spec], namespace: Mapping[str, Any], seed: int = 0) -> dict:
    """Each check's output names and shapes as the learner side gives them on ``namespace``
    (a solved notebook's): what a forger who read the grader's code knows."""
    found: dict[str, dict[str, tuple[int, ...]]] = {}
    for spec in specs:
        objs = tuple(namespace.get(name) for name in spec.symbols)
        try:
            found[spec.id] = shapes_of(spec.learner(spec.make_inputs(seed), *objs))
        except Exception:
            found[spec.id] = {}
    return found


FORGER = """
# A learner's cell: takes over the runner's check dispatch and answers every check itself
import sys as _sys

import numpy as _np

_SHAPES = json_loads({shapes!r})
_STRATEGY = {strategy!r}
_STRATEGIES = ("echo", "zeros", "ones", "permutation", "fractions", "draws")


def _drawn(key, shape, inputs, seed):
    import re

    size = re.search(r"(\\d+)->(\\d+)", key)
    k = 1 / _np.sqrt(max(int(size.group(1)) if size else (shape[-1] if shape else 1), 1))
    if re.search(r"\\b(weight|again|bias)$", key):
        return _np.random.default_rng(seed).uniform(-k, k, shape)
    rate = re.search(r"p=([\\d.]+)", key)
    p = float(rate.group(1)) if rate else {dropout_p!r}
    mask_of = key.removesuffix("x.grad") or "out"
    keep = _np.random.default_rng([round(p * 1000), *map(ord, mask_of)]).random(shape) >= p
    for name, source in (("x.grad", "g"), ("", "x")):
        value = inputs.get(source)
        if (not name or key.endswith(name)) and value is not None and _np.shape(value) == shape:
            return _np.asarray(value) * (keep / (1 - p)) if p < 1 else _np.zeros(shape)
    return _np.random.default_rng(seed).random(shape)


def _fabricate(strategy, shape, inputs, seed, key=""):
    if strategy == "draws":
        return _drawn(key, shape, inputs, seed)
    rng = _np.random.default_rng(seed)
    size = int(_np.prod(shape, dtype=_np.int64))
    if strategy == "echo":
        same = [_np.asarray(v) for v in inputs.values() if _np.shape(v) == tuple(shape)]
        return same[0].copy() if same else _np.zeros(shape)
    if strategy == "ones":
        return _np.ones(shape)
    if strategy == "permutation":
        return rng.permutation(size).reshape(shape)
    if strategy == "fractions":
        return rng.random(shape)
    return _np.zeros(shape)


def _run_checks(self, specs, inputs):
    arrays = {{}}
    for check_id in specs:
        keys = {{}}
        for i, (key, shape) in enumerate(_SHAPES.get(check_id, {{}}).items()):
            name = f"a{{len(arrays)}}"
            strategy = _STRATEGY or _STRATEGIES[(len(arrays) + i) % len(_STRATEGIES)]
            sent = dict(inputs.get(check_id, {{}}))
            arrays[name] = _fabricate(strategy, tuple(shape), sent, i, key)
            keys[key] = name
        self.emit(event="spec", id=check_id, error="", keys=keys, bad={{}}, seconds=0.0)
    return arrays


_sys.modules["__main__"].Runner.run_checks = _run_checks
"""


def forger_cell(shapes: Mapping[str, Mapping[str, Any]], strategy: str = "") -> str:
    """The universal forger as a learner's cell: ``shapes`` gives each check's output names and
    shapes (check id -> name -> shape), ``strategy`` one of :data:`STRATEGIES` (empty: each
    output the next strategy in turn)."""
    table = json.dumps({cid: {k: list(v) for k, v in keys.items()} for cid, keys in shapes.items()})
    source = FORGER.format(shapes=table, strategy=strategy, dropout_p=DROPOUT_P)
    return "from json import loads as json_loads\n" + source


# ------------------------------------------------- what the forger knows, committed as data
SHAPES_FILE = Path(__file__).with_name("forger_shapes.json")
"""Every check's output names and shapes (:func:`reference_shapes`), read by the forger cases
of :mod:`grader.redteam.tamper.isolation`; ``python -m grader.redteam.forger`` rewrites it."""


def reference_objects() -> dict[str, Any]:
    """The reference implementation of every symbol a check asks for."""
    import micrograd_plus.ops as ops
    from micrograd_plus import nn, optim, train
    from micrograd_plus.tensor import Tensor, unbroadcast

    objects: dict[str, Any] = {"Tensor": Tensor, "unbroadcast": unbroadcast}
    objects |= {name: getattr(ops, name) for name in dir(ops) if not name.startswith("_")}
    objects |= {name: getattr(nn, name) for name in ("Module", "Linear", "ReLU", "Dropout")}
    objects |= {"Sequential": nn.Sequential}
    objects |= {name: getattr(optim, name) for name in ("Optimizer", "SGD", "Adam", "AdamW")}
    objects |= {name: getattr(train, name) for name in ("DataLoader", "train_epoch", "evaluate")}
    objects["accuracy"] = train.accuracy
    objects["rng"] = np.random.default_rng(0)  # the lab notebooks' generator, for the draws
    objects["model"] = nn.Sequential(nn.Flatten(), nn.Linear(784, 10))
    return objects


def reference_shapes() -> dict[str, dict[str, dict[str, tuple[int, ...]]]]:
    """Lab id -> check id -> each output's name and shape, from the reference implementation
    (what a forger who has read the grader's code knows; not the values at a grading seed)."""
    from grader.checking.spec import load_lab
    from grader.labs import LABS

    objects = reference_objects()
    return {lab_id: learner_shapes(load_lab(lab_id), objects) for lab_id in LABS}


def committed_shapes(lab_id: str) -> dict[str, dict[str, list[int]]]:
    """One lab's table from :data:`SHAPES_FILE`."""
    return dict(json.loads(SHAPES_FILE.read_text(encoding="utf-8"))[lab_id])


def write_shapes() -> None:
    """Rewrite :data:`SHAPES_FILE` from the reference, one line per check."""
    table = {
        lab: {cid: {k: list(v) for k, v in keys.items()} for cid, keys in checks.items()}
        for lab, checks in reference_shapes().items()
    }
    parts = []
    for lab in sorted(table):
        checks = sorted(table[lab].items())
        rows = [f"  {json.dumps(c)}: {json.dumps(k, sort_keys=True)}" for c, k in checks]
        parts.append(f" {json.dumps(lab)}: {{\n" + ",\n".join(rows) + "\n }")
    SHAPES_FILE.write_text("{\n" + ",\n".join(parts) + "\n}\n", encoding="utf-8")


if __name__ == "__main__":
    write_shapes()
