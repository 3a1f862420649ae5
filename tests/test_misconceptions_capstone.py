"""The capstone's misconceptions and the finer rules: is each named for its mistake, and only it?

Learner code is written here as a learner would write it (on the reference engine), one mistake
at a time, and run through the real checks in this process: the mistake must be named on the
checks it fails (and on at least one), the right code and other wrong code never. The slow test
measures the realistic corpus (:mod:`grader.redteam.realistic`), written apart from the catalogue.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

import micrograd_plus.ops  # noqa: F401  (attaches the operations to Tensor)
from grader.checking.check import run_spec
from grader.checking.misconceptions import catalogue, get
from grader.checking.spec import get_spec, load_lab
from grader.redteam import REPO
from micrograd_plus import nn, ops
from micrograd_plus.tensor import Tensor

for _lab in ("lab2", "lab3", "lab4", "lab5"):
    load_lab(_lab)


def names(check_ids: tuple[str, ...] | list[str], obj: Any) -> dict[str, str | None]:
    """Each failing check -> the misconception it named (None: failed, named nothing)."""
    found: dict[str, str | None] = {}
    for check_id in check_ids:
        outcome = run_spec(get_spec(check_id), (obj,), 0)
        if not outcome.passed:
            found[check_id] = outcome.diagnosis.id if outcome.diagnosis else None
    return found


def assert_named(misconception_id: str, obj: Any) -> None:
    """The mistake fails some of its misconception's checks, and each failing one names it."""
    found = names(get(misconception_id).checks, obj)
    assert found, f"{misconception_id}: the mistake passes every check"
    assert set(found.values()) == {misconception_id}, found


def assert_unnamed(check_ids: tuple[str, ...] | list[str], obj: Any, fails: bool = True) -> None:
    """The code names no misconception on these checks (and fails one, when ``fails``)."""
    found = names(check_ids, obj)
    assert not fails or found, "expected this code to fail a check"
    assert set(found.values()) <= {None}, found


# ------------------------------------------------------------------ accuracy

ACCURACY_CHECKS = ["lab5.accuracy", "lab5.accuracy.edge_cases"]


def accuracy_with(rule: str) -> Callable[..., float]:
    """A learner's accuracy: the predicted class by ``rule`` "argmax" (right), "max" (the
    largest logit itself) or "flat" (an argmax over the whole array)."""

    def accuracy(logits: Any, y: Any) -> float:
        scores = logits.data if isinstance(logits, Tensor) else np.asarray(logits)
        predicted = {
            "argmax": lambda: scores.argmax(axis=1),
            "max": lambda: scores.max(axis=1),
            "flat": lambda: np.argmax(scores),
        }[rule]()
        return float(np.mean(predicted == np.asarray(y)))

    return accuracy


def test_the_largest_logit_compared_is_named_and_a_flat_argmax_is_not() -> None:
    """Does the case whose largest logits equal the labels tell comparing the largest logit
    (named) from an argmax over the whole array (both near 0 on random logits: unnamed)?"""
    assert names(ACCURACY_CHECKS, accuracy_with("argmax")) == {}
    found = names(ACCURACY_CHECKS, accuracy_with("max"))
    assert found == dict.fromkeys(ACCURACY_CHECKS, "lab5.accuracy.max_value_not_position")
    assert_unnamed(ACCURACY_CHECKS, accuracy_with("flat"))


# ------------------------------------------------------------ the data loader


SHARED = np.random.default_rng(12345)
"""The one generator a loader that ignores its seed draws from (seeded: the test is stable)."""


def loader(
    *, once: bool = False, reseed: bool = False, full_only: bool = False, global_rng: bool = False
) -> type:
    """A learner's DataLoader with the mistakes asked for (none: the right one)."""

    class DataLoader:
        def __init__(self, X: Any, y: Any, batch_size: int = 128, shuffle: bool = True,
                     seed: Any = None) -> None:  # fmt: skip
            self.X, self.y, self.batch_size, self.shuffle = X, np.asarray(y), batch_size, shuffle
            self.seed, self.rng = seed, np.random.default_rng(seed)
            self.order = self.rng.permutation(len(X)) if once and shuffle else None

        def __len__(self) -> int:
            return (len(self.X) + self.batch_size - 1) // self.batch_size

        def __iter__(self) -> Any:
            n = len(self.X)
            if self.order is not None:
                order = self.order
            elif not self.shuffle:
                order = np.arange(n)
            elif reseed:
                order = np.random.default_rng(self.seed).permutation(n)
            elif global_rng:
                order = SHARED.permutation(n)  # one generator for every loader
            else:
                order = self.rng.permutation(n)
            stop = n - n % self.batch_size if full_only else n
            for start in range(0, stop, self.batch_size):
                idx = order[start : start + self.batch_size]
                yield Tensor(self.X[idx], requires_grad=False), self.y[idx]

    return DataLoader


LOADER_CHECKS = [
    "lab5.dataloader.batches",
    "lab5.dataloader.more_sizes",
    "lab5.dataloader.seeded",
    "lab5.dataloader.reshuffle",
]


@pytest.mark.parametrize(
    ("misconception_id", "options"),
    [
        ("lab5.dataloader.same_order_every_epoch", {"once": True}),
        ("lab5.dataloader.same_order_every_epoch", {"reseed": True}),
        ("lab5.dataloader.drops_last_batch", {"full_only": True}),
        ("lab5.dataloader.seed_ignored", {"global_rng": True}),
    ],
)
def test_loader_mistakes_are_named(misconception_id: str, options: dict[str, bool]) -> None:
    """Is a loader that repeats its order, drops the last batch or ignores its seed named so,
    and named nothing else on the loader's other checks?"""
    assert_named(misconception_id, loader(**options))
    others = names(LOADER_CHECKS, loader(**options))
    assert set(others.values()) == {misconception_id}, others


def test_the_right_loader_and_other_wrong_loaders_are_not_named() -> None:
    """Does the right loader pass, and do a too-short len(), overlapping batches and a loader
    that never shuffles get no name?"""
    assert names(LOADER_CHECKS, loader()) == {}

    class ShortLen(loader()):  # type: ignore[misc]
        def __len__(self) -> int:
            return len(self.X) // self.batch_size

    class Overlapping(loader()):  # type: ignore[misc]
        def __iter__(self) -> Any:
            order = self.rng.permutation(len(self.X)) if self.shuffle else np.arange(len(self.X))
            for start in range(0, len(self.X), self.batch_size):
                idx = order[start : start + self.batch_size + 1]
                yield Tensor(self.X[idx], requires_grad=False), self.y[idx]

    class NeverShuffles(loader()):  # type: ignore[misc]
        def __iter__(self) -> Any:
            for start in range(0, len(self.X), self.batch_size):
                idx = np.arange(start, min(start + self.batch_size, len(self.X)))
                yield Tensor(self.X[idx], requires_grad=False), self.y[idx]

    for wrong in (ShortLen, Overlapping, NeverShuffles):
        assert_unnamed(LOADER_CHECKS, wrong)


# -------------------------------------------------------- train_epoch, evaluate

EPOCH_CHECKS = [
    "lab5.train_epoch.one_step",
    "lab5.train_epoch.epoch",
    "lab5.train_epoch.partial_batch",
    "lab5.train_epoch.train_mode",
]


def train_epoch_with(
    *, clear: str = "each", order: str = "right", mean: str = "examples", train: bool = True
) -> Callable[..., float]:
    """A learner's train_epoch: ``clear`` "each"/"once"/"late" (between backward and step),
    ``order`` "right"/"step first", ``mean`` "examples"/"batches"/"last", ``train``."""

    def train_epoch(model: Any, batches: Any, optimizer: Any) -> float:
        if train:
            model.train()
        if clear == "once":
            optimizer.zero_grad()
        losses, sizes = [], []
        for xb, yb in batches:
            if clear == "each":
                optimizer.zero_grad()
            loss = ops.cross_entropy(model(xb), yb)
            if order == "step first":
                optimizer.step()
            loss.backward()
            if clear == "late":
                optimizer.zero_grad()
            if order == "right":
                optimizer.step()
            losses.append(loss.item())
            sizes.append(len(yb))
        if mean == "batches":
            return float(np.mean(losses))
        if mean == "last":
            return losses[-1]
        return float(np.dot(losses, sizes) / np.sum(sizes))

    return train_epoch


@pytest.mark.parametrize(
    ("misconception_id", "options"),
    [
        ("lab5.train_epoch.no_zero_grad", {"clear": "never"}),
        ("lab5.train_epoch.no_zero_grad", {"clear": "once"}),
        ("lab5.train_epoch.step_on_cleared_gradients", {"order": "step first"}),
        ("lab5.train_epoch.step_on_cleared_gradients", {"clear": "late"}),
        ("lab5.train_epoch.mean_of_batch_means", {"mean": "batches"}),
        ("lab5.train_epoch.train_mode_not_set", {"train": False}),
    ],
)
def test_training_step_mistakes_are_named(misconception_id: str, options: dict[str, Any]) -> None:
    """Is each training-loop mistake named as itself on every check it fails?"""
    found = names(EPOCH_CHECKS, train_epoch_with(**options))
    assert found and set(found.values()) == {misconception_id}, found


def test_the_right_loop_and_the_last_batch_loss_are_not_named() -> None:
    """Does the right train_epoch pass, and a loop returning the last batch's loss get no name?"""
    assert names(EPOCH_CHECKS, train_epoch_with()) == {}
    assert_unnamed(EPOCH_CHECKS, train_epoch_with(mean="last"))


def evaluate_with(*, mode: str = "eval", count: bool = False) -> Callable[..., Any]:
    """A learner's evaluate: ``mode`` "eval", "none", "train" or "eval after" (eval() called
    after the forward pass), ``count``: the accuracy as a number of rows."""

    def evaluate(model: Any, X: Any, y: Any) -> tuple[float, float]:
        if mode == "eval":
            model.eval()
        if mode == "train":
            model.train()
        logits = model(Tensor(X, requires_grad=False))
        if mode == "eval after":
            model.eval()
        right = logits.data.argmax(axis=1) == y
        return ops.cross_entropy(logits, y).item(), float(right.sum() if count else right.mean())

    return evaluate


EVALUATE_CHECKS = ["lab5.evaluate", "lab5.evaluate.heavy_dropout"]


def test_evaluation_in_training_mode_is_named() -> None:
    """Is evaluate without eval() (or with train()) named so, on both evaluate checks?"""
    for mode in ("none", "train"):
        found = names(EVALUATE_CHECKS, evaluate_with(mode=mode))
        assert found == dict.fromkeys(EVALUATE_CHECKS, "lab5.evaluate.training_mode"), found


def test_other_evaluation_mistakes_are_not_named() -> None:
    """Do the right evaluate, one counting right rows, and one calling eval() too late (the model
    is in evaluation mode afterwards) get no name?"""
    assert names(EVALUATE_CHECKS, evaluate_with()) == {}
    assert_unnamed(EVALUATE_CHECKS, evaluate_with(count=True))
    assert_unnamed(EVALUATE_CHECKS, evaluate_with(mode="eval after"))


# ---------------------------------------------------------------- Dropout

DROPOUT_CHECKS = ["lab3.dropout.train", "lab3.dropout.backward", "lab3.dropout.rates"]


def dropout_with(*, keep: bool = False, scale: str = "1/(1-p)", in_eval: bool = False) -> type:
    """A learner's Dropout: ``keep`` p as the keep probability, ``scale`` of the kept elements
    ("1/(1-p)", "1/p", "1-p"), ``in_eval`` still dropping in evaluation."""
    rng = np.random.default_rng(0)

    class Dropout(nn.Module):
        def __init__(self, p: float = 0.5) -> None:
            super().__init__()
            self.p = p

        def forward(self, x: Any) -> Any:
            if (not self.training and not in_eval) or self.p == 0:
                return x
            draw = rng.random(x.shape)
            mask = draw < self.p if keep else draw >= self.p
            factor = {"1/(1-p)": 1 / (1 - self.p), "1/p": 1 / self.p, "1-p": 1 - self.p}[scale]
            return x * (mask * factor)

    return Dropout


def test_dropout_kept_fraction_and_scale_tell_the_rules_apart() -> None:
    """Is p taken as the keep probability named with either scale, unscaled dropout named as
    such, and dropout scaled by (1 - p) (neither) named nothing?"""
    for scale in ("1/(1-p)", "1/p"):
        assert_named("lab3.dropout.p_as_keep_probability", dropout_with(keep=True, scale=scale))
    assert names(DROPOUT_CHECKS, dropout_with()) == {}
    assert_unnamed(DROPOUT_CHECKS, dropout_with(scale="1-p"))


def test_dropout_active_in_evaluation_is_named() -> None:
    """Is a Dropout that keeps dropping after eval() named so, and the right one not?"""
    assert_named("lab3.dropout.active_in_eval", dropout_with(in_eval=True))
    assert names(["lab3.dropout.eval"], dropout_with()) == {}


# -------------------------------------------------------------- transpose


def transpose_with(backward: str) -> Callable[..., Any]:
    """A learner's transpose whose gradient is permuted by ``backward``: "inverse", "same" (the
    forward axes again), "reversed" (all axes reversed) or "reshaped"."""

    def transpose(x: Any, *axes: Any) -> Any:
        if len(axes) == 1 and isinstance(axes[0], (tuple, list)):
            axes = tuple(axes[0])
        perm = axes if axes else tuple(reversed(range(x.ndim)))
        out = Tensor(x.data.transpose(perm), (x,), "transpose")

        def _backward() -> None:
            g = out.grad
            grads = {
                "inverse": lambda: g.transpose(np.argsort(perm)),
                "same": lambda: g.transpose(perm),
                "reversed": lambda: g.T,
                "reshaped": lambda: g.reshape(x.data.shape),
            }
            x.grad += grads[backward]()

        out._backward = _backward
        return out

    return transpose


def test_transpose_same_permutation_is_named_and_other_wrong_gradients_are_not() -> None:
    """Is the forward permutation applied again named, and are reversed or reshaped gradients
    (which raise, or give wrong numbers, on the same case) left unnamed?"""
    check = ["lab2.transpose.axes"]
    assert names(check, transpose_with("inverse")) == {}
    assert names(check, transpose_with("same")) == {check[0]: "lab2.transpose.same_permutation"}
    for backward in ("reversed", "reshaped"):
        assert_unnamed(check, transpose_with(backward))


def test_new_entries_are_in_the_catalogue() -> None:
    """Does the catalogue hold lab 1.7.5's training-loop mistakes and the finer rules?"""
    ids = {m.id for m in catalogue()}
    assert {
        "lab5.train_epoch.no_zero_grad",
        "lab5.evaluate.training_mode",
        "lab5.dataloader.same_order_every_epoch",
        "lab5.dataloader.drops_last_batch",
        "lab5.train_epoch.mean_of_batch_means",
        "lab4.adam.eps_inside_sqrt",
        "lab4.adamw.decay_after_step",
        "lab3.dropout.p_as_keep_probability",
        "lab2.transpose.same_permutation",
    } <= ids


@pytest.mark.slow
@pytest.mark.timeout(1500)
def test_the_realistic_corpus_is_named_without_false_diagnoses() -> None:
    """On mistakes written apart from the catalogue, are 80%+ of those a misconception describes
    named exactly, with no name on solutions, stubs or the other mistakes?"""
    env = {**os.environ, "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1"}
    module = "grader.redteam.measure"
    command = [sys.executable, "-m", module, "--realistic", "--seed", "0"]
    done = subprocess.run(command, capture_output=True, text=True, env=env, cwd=REPO)
    assert done.returncode == 0, done.stderr[-3000:]
    totals = json.loads(done.stdout)["totals"]
    assert totals["false_diagnoses"] == 0, done.stdout
    assert totals["diagnosed"] >= 0.8 * totals["catalogued"], done.stdout
