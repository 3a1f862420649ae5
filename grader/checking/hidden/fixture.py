"""Hidden checks of the fixture lab: an edge case the visible check does not draw."""

from __future__ import annotations

import numpy as np

from grader.checking.spec import Inputs, spec


def _edge(rng: np.random.Generator) -> Inputs:
    return {"x": np.concatenate([rng.normal(size=5), [0.0, -0.0, 1e300]])}


spec(
    id="fixture.double.edge",
    points=1,
    symbols=("double",),
    inputs=_edge,
    learner=lambda inputs, double: {"out": np.asarray(double(inputs["x"]))},
    reference=lambda inputs: {"out": 2 * inputs["x"]},
    hint="double(x) must keep the shape of x and handle large values",
    hidden=True,
)
