"""Lab 1.7.5's DataLoader order checks: each epoch's order against a seeded generator's.

The learner side records the rows each epoch visits (first visits only, so a batching mistake
costs the batching checks alone); the trusted side computes the permutations the generators a
loader may own give for the seeds and sizes drawn at grading time: values only a loader that
draws them produces, never a property that made-up orders could satisfy.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from grader.checking.compare import Row
from grader.checking.spec import Inputs
from grader.checking.specs.shared import Compare, Side, stat_row
from grader.checking.specs.training import first_visits, indexed_rows

SHUFFLE_BATCH = 10
"""Batches of 10 rows over a number of rows drawn at grading time."""


def order_inputs(rng: np.random.Generator) -> Inputs:
    """Loader seeds, a seed for numpy's global generator and a number of rows, drawn at grading
    time (whole batches)."""
    return {
        "seeds": rng.integers(0, 2**31, 3),
        "rows": np.asarray(SHUFFLE_BATCH * rng.integers(4, 9)),
    }


def seeded_orders(inputs: Inputs, DataLoader: type) -> dict[str, np.ndarray]:
    """The first epoch of two loaders with the first seed and of one with the second."""
    X, y = indexed_rows(int(inputs["rows"]))
    s, t = (int(v) for v in inputs["seeds"][:2])
    a, b, c = (DataLoader(X, y, batch_size=SHUFFLE_BATCH, shuffle=True, seed=v) for v in (s, s, t))
    return {
        "seed s, epoch 1": first_visits(a),
        "seed s again, epoch 1": first_visits(b),
        "seed t, epoch 1": first_visits(c),
    }


def seeded_reference(inputs: Inputs) -> dict[str, np.ndarray]:
    """The first order each seeded generator a loader may own gives: ``np.random.default_rng``
    (the lab's) or ``np.random.RandomState``, ``.permutation(n)``."""
    n, (s, t) = int(inputs["rows"]), (int(v) for v in inputs["seeds"][:2])
    result: dict[str, np.ndarray] = {}
    for name, make in (
        ("default_rng", np.random.default_rng),
        ("RandomState", np.random.RandomState),
    ):
        result[f"{name}: seed s"] = make(s).permutation(n)
        result[f"{name}: seed t"] = make(t).permutation(n)
    return result


def seeded_compare(got: Any, expected: Any, inputs: Inputs) -> list[Row]:
    """Each loader's first epoch is the first permutation of a generator seeded with its seed."""
    rows = []
    for key, seed in (
        ("seed s, epoch 1", "s"),
        ("seed s again, epoch 1", "s"),
        ("seed t, epoch 1", "t"),
    ):
        order = np.asarray(got.get(key, [])).ravel() if isinstance(got, dict) else np.zeros(0)
        found = [
            g
            for g in ("default_rng", "RandomState")
            if np.array_equal(order, expected[f"{g}: seed {seed}"])
        ]
        rows.append(
            stat_row(
                key,
                bool(found),
                f"np.random.default_rng(seed {seed}).permutation(n)",
                f"the first permutation of {found[0]}(seed {seed})" if found else "another order",
                "make the loader's generator once from its seed and draw the order from it",
            )
        )
    return rows


def reshuffle_orders(inputs: Inputs, DataLoader: type) -> dict[str, np.ndarray]:
    """Three epochs of a shuffling loader and two of a plain one (numpy's global generator
    seeded first, so a loader that draws from it can be followed too)."""
    X, y = indexed_rows(int(inputs["rows"]))
    np.random.seed(int(inputs["seeds"][2]))  # noqa: NPY002  (the generator a learner may use)
    seed = int(inputs["seeds"][0])
    shuffled = DataLoader(X, y, batch_size=SHUFFLE_BATCH, shuffle=True, seed=seed)
    plain = DataLoader(X, y, batch_size=SHUFFLE_BATCH, shuffle=False, seed=seed)
    orders = {f"shuffled, epoch {e}": first_visits(shuffled) for e in (1, 2, 3)}
    orders.update({f"plain, epoch {e}": first_visits(plain) for e in (1, 2)})
    return orders


GENERATORS: dict[str, Any] = {  # name -> inputs -> a seeded generator
    "np.random.default_rng(seed)": lambda inputs: np.random.default_rng(int(inputs["seeds"][0])),
    "np.random.RandomState(seed)": lambda inputs: np.random.RandomState(int(inputs["seeds"][0])),
    "numpy's global generator": lambda inputs: np.random.RandomState(int(inputs["seeds"][2])),
}
"""The generators a shuffling loader may draw its epochs from (seeding is the other check's)."""


def reshuffle_reference(inputs: Inputs) -> dict[str, np.ndarray]:
    """Three epochs of each generator of :data:`GENERATORS`, one permutation per epoch."""
    n = int(inputs["rows"])
    result: dict[str, np.ndarray] = {"rows": np.arange(n)}
    for name, make in GENERATORS.items():
        rng = make(inputs)
        result[name] = np.stack([rng.permutation(n) for _ in range(3)])
    return result


def reshuffle_compare(got: Any, expected: Any, inputs: Inputs) -> list[Row]:
    """Epochs 1-3 are three successive permutations of one generator; unshuffled, in order."""
    try:
        shuffled = np.stack([np.asarray(got[f"shuffled, epoch {e}"]).ravel() for e in (1, 2, 3)])
        plain = [np.asarray(got[f"plain, epoch {e}"]).ravel() for e in (1, 2)]
    except (KeyError, TypeError, ValueError) as exc:
        return [Row("visit orders", False, f"the loader's epochs could not be read: {exc}")]
    rows = expected["rows"]
    found = [name for name in GENERATORS if np.array_equal(shuffled, expected[name])]
    why = "a new permutation at every epoch, drawn from the loader's one generator"
    result = [
        stat_row(
            "shuffle=True: epochs 1-3, each a new permutation of one generator",
            bool(found),
            "the next permutation of the loader's generator at each epoch",
            f"drawn from {found[0]}" if found else "orders no generator gives in that sequence",
            why,
        )
    ]
    in_order = all(np.array_equal(order, rows) for order in plain)
    result.append(
        stat_row(
            "shuffle=False: rows in order, every epoch",
            in_order,
            "0, 1, 2, ...",
            "in order" if in_order else "another order",
            "with shuffle=False visit the rows in order",
        )
    )
    return result


ORDERS: dict[str, tuple[Side, Side] | tuple[Side, Side, Compare]] = {
    "seeded": (seeded_orders, seeded_reference, seeded_compare),
    "reshuffle": (reshuffle_orders, reshuffle_reference, reshuffle_compare),
}
"""The sides of the loader checks: each epoch's order against the orders a generator gives for
seeds and sizes drawn at grading time — values only a loader that draws them produces."""
