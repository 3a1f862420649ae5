"""Misconceptions of lab 1.7.5 (training)."""

from __future__ import annotations

from grader.checking.misconceptions import Misconception
from grader.checking.misconceptions.rules import rerun, tensor_method

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
