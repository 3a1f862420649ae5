"""Undo what a notebook's cells attach to the reference ``Tensor`` when they run in this process.

A lab's cells attach their functions as methods (``Tensor.relu = relu``). The learner's own
tools (checking one part against the reference modules) and the red team's quick in-process
runs both run cells here, and both put the reference class back afterwards.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator


@contextlib.contextmanager
def tensor_methods_restored() -> Iterator[None]:
    """Undo what a notebook attaches to the reference Tensor (``Tensor.relu = relu``)."""
    import micrograd_plus.ops  # noqa: F401  (its methods belong to the snapshot)
    import micrograd_plus.tensor as reference

    before = dict(vars(reference.Tensor))
    try:
        yield
    finally:
        for name in set(vars(reference.Tensor)) - set(before):
            delattr(reference.Tensor, name)
        for name, value in before.items():
            if vars(reference.Tensor).get(name) is not value:
                setattr(reference.Tensor, name, value)
