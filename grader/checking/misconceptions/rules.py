"""Building blocks of wrong references: a check's own reference rerun with one rule replaced.

A wrong rule is written as torch code that gives the rule's *value* and, through
``local(...)``, the wrong *local gradient*: ``value.detach() + (x - x.detach()) * slope`` has
the value ``value`` and passes ``g * slope`` back to ``x``. The wrong rule is then swapped in
for the torch method the check's reference calls (:func:`tensor_method`) while that reference
runs on the same inputs (:func:`rerun`). Nothing here implements a lab's solution; it runs only
where the reference does (torch is imported lazily).
"""

from __future__ import annotations

import contextlib
import importlib
from collections.abc import Callable, Iterator
from typing import Any

from grader.checking.spec import Inputs, Outputs, Spec

Patch = Callable[[], list[tuple[Any, str, Any]]]
"""``() -> [(object, attribute, replacement)]``: built lazily, so torch loads only when used."""


@contextlib.contextmanager
def patched(patches: list[tuple[Any, str, Any]]) -> Iterator[None]:
    """Set each ``object.attribute`` to its replacement; restore every original afterwards."""
    saved = [(obj, name, vars(obj).get(name, _MISSING)) for obj, name, _ in patches]
    try:
        for obj, name, value in patches:
            setattr(obj, name, value)
        yield
    finally:
        for obj, name, value in reversed(saved):
            if value is _MISSING:
                delattr(obj, name)
            else:
                setattr(obj, name, value)


_MISSING = object()


def rerun(*patches: Patch) -> Callable[[Spec, Inputs], Outputs]:
    """The wrong reference: the check's own reference, run with ``patches`` in place."""

    def wrong(spec: Spec, inputs: Inputs) -> Outputs:
        with patched([item for patch in patches for item in patch()]):
            return spec.reference(inputs)

    return wrong


def derived_assigning(name: str) -> Patch:
    """``torch.Tensor.<name>``, an operation the labs derive from others, as one written with
    a gradient rule of its own that assigns (=): a tensor reaching it a second time (as both
    operands, or in a later call) keeps only that last contribution (earlier ones cut with
    ``detach``)."""

    def patch() -> list[tuple[Any, str, Any]]:
        import torch

        original = getattr(torch.Tensor, name)
        used: set[int] = set()

        def method(self: Any, *args: Any, **kwargs: Any) -> Any:
            again = id(self) in used or any(arg is self for arg in args)
            used.add(id(self))
            return original(self.detach() if again else self, *args, **kwargs)

        return [(torch.Tensor, name, method)]

    return patch


def local(x: Any, value: Any, slope: Any) -> Any:
    """A tensor equal to ``value`` whose gradient to ``x`` is ``g * slope`` (element-wise)."""
    return value.detach() + (x - x.detach()) * slope.detach()


def tensor_method(name: str, rule: Callable[..., Any]) -> Patch:
    """Replace ``torch.Tensor.<name>`` by ``rule(original, self, *args, **kwargs)``."""

    def patch() -> list[tuple[Any, str, Any]]:
        import torch

        original = getattr(torch.Tensor, name)

        def method(self: Any, *args: Any, **kwargs: Any) -> Any:
            return rule(original, self, *args, **kwargs)

        return [(torch.Tensor, name, method)]

    return patch


def attribute(module: str, name: str, make: Callable[[Any], Any]) -> Patch:
    """Replace ``<module>.<name>`` by ``make(original)``."""

    def patch() -> list[tuple[Any, str, Any]]:
        obj = importlib.import_module(module)
        return [(obj, name, make(getattr(obj, name)))]

    return patch


def class_attribute(module: str, cls: str, name: str, make: Callable[[Any], Any]) -> Patch:
    """Replace ``<module>.<cls>.<name>`` by ``make(original)``."""

    def patch() -> list[tuple[Any, str, Any]]:
        owner = getattr(importlib.import_module(module), cls)
        return [(owner, name, make(getattr(owner, name)))]

    return patch


def with_inputs(change: Callable[[Inputs], Inputs]) -> Callable[[Spec, Inputs], Outputs]:
    """The wrong reference: the check's own reference on changed inputs."""

    def wrong(spec: Spec, inputs: Inputs) -> Outputs:
        return spec.reference(change(inputs))

    return wrong


# ------------------------------------------------- accumulation: `=` where `+=` belongs
def assigning(op: Callable[..., Any]) -> Callable[..., Any]:
    """``op`` (a reference operation) whose gradient rule assigns (=) into its inputs' ``.grad``
    instead of adding to it (+=): each input keeps only what the rule that ran last put there."""
    import numpy as np

    def wrong_op(*args: Any, **kwargs: Any) -> Any:
        out = op(*args, **kwargs)
        rule = out._backward

        def _backward() -> None:
            for child in out._prev:
                child.grad = np.zeros_like(child.grad)
            rule()

        out._backward = _backward
        return out

    return wrong_op


def reference_ops() -> Any:
    """``micrograd_plus.ops``, imported without changing the methods a learner's notebook may
    have attached to the reference ``Tensor`` in this process."""
    from micrograd_plus.tensor import Tensor

    saved = dict(vars(Tensor))
    ops = importlib.import_module("micrograd_plus.ops")
    for name in set(vars(Tensor)) - set(saved):
        delattr(Tensor, name)
    for name, value in saved.items():
        if vars(Tensor).get(name) is not value:
            setattr(Tensor, name, value)
    return ops


def assigned_function(spec: Spec, inputs: Inputs) -> Outputs:
    """The wrong reference of a check of one function (lab 1.7.2's ``symbols``): the check's
    learner side run on the reference operation, its rule made to assign (:func:`assigning`)."""
    ops = reference_ops()
    return spec.learner(inputs, *(assigning(getattr(ops, name)) for name in spec.symbols))


def assigned_method(method: str) -> Callable[[Spec, Inputs], Outputs]:
    """The wrong reference of a check of the learner's ``Tensor``: the check's learner side run
    on the reference ``Tensor``, its ``method``'s rule made to assign (:func:`assigning`)."""

    def wrong(spec: Spec, inputs: Inputs) -> Outputs:
        from micrograd_plus.tensor import Tensor

        with patched([(Tensor, method, assigning(getattr(Tensor, method)))]):
            return spec.learner(inputs, Tensor)

    return wrong
