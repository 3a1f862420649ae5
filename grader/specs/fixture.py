"""A tiny lab for the grader's own tests: ``double(x)`` and ``square(x)``.

Its source notebook is ``tests/fixtures/solutions/fixture-double.ipynb``.
The references use numpy so that these tests stay fast; the real labs use torch.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from grader.labs import Lab, register_fixture_lab
from grader.spec import Inputs, spec

LAB = register_fixture_lab(
    Lab("fixture", 0, "fixture-double.ipynb", "Fixture: double and square", ())
)


def _matrix(rng: np.random.Generator) -> Inputs:
    return {"x": rng.normal(size=(3, 4))}


def _apply(name: str) -> Callable[[Inputs, Callable[..., object]], dict[str, np.ndarray]]:
    def learner(inputs: Inputs, fn: Callable[..., object]) -> dict[str, np.ndarray]:
        return {"out": np.asarray(fn(inputs["x"]))}

    learner.__name__ = f"learner_{name}"
    return learner


spec(
    id="fixture.double.value",
    points=2,
    symbols=("double",),
    inputs=_matrix,
    learner=_apply("double"),
    reference=lambda inputs: {"out": 2 * inputs["x"]},
    hint="double(x) returns 2 * x, element-wise",
)

spec(
    id="fixture.square.value",
    points=1,
    symbols=("square",),
    inputs=_matrix,
    learner=_apply("square"),
    reference=lambda inputs: {"out": inputs["x"] ** 2},
    hint="square(x) returns x * x, element-wise",
)
