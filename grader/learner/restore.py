"""Undo what a notebook attaches to the reference ``Tensor`` (``Tensor.relu = relu``).

Lab 1.7.5's assembler runs each earlier lab's cells and checks on the reference engine in the
learner's own kernel; the project's quick tests run solutions and planted bugs in process.
Both leave the reference ``Tensor`` as they found it.
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
