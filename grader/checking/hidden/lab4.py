"""Hidden checks of lab 1.7.4: more parameters and shapes, combined options, a changing lr."""

from __future__ import annotations

from grader.checking.specs.lab4 import ADAM_HINT, Run, optimizer_checks

MANY = ((2, 3, 2), (5,), (), (1, 1))
"""Parameters of several ranks, a 0-d one included."""
SCHEDULE = (0.1, 0.1, 0.05, 0.05, 0.02, 0.2, 0.01, 0.01, 0.001, 0.1)
"""The learning rate of each step of ``sgd.lr_change``."""

HINTS = {
    "sgd.shapes": "SGD must work for parameters of any shape, a 0-d one included",
    "sgd.lr_change": (
        "read self.lr at every step (a schedule changes it between steps); the buffer does not "
        "include lr"
    ),
    "sgd.momentum_shapes": "one momentum buffer per parameter, of that parameter's shape",
    "sgd.nesterov_weight_decay": (
        "Nesterov with weight decay: decay the gradient first, then update the buffer, then "
        "step along the decayed gradient plus momentum times the buffer"
    ),
    "adam.shapes": f"{ADAM_HINT}; t counts optimizer steps, not parameters",
    "adamw.custom": (
        "AdamW with its own betas, eps and weight decay, on parameters of several shapes"
    ),
}
"""The hints of the hidden optimizer checks, by name."""

# fmt: off
optimizer_checks([
    #   name                        points optimizer steps options
    Run("sgd.shapes",                  2, "SGD",   20, dict(lr=0.2), shapes=MANY),
    Run("sgd.lr_change",               2, "SGD",   10, dict(lr=0.1, momentum=0.9), lrs=SCHEDULE),
    Run("sgd.momentum_shapes",         2, "SGD",   25, dict(lr=0.03, momentum=0.8, dampening=0.1),
        shapes=MANY),
    Run("sgd.nesterov_weight_decay",   2, "SGD",   25,
        dict(lr=0.05, momentum=0.7, nesterov=True, weight_decay=0.05)),
    Run("adam.shapes",                 2, "Adam",  30, dict(lr=0.02, betas=(0.85, 0.995)),
        shapes=MANY),
    Run("adamw.custom",                2, "AdamW", 25,
        dict(lr=0.02, betas=(0.8, 0.95), eps=1e-2, weight_decay=0.2), shapes=MANY),
], HINTS, hidden=True)
# fmt: on
