"""Hidden checks of lab 1.7.5: harder cases of each task, and the trained model on every digit.

More batch sizes, edge cases of accuracy, heavier dropout, uneven batches, the
training mode, and how the trained model does on every digit."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from grader.checking.compare import Row
from grader.checking.numpy_side import data_of
from grader.checking.spec import Inputs
from grader.checking.specs.lab5 import (
    EVALUATE,
    EVALUATE_HINT,
    LOADER,
    LOOP_HINT,
    MODEL,
    PROBE,
    PROBE_LOGITS,
    PROBE_Y,
    TRAIN_EPOCH,
    model_sides,
    train_checks,
)
from grader.checking.specs.shared import add_check, no_inputs, stat_row
from grader.checking.specs.training import (
    batches_sides,
    evaluate_sides,
    model_inputs,
    net_inputs,
    reference_mlp,
)
from micrograd_plus import optim
from micrograd_plus.tensor import Tensor

# ------------------------------------------------------------------ accuracy

EDGE_CASES = ("a Tensor of logits", "one row", "every row right", "no row right", "two classes")


def _edge_inputs(rng: np.random.Generator) -> Inputs:
    out: Inputs = {}
    for i, (n, classes) in enumerate(((7, 3), (1, 10), (12, 4), (12, 4), (9, 2))):
        logits = rng.normal(size=(n, classes))
        best = logits.argmax(axis=1)
        if i == 2:
            y = best
        elif i == 3:
            y = (best + 1 + rng.integers(0, classes - 1, size=n)) % classes
        else:
            y = rng.integers(0, classes, size=n)
        out[f"logits{i}"], out[f"y{i}"] = logits, y
    return out


def _edge_learner(inputs: Inputs, accuracy: Callable[..., Any]) -> dict[str, Any]:
    out = {}
    for i, name in enumerate(EDGE_CASES):
        logits = inputs[f"logits{i}"]
        scores = Tensor(logits) if i == 0 else logits
        out[name] = float(np.asarray(data_of(accuracy(scores, inputs[f"y{i}"]))))
    out[PROBE] = float(np.asarray(data_of(accuracy(PROBE_LOGITS.copy(), PROBE_Y.copy()))))
    return out


def _edge_reference(inputs: Inputs) -> dict[str, Any]:
    import torch

    out = {}
    for i, name in enumerate(EDGE_CASES):
        logits, y = torch.tensor(inputs[f"logits{i}"]), torch.tensor(inputs[f"y{i}"])
        out[name] = (logits.argmax(dim=1) == y).double().mean().item()
    probe = torch.tensor(PROBE_LOGITS).argmax(dim=1) == torch.tensor(PROBE_Y)
    out[PROBE] = probe.double().mean().item()
    return out


add_check(
    "lab5.accuracy.edge_cases",
    4,
    ("accuracy",),
    _edge_inputs,
    (_edge_learner, _edge_reference),
    "accept a Tensor or a numpy array of logits; argmax along axis 1 works for any number "
    "of rows and classes; return 1.0 when all are right and 0.0 when none is",
    hidden=True,
    rtol=1e-12,
)

# ---------------------------------------------------------------- DataLoader

MORE_CASES = ((10, 1), (10, 10), (10, 64), (12, 4), (1, 3), (130, 128))
"""Batches of one row, one batch exactly, a batch larger than the data, a single row, and
a last batch of 2 after one of 128."""

add_check(
    "lab5.dataloader.more_sizes",
    5,
    LOADER,
    no_inputs,
    batches_sides(MORE_CASES),
    "slice the order in steps of batch_size up to the end (range(0, N, batch_size)): the "
    "last batch keeps the leftover rows, a batch_size above N gives one batch of N rows",
    hidden=True,
)

# ------------------------------------------------------ train_epoch / evaluate

HINTS = {
    "train_epoch.partial_batch": (
        LOOP_HINT + "; the mean loss weights each batch by its size (sum of loss * len(yb), "
        "divided by the number of examples): the last batch here has 3 rows"
    ),
}
"""The hints of the hidden checks written as table rows, by name."""

# fmt: off
train_checks([
    # name                       points sizes   batch sizes   optimizer options
    ("train_epoch.partial_batch", 6, (5, 7, 3), (8, 8, 8, 3), "SGD", dict(lr=0.05, momentum=0.9)),
], HINTS, hidden=True)
# fmt: on

TRAIN_MODE = "loss of one batch, the model left in evaluation mode (Dropout must be on)"


def _train_mode_step(inputs: Inputs, train_epoch: Callable[..., Any]) -> dict[str, Any]:
    """One batch of ``train_epoch`` on an MLP with Dropout(0.5) left in evaluation mode, the
    layers' generator seeded from the inputs: the loss it returns (computed before the step,
    with the masks Dropout draws only in training mode)."""
    from micrograd_plus import nn

    model, _ = reference_mlp(inputs, dropout=0.5)
    model.eval()  # as evaluate() leaves it
    opt = optim.SGD(model.parameters(), lr=0.1)
    nn.manual_seed(int(inputs["seed"]))  # the masks Dropout draws in training mode
    loss = train_epoch(model, [(Tensor(inputs["X"], requires_grad=False), inputs["y"])], opt)
    return {TRAIN_MODE: np.asarray(float(data_of(loss)))}


def _train_mode_reference(inputs: Inputs) -> dict[str, Any]:
    """The same step by the reference ``train_epoch`` (which switches Dropout on first)."""
    from micrograd_plus.train import train_epoch

    return _train_mode_step(inputs, train_epoch)


def _with_seed(base: Callable[[np.random.Generator], Inputs]) -> Callable[..., Inputs]:
    """``base``'s inputs and a seed for the masks, drawn at grading time."""
    return lambda rng: base(rng) | {"seed": rng.integers(0, 2**31)}


add_check(
    "lab5.train_epoch.train_mode",
    4,
    TRAIN_EPOCH,
    _with_seed(net_inputs((6, 8, 3), 10)),
    (_train_mode_step, _train_mode_reference),
    "switch the model to training mode at the start of train_epoch (train()): evaluate() "
    "left it in evaluation mode, and Dropout must be on while training",
    hidden=True,
)
add_check(
    "lab5.evaluate.heavy_dropout",
    4,
    EVALUATE,
    net_inputs((6, 16, 16, 5), 97),
    evaluate_sides(0.9),
    EVALUATE_HINT,
    hidden=True,
    rtol=1e-9,
)

# --------------------------------------------------------------------- model

MIN_RECALL = 0.85
"""Every digit must be recognised at least this often in the test split."""


def per_class_rows(pred: np.ndarray, truth: np.ndarray) -> list[Row]:
    """Is every digit recognised at least :data:`MIN_RECALL` of the time?"""
    rows = []
    for digit in range(10):
        mask = truth == digit
        recall = float(np.mean(pred[mask] == digit)) if mask.any() else 1.0
        why = f"{int(np.sum(pred[mask] == digit))} of {int(mask.sum())} images of a {digit} right"
        expected, got = f">= {MIN_RECALL:.0%}", f"{recall:.1%}"
        rows.append(stat_row(f"digit {digit} recognised", recall >= MIN_RECALL, expected, got, why))
    return rows


add_check(
    "lab5.model.per_class",
    5,
    MODEL,
    model_inputs,
    model_sides(per_class_rows),
    "a trained model recognises every digit, not only the easy ones: train `model` fully",
    hidden=True,
)
