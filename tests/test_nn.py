"""Layers (lab 1.7.3) against torch.nn with copied weights, and the Module machinery."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
import torch

from micrograd_plus import nn
from micrograd_plus.tensor import Tensor

RTOL, ATOL = 1e-10, 1e-12


def copy_linear(theirs: torch.nn.Linear) -> nn.Linear:
    """A float64 Linear holding a copy of a torch Linear's weights."""
    ours = nn.Linear(theirs.in_features, theirs.out_features, bias=theirs.bias is not None)
    ours.weight = Tensor(theirs.weight.detach().numpy().copy())
    if theirs.bias is not None:
        ours.bias = Tensor(theirs.bias.detach().numpy().copy())
    return ours


def close(got: np.ndarray, expected: torch.Tensor | None, what: str) -> None:
    assert expected is not None, f"torch has no gradient for {what}"
    np.testing.assert_allclose(got, expected.detach().numpy(), rtol=RTOL, atol=ATOL, err_msg=what)


@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize("batch", [(), (5,), (2, 3)], ids=["1d", "2d", "3d"])
def test_linear_matches_torch(bias: bool, batch: tuple[int, ...], rng: np.random.Generator) -> None:
    """Does Linear give torch.nn.Linear's output and input, weight and bias gradients?"""
    theirs = torch.nn.Linear(4, 3, bias=bias, dtype=torch.float64)
    ours = copy_linear(theirs)
    x = rng.standard_normal((*batch, 4))
    upstream = rng.standard_normal((*batch, 3))
    tx = torch.tensor(x, requires_grad=True)
    expected = theirs(tx)
    expected.backward(torch.from_numpy(upstream))
    xt = Tensor(x)
    out = ours(xt)
    out.backward(upstream)
    close(out.data, expected, "output")
    close(xt.grad, tx.grad, "input gradient")
    close(ours.weight.grad, theirs.weight.grad, "weight gradient")
    if bias:
        close(ours.bias.grad, theirs.bias.grad, "bias gradient")  # type: ignore[union-attr]
    else:
        assert ours.bias is None and ours.parameters() == [ours.weight]


def test_linear_leaves_an_input_batch_without_gradient() -> None:
    """Does an input with requires_grad=False keep a zero gradient through Linear?"""
    layer = nn.Linear(3, 2)
    x = Tensor(np.ones((4, 3), dtype=np.float32), requires_grad=False)
    layer(x).sum().backward()
    assert not x.grad.any() and layer.weight.grad.any()


ACTIVATIONS = [(nn.ReLU, torch.nn.ReLU), (nn.Tanh, torch.nn.Tanh), (nn.Sigmoid, torch.nn.Sigmoid)]


@pytest.mark.parametrize(("ours_act", "torch_act"), ACTIVATIONS, ids=["relu", "tanh", "sigmoid"])
def test_mlp_with_cross_entropy_matches_torch(
    ours_act: Any, torch_act: Any, rng: np.random.Generator
) -> None:
    """Does Flatten → Linear → act → Linear → act → Linear + CrossEntropyLoss match torch.nn?"""
    theirs = torch.nn.Sequential(
        torch.nn.Flatten(),
        torch.nn.Linear(6, 8, dtype=torch.float64),
        torch_act(),
        torch.nn.Linear(8, 5, dtype=torch.float64),
        torch_act(),
        torch.nn.Linear(5, 3, dtype=torch.float64),
    )
    linears = [copy_linear(m) for m in theirs if isinstance(m, torch.nn.Linear)]
    ours = nn.Sequential(nn.Flatten(), linears[0], ours_act(), linears[1], ours_act(), linears[2])
    x = rng.standard_normal((7, 2, 3))
    y = rng.integers(0, 3, 7)
    tloss = torch.nn.CrossEntropyLoss()(theirs(torch.from_numpy(x)), torch.from_numpy(y))
    tloss.backward()
    loss = nn.CrossEntropyLoss()(ours(Tensor(x)), y)
    loss.backward()
    assert abs(loss.item() - tloss.item()) <= RTOL * abs(tloss.item())
    torch_params = list(theirs.parameters())
    assert len(ours.parameters()) == len(torch_params) == 6
    for i, (p, tp) in enumerate(zip(ours.parameters(), torch_params, strict=True)):
        close(p.grad, tp.grad, f"gradient of parameter {i}")


def test_linear_initialisation_is_uniform_within_one_over_sqrt_fan_in() -> None:
    """Are weight and bias drawn from U(-k, k), k = 1/sqrt(in_features), as float32?"""
    nn.manual_seed(0)
    layer = nn.Linear(400, 300)
    k = 1 / np.sqrt(400)
    w, b = layer.weight.data, layer.bias.data  # type: ignore[union-attr]
    assert w.shape == (300, 400) and b.shape == (300,)
    assert w.dtype == np.float32 and b.dtype == np.float32
    assert np.abs(w).max() <= k and np.abs(b).max() <= k
    assert abs(w.std() - k / np.sqrt(3)) < 0.01 * k  # the std of U(-k, k)
    assert abs(w.mean()) < 0.01 * k
    assert np.abs(w).max() > 0.99 * k  # the whole range is used
    assert nn.Linear(2, 2, dtype=np.float64).weight.dtype == np.float64


@pytest.mark.parametrize(("n_in", "n_out"), [(0, 3), (3, 0), (-1, 2)])
def test_linear_rejects_non_positive_sizes(n_in: int, n_out: int) -> None:
    """Does Linear refuse a size of zero or less?"""
    with pytest.raises(ValueError, match="sizes must be positive"):
        nn.Linear(n_in, n_out)


def test_linear_says_when_the_input_has_the_wrong_width() -> None:
    """Does a (2, 5) input to Linear(4, 3) raise an error naming both widths?"""
    with pytest.raises(ValueError, match=r"4 features, got shape \(2, 5\)"):
        nn.Linear(4, 3)(Tensor(np.ones((2, 5))))


def test_manual_seed_makes_initialisation_reproducible() -> None:
    """Does the same seed give the same weights, and another seed different ones?"""
    nn.manual_seed(123)
    a = nn.Linear(5, 4)
    nn.manual_seed(123)
    b = nn.Linear(5, 4)
    nn.manual_seed(124)
    c = nn.Linear(5, 4)
    np.testing.assert_array_equal(a.weight.data, b.weight.data)
    np.testing.assert_array_equal(a.bias.data, b.bias.data)  # type: ignore[union-attr]
    assert not np.array_equal(a.weight.data, c.weight.data)


class Block(nn.Module):
    def __init__(self, shared: nn.Linear) -> None:
        self.inner = shared
        self.scale = Tensor([1.0])


class Zoo(nn.Module):
    """Parameters in every place parameters() must look: attributes, lists, tuples, dicts."""

    def __init__(self) -> None:
        self.first = nn.Linear(2, 3)
        self.shared = nn.Linear(3, 3)
        self.layers = [nn.Linear(3, 4), nn.ReLU(), [nn.Linear(4, 4, bias=False)]]
        self.heads = {"a": nn.Linear(4, 1), "b": (self.shared, Block(self.shared))}
        self.again = self.shared  # the same module twice
        self.tied = self.first.weight  # the same tensor twice
        self.name = "not a parameter"
        self.count = 3
        self.dropout = nn.Dropout(0.2)


def test_parameters_are_found_everywhere_once_each() -> None:
    """Are tensors found through attributes, lists, tuples, dicts and nesting, each once?"""
    zoo = Zoo()
    names = [name for name, _ in zoo.named_parameters()]
    assert names == [
        "first.weight",
        "first.bias",
        "shared.weight",
        "shared.bias",
        "layers.0.weight",
        "layers.0.bias",
        "layers.2.0.weight",
        "heads.a.weight",
        "heads.a.bias",
        "heads.b.1.scale",
    ]
    params = zoo.parameters()
    assert len({id(p) for p in params}) == len(params) == 10
    assert params[0] is zoo.first.weight and params[2] is zoo.shared.weight


def test_train_and_eval_reach_every_nested_module() -> None:
    """Do train() and eval() set ``training`` on modules inside lists, dicts and tuples?"""
    zoo = Zoo()
    modules = zoo.modules()
    assert zoo.dropout in modules and zoo.heads["b"][1] in modules
    assert zoo.layers[2][0] in modules  # type: ignore[index]
    assert zoo.eval() is zoo
    assert all(not m.training for m in modules)
    assert zoo.train() is zoo
    assert all(m.training for m in modules)


def test_zero_grad_clears_every_parameter() -> None:
    """Does Module.zero_grad() reset the gradient of every parameter?"""
    model = nn.Sequential(nn.Linear(3, 4), nn.Tanh(), nn.Linear(4, 2))
    model(Tensor(np.ones((2, 3)))).sum().backward()
    assert all(p.grad.any() for p in model.parameters())
    model.zero_grad()
    assert not any(p.grad.any() for p in model.parameters())


def test_sequential_is_a_container() -> None:
    """Can a Sequential be indexed, measured, iterated and printed?"""
    model = nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Dropout(0.1))
    assert len(model) == 3 and isinstance(model[0], nn.Linear)
    assert [type(m) for m in model] == [nn.Linear, nn.ReLU, nn.Dropout]
    assert repr(model) == (
        "Sequential(\n  (0): Linear(3, 4, bias=True)\n  (1): ReLU()\n  (2): Dropout(p=0.1)\n)"
    )


def test_call_runs_forward_and_a_bare_module_has_none() -> None:
    """Does calling a module run forward(), and does Module itself say forward is missing?"""
    with pytest.raises(NotImplementedError, match="Module must define forward"):
        nn.Module()(Tensor([1.0]))


def test_flatten_keeps_the_batch_axis() -> None:
    """Does Flatten turn (N, 2, 3, 4) into (N, 24) with the gradient reshaped back?"""
    x = Tensor(np.arange(48.0).reshape(2, 2, 3, 4))
    out = nn.Flatten()(x)
    assert out.shape == (2, 24)
    np.testing.assert_array_equal(out.data, x.data.reshape(2, 24))
    out.backward(np.ones((2, 24)))
    assert x.grad.shape == (2, 2, 3, 4) and (x.grad == 1).all()


@pytest.mark.parametrize("p", [0.1, 0.5, 0.8])
def test_dropout_zeroes_a_fraction_p_and_scales_the_rest(p: float) -> None:
    """Over 200,000 elements, is the dropped fraction p ± 0.005 and each kept one x/(1-p)?"""
    nn.manual_seed(0)
    x = Tensor(np.full((400, 500), 2.0))
    drop = nn.Dropout(p)
    out = drop(x)
    dropped = out.data == 0
    assert abs(dropped.mean() - p) < 0.005
    np.testing.assert_allclose(out.data[~dropped], 2.0 / (1 - p), rtol=1e-12)
    assert drop.mask is not None
    np.testing.assert_array_equal(drop.mask, ~dropped)
    out.backward(np.ones(x.shape))
    np.testing.assert_allclose(x.grad, drop.mask / (1 - p), rtol=1e-12)


def test_dropout_is_the_identity_in_eval_mode() -> None:
    """Does an evaluating Dropout return its input unchanged?"""
    drop = nn.Dropout(0.5).eval()
    x = Tensor(np.arange(10.0))
    assert drop(x) is x


def test_dropout_with_p_zero_and_p_one() -> None:
    """Is Dropout(0) the identity and Dropout(1) all zeros, both without NaN?"""
    x = Tensor(np.arange(1.0, 11.0, dtype=np.float32))
    assert nn.Dropout(0.0)(x) is x
    out = nn.Dropout(1.0)(x)
    assert out.dtype == np.float32 and (out.data == 0).all()
    out.sum().backward()
    assert (x.grad == 0).all()


@pytest.mark.parametrize("p", [-0.1, 1.5])
def test_dropout_rejects_probabilities_outside_0_1(p: float) -> None:
    """Does Dropout(p) refuse p outside [0, 1]?"""
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        nn.Dropout(p)


def test_dropout_masks_are_reproducible_with_manual_seed() -> None:
    """Does manual_seed give the same dropout mask again?"""
    x = Tensor(np.ones((50, 50)))
    nn.manual_seed(7)
    first = nn.Dropout(0.5)(x).data
    nn.manual_seed(7)
    second = nn.Dropout(0.5)(x).data
    third = nn.Dropout(0.5)(x).data
    np.testing.assert_array_equal(first, second)
    assert not np.array_equal(second, third)


def test_modules_lists_a_shared_module_once():
    """Does modules() list a module used twice only once, as torch's modules() does?"""
    shared = nn.ReLU()
    model = nn.Sequential(shared, nn.Linear(2, 2), shared)
    assert [type(m).__name__ for m in model.modules()] == ["Sequential", "ReLU", "Linear"]
