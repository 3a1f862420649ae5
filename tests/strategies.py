"""Hypothesis strategies for the engine's tests, in one place.

Shapes have 1 to 4 dimensions of size 1 to 3 (pairs for binary operations may
also be 0-d, and broadcast against each other on both sides). Values are
bounded floats without NaN, infinities or subnormals; operations with a
restricted domain draw from the matching strategy (``POSITIVE`` for ``log``,
``NONZERO`` for divisors, ``AWAY_FROM_KINK`` for ``relu``, ``TIES`` for ``max``).

Every strategy of an operation's inputs draws a :data:`Case`: the float64
arrays that become differentiable tensors, and keyword arguments (axes,
shapes, indices, targets) passed unchanged to both libraries.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

Shape = tuple[int, ...]
Case = tuple[tuple[np.ndarray, ...], dict[str, Any]]
"""``(arrays, kwargs)``: the differentiable inputs and the other arguments."""


def floats(low: float = -10.0, high: float = 10.0) -> st.SearchStrategy[float]:
    """Finite floats in ``[low, high]``, no subnormals."""
    return st.floats(low, high, allow_nan=False, allow_infinity=False, allow_subnormal=False)


VALUES = floats()
POSITIVE = floats(0.01, 10.0)
NONZERO = st.one_of(floats(-10.0, -0.5), floats(0.5, 10.0))
AWAY_FROM_KINK = st.one_of(floats(-10.0, -1e-3), floats(1e-3, 10.0))
TIES = st.sampled_from([-1.0, 0.0, 0.5, 2.0])
"""Few distinct values, so that maxima are often tied."""


def shapes(min_dims: int = 1, max_dims: int = 4) -> st.SearchStrategy[Shape]:
    """Shapes of ``min_dims`` to ``max_dims`` dimensions, each of size 1 to 3."""
    return hnp.array_shapes(min_dims=min_dims, max_dims=max_dims, min_side=1, max_side=3)


def broadcast_shapes() -> st.SearchStrategy[tuple[Shape, Shape]]:
    """Two shapes that broadcast together, either one stretched (e.g. (3, 1) and (2, 1, 4))."""
    return hnp.mutually_broadcastable_shapes(
        num_shapes=2, min_dims=0, max_dims=4, min_side=1, max_side=3
    ).map(lambda s: (s.input_shapes[0], s.input_shapes[1]))


def arrays(shape: Shape, elements: st.SearchStrategy[float] = VALUES) -> st.SearchStrategy[Any]:
    """float64 arrays of ``shape`` with entries from ``elements``."""
    return hnp.arrays(np.float64, shape, elements=elements)


@st.composite
def unary(
    draw: st.DrawFn,
    elements: st.SearchStrategy[float] = VALUES,
    shape: st.SearchStrategy[Shape] | None = None,
    **kwargs: st.SearchStrategy[Any],
) -> Case:
    """One array, plus keyword arguments drawn from the given strategies."""
    x = draw(arrays(draw(shapes() if shape is None else shape), elements))
    return (x,), {name: draw(strategy) for name, strategy in kwargs.items()}


@st.composite
def binary(
    draw: st.DrawFn,
    left: st.SearchStrategy[float] = VALUES,
    right: st.SearchStrategy[float] = VALUES,
) -> Case:
    """Two arrays of broadcast-compatible shapes."""
    shape_a, shape_b = draw(broadcast_shapes())
    return (draw(arrays(shape_a, left)), draw(arrays(shape_b, right))), {}


def _axis(ndim: int) -> st.SearchStrategy[int | tuple[int, ...] | None]:
    """None, one axis or a tuple of distinct axes, each positive or negative."""
    one = st.integers(-ndim, ndim - 1)
    several = st.lists(st.integers(0, ndim - 1), min_size=1, max_size=ndim, unique=True).flatmap(
        lambda axes: st.tuples(*(st.sampled_from([a, a - ndim]) for a in axes))
    )
    return st.one_of(st.none(), one, several)


@st.composite
def reduction(draw: st.DrawFn, elements: st.SearchStrategy[float] = VALUES) -> Case:
    """An array with ``axis`` (None, int or tuple, negative too) and ``keepdims``."""
    x = draw(arrays(draw(shapes()), elements))
    return (x,), {"axis": draw(_axis(x.ndim)), "keepdims": draw(st.booleans())}


@st.composite
def along_axis(draw: st.DrawFn, elements: st.SearchStrategy[float] = VALUES) -> Case:
    """An array with one ``axis`` (positive or negative), as softmax takes."""
    x = draw(arrays(draw(shapes()), elements))
    return (x,), {"axis": draw(st.integers(-x.ndim, x.ndim - 1))}


@st.composite
def matmul_pair(draw: st.DrawFn) -> Case:
    """Operands for ``@``: 1-D·1-D, 1-D·2-D, 2-D·1-D, 2-D·2-D, and batched with broadcasting."""
    n, k, m = (draw(st.integers(1, 3)) for _ in range(3))
    batch_a, batch_b = draw(
        hnp.mutually_broadcastable_shapes(num_shapes=2, min_dims=0, max_dims=2, max_side=3).map(
            lambda s: s.input_shapes
        )
    )
    kinds = {
        "1d@1d": ((k,), (k,)),
        "1d@2d": ((k,), (k, m)),
        "2d@1d": ((n, k), (k,)),
        "2d@2d": ((n, k), (k, m)),
        "batched": ((*batch_a, n, k), (*batch_b, k, m)),
        "1d@batched": ((k,), (*batch_b, k, m)),
        "batched@1d": ((*batch_a, n, k), (k,)),
    }
    shape_a, shape_b = kinds[draw(st.sampled_from(sorted(kinds)))]
    return (draw(arrays(shape_a)), draw(arrays(shape_b))), {}


@st.composite
def reshape_target(draw: st.DrawFn) -> Case:
    """An array and a new shape of the same size (possibly with -1)."""
    x = draw(arrays(draw(shapes())))
    size, shape = x.size, x.shape
    targets = [(size,), (-1,), shape[::-1], (1, size), (size, 1), (shape[0], -1), (*shape, 1)]
    return (x,), {"shape": draw(st.sampled_from(targets))}


@st.composite
def permutation(draw: st.DrawFn) -> Case:
    """An array and a permutation of its axes."""
    x = draw(arrays(draw(shapes())))
    return (x,), {"axes": tuple(draw(st.permutations(range(x.ndim))))}


@st.composite
def index(draw: st.DrawFn) -> Case:
    """An array and an index: an int, a slice, an integer array with repeats, or a tuple of them."""
    x = draw(arrays(draw(shapes())))
    n = x.shape[0]
    integer = st.integers(-n, n - 1)
    a_slice = st.builds(
        slice,
        st.none() | st.integers(-n, n),
        st.none() | st.integers(-n, n),
        st.none() | st.integers(1, 2),
    )
    repeats = st.lists(integer, min_size=1, max_size=6).map(lambda v: np.array(v, dtype=np.int64))
    kinds = [integer, a_slice, repeats]
    if x.ndim >= 2:
        m = x.shape[1]
        column = st.lists(st.integers(-m, m - 1), min_size=1, max_size=6)
        pairs = st.integers(1, 6).flatmap(
            lambda size: st.tuples(
                st.lists(integer, min_size=size, max_size=size),
                st.lists(st.integers(-m, m - 1), min_size=size, max_size=size),
            )
        )
        kinds += [
            st.tuples(integer, a_slice),
            st.tuples(st.just(slice(None)), column.map(np.array)),
            pairs.map(lambda p: (np.array(p[0]), np.array(p[1]))),
        ]
    return (x,), {"idx": draw(st.one_of(kinds))}


@st.composite
def classification(draw: st.DrawFn, elements: st.SearchStrategy[float] = VALUES) -> Case:
    """Logits (N, C) and N integer targets in [0, C)."""
    n, c = draw(st.integers(1, 5)), draw(st.integers(1, 5))
    logits = draw(arrays((n, c), elements))
    targets = draw(hnp.arrays(np.int64, (n,), elements=st.integers(0, c - 1)))
    return (logits,), {"targets": targets}
