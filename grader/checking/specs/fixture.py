"""A tiny lab for the grader's own tests: ``double(x)`` and ``square(x)``.

Its source notebook is ``tests/fixtures/solutions/fixture-double.ipynb``.
The references use numpy so that these tests stay fast; the real labs use torch.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from grader.checking.spec import Inputs, spec
from grader.labs import Lab, register_fixture_lab

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


def _outputs(fn: Callable[[np.ndarray], np.ndarray]) -> Callable[[Inputs], dict[str, np.ndarray]]:
    return lambda inputs: {"out": fn(inputs["x"])}


FUNCTIONS = (
    ("double", 2, lambda x: 2 * x, "double(x) returns 2 * x, element-wise"),
    ("square", 1, lambda x: x**2, "square(x) returns x * x, element-wise"),
)
"""The fixture lab's functions: name, points, the reference and the hint."""

for _name, _points, _reference, _hint in FUNCTIONS:
    spec(
        id=f"fixture.{_name}.value",
        points=_points,
        symbols=(_name,),
        inputs=_matrix,
        learner=_apply(_name),
        reference=_outputs(_reference),
        hint=_hint,
    )


SOURCE = Path(__file__).resolve().parents[3] / "tests" / "fixtures" / "solutions" / LAB.notebook
"""The fixture lab's source notebook (with solutions and hidden tests)."""


def solution() -> Any:
    """The fixture source notebook, as a learner who solved everything would submit it."""
    import nbformat

    return nbformat.read(SOURCE, as_version=4)


def released() -> Any:
    """The fixture notebook as released: solutions replaced by stubs, hidden tests removed."""
    nb = solution()
    for cell in nb.cells:
        cell.source = re.sub(
            r"( *)### BEGIN SOLUTION.*?### END SOLUTION",
            r"\1# YOUR CODE HERE\n\1raise NotImplementedError()",
            cell.source,
            flags=re.S,
        )
        cell.source = re.sub(
            r"### BEGIN HIDDEN TESTS.*?### END HIDDEN TESTS\n?", "", cell.source, flags=re.S
        )
    return nb
