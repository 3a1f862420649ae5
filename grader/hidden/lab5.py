"""Hidden checks of lab 1.7.5: more batch sizes, edge cases of accuracy, heavier dropout,
uneven batches, the training mode, and how the trained model does on every digit."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from grader.compare import Row
from grader.harness import data_of
from grader.spec import Inputs, spec
from grader.specs.lab5 import EVALUATE_HINT, LOOP_HINT, train_spec
from grader.specs.training import (
    batches_learner,
    batches_reference,
    evaluate_sides,
    model_inputs,
    net_inputs,
    no_inputs,
    predicted_digits,
    predictions_of,
    reference_mlp,
    test_labels,
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
    return out


def _edge_reference(inputs: Inputs) -> dict[str, Any]:
    import torch

    out = {}
    for i, name in enumerate(EDGE_CASES):
        logits, y = torch.tensor(inputs[f"logits{i}"]), torch.tensor(inputs[f"y{i}"])
        out[name] = (logits.argmax(dim=1) == y).double().mean().item()
    return out


spec(
    id="lab5.accuracy.edge_cases",
    points=4,
    symbols=("accuracy",),
    inputs=_edge_inputs,
    learner=_edge_learner,
    reference=_edge_reference,
    rtol=1e-12,
    hint="accept a Tensor or a numpy array of logits; argmax along axis 1 works for any number "
    "of rows and classes; return 1.0 when all are right and 0.0 when none is",
    hidden=True,
)

# ---------------------------------------------------------------- DataLoader

MORE_CASES = ((10, 1), (10, 10), (10, 64), (12, 4), (1, 3), (130, 128))
"""Batches of one row, one batch exactly, a batch larger than the data, a single row, and
a last batch of 2 after one of 128."""

spec(
    id="lab5.dataloader.more_sizes",
    points=5,
    symbols=("DataLoader",),
    inputs=no_inputs,
    learner=batches_learner(MORE_CASES),
    reference=batches_reference(MORE_CASES),
    hint="slice the order in steps of batch_size up to the end (range(0, N, batch_size)): the "
    "last batch keeps the leftover rows, a batch_size above N gives one batch of N rows",
    hidden=True,
)

# ------------------------------------------------------ train_epoch / evaluate

train_spec(
    "lab5.train_epoch.partial_batch",
    6,
    (5, 7, 3),
    (8, 8, 8, 3),
    "SGD",
    {"lr": 0.05, "momentum": 0.9},
    LOOP_HINT + "; the mean loss weights each batch by its size (sum of loss * len(yb), divided "
    "by the number of examples): the last batch here has 3 rows",
    hidden=True,
)

TRAIN_MODE = "modules in training mode after train_epoch"


def _train_mode_learner(inputs: Inputs, train_epoch: Callable[..., Any]) -> dict[str, Any]:
    model, _ = reference_mlp(inputs, dropout=0.5)
    model.eval()  # as evaluate() leaves it
    opt = optim.SGD(model.parameters(), lr=0.1)
    X, y = inputs["X"], inputs["y"]
    train_epoch(model, [(Tensor(X, requires_grad=False), y)], opt)
    return {TRAIN_MODE: np.array([float(m.training) for m in model.modules()])}


def _train_mode_reference(inputs: Inputs) -> dict[str, Any]:
    """Every module of the reference MLP in training mode (its module count comes from torch)."""
    model, _ = reference_mlp(inputs, dropout=0.5)
    return {TRAIN_MODE: np.ones(len(model.modules()))}


spec(
    id="lab5.train_epoch.train_mode",
    points=4,
    symbols=("train_epoch",),
    inputs=net_inputs((6, 8, 3), 10),
    learner=_train_mode_learner,
    reference=_train_mode_reference,
    hint="call model.train() at the start of train_epoch: evaluate() left the model in eval "
    "mode, and Dropout must be on while training",
    hidden=True,
)

_heavy_learner, _heavy_reference = evaluate_sides(0.9)
spec(
    id="lab5.evaluate.heavy_dropout",
    points=4,
    symbols=("evaluate",),
    inputs=net_inputs((6, 16, 16, 5), 97),
    learner=_heavy_learner,
    reference=_heavy_reference,
    rtol=1e-9,
    hint=EVALUATE_HINT,
    hidden=True,
)

# --------------------------------------------------------------------- model

MIN_RECALL = 0.85
"""Every digit must be recognised at least this often in the test split."""


def _per_class_compare(got: Any, expected: Any, inputs: Inputs) -> list[Row]:
    pred, problem = predictions_of(got, expected)
    if pred is None:
        return [problem] if problem else []
    truth = expected["true digits"]
    rows = []
    for digit in range(10):
        mask = truth == digit
        recall = float(np.mean(pred[mask] == digit)) if mask.any() else 1.0
        ok = recall >= MIN_RECALL
        why = f"{int(np.sum(pred[mask] == digit))} of {int(mask.sum())} images of a {digit} right"
        rows.append(
            Row(
                f"digit {digit} recognised",
                ok,
                "" if ok else why,
                expected=f">= {MIN_RECALL:.0%}",
                got=f"{recall:.1%}",
            )
        )
    return rows


spec(
    id="lab5.model.per_class",
    points=5,
    symbols=("model",),
    inputs=model_inputs,
    learner=predicted_digits,
    reference=test_labels,
    compare=_per_class_compare,
    hint="a trained model recognises every digit, not only the easy ones: train `model` fully",
    hidden=True,
)
