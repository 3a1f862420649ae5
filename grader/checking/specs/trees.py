"""Nested structures of modules and tensors, built from the learner's ``Module`` and in torch.

Lab 1.7.3's checks of ``modules()``, ``parameters()``, ``zero_grad()`` and
``train()``/``eval()`` build one structure from the learner's ``Module`` and
the same structure from ``torch.nn.Module`` (lists become ``ModuleList`` or
``ParameterList``, dicts ``ModuleDict`` or ``ParameterDict``), then compare
what each finds. A structure is a tree of tuples:

- ``i`` (an int): tensor ``i``, of shape ``shapes[i]``, filled with ``markers[i]``;
- ``("M", {attr: item})``: a module; ``("M", {...}, name)`` one that ``("ref", name)`` reuses;
- ``("tref", i)``: tensor ``i`` again (tied weights);
- ``("L", [items])`` a list, ``("D", {key: item})`` a dict;
- ``("O", value)``: an attribute that is not a parameter (a string, a float, an array).

Every module gets a ``tag`` (1, 2, ... in creation order) to tell them apart.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

import numpy as np

from grader.checking.spec import Inputs
from micrograd_plus.tensor import Tensor

FLAT: Any = ("M", {"weight": 0, "bias": 1, "name": ("O", "flat")})
NESTED: Any = (
    "M",
    {
        "weight": 0,
        "bias": 1,
        "name": ("O", "root"),
        "scale": ("O", 2.5),
        "cache": ("O", np.ones(3)),
        "block": ("M", {"weight": 2, "inner": ("M", {"weight": 3, "bias": 4})}),
    },
)
CONTAINERS: Any = (
    "M",
    {
        "layers": ("L", [("M", {"w": 0}), ("M", {"w": 1, "b": 2})]),
        "heads": ("D", {"cls": ("M", {"w": 3}), "box": ("M", {"w": 4})}),
        "scales": ("L", [5, 6]),
        "table": ("D", {"shift": 7}),
    },
)
SHARED: Any = (
    "M",
    {
        "encoder": ("M", {"w": 0, "b": 1}, "enc"),
        "decoder": ("M", {"w": 2, "tied": ("tref", 0)}),
        "again": ("ref", "enc"),
        "blocks": ("L", [("ref", "enc"), ("M", {"w": 3})]),
    },
)
MODULES: Any = (
    "M",
    {
        "name": ("O", "net"),
        "encoder": ("M", {"inner": ("M", {"w": 0})}, "enc"),
        "layers": ("L", [("M", {}), ("M", {"deep": ("M", {})})]),
        "heads": ("D", {"a": ("M", {}), "b": ("M", {"w": 1})}),
        "again": ("ref", "enc"),
    },
)
MODES: Any = (
    "M",
    {
        "stem": ("M", {"inner": ("M", {"w": 0})}),
        "blocks": ("L", [("M", {}), ("M", {"deep": ("M", {})})]),
        "heads": ("D", {"a": ("M", {}), "b": ("M", {})}),
    },
)
DEEP: Any = (
    "M",
    {
        "stages": (
            "D",
            {
                "low": ("L", [("M", {"ws": ("L", [0, 1])}), ("M", {"gain": 2})]),
                "high": ("L", [("M", {"table": ("D", {"u": 3, "v": 4})})]),
            },
        ),
        "chain": ("M", {"a": ("M", {"b": ("M", {"c": ("M", {"w": 5, "again": ("tref", 1)})})})}),
        "label": ("O", "deep"),
        "steps": ("O", 3),
    },
)


def count_tensors(tree: Any) -> int:
    """How many distinct tensors a structure holds (its largest index + 1)."""
    if isinstance(tree, int):
        return tree + 1
    if tree[0] in ("M", "L", "D"):
        items = tree[1].values() if isinstance(tree[1], dict) else tree[1]
        return max((count_tensors(item) for item in items), default=0)
    return 0


def tree_inputs(tree: Any) -> Callable[[np.random.Generator], Inputs]:
    """Inputs for a structure: distinct markers, small shapes, coefficients for a loss."""

    def inputs(rng: np.random.Generator) -> Inputs:
        n = max(count_tensors(tree), 1)
        return {
            "markers": rng.choice(np.arange(1, 100), n, replace=False).astype(np.float64),
            "shapes": rng.integers(1, 4, size=(n, 2)),
            "coef": rng.normal(size=(n, 3, 3)),
            "start": rng.integers(0, 2, 64),  # modules' training flags before train/eval
            "picks": rng.random(2),  # which modules eval() and train() are called on
        }

    return inputs


def build(
    tree: Any,
    inputs: Inputs,
    node: Callable[[], Any],
    tensor: Callable[[np.ndarray], Any],
    wrap: Callable[[Any], Any] = lambda container: container,
) -> tuple[Any, list[Any], dict[int, Any]]:
    """Build a structure: ``(root, modules in creation order, {index: tensor})``.

    ``wrap`` turns each list and dict into the container the library wants.
    """
    modules: list[Any] = []
    tensors: dict[int, Any] = {}
    named: dict[str, Any] = {}

    def make(item: Any) -> Any:
        if isinstance(item, int):
            shape = tuple(int(n) for n in inputs["shapes"][item])
            tensors[item] = tensor(np.full(shape, inputs["markers"][item]))
            return tensors[item]
        kind, value = item[0], item[1]
        if kind == "M":
            module = node()
            modules.append(module)
            module.tag = float(len(modules))
            if len(item) > 2:
                named[item[2]] = module
            for key, child in value.items():
                setattr(module, key, make(child))
            return module
        if kind == "L":
            return wrap([make(child) for child in value])
        if kind == "D":
            return wrap({key: make(child) for key, child in value.items()})
        if kind == "ref":
            return named[value]
        if kind == "tref":
            return tensors[value]
        return value

    root = make(tree)
    return root, modules, dict(sorted(tensors.items()))


def learner_build(Module: type, tree: Any, inputs: Inputs) -> tuple[Any, list[Any], dict[int, Any]]:
    """The structure made of subclasses of the learner's ``Module``, with ``Tensor`` parameters."""

    class Node(Module):
        def __init__(self) -> None:
            super().__init__()

        def forward(self, x: Any) -> Any:
            return x

    return build(tree, inputs, Node, Tensor)


def torch_build(tree: Any, inputs: Inputs) -> tuple[Any, list[Any], dict[int, Any]]:
    """The same structure in ``torch.nn`` (float64 parameters, torch containers)."""
    import torch

    class Node(torch.nn.Module):
        pass

    def tensor(array: np.ndarray) -> Any:
        return torch.nn.Parameter(torch.tensor(array, dtype=torch.float64))

    def wrap(container: Any) -> Any:
        items = container.values() if isinstance(container, dict) else container
        modular = all(isinstance(item, torch.nn.Module) for item in items)
        if isinstance(container, dict):
            return (torch.nn.ModuleDict if modular else torch.nn.ParameterDict)(container)
        return (torch.nn.ModuleList if modular else torch.nn.ParameterList)(container)

    root, modules, tensors = build(tree, inputs, Node, tensor, wrap)
    return root, modules, tensors


def marker_of(p: Any) -> float:
    """The marker a found parameter was filled with (learner Tensor or torch Parameter)."""
    if hasattr(p, "detach"):
        return float(p.detach().reshape(-1)[0])
    if not isinstance(p, Tensor):
        raise TypeError(f"parameters() returned a {type(p).__name__}; it should return Tensors")
    return float(np.asarray(p.data).flat[0])


def parameters_found(params: Iterable[Any]) -> dict[str, np.ndarray]:
    """What a parameter search found: how many, and which (their sorted markers)."""
    found = list(params)
    markers = np.sort(np.array([marker_of(p) for p in found], dtype=np.float64))
    return {"number of parameters": np.array(len(found)), "parameters found (markers)": markers}


def modules_found(modules: Iterable[Any]) -> dict[str, np.ndarray]:
    """What a module search found: how many, and which (their sorted tags)."""
    found = list(modules)
    tags = np.sort(np.array([float(getattr(m, "tag", -1.0)) for m in found], dtype=np.float64))
    return {"number of modules": np.array(len(found)), "modules found (tags)": tags}


# ------------------------------------------------- learner and reference sides


def search_sides(tree: Any, what: str) -> tuple[Callable[..., Any], Callable[[Inputs], Any]]:
    """Learner and reference of a ``modules()`` or ``parameters()`` check on ``tree``."""
    found = parameters_found if what == "parameters" else modules_found

    def learner(inputs: Inputs, Module: type) -> dict[str, np.ndarray]:
        root, _, _ = learner_build(Module, tree, inputs)
        return found(getattr(root, what)())

    def reference(inputs: Inputs) -> dict[str, np.ndarray]:
        root, _, _ = torch_build(tree, inputs)
        if what == "modules":  # torch's containers (ModuleList, ...) are modules too: skip them
            return found(m for m in root.modules() if hasattr(m, "tag"))
        return found(root.parameters())

    return learner, reference


def _coef(inputs: Inputs, i: int, shape: tuple[int, ...]) -> np.ndarray:
    return np.asarray(inputs["coef"][i][: shape[0], : shape[1]])


def zero_grad_sides(tree: Any) -> tuple[Callable[..., Any], Callable[[Inputs], Any]]:
    """``zero_grad()`` zeroes every gradient, and a new backward then starts from zero."""

    def learner(inputs: Inputs, Module: type) -> dict[str, Any]:
        root, _, tensors = learner_build(Module, tree, inputs)
        for t in tensors.values():
            t.grad = np.full(t.data.shape, 5.0)
        root.zero_grad()
        out = {f"p{i}.grad after zero_grad": np.array(t.grad) for i, t in tensors.items()}
        loss = Tensor(0.0)
        for i, t in tensors.items():
            loss = loss + (t * _coef(inputs, i, t.shape)).sum()
        loss.backward()
        out.update({f"p{i}.grad after a new backward": t.grad for i, t in tensors.items()})
        return out

    def reference(inputs: Inputs) -> dict[str, Any]:
        import torch

        root, _, tensors = torch_build(tree, inputs)
        for t in tensors.values():
            t.grad = torch.full_like(t, 5.0)
        root.zero_grad(set_to_none=False)
        out = {f"p{i}.grad after zero_grad": t.grad.numpy().copy() for i, t in tensors.items()}
        loss = torch.zeros((), dtype=torch.float64)
        for i, t in tensors.items():
            loss = loss + (t * torch.tensor(_coef(inputs, i, t.shape))).sum()
        loss.backward()
        out.update({f"p{i}.grad after a new backward": t.grad.numpy() for i, t in tensors.items()})
        return out

    return learner, reference


def train_eval_sides(tree: Any) -> tuple[Callable[..., Any], Callable[[Inputs], Any]]:
    """The ``training`` flag of every module, from mixed flags drawn at grading time, after
    ``eval()`` on one module and ``train()`` on another (drawn too: their subtrees change, the
    rest keeps its flags), then ``eval()``, ``train()`` and ``train(False)`` on the root."""

    def flags(root: Any, modules: list[Any], inputs: Inputs) -> dict[str, np.ndarray]:
        for module, flag in zip(modules, inputs["start"], strict=False):
            module.training = bool(flag)
        picks = [modules[int(u * len(modules))] for u in inputs["picks"]]
        out = {}
        steps = (
            ("eval() on module a", picks[0].eval),
            ("train() on module b", picks[1].train),
            ("eval() on the root", root.eval),
            ("train() on the root", root.train),
            ("train(False) on the root", lambda: root.train(False)),
        )
        for label, call in steps:
            call()
            out[f"training flags after {label}"] = np.array([float(m.training) for m in modules])
        return out

    def learner(inputs: Inputs, Module: type) -> dict[str, np.ndarray]:
        root, modules, _ = learner_build(Module, tree, inputs)
        return flags(root, modules, inputs)

    def reference(inputs: Inputs) -> dict[str, np.ndarray]:
        root, modules, _ = torch_build(tree, inputs)
        return flags(root, modules, inputs)

    return learner, reference
