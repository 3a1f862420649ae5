"""Checks of lab 1.7.5 (training): the loader, the training loop, evaluation, the trained model.

The learner's ``accuracy``, ``DataLoader``, ``train_epoch``, ``evaluate`` and the
trained ``model`` itself; the sides of these checks live in
:mod:`grader.checking.specs.training`. The model check computes the test accuracy from the
learner's ``model``: its learner side predicts every test image with it, the
trusted side loads the true labels and judges, so no number the learner prints is
ever trusted.

The checks that repeat a pattern are tables, one row per check (its id is
``lab5.<name>``), with their hints in :data:`HINTS`; the table functions and
:func:`model_sides` serve the hidden checks too.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np

from grader.checking.compare import Row
from grader.checking.numpy_side import data_of
from grader.checking.spec import Hint, Inputs
from grader.checking.specs.orders import ORDERS, order_inputs
from grader.checking.specs.shared import Compare, Side, add_check, no_inputs, stat_row
from grader.checking.specs.training import (
    batches_sides,
    evaluate_sides,
    model_inputs,
    net_inputs,
    predicted_digits,
    test_labels,
    train_sides,
)

LOADER, TRAIN_EPOCH, EVALUATE, MODEL = ("DataLoader",), ("train_epoch",), ("evaluate",), ("model",)
TARGET_ACCURACY = 0.955
"""The test accuracy the trained model must reach (issue #5)."""

OrderRow = tuple[str, float]
"""(name, points) of a check of the learner's DataLoader's epoch orders (training.ORDERS)."""
TrainRow = tuple[str, float, tuple[int, ...], tuple[int, ...], str, dict[str, Any]]
"""(name, points, layer sizes of the MLP, batch sizes, optimizer, its options)."""


def order_checks(rows: Sequence[OrderRow], hints: Mapping[str, Hint]) -> None:
    """One check of the learner's ``DataLoader`` per row: its epochs' orders, row by row, against
    those of the lab's generator for seeds and sizes drawn at grading time."""
    for name, points in rows:
        sides = ORDERS[name.removeprefix("dataloader.")]
        add_check(f"lab5.{name}", points, LOADER, order_inputs, sides, hints[name], rtol=0, atol=0)


def train_checks(rows: Sequence[TrainRow], hints: Mapping[str, Hint], hidden: bool = False) -> None:
    """One check of ``train_epoch`` per row: one epoch of an MLP of ``sizes`` on batches of
    ``batch sizes``, with ``optimizer(**options)``, against the same steps in torch."""
    for name, points, sizes, batch_sizes, optimizer, options in rows:
        inputs = net_inputs(sizes, sum(batch_sizes))
        sides = train_sides(batch_sizes, optimizer, options)
        check_id, hint = f"lab5.{name}", hints[name]
        add_check(
            check_id, points, TRAIN_EPOCH, inputs, sides, hint, hidden=hidden, rtol=1e-6, atol=1e-9
        )


def predictions_of(got: Any, expected: Any) -> tuple[np.ndarray | None, Row | None]:
    """The learner's predictions, or a row saying why they cannot be judged."""
    pred = got.get("predicted digit of each test image")
    truth = expected["true digits"]
    pred = None if pred is None else np.asarray(pred)
    if pred is None or pred.shape != truth.shape:
        shape = "nothing" if pred is None else f"shape {pred.shape}"
        why = (
            f"the model's predictions have {shape}, the test split has {len(truth):,} digits: "
            "was the notebook run with another dataset?"
        )
        return None, Row("predictions", False, why)
    return pred, None


def model_sides(judge: Callable[[np.ndarray, np.ndarray], list[Row]]) -> tuple[Side, Side, Compare]:
    """The sides of a check of the trained model: the digits it predicts for the images to
    grade, their true digits, and ``judge(predicted, true)`` on the trusted side."""

    def compare(got: Any, expected: Any, inputs: Inputs) -> list[Row]:
        pred, problem = predictions_of(got, expected)
        if pred is None:
            return [problem] if problem else []
        return judge(pred, expected["true digits"])

    return predicted_digits, test_labels, compare


# ------------------------------------------------- hints of the table rows

LOOP_HINT = (
    "for each batch, in this order: clear the old gradients, compute the loss of the model's "
    "output against the labels, backpropagate it, let the optimizer step"
)
HINTS = {
    "dataloader.seeded": (
        "make ONE generator from the seed in __init__ (numpy's default_rng) and draw each "
        "epoch's order from it with its permutation method (np.random.permutation ignores "
        "your seed); the check compares every epoch's order with that generator's"
    ),
    "dataloader.reshuffle": (
        "draw a new permutation at the start of every epoch (in __iter__) from the generator "
        "made once in __init__; with shuffle=False visit the rows in order"
    ),
    "train_epoch.one_step": (
        LOOP_HINT + "; return the mean loss (here: the loss of the one batch, before the step)"
    ),
    "train_epoch.epoch": (
        LOOP_HINT + ": a gradient left over from the previous batch (no zero_grad) or a step "
        "before backward changes every step after the first; return the mean loss per example"
    ),
}
"""The hints of the visible checks written as table rows, by name."""


# ------------------------------------------------------------------ accuracy


def accuracy_inputs(n: int, classes: int) -> Callable[[np.random.Generator], Inputs]:
    """Logits (n, classes) without ties; about half the labels are the argmax."""

    def inputs(rng: np.random.Generator) -> Inputs:
        logits = rng.normal(size=(n, classes))
        y = rng.integers(0, classes, size=n)
        right = rng.random(n) < 0.5
        y[right] = logits.argmax(axis=1)[right]
        return {"logits": logits, "y": y}

    return inputs


PROBE = "rows whose largest logit is a class number, not at it"
PROBE_LOGITS = np.array([[0.0, 2.0, 0.5], [1.0, 0.2, 0.3], [-1.0, -2.0, 0.0]])
PROBE_Y = np.array([2, 1, 0])
"""A case where the largest logit of every row equals its label but sits elsewhere: the right
accuracy is 0, comparing the largest logit itself with the label gives 1, and other wrong rules
(an argmax over the whole array) give other values."""


def _accuracy_learner(inputs: Inputs, accuracy: Callable[..., Any]) -> dict[str, Any]:
    return {
        "accuracy": float(data_of(accuracy(inputs["logits"], inputs["y"]))),
        PROBE: float(data_of(accuracy(PROBE_LOGITS.copy(), PROBE_Y.copy()))),
    }


def _accuracy_reference(inputs: Inputs) -> dict[str, Any]:
    import torch

    out = {}
    for key, scores, labels in (
        ("accuracy", inputs["logits"], inputs["y"]),
        (PROBE, PROBE_LOGITS, PROBE_Y),
    ):
        right = torch.tensor(scores).argmax(dim=1) == torch.tensor(labels)
        out[key] = right.double().mean().item()
    return out


add_check(
    "lab5.accuracy",
    8,
    ("accuracy",),
    accuracy_inputs(50, 10),
    (_accuracy_learner, _accuracy_reference),
    "the predicted class of a row is the index of its largest logit (one per row); accuracy "
    "is the fraction of rows where it equals y, a number between 0 and 1",
    rtol=1e-12,
)

# ---------------------------------------------------------------- DataLoader

BATCH_CASES = ((23, 5), (20, 4))
"""23 rows by 5: four full batches and a partial one; 20 by 4: no partial batch."""

add_check(
    "lab5.dataloader.batches",
    9,
    LOADER,
    no_inputs,
    batches_sides(BATCH_CASES),
    "batches of batch_size rows in order (shuffled: in the permuted order); the last batch "
    "holds what is left; every row exactly once per epoch; len(loader) = ceil(N / batch_size); "
    "yield (X[idx], y[idx]) with the same idx",
)

# fmt: off
order_checks([
    # name                   points
    ("dataloader.seeded",     6),
    ("dataloader.reshuffle",  6),
], HINTS)
# fmt: on

# ------------------------------------------------------ train_epoch / evaluate

# fmt: off
train_checks([
    # name                  points sizes    batch sizes    optimizer options
    ("train_epoch.one_step", 10, (6, 8, 4), (16,),         "SGD",  dict(lr=0.5)),
    ("train_epoch.epoch",    11, (6, 8, 4), (8, 8, 8, 4),  "Adam", dict(lr=0.01)),
], HINTS)
# fmt: on

EVALUATE_HINT = (
    "switch the model to evaluation mode first (eval(), so Dropout is off), then the "
    "cross-entropy of its output against y (as a float) and the accuracy of the same logits"
)
add_check(
    "lab5.evaluate",
    10,
    EVALUATE,
    net_inputs((6, 16, 4), 40),
    evaluate_sides(0.5),
    EVALUATE_HINT,
    rtol=1e-9,
)

# --------------------------------------------------------------------- model


def accuracy_rows(pred: np.ndarray, truth: np.ndarray) -> list[Row]:
    """Does the model recognise at least :data:`TARGET_ACCURACY` of the test digits?"""
    acc = float(np.mean(pred == truth))
    why = f"{int(np.sum(pred == truth)):,} of {len(truth):,} test digits right"
    expected, got = f">= {TARGET_ACCURACY:.1%}", f"{acc:.2%}"
    return [stat_row("test accuracy of your model", acc >= TARGET_ACCURACY, expected, got, why)]


add_check(
    "lab5.model.accuracy",
    12,
    MODEL,
    model_inputs,
    model_sides(accuracy_rows),
    "train `model` with the cells of section 5 (your DataLoader, train_epoch and evaluate "
    "must pass their checks first); the checker predicts the test images with `model` itself",
)
