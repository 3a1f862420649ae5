"""Training utilities (lab 1.7.5): batches, the loop, evaluation, checkpoints."""

from __future__ import annotations

import gc
from pathlib import Path

import numpy as np
import pytest

from micrograd_plus import nn, ops, optim
from micrograd_plus.tensor import Tensor
from micrograd_plus.train import (
    DataLoader,
    accuracy,
    evaluate,
    fit,
    load_parameters,
    predict,
    save_parameters,
    train_epoch,
)


def blobs(n: int = 200, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Two well separated Gaussian blobs in 2-D, labels 0 and 1."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, n)
    X = rng.standard_normal((n, 2)).astype(np.float32) * 0.5 + np.where(y[:, None], 2.0, -2.0)
    return X.astype(np.float32), y


def small_model() -> nn.Sequential:
    nn.manual_seed(0)
    return nn.Sequential(nn.Linear(2, 8), nn.ReLU(), nn.Dropout(0.1), nn.Linear(8, 2))


def rows_of(loader: DataLoader) -> list[np.ndarray]:
    """The labels of each batch of one epoch (the loaders below use y = row index)."""
    return [yb for _, yb in loader]


def test_batches_cover_every_index_once_with_a_partial_last_batch() -> None:
    """Do 10 rows in batches of 4 come as 4, 4, 2, each row exactly once?"""
    X, y = np.arange(20.0).reshape(10, 2), np.arange(10)
    loader = DataLoader(X, y, batch_size=4, seed=0)
    assert len(loader) == 3
    batches = list(loader)
    assert [len(yb) for _, yb in batches] == [4, 4, 2]
    seen = np.concatenate([yb for _, yb in batches])
    assert sorted(seen.tolist()) == list(range(10))
    for xb, yb in batches:  # each image travels with its own label
        assert isinstance(xb, Tensor) and not xb.requires_grad
        np.testing.assert_array_equal(xb.data, X[yb])


def test_without_shuffle_batches_come_in_order() -> None:
    """Does shuffle=False give rows 0, 1, 2, … in order?"""
    loader = DataLoader(np.zeros((5, 1)), np.arange(5), batch_size=2, shuffle=False)
    assert [b.tolist() for b in rows_of(loader)] == [[0, 1], [2, 3], [4]]


def test_the_same_seed_gives_the_same_batches() -> None:
    """Do two loaders with one seed give the same order, and another seed a different one?"""
    X, y = np.zeros((50, 1)), np.arange(50)
    first = np.concatenate(rows_of(DataLoader(X, y, batch_size=8, seed=3)))
    again = np.concatenate(rows_of(DataLoader(X, y, batch_size=8, seed=3)))
    other = np.concatenate(rows_of(DataLoader(X, y, batch_size=8, seed=4)))
    np.testing.assert_array_equal(first, again)
    assert not np.array_equal(first, other)
    assert not np.array_equal(first, np.arange(50))


def test_each_epoch_is_reshuffled() -> None:
    """Does iterating the loader again draw a new order?"""
    loader = DataLoader(np.zeros((50, 1)), np.arange(50), batch_size=50, seed=0)
    epoch1, epoch2 = (np.concatenate(rows_of(loader)) for _ in range(2))
    assert not np.array_equal(epoch1, epoch2)
    assert sorted(epoch1) == sorted(epoch2)


@pytest.mark.parametrize(
    ("n_x", "n_y", "batch_size", "match"),
    [(10, 9, 4, "X has 10 rows but y has 9"), (10, 10, 0, "batch_size must be positive")],
)
def test_loader_rejects_bad_arguments(n_x: int, n_y: int, batch_size: int, match: str) -> None:
    """Does DataLoader refuse mismatched X and y, and a batch size below 1?"""
    with pytest.raises(ValueError, match=match):
        DataLoader(np.zeros((n_x, 2)), np.zeros(n_y), batch_size=batch_size)


def test_train_epoch_decreases_the_loss_on_a_separable_problem() -> None:
    """Does the mean loss fall over 5 epochs, to a model with near 100% accuracy?"""
    X, y = blobs()
    model = small_model()
    opt = optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    loader = DataLoader(X, y, batch_size=32, seed=0)
    losses = [train_epoch(model, loader, opt) for _ in range(5)]
    assert losses[-1] < losses[0] / 4
    assert losses[1] < losses[0]
    assert model.training
    loss, acc = evaluate(model, X, y)
    assert acc >= 0.98 and loss < losses[0]
    assert not model.training  # evaluation switched dropout off


def test_train_epoch_frees_each_graph_without_the_cycle_collector() -> None:
    """Are a finished step's graph tensors gone after train_epoch, with Python's collector off?"""
    X, y = blobs()
    model = small_model()
    opt = optim.Adam(model.parameters(), lr=0.05)
    loader = DataLoader(X, y, batch_size=20, seed=0)
    gc.collect()
    gc.disable()
    try:
        train_epoch(model, loader, opt)
        tensors = sum(type(o) is Tensor for o in gc.get_objects())
    finally:
        gc.enable()
    assert tensors <= len(model.parameters()) + 1  # the parameters and the last input batch


def test_evaluate_predict_and_accuracy_agree() -> None:
    """Do predict (in batches), accuracy and evaluate give what one forward pass gives?"""
    X, y = blobs(n=50, seed=1)
    model = small_model()
    logits = predict(model, X, batch_size=7)
    full = model(Tensor(X))
    np.testing.assert_allclose(logits, full.data, rtol=1e-6)
    expected_acc = float(np.mean(full.data.argmax(axis=1) == y))
    assert accuracy(logits, y) == expected_acc == accuracy(full, y)
    loss, acc = evaluate(model, X, y)
    assert acc == expected_acc
    assert loss == pytest.approx(ops.cross_entropy(full, y).item(), rel=1e-6)


def test_accuracy_of_known_logits() -> None:
    """Is accuracy the fraction of rows whose largest logit is the label?"""
    logits = np.array([[0.1, 0.9], [0.8, 0.2], [0.3, 0.7], [0.6, 0.4]])
    assert accuracy(logits, np.array([1, 0, 0, 0])) == 0.75


def test_saved_parameters_load_back_exactly(tmp_path: Path) -> None:
    """Does load_parameters restore exactly what save_parameters wrote, and clear gradients?"""
    model = small_model()
    path = tmp_path / "model.npz"
    save_parameters(model, path)
    saved = [p.data.copy() for p in model.parameters()]
    nn.manual_seed(1)
    other = nn.Sequential(nn.Linear(2, 8), nn.ReLU(), nn.Dropout(0.1), nn.Linear(8, 2))
    other(Tensor(np.ones((1, 2), dtype=np.float32))).sum().backward()
    load_parameters(other, path)
    for p, s in zip(other.parameters(), saved, strict=True):
        np.testing.assert_array_equal(p.data, s)
        assert p.dtype == np.float32 and not p.grad.any()


def test_loading_parameters_of_another_model_fails(tmp_path: Path) -> None:
    """Does loading into a model with other names or shapes raise an error naming them?"""
    path = tmp_path / "model.npz"
    save_parameters(small_model(), path)
    with pytest.raises(ValueError, match=r"missing \['layers.4.bias'.*unexpected \['layers.3"):
        load_parameters(
            nn.Sequential(nn.Linear(2, 8), nn.ReLU(), nn.Tanh(), nn.Dropout(0.1), nn.Linear(8, 2)),
            path,
        )
    wider = nn.Sequential(nn.Linear(2, 9), nn.ReLU(), nn.Dropout(0.1), nn.Linear(9, 2))
    with pytest.raises(ValueError, match=r"layers.0.weight has shape \(8, 2\).*\(9, 2\)"):
        load_parameters(wider, path)


def test_fit_records_one_entry_per_epoch_and_prints_only_to_stdout(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Does fit return 3 epochs of history, with its progress bar on stdout, none on stderr?"""
    X, y = blobs(n=120)
    model = small_model()
    opt = optim.Adam(model.parameters(), lr=0.05)
    history = fit(model, opt, DataLoader(X[:100], y[:100], 20, seed=0), X[100:], y[100:], 3)
    assert set(history) == {"train_loss", "test_loss", "test_acc"}
    assert all(len(v) == 3 for v in history.values())
    assert history["train_loss"][-1] < history["train_loss"][0]
    assert history["test_acc"][-1] >= 0.9
    printed = capsys.readouterr()
    assert "epoch 3" in printed.out and printed.err == ""
