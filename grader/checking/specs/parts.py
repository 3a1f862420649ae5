"""A compound operation on trial alone: the parts it is built from answer with the oracle's data.

Lab 1.7.2's ``cross_entropy`` is built from the learner's ``log_softmax``, ``getitem`` and
``mean``, each checked on its own. So that its checks judge the composition and nothing else,
while the learner's compound function runs each part it calls (a name in its module's globals,
or the ``Tensor`` method) is a *stand-in*: one graph node whose value and Jacobian, at the input
the check anticipates, PyTorch computed on the trusted side and sent with the inputs. A call
the check did not anticipate (another input, another axis) goes to the learner's own function.
The stand-ins hold numbers, not the lab's code (numpy only: they run inside the sandbox).
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator, Mapping
from typing import Any

import numpy as np

from grader.checking.numpy_side import data_of

Answer = Callable[[Any, tuple[Any, ...], dict[str, Any]], tuple[np.ndarray, np.ndarray] | None]
"""``(x, args, kwargs) -> (value, jacobian)`` for an anticipated call, else None."""
Parts = Mapping[str, tuple[str, Answer]]
"""The learner's function name -> (its ``Tensor`` attribute, how its stand-in answers)."""


def stand_in_node(Tensor: type, x: Any, value: np.ndarray, jacobian: np.ndarray) -> Any:
    """A node of value ``value`` whose rule adds ``g @ jacobian`` (flattened) into ``x.grad``."""
    out = Tensor(np.array(value, dtype=data_of(x).dtype), (x,), "stand-in")

    def _backward() -> None:
        x.grad += (np.reshape(out.grad, -1) @ jacobian).reshape(np.shape(x.grad))

    out._backward = _backward
    return out


def stand_in(Tensor: type, own: Callable[..., Any] | None, answer: Answer) -> Callable[..., Any]:
    """The part: the oracle's node for an anticipated call, else the learner's own ``own``."""

    def part(x: Any, *args: Any, **kwargs: Any) -> Any:
        found = answer(x, args, kwargs) if isinstance(x, Tensor) else None
        if found is not None:
            return stand_in_node(Tensor, x, *found)
        if own is None:
            raise NameError("a part this operation calls is not defined")
        return own(x, *args, **kwargs)

    return part


@contextlib.contextmanager
def stand_ins(Tensor: type, fn: Any, parts: Parts) -> Iterator[None]:
    """While the block runs, ``fn``'s parts are stand-ins (as globals of ``fn`` where it has
    them, and as ``Tensor`` attributes); everything is put back afterwards."""
    namespace: dict[str, Any] = getattr(fn, "__globals__", {})
    names = {name: namespace[name] for name in parts if name in namespace}
    attrs = {attr: vars(Tensor).get(attr) for attr, _ in parts.values()}
    try:
        for name, (attr, answer) in parts.items():
            if name in names:
                namespace[name] = stand_in(Tensor, names[name], answer)
            setattr(Tensor, attr, stand_in(Tensor, attrs[attr], answer))
        yield
    finally:
        namespace.update(names)
        for attr, value in attrs.items():
            if value is None:
                delattr(Tensor, attr)
            else:
                setattr(Tensor, attr, value)


# ---------------------------------------------------------------- cross entropy
def axis_of(args: tuple[Any, ...], kwargs: dict[str, Any], default: Any) -> Any:
    """The ``axis`` a call passed, by position or by name."""
    return kwargs.get("axis", args[0] if args else default)


def cross_entropy_parts(inputs: Mapping[str, np.ndarray]) -> Parts:
    """``log_softmax`` of the logits along the classes, their picking with ``(arange(n), t)``
    and the ``mean`` of the n picked values, as the oracle computed them for these inputs."""
    x0, t = inputs["x"], np.asarray(inputs["t"])
    n = len(t)

    def log_softmax(x: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        if axis_of(args, kwargs, -1) in (1, -1) and np.array_equal(data_of(x), x0):
            return inputs["parts.log_softmax"], inputs["parts.log_softmax.jacobian"]
        return None

    def getitem(x: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        idx = args[0] if args else kwargs.get("idx")
        if (
            np.shape(data_of(x)) == np.shape(x0)
            and isinstance(idx, tuple)
            and len(idx) == 2
            and np.array_equal(np.asarray(data_of(idx[0])), np.arange(n))
            and np.array_equal(np.asarray(data_of(idx[1])), t)
        ):
            jacobian = inputs["parts.pick.jacobian"]
            return jacobian @ np.reshape(data_of(x), -1), jacobian
        return None

    def mean(x: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        axis, keepdims = axis_of(args, kwargs, None), kwargs.get("keepdims", args[1:2] == (True,))
        if np.shape(data_of(x)) == (n,) and axis in (None, 0, -1, (0,)) and not keepdims:
            jacobian = inputs["parts.mean.jacobian"]
            return (jacobian @ data_of(x)).reshape(()), jacobian
        return None

    return {
        "log_softmax": ("log_softmax", log_softmax),
        "getitem": ("__getitem__", getitem),
        "mean": ("mean", mean),
    }


def with_cross_entropy_parts(base: Callable[[np.random.Generator], dict[str, np.ndarray]]) -> Any:
    """``base``'s inputs (logits ``x``, targets ``t``) and the oracle's data for the parts:
    PyTorch's log_softmax of ``x`` and the Jacobians of it, of the picking and of the mean."""

    def inputs(rng: np.random.Generator) -> dict[str, np.ndarray]:
        import torch
        from torch.autograd.functional import jacobian

        drawn = base(rng)
        x, t = torch.as_tensor(drawn["x"]), torch.as_tensor(drawn["t"])
        n, c = x.shape
        with torch.no_grad():
            log_softmax = torch.log_softmax(x, 1)
        picked = jacobian(lambda z: z[torch.arange(n), t], x)
        return drawn | {
            "parts.log_softmax": log_softmax.numpy(),
            "parts.log_softmax.jacobian": jacobian(lambda z: torch.log_softmax(z, 1), x)
            .reshape(n * c, n * c)
            .numpy(),
            "parts.pick.jacobian": picked.reshape(n, n * c).numpy(),
            "parts.mean.jacobian": jacobian(torch.mean, torch.zeros(n, dtype=x.dtype))
            .reshape(1, n)
            .numpy(),
        }

    return inputs
