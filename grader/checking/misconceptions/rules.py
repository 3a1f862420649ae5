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
