"""Lab 1.7.5 — training: ``accuracy``, ``DataLoader``, ``train_epoch``, ``evaluate`` and the
trained ``model`` itself.

The sides of these checks live in :mod:`grader.specs.training`. The model check
computes the test accuracy from the learner's ``model``: its learner side
predicts every test image with it, the trusted side loads the true labels and
judges, so no number the learner prints is ever trusted.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from grader.compare import Row
from grader.harness import data_of
from grader.spec import Inputs, spec
from grader.specs.training import (
    RESHUFFLE,
    SEEDED,
    batches_learner,
    batches_reference,
    evaluate_sides,
    model_inputs,
    net_inputs,
    no_inputs,
    predicted_digits,
    predictions_of,
    property_sides,
    reshuffle_flags,
    reshuffle_orders,
    seeded_flags,
    seeded_orders,
    test_labels,
    train_sides,
)

TARGET_ACCURACY = 0.955
"""The test accuracy the trained model must reach (issue #5)."""

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


def _accuracy_learner(inputs: Inputs, accuracy: Callable[..., Any]) -> dict[str, Any]:
    return {"accuracy": float(data_of(accuracy(inputs["logits"], inputs["y"])))}


def _accuracy_reference(inputs: Inputs) -> dict[str, Any]:
    import torch

    logits, y = torch.tensor(inputs["logits"]), torch.tensor(inputs["y"])
    return {"accuracy": (logits.argmax(dim=1) == y).double().mean().item()}


spec(
    id="lab5.accuracy",
    points=8,
    symbols=("accuracy",),
    inputs=accuracy_inputs(50, 10),
    learner=_accuracy_learner,
    reference=_accuracy_reference,
    rtol=1e-12,
    hint="predicted class = logits.argmax(axis=1) (one per row); accuracy = the mean of "
    "(predicted == y), a number between 0 and 1",
)

# ---------------------------------------------------------------- DataLoader


BATCH_CASES = ((23, 5), (20, 4))
"""23 rows by 5: four full batches and a partial one; 20 by 4: no partial batch."""

spec(
    id="lab5.dataloader.batches",
    points=9,
    symbols=("DataLoader",),
    inputs=no_inputs,
    learner=batches_learner(BATCH_CASES),
    reference=batches_reference(BATCH_CASES),
    hint="batches of batch_size rows in order (shuffled: in the permuted order); the last batch "
    "holds what is left; every row exactly once per epoch; len(loader) = ceil(N / batch_size); "
    "yield (X[idx], y[idx]) with the same idx",
)


_seeded_learner, _seeded_reference, _seeded_compare = property_sides(
    SEEDED, seeded_orders, seeded_flags, "one generator per loader, seeded once in __init__"
)
spec(
    id="lab5.dataloader.seeded",
    points=6,
    symbols=("DataLoader",),
    inputs=no_inputs,
    learner=_seeded_learner,
    reference=_seeded_reference,
    compare=_seeded_compare,
    hint="make ONE generator in __init__, np.random.default_rng(seed), and draw every "
    "permutation from it (np.random.permutation ignores your seed)",
)
_reshuffle_learner, _reshuffle_reference, _reshuffle_compare = property_sides(
    RESHUFFLE, reshuffle_orders, reshuffle_flags, "a new permutation each epoch when shuffling"
)
spec(
    id="lab5.dataloader.reshuffle",
    points=6,
    symbols=("DataLoader",),
    inputs=no_inputs,
    learner=_reshuffle_learner,
    reference=_reshuffle_reference,
    compare=_reshuffle_compare,
    hint="draw a new permutation at the start of every epoch (in __iter__) from the generator "
    "made once in __init__; with shuffle=False visit the rows in order",
)

# ------------------------------------------------------ train_epoch / evaluate


def train_spec(
    check_id: str,
    points: float,
    sizes: Sequence[int],
    batch_sizes: Sequence[int],
    optimizer: str,
    options: dict[str, Any],
    hint: str,
    hidden: bool = False,
) -> None:
    learner, reference = train_sides(batch_sizes, optimizer, options)
    spec(
        id=check_id,
        points=points,
        symbols=("train_epoch",),
        inputs=net_inputs(sizes, sum(batch_sizes)),
        learner=learner,
        reference=reference,
        rtol=1e-6,
        atol=1e-9,
        hint=hint,
        hidden=hidden,
    )


LOOP_HINT = (
    "for each batch: optimizer.zero_grad(), loss = ops.cross_entropy(model(xb), yb), "
    "loss.backward(), optimizer.step(), in this order"
)
train_spec(
    "lab5.train_epoch.one_step",
    10,
    (6, 8, 4),
    (16,),
    "SGD",
    {"lr": 0.5},
    LOOP_HINT + "; return the mean loss (here: the loss of the one batch, before the step)",
)
train_spec(
    "lab5.train_epoch.epoch",
    11,
    (6, 8, 4),
    (8, 8, 8, 8),
    "Adam",
    {"lr": 0.01},
    LOOP_HINT + ": a gradient left over from the previous batch (no zero_grad) or a step "
    "before backward changes every step after the first; return the mean loss per example",
)


EVALUATE_HINT = (
    "switch the model to evaluation mode first (model.eval(): Dropout off), then "
    "loss = cross-entropy of model(X) against y (a float) and accuracy(logits, y)"
)
_evaluate_learner, _evaluate_reference = evaluate_sides(0.5)
spec(
    id="lab5.evaluate",
    points=10,
    symbols=("evaluate",),
    inputs=net_inputs((6, 16, 4), 40),
    learner=_evaluate_learner,
    reference=_evaluate_reference,
    rtol=1e-9,
    hint=EVALUATE_HINT,
)

# --------------------------------------------------------------------- model


def accuracy_compare(got: Any, expected: Any, inputs: Inputs) -> list[Row]:
    pred, problem = predictions_of(got, expected)
    if pred is None:
        return [problem] if problem else []
    truth = expected["true digits"]
    acc = float(np.mean(pred == truth))
    ok = acc >= TARGET_ACCURACY
    why = f"{int(np.sum(pred == truth)):,} of {len(truth):,} test digits right"
    return [
        Row(
            "test accuracy of your model",
            ok,
            "" if ok else why,
            expected=f">= {TARGET_ACCURACY:.1%}",
            got=f"{acc:.2%}",
        )
    ]


spec(
    id="lab5.model.accuracy",
    points=12,
    symbols=("model",),
    inputs=model_inputs,
    learner=predicted_digits,
    reference=test_labels,
    compare=accuracy_compare,
    hint="train `model` with the cells of section 5 (your DataLoader, train_epoch and evaluate "
    "must pass their checks first); the checker predicts the test images with `model` itself",
)
