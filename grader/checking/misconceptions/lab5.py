"""Misconceptions of lab 1.7.5 (training): accuracy, the data loader, the training step, the epoch's
mean loss and evaluation.

The training-loop mistakes are wrong references: the check's own ``torch.optim`` run with one
rule changed (``zero_grad`` that keeps the gradients, a step on cleared gradients, the batches'
mean losses averaged without their sizes, ``model.train()`` never called). The loader's mistakes
and evaluation in training mode cannot be reproduced by a reference (the learner's own random
orders and dropout masks decide the outputs), so they are distinguishing observations of the
learner's outputs, decided here on the trusted side.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from grader.checking.misconceptions.model import Misconception
from grader.checking.misconceptions.rules import (
    attribute,
    class_attribute,
    patched,
    rerun,
    tensor_method,
)
from grader.checking.spec import Inputs, Outputs, Spec

TRAINING = "grader.checking.specs.training"
EPOCHS = ("lab5.train_epoch.epoch", "lab5.train_epoch.partial_batch")
EVALUATE = ("lab5.evaluate", "lab5.evaluate.heavy_dropout")
BATCHES = ("lab5.dataloader.batches", "lab5.dataloader.more_sizes")

# ------------------------------------------------------------- the training step


def _keeps_gradients(original: Any) -> Any:
    def zero_grad(self: Any, set_to_none: bool = True) -> None:
        return None

    return zero_grad


def _step_on_cleared(original: Any) -> Any:
    """``step`` on gradients just cleared: what it sees when it runs before ``backward``."""

    def step(self: Any, closure: Any = None) -> Any:
        import torch

        for group in self.param_groups:
            for p in group["params"]:
                p.grad = torch.zeros_like(p)
        return original(self, closure)

    return step


def _mean_of_batch_means(original: Any) -> Any:
    def epoch_mean(losses: Sequence[float], sizes: Sequence[int]) -> float:
        return float(np.mean(losses))

    return epoch_mean


def _modes_never_set(spec: Spec, inputs: Inputs) -> Outputs:
    """The reference's step with ``model.train()`` doing nothing: every module stays as
    ``evaluate`` left it, so Dropout is off for the batch."""
    from micrograd_plus import nn
    from micrograd_plus.train import train_epoch

    def without_train(*args: Any, **kwargs: Any) -> Any:
        with patched([(nn.Module, "train", lambda self, mode=True: self)]):
            return train_epoch(*args, **kwargs)

    return spec.learner(inputs, without_train)


# ------------------------------------------------------------------ evaluate


def _measured_in_training_mode(spec: Spec, inputs: Inputs, got: Outputs) -> bool:
    """The model is still in training mode after ``evaluate``, and the same call from the same
    state measures another loss: the measurement depends on dropout's chance."""
    from grader.checking.specs.training import AGAIN, LEFT_TRAINING

    first, again = float(np.asarray(got["loss"])), float(np.asarray(got[AGAIN]))
    changed = np.isfinite([first, again]).all() and abs(first - again) > 1e-6 * (1 + abs(first))
    return bool(changed and float(np.asarray(got[LEFT_TRAINING])) == 1.0)


# ---------------------------------------------------------------- DataLoader


def _is_permutation(order: np.ndarray, n: int) -> bool:
    return len(order) == n and np.array_equal(np.sort(order), np.arange(n))


def _same_order_every_epoch(spec: Spec, inputs: Inputs, got: Outputs) -> bool:
    """Epoch 1 is a real shuffle of every row, and epochs 2 and 3 repeat it exactly; without
    shuffling the rows come in order."""
    n = int(inputs["rows"])
    rows = np.arange(n)
    epochs = [np.asarray(got[f"shuffled, epoch {e}"]).ravel() for e in (1, 2, 3)]
    plain = [np.asarray(got[f"plain, epoch {e}"]).ravel() for e in (1, 2)]
    return (
        _is_permutation(epochs[0], n)
        and not np.array_equal(epochs[0], rows)
        and all(np.array_equal(epoch, epochs[0]) for epoch in epochs[1:])
        and all(np.array_equal(order, rows) for order in plain)
    )


def _seed_ignored(spec: Spec, inputs: Inputs, got: Outputs) -> bool:
    """Seeded: two loaders with the same seed shuffle every row, each in another order.
    Reshuffle: three different shuffles of every row (in order unshuffled) that no generator made
    from the loader's seed gives (the check judges the orders a seeded generator gives)."""
    n = int(inputs["rows"])
    if spec.id == "lab5.dataloader.reshuffle":
        epochs = [np.asarray(got[f"shuffled, epoch {e}"]).ravel() for e in (1, 2, 3)]
        plain = [np.asarray(got[f"plain, epoch {e}"]).ravel() for e in (1, 2)]
        return (
            all(_is_permutation(epoch, n) for epoch in epochs)
            and not np.array_equal(epochs[0], epochs[1])
            and not np.array_equal(epochs[1], epochs[2])
            and all(np.array_equal(order, np.arange(n)) for order in plain)
        )
    a, b = (np.asarray(got[key]).ravel() for key in ("seed s, epoch 1", "seed s again, epoch 1"))
    return _is_permutation(a, n) and _is_permutation(b, n) and not np.array_equal(a, b)


def _batch_cases(check_id: str) -> Sequence[tuple[int, int]]:
    """The (rows, batch size) cases of a batches check (hidden ones only where they exist)."""
    if check_id == "lab5.dataloader.batches":
        from grader.checking.specs.lab5 import BATCH_CASES

        return BATCH_CASES
    from grader.checking.hidden.lab5 import MORE_CASES

    return MORE_CASES


def _only_full_batches(spec: Spec, inputs: Inputs, got: Outputs) -> bool:
    """Every epoch yields exactly the full batches, of distinct rows each with its label, and
    nothing of the rows left over (whatever ``len(loader)`` says)."""
    from grader.checking.specs.training import batch_outputs

    keys = list(batch_outputs([], [], np.zeros(0), np.zeros(0)))
    sizes, rows, labels = (np.asarray(got[key]).ravel() for key in keys[1:])
    cases = _batch_cases(spec.id)
    want = [b for n, b in cases for _shuffle in (False, True) for _ in range(n // b)]
    if not np.array_equal(sizes, want) or len(rows) != sum(want):
        return False
    if not np.array_equal(rows, labels):
        return False
    start = 0
    for n, b in cases:
        kept = n // b * b
        for shuffle in (False, True):
            epoch, start = rows[start : start + kept], start + kept
            distinct = len(np.unique(epoch)) == kept and np.all((epoch >= 0) & (epoch < n))
            if shuffle and not distinct:
                return False
            if not shuffle and not np.array_equal(epoch, np.arange(kept)):
                return False
    return any(n % b for n, b in cases)


MISCONCEPTIONS = [
    Misconception(
        "lab5.accuracy.max_value_not_position",
        ("lab5.accuracy", "lab5.accuracy.edge_cases"),
        "Your accuracy compares the largest logit itself with the label, and a score almost "
        "never equals a class number, so the accuracy comes out near 0. The predicted class is "
        "where the largest logit sits. Think about which numpy function returns a position.",
        wrong=rerun(tensor_method("argmax", lambda original, x, *a, **k: x.amax(*a, **k))),
        planted=("accuracy-compares-max-logit",),
    ),
]

MISCONCEPTIONS += [
    Misconception(
        "lab5.train_epoch.no_zero_grad",
        EPOCHS,
        "Your training step never clears the gradients between batches, so each backward adds "
        "to what the earlier batches left and every step after the first follows their sum. "
        "backward() accumulates into .grad by design. Think about what must happen to the "
        "gradients before each batch's backward.",
        wrong=rerun(class_attribute("torch.optim", "Optimizer", "zero_grad", _keeps_gradients)),
        planted=("no-zero-grad",),
    ),
    Misconception(
        "lab5.train_epoch.step_on_cleared_gradients",
        ("lab5.train_epoch.one_step", *EPOCHS),
        "Your optimizer steps on gradients that were just cleared, so the parameters never move: "
        "step() runs before backward(), or zero_grad() sits between backward() and step(). A "
        "step can only use a gradient that backward has already computed. Think about the order "
        "of the four lines of a training step.",
        wrong=rerun(
            class_attribute("torch.optim", "SGD", "step", _step_on_cleared),
            class_attribute("torch.optim", "Adam", "step", _step_on_cleared),
        ),
        planted=("step-before-backward",),
    ),
    Misconception(
        "lab5.train_epoch.mean_of_batch_means",
        ("lab5.train_epoch.epoch", "lab5.train_epoch.partial_batch"),
        "Your epoch loss is the plain mean of the batches' mean losses, so a small last batch "
        "counts as much as a full one. The mean loss per example weights each batch by the "
        "number of examples in it. Think about what each batch's loss is an average of.",
        wrong=rerun(attribute(TRAINING, "epoch_mean", _mean_of_batch_means)),
        planted=("mean-of-batch-means",),
    ),
    Misconception(
        "lab5.train_epoch.train_mode_not_set",
        ("lab5.train_epoch.train_mode",),
        "Your train_epoch never switches the model to training mode, so after an evaluate() "
        "Dropout stays off for the whole epoch. The mode is a flag on every module, and it stays "
        "as the last call left it. Think about what train_epoch must do before its first batch.",
        wrong=_modes_never_set,
        planted=("no-train-mode",),
    ),
    Misconception(
        "lab5.evaluate.training_mode",
        EVALUATE,
        "Your evaluate measures the model in training mode: Dropout keeps zeroing random "
        "activations, so the same call gives another loss each time and the accuracy is too low. "
        "A measurement must not depend on chance. Think about which mode the model must be in "
        "before its forward pass.",
        observed=_measured_in_training_mode,
        planted=("evaluate-in-train-mode",),
    ),
    Misconception(
        "lab5.dataloader.same_order_every_epoch",
        ("lab5.dataloader.reshuffle",),
        "Your loader shuffles once and then repeats that order in every epoch, so the batches are "
        "the same each time. A loader draws a new permutation at the start of every epoch from "
        "a generator that keeps moving. Think about where the permutation is drawn and what "
        "restarts there.",
        observed=_same_order_every_epoch,
        planted=("loader-same-order-every-epoch",),
    ),
    Misconception(
        "lab5.dataloader.seed_ignored",
        ("lab5.dataloader.seeded", "lab5.dataloader.reshuffle"),
        "Your loader shuffles, but two loaders given the same seed visit the rows in different "
        "orders, so no run can be repeated. The order must come from the loader's own generator, "
        "made from its seed. Think about which generator your permutation is drawn from.",
        observed=_seed_ignored,
        planted=("loader-ignores-seed",),
    ),
    Misconception(
        "lab5.dataloader.drops_last_batch",
        BATCHES,
        "Your loader yields only full batches: the rows left over after the last full batch are "
        "never seen, in any epoch. An epoch visits every row once, and its last batch may be "
        "smaller. Think about where your loop over batch starts stops.",
        observed=_only_full_batches,
        planted=("loader-drops-last-batch",),
    ),
]
