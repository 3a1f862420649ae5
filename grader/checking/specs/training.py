"""Learner and reference sides of lab 1.7.5's checks (DataLoader, train_epoch, evaluate, model).

The loader sides feed the learner's ``DataLoader`` rows that carry their own
number (column 0 of X and the label are the row number), so what comes out says
exactly which rows each batch holds. The training sides build a small MLP from
the reference layers (float64), give the learner's ``train_epoch`` a fixed list
of batches and a reference optimizer, and compare with ``torch.optim`` running
the same steps from the same weights. The model sides predict the test split
with the learner's trained ``model``; the trusted side loads the true labels.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from itertools import pairwise
from pathlib import Path
from typing import Any

import numpy as np

import micrograd_plus.ops  # noqa: F401  (attaches @, .T, indexing, ... to Tensor)
from grader.checking.numpy_side import data_of
from grader.checking.spec import Inputs
from grader.checking.specs.shared import Side, torch_linear
from micrograd_plus import nn, optim
from micrograd_plus.data import SAMPLE_PATH, load_mnist
from micrograd_plus.tensor import Tensor

# ---------------------------------------------------------------- DataLoader


def indexed_rows(n: int, features: int = 3) -> tuple[np.ndarray, np.ndarray]:
    """X whose column 0 is the row number (other columns noise-free), and y = the row number."""
    X = np.zeros((n, features))
    X[:, 0] = np.arange(n)
    X[:, 1:] = np.arange(n)[:, None] * 0.5
    return X, np.arange(n)


def epoch_of(loader: Any) -> list[tuple[np.ndarray, np.ndarray]]:
    """One pass over a loader, as (row numbers from X, labels) per batch."""
    batches = []
    for xb, yb in loader:
        rows = np.asarray(data_of(xb))
        batches.append((rows[:, 0].astype(np.int64), np.asarray(data_of(yb)).astype(np.int64)))
    return batches


def visit_order(loader: Any) -> np.ndarray:
    """The row numbers of one epoch, in the order the batches gave them."""
    return np.concatenate([np.zeros(0, np.int64)] + [rows for rows, _ in epoch_of(loader)])


def first_visits(loader: Any) -> np.ndarray:
    """One epoch's order without repeats (first visit kept): the order alone, so a batching
    mistake (rows repeated across batches) costs the batching checks only."""
    order = visit_order(loader)
    _, first = np.unique(order, return_index=True)
    return order[np.sort(first)]


def batches_sides(cases: Sequence[tuple[int, int]]) -> tuple[Side, Side]:
    """Per (n, batch_size): len(loader), the batch sizes, and the rows and labels seen per epoch,
    from the learner's DataLoader and from torch.utils.data.DataLoader (drop_last=False).

    Shuffled epochs are put in row order (rows sorted, labels by their row) so that they
    compare with torch's element by element; the labels show whether they stayed with
    their rows.
    """

    def learner(inputs: Inputs, DataLoader: type) -> dict[str, Any]:
        lengths, sizes, seen, labels = [], [], [], []
        for case, (n, batch_size) in enumerate(cases):
            X, y = indexed_rows(n)
            for shuffle in (False, True):
                loader = DataLoader(X, y, batch_size=batch_size, shuffle=shuffle, seed=case)
                batches = epoch_of(loader)
                lengths.append(len(loader))
                sizes += [len(rows) for rows, _ in batches]
                rows = np.concatenate([np.zeros(0, np.int64)] + [r for r, _ in batches])
                labs = np.concatenate([np.zeros(0, np.int64)] + [lab for _, lab in batches])
                order = np.argsort(rows, kind="stable") if shuffle else np.arange(len(rows))
                seen.append(rows[order])
                labels.append(labs[order] if len(labs) == len(rows) else labs)
        return batch_outputs(lengths, sizes, np.concatenate(seen), np.concatenate(labels))

    def reference(inputs: Inputs) -> dict[str, Any]:
        import torch
        from torch.utils.data import DataLoader, TensorDataset

        lengths, sizes, seen = [], [], []
        for n, batch_size in cases:
            for shuffle in (False, True):
                data = TensorDataset(torch.arange(n), torch.arange(n))
                loader = DataLoader(data, batch_size=batch_size, shuffle=shuffle)
                batches = [rows.numpy() for rows, _ in loader]
                lengths.append(len(loader))
                sizes += [len(rows) for rows in batches]
                seen.append(np.sort(np.concatenate(batches)))
        rows = np.concatenate(seen)
        return batch_outputs(lengths, sizes, rows, rows.copy())

    return learner, reference


def batch_outputs(
    lengths: list[int], sizes: list[int], rows: np.ndarray, labels: np.ndarray
) -> dict[str, np.ndarray]:
    """The outputs of a batches check, named as the report shows them."""
    return {
        "len(loader), per case (unshuffled, shuffled)": np.array(lengths),
        "batch sizes, one epoch after another": np.array(sizes),
        "rows of an epoch (unshuffled in order; shuffled sorted)": rows,
        "labels of those rows (each row's label is its number)": labels,
    }


# ------------------------------------------------------ train_epoch / evaluate


def net_inputs(sizes: Sequence[int], n: int) -> Callable[[np.random.Generator], Inputs]:
    """Data X (n, sizes[0]) with labels in [0, sizes[-1]) and the weights of an MLP of ``sizes``."""

    def inputs(rng: np.random.Generator) -> Inputs:
        out = {"X": rng.normal(size=(n, sizes[0])), "y": rng.integers(0, sizes[-1], size=n)}
        for i, (n_in, n_out) in enumerate(pairwise(sizes)):
            out[f"W{i}"] = rng.normal(size=(n_out, n_in)) / np.sqrt(n_in)
            out[f"b{i}"] = 0.1 * rng.normal(size=n_out)
        return out

    return inputs


def layer_count(inputs: Inputs) -> int:
    """The number of linear layers whose weights the inputs hold."""
    return sum(1 for key in inputs if key.startswith("W"))


def reference_mlp(inputs: Inputs, dropout: float | None = None) -> tuple[Any, list[Any]]:
    """Linear-ReLU(-Dropout)-...-Linear from the reference layers, float64, weights from inputs."""
    linears = []
    for i in range(layer_count(inputs)):
        W = inputs[f"W{i}"]
        linear = nn.Linear(W.shape[1], W.shape[0], dtype=np.float64)
        linear.weight = Tensor(W.copy())
        linear.bias = Tensor(inputs[f"b{i}"].copy())
        linears.append(linear)
    between = [nn.ReLU] if dropout is None else [nn.ReLU, lambda: nn.Dropout(dropout)]
    return nn.Sequential(*mlp_layers(linears, between)), linears


def torch_mlp(inputs: Inputs) -> tuple[Any, list[Any]]:
    """The same MLP in torch (float64); dropout is left out: torch runs it in eval mode."""
    import torch

    linears = [torch_linear(inputs[f"W{i}"], inputs[f"b{i}"]) for i in range(layer_count(inputs))]
    return torch.nn.Sequential(*mlp_layers(linears, [torch.nn.ReLU])), linears


def mlp_layers(linears: Sequence[Any], between: Sequence[Callable[[], Any]]) -> list[Any]:
    """The linear layers in order, with new layers made by ``between`` after all but the last."""
    layers: list[Any] = []
    for i, linear in enumerate(linears):
        layers.append(linear)
        if i < len(linears) - 1:
            layers += [make() for make in between]
    return layers


def parameter_outputs(linears: Sequence[Any], array: Callable[[Any], Any]) -> dict[str, Any]:
    """Each layer's weight and bias after the epoch, as float64 (``array`` reads a parameter)."""
    out = {}
    for i, linear in enumerate(linears):
        out[f"layer {i} weight after the epoch"] = np.array(array(linear.weight), dtype=np.float64)
        out[f"layer {i} bias after the epoch"] = np.array(array(linear.bias), dtype=np.float64)
    return out


def batch_bounds(sizes: Sequence[int]) -> list[tuple[int, int]]:
    """(start, end) of each batch of the given sizes, one after another."""
    ends = np.cumsum(sizes)
    return [(int(end - size), int(end)) for size, end in zip(sizes, ends, strict=True)]


def train_sides(
    batch_sizes: Sequence[int], optimizer: str, options: dict[str, Any]
) -> tuple[Side, Side]:
    """One epoch of the learner's ``train_epoch`` on fixed batches vs the same steps in torch.

    ``optimizer`` names a class of both ``micrograd_plus.optim`` and ``torch.optim``.
    """

    def learner(inputs: Inputs, train_epoch: Callable[..., Any]) -> dict[str, Any]:
        model, linears = reference_mlp(inputs)
        opt = getattr(optim, optimizer)(model.parameters(), **options)
        X, y, bounds = inputs["X"], inputs["y"], batch_bounds(batch_sizes)
        loader = [(Tensor(X[a:b], requires_grad=False), y[a:b]) for a, b in bounds]
        loss = train_epoch(model, loader, opt)
        out: dict[str, Any] = {"mean loss of the epoch": float(np.asarray(data_of(loss)))}
        return out | parameter_outputs(linears, lambda t: t.data)

    def reference(inputs: Inputs) -> dict[str, Any]:
        import torch

        model, linears = torch_mlp(inputs)
        opt = getattr(torch.optim, optimizer)(model.parameters(), **options)
        X, y = torch.tensor(inputs["X"]), torch.tensor(inputs["y"])
        losses = []
        for a, b in batch_bounds(batch_sizes):
            opt.zero_grad()
            loss = torch.nn.functional.cross_entropy(model(X[a:b]), y[a:b])
            loss.backward()
            opt.step()
            losses.append(loss.item())
        out: dict[str, Any] = {"mean loss of the epoch": epoch_mean(losses, batch_sizes)}
        return out | parameter_outputs(linears, lambda t: t.detach().numpy())

    return learner, reference


def epoch_mean(losses: Sequence[float], sizes: Sequence[int]) -> float:
    """The mean loss per example of an epoch: each batch's mean loss weighted by its size."""
    total = 0.0
    for loss, size in zip(losses, sizes, strict=True):
        total += loss * size
    return total / sum(sizes)


AGAIN = "loss, evaluate called again from training mode"
LEFT_TRAINING = "modules in training mode after evaluate"
"""Observations beside the compared outputs (the reference has no such keys, so they decide no
score): whether the measurement depends on chance, and the mode ``evaluate`` leaves behind. They
tell a model measured in training mode from other wrong losses
(:mod:`grader.checking.misconceptions.lab5`)."""


def evaluate_sides(dropout: float) -> tuple[Side, Side]:
    """The learner's ``evaluate`` on a model with Dropout, left in training mode, vs torch eval."""

    def learner(inputs: Inputs, evaluate: Callable[..., Any]) -> dict[str, Any]:
        model, _ = reference_mlp(inputs, dropout)
        model.train()
        loss, acc = evaluate(model, inputs["X"], inputs["y"])
        out = {
            "loss": float(np.asarray(data_of(loss))),
            "accuracy": float(np.asarray(data_of(acc))),
        }
        modes = [float(m.training) for m in model.modules()]
        model.train()
        try:
            again, _ = evaluate(model, inputs["X"], inputs["y"])
            out[AGAIN] = float(np.asarray(data_of(again)))
        except Exception:  # only an observation: the first call alone is judged
            out[AGAIN] = float("nan")
        out[LEFT_TRAINING] = float(np.mean(modes))
        return out

    def reference(inputs: Inputs) -> dict[str, Any]:
        import torch

        model, _ = torch_mlp(inputs)
        y = torch.tensor(inputs["y"])
        with torch.no_grad():
            logits = model(torch.tensor(inputs["X"]))
            loss = torch.nn.functional.cross_entropy(logits, y).item()
        return {"loss": loss, "accuracy": (logits.argmax(dim=1) == y).double().mean().item()}

    return learner, reference


# --------------------------------------------------------------------- model

TRUSTED_DATA = Path(SAMPLE_PATH).parent
"""The learner's data folder as the trusted side sees it, wherever the grader runs."""

GRADING_SET = Path(__file__).resolve().parents[1] / "hidden" / "mnist_grading.npz"
"""2,000 digits that are not in the learner's sample (labels included): the instructor's only."""


@functools.cache
def digits_to_grade() -> tuple[np.ndarray, np.ndarray]:
    """The images (float32 in [0, 1]) and labels the model checks use.

    The private grading set where it exists (the grader's machine), otherwise the test
    split of the learner's sample (a learner's own self-check). The sandbox gets the
    images only; the labels stay on the trusted side.
    """
    if GRADING_SET.is_file():
        with np.load(GRADING_SET, allow_pickle=False) as data:
            images, labels = data["X"], data["y"]
        pixels = images.reshape(len(images), -1).astype(np.float32) / np.float32(255)
        return pixels, labels.astype(np.int64)
    _, _, X_test, y_test = load_mnist(root=TRUSTED_DATA, verbose=False)
    return X_test, y_test


def model_inputs(rng: np.random.Generator) -> Inputs:
    """The images the learner's trained model must classify."""
    return {"images": digits_to_grade()[0].copy()}


def predicted_digits(inputs: Inputs, model: Any) -> dict[str, Any]:
    """The learner side of the model checks: the digit the model predicts for each image."""
    images = inputs["images"]
    if callable(getattr(model, "eval", None)):
        model.eval()
    chunks = [np.zeros(0, np.int64)]
    for start in range(0, len(images), 1000):
        logits = model(Tensor(images[start : start + 1000], requires_grad=False))
        chunks.append(np.asarray(data_of(logits)).argmax(axis=1))
    return {"predicted digit of each test image": np.concatenate(chunks)}


def test_labels(inputs: Inputs) -> dict[str, Any]:
    """The reference side of the model checks: the true digits of the same images."""
    return {"true digits": digits_to_grade()[1]}
