"""Lab 1.7.5 — training: batches, the training loop, evaluation, checkpoints."""

from __future__ import annotations

import gc
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
from tqdm import tqdm

from micrograd_plus import ops
from micrograd_plus.nn import Module
from micrograd_plus.optim import Optimizer
from micrograd_plus.tensor import Tensor

LossFn = Callable[[Tensor, np.ndarray], Tensor]


class DataLoader:
    """Mini-batches of ``(Tensor images, integer labels)``.

    Args:
        X: inputs, one row per example.
        y: integer labels, one per row of X.
        batch_size: rows per batch (the last batch may be smaller).
        shuffle: draw a new order every epoch.
        seed: seed of the shuffling generator (same seed, same batches).
    """

    def __init__(
        self,
        X: np.ndarray,
        y: np.ndarray,
        batch_size: int = 128,
        shuffle: bool = True,
        seed: int | None = None,
    ) -> None:
        if len(X) != len(y):
            raise ValueError(f"DataLoader: X has {len(X)} rows but y has {len(y)} labels")
        if batch_size <= 0:
            raise ValueError(f"DataLoader: batch_size must be positive, got {batch_size}")
        self.X, self.y = X, np.asarray(y)
        self.batch_size, self.shuffle = batch_size, shuffle
        self.rng = np.random.default_rng(seed)

    def __len__(self) -> int:
        return -(-len(self.X) // self.batch_size)

    def __iter__(self) -> Iterator[tuple[Tensor, np.ndarray]]:
        order = self.rng.permutation(len(self.X)) if self.shuffle else np.arange(len(self.X))
        for start in range(0, len(order), self.batch_size):
            idx = order[start : start + self.batch_size]
            yield Tensor(self.X[idx], requires_grad=False), self.y[idx]


def train_epoch(
    model: Module,
    loader: DataLoader,
    optimizer: Optimizer,
    loss_fn: LossFn = ops.cross_entropy,
    progress: bool = False,
    desc: str = "train",
) -> float:
    """One pass over ``loader``: forward, loss, backward, step. Returns the mean loss."""
    model.train()
    total, count = 0.0, 0
    batches = tqdm(loader, desc=desc, file=sys.stdout, disable=not progress, leave=False)
    for xb, yb in batches:
        optimizer.zero_grad()
        loss = loss_fn(model(xb), yb)
        loss.backward()
        optimizer.step()
        total += loss.item() * len(yb)
        count += len(yb)
        batches.set_postfix(loss=f"{total / count:.4f}", refresh=False)
        # A graph is a reference cycle (each node's _backward refers to the node), so
        # Python frees it only when its cycle collector runs: free this step's graph now.
        del loss
        gc.collect(1)
    return total / max(count, 1)


def predict(model: Module, X: np.ndarray, batch_size: int = 1000) -> np.ndarray:
    """Logits for every row of X, in evaluation mode, batch by batch."""
    model.eval()
    chunks = [
        model(Tensor(X[i : i + batch_size], requires_grad=False)).data
        for i in range(0, len(X), batch_size)
    ]
    return np.concatenate(chunks)


def accuracy(logits: np.ndarray | Tensor, y: np.ndarray) -> float:
    """Fraction of rows whose largest logit is at the true label."""
    scores = logits.data if isinstance(logits, Tensor) else np.asarray(logits)
    return float(np.mean(scores.argmax(axis=-1) == np.asarray(y)))


def evaluate(
    model: Module, X: np.ndarray, y: np.ndarray, loss_fn: LossFn = ops.cross_entropy
) -> tuple[float, float]:
    """``(mean loss, accuracy)`` of the model on (X, y), in evaluation mode."""
    logits = predict(model, X)
    loss = loss_fn(Tensor(logits, requires_grad=False), y).item()
    return loss, accuracy(logits, y)


def save_parameters(model: Module, path: str | Path) -> None:
    """Write the model's parameters to an ``.npz`` file, keyed by name."""
    arrays: dict[str, Any] = {name: p.data for name, p in model.named_parameters()}
    np.savez(path, **arrays)


def load_parameters(model: Module, path: str | Path) -> None:
    """Load parameters saved by :func:`save_parameters` (names and shapes must match)."""
    with np.load(path, allow_pickle=False) as saved:
        params = dict(model.named_parameters())
        missing = sorted(set(params) - set(saved.files))
        extra = sorted(set(saved.files) - set(params))
        if missing or extra:
            raise ValueError(f"{path}: parameters missing {missing}, unexpected {extra}")
        for name, p in params.items():
            if saved[name].shape != p.shape:
                raise ValueError(
                    f"{path}: {name} has shape {saved[name].shape}, the model expects {p.shape}"
                )
            p.data = saved[name].astype(p.dtype)
            p.zero_grad()


def fit(
    model: Module,
    optimizer: Optimizer,
    train: DataLoader,
    X_test: np.ndarray,
    y_test: np.ndarray,
    epochs: int,
    progress: bool = True,
) -> dict[str, list[Any]]:
    """Train for ``epochs`` epochs and return the history of loss and test accuracy."""
    history: dict[str, list[Any]] = {"train_loss": [], "test_loss": [], "test_acc": []}
    for epoch in range(1, epochs + 1):
        history["train_loss"].append(
            train_epoch(model, train, optimizer, progress=progress, desc=f"epoch {epoch}")
        )
        test_loss, test_acc = evaluate(model, X_test, y_test)
        history["test_loss"].append(test_loss)
        history["test_acc"].append(test_acc)
    return history
