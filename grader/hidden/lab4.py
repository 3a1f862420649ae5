"""Hidden checks of lab 1.7.4: more parameters and shapes, combined options, a changing lr."""

from __future__ import annotations

from grader.specs.lab4 import ADAM_HINT, optimizer_spec

MANY = ((2, 3, 2), (5,), (), (1, 1))
"""Parameters of several ranks, a 0-d one included."""

optimizer_spec(
    "lab4.sgd.shapes",
    2,
    "SGD",
    {"lr": 0.2},
    "SGD must work for parameters of any shape, a 0-d one included",
    shapes=MANY,
    hidden=True,
)
optimizer_spec(
    "lab4.sgd.lr_change",
    2,
    "SGD",
    {"lr": 0.1, "momentum": 0.9},
    "read self.lr at every step (a schedule changes it between steps); the buffer does not "
    "include lr",
    lrs=[0.1, 0.1, 0.05, 0.05, 0.02, 0.2, 0.01, 0.01, 0.001, 0.1],
    hidden=True,
)
optimizer_spec(
    "lab4.sgd.momentum_shapes",
    2,
    "SGD",
    {"lr": 0.03, "momentum": 0.8, "dampening": 0.1},
    "one momentum buffer per parameter, of that parameter's shape",
    shapes=MANY,
    steps=25,
    hidden=True,
)
optimizer_spec(
    "lab4.sgd.nesterov_weight_decay",
    2,
    "SGD",
    {"lr": 0.05, "momentum": 0.7, "nesterov": True, "weight_decay": 0.05},
    "Nesterov with weight decay: g = p.grad + wd * p first, then the buffer, then g + mu * buf",
    steps=25,
    hidden=True,
)
optimizer_spec(
    "lab4.adam.shapes",
    2,
    "Adam",
    {"lr": 0.02, "betas": (0.85, 0.995)},
    f"{ADAM_HINT}; t counts optimizer steps, not parameters",
    shapes=MANY,
    steps=30,
    hidden=True,
)
optimizer_spec(
    "lab4.adamw.custom",
    2,
    "AdamW",
    {"lr": 0.02, "betas": (0.8, 0.95), "eps": 1e-2, "weight_decay": 0.2},
    "AdamW with its own betas, eps and weight decay, on parameters of several shapes",
    shapes=MANY,
    steps=25,
    hidden=True,
)
