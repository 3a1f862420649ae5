"""Misconceptions of lab 1.7.3 (layers): each wrong reference is ``torch.nn`` run on the same
structure or inputs with one rule changed: a container torch no longer registers, a search of
torch's own (``modules``, ``parameters``, ``train``) narrowed, ``F.linear`` with its graph cut,
or, for the checks of random draws (initialisation, dropout), the check's own draw from its
seed with one rule changed (the bias's length, the bound, the scale)."""

from __future__ import annotations

import re
from typing import Any

import numpy as np

from grader.checking.misconceptions.model import Misconception
from grader.checking.misconceptions.rules import attribute, class_attribute, rerun
from grader.checking.spec import Inputs, Outputs, Spec

NN = "torch.nn"
LINEAR_VALUES = (
    "lab3.linear.forward",
    "lab3.linear.backward",
    "lab3.linear.batched",
    "lab3.linear.no_bias",
    "lab3.mlp.torch",
    "lab3.mlp.nested",
)
INIT = ("lab3.linear.init", "lab3.linear.init_sizes")
DROPOUT = ("lab3.dropout.train", "lab3.dropout.backward", "lab3.dropout.rates")


# ------------------------------------------------------------- module searches
def _plain(container: type) -> Any:
    """A torch container class replaced by the plain Python one: torch no longer sees inside."""
    return lambda original: container


def _own_parameters_only(original: Any) -> Any:
    def parameters(self: Any, recurse: bool = True) -> Any:
        return original(self, recurse=False)

    return parameters


def _parameters_per_module(original: Any) -> Any:
    """Each module's own parameters, module by module: a tensor held twice is listed twice."""

    def parameters(self: Any, recurse: bool = True) -> Any:
        return [p for m in self.modules() for p in original(m, recurse=False)]

    return parameters


def _modules_with_repeats(original: Any) -> Any:
    def modules(self: Any) -> Any:
        return [m for _, m in self.named_modules(remove_duplicate=False)]

    return modules


def _train_top_only(original: Any) -> Any:
    def train(self: Any, mode: bool = True) -> Any:
        self.training = mode
        return self

    return train


# -------------------------------------------------------------------- Linear
def _graph_cut(original: Any) -> Any:
    """``F.linear`` whose product is a new leaf: the gradient reaches the bias only."""

    def linear(x: Any, weight: Any, bias: Any = None) -> Any:
        out = original(x.detach(), weight.detach())
        return out if bias is None else out + bias

    return linear


def _init_wrong(bias_size: str = "out", bound: str = "sqrt") -> Any:
    """The check's own initialisation draw (:func:`grader.checking.specs.draws.linear_draw`,
    from the check's seed) with one rule changed: the bias's length (``in_features``) or the
    bound (``1/fan_in`` instead of ``1/sqrt(fan_in)``, torch's fan-in read off its bound)."""

    def wrong(spec: Spec, inputs: Inputs) -> Outputs:
        from grader.checking.specs.draws import linear_draw

        expected = spec.reference(inputs)
        out: dict[str, Any] = dict(expected)
        for i, key in enumerate([k for k in expected if k.endswith(" bound")]):
            size = key[: -len(" bound")]
            n_in, n_out = (int(n) for n in re.findall(r"\d+", size))
            fan_in = round(float(expected[key]) ** -2)
            k = 1 / fan_in if bound == "fan_in" else float(expected[key])
            bias = n_in if bias_size == "in" else n_out
            draw = linear_draw(int(inputs["seed"]) + i, n_in, n_out, k, bias)
            out |= {f"{size} {name}": value for name, value in draw.items()}
            out[key] = np.array(k)
        return out

    return wrong


# ------------------------------------------------------------------- Dropout
def _dropout_unscaled(spec: Spec, inputs: Inputs) -> Outputs:
    """The check's own masks from its seed, without the 1/(1-p): each expected output (and
    gradient) divided by torch's scale of its rate."""
    from grader.checking.specs.draws import p_of
    from grader.checking.specs.lab3 import DROPOUT_P

    expected = spec.reference(inputs)
    out: dict[str, Any] = dict(expected)
    for key, value in expected.items():
        if key.startswith("scale ") or key == "p=0":
            continue
        p = p_of(key, DROPOUT_P)
        out[key] = np.asarray(value) / float(expected[f"scale p={p:g}"])
    return out


MISCONCEPTIONS = [
    Misconception(
        "lab3.module.call_one_argument",
        ("lab3.module.call",),
        "Your __call__ passes only one argument on to forward, so a module whose forward "
        "takes two inputs fails when it is called. model(a, b) must reach forward with every "
        "argument it was given. Think about how a function can accept and pass on any number "
        "of positional arguments.",
        error=r"forward\(\) missing \d+ required positional argument",
        planted=("call-drops-arguments",),
    ),
    Misconception(
        "lab3.modules.lists_skipped",
        (
            "lab3.module.modules",
            "lab3.module.modules_deep",
            "lab3.module.parameters_containers",
            "lab3.module.parameters_unique",
            "lab3.module.parameters_deep",
            "lab3.module.zero_grad_nested",
            "lab3.module.train_eval",
            "lab3.module.train_eval_deep",
        ),
        "Your modules() never looks inside list attributes, so layers kept in a list (as "
        "Sequential keeps them) are invisible to modules(), parameters(), zero_grad() and "
        "eval(). Models hold layers in lists and dicts as often as in plain attributes. Think "
        "about which container types your search opens.",
        wrong=rerun(attribute(NN, "ModuleList", _plain(list))),
        planted=("modules-skip-lists",),
    ),
    Misconception(
        "lab3.modules.repeated",
        ("lab3.module.modules",),
        "Your modules() lists a module once for every attribute that holds it, so a shared "
        "module appears twice (and so does everything inside it). A module used in two places "
        "is still one module. Think about how to remember which modules were already found.",
        wrong=rerun(class_attribute(NN, "Module", "modules", _modules_with_repeats)),
        planted=("modules-no-seen-set",),
    ),
    Misconception(
        "lab3.parameters.not_nested",
        ("lab3.module.parameters", "lab3.module.parameters_deep"),
        "Your parameters() returns the tensors held by the module itself but none of those "
        "held by its submodules, so an optimizer would never update the inner layers. A "
        "model's parameters are those of every module inside it. Think about which modules "
        "parameters() should look at.",
        wrong=rerun(class_attribute(NN, "Module", "parameters", _own_parameters_only)),
        planted=("parameters-not-nested",),
    ),
    Misconception(
        "lab3.parameters.containers_skipped",
        (
            "lab3.module.parameters_containers",
            "lab3.module.parameters_deep",
            "lab3.module.zero_grad_nested",
        ),
        "Your parameters() only counts tensors stored directly in an attribute, so tensors "
        "kept in a list or a dict attribute are never returned (nor zeroed, nor trained). A "
        "list of tensors is as much a set of parameters as one tensor. Think about what an "
        "attribute's value can be besides a Tensor.",
        wrong=rerun(
            attribute(NN, "ParameterList", _plain(list)),
            attribute(NN, "ParameterDict", _plain(dict)),
        ),
        planted=("parameters-skip-containers",),
    ),
    Misconception(
        "lab3.parameters.tied_twice",
        ("lab3.module.parameters_unique", "lab3.module.parameters_deep"),
        "Your parameters() returns a tied tensor (one Tensor held by two modules) once per "
        "place that holds it, so an optimizer would update it twice per step. A parameter is "
        "one object however many attributes refer to it. Think about comparing tensors by "
        "identity, not by value.",
        wrong=rerun(class_attribute(NN, "Module", "parameters", _parameters_per_module)),
        planted=("parameters-duplicates",),
    ),
    Misconception(
        "lab3.train_eval.not_recursive",
        ("lab3.module.train_eval", "lab3.module.train_eval_deep"),
        "Your train()/eval() switch only the module they are called on, so a Dropout inside "
        "a model stays in training mode after model.eval(). The mode belongs to every module "
        "of the model. Think about which modules the flag must be set on.",
        wrong=rerun(class_attribute(NN, "Module", "train", _train_top_only)),
        planted=("train-not-recursive",),
    ),
    Misconception(
        "lab3.linear.weight_in_out",
        tuple(c for c in LINEAR_VALUES if c.startswith("lab3.linear.")),  # not the MLPs: a
        # Sequential that feeds every layer the same input raises the same error in a Linear
        "Your Linear multiplies the input by the weight as if it had shape (in_features, "
        "out_features), so a weight of PyTorch's shape (out_features, in_features) does not "
        "fit the product. PyTorch stores one row per output unit. Think about which operand "
        "must be transposed so that the inner dimensions match.",
        error=r"matmul: Input operand 1 has a mismatch in its core dimension 0",
        planted=("linear-in-out-layout", "linear-x-at-w"),
    ),
    Misconception(
        "lab3.linear.bias_per_input",
        INIT,
        "Your Linear draws one bias per input feature, but the bias is added to the output, "
        "one entry per output unit. Its shape must match what x @ W.T produces. Think about "
        "which of the two sizes the bias belongs to.",
        wrong=_init_wrong(bias_size="in"),
        planted=("linear-bias-in-features",),
    ),
    Misconception(
        "lab3.linear.bound_without_sqrt",
        INIT,
        "Your Linear draws its weights from U(-k, k) with k = 1/in_features, so a wide layer "
        "starts with weights far too small and its outputs shrink layer after layer. PyTorch's "
        "bound keeps the output variance independent of the width. Think about how the "
        "variance of a sum of in_features terms grows.",
        wrong=_init_wrong(bound="fan_in"),
    ),
    Misconception(
        "lab3.linear.graph_cut",
        (
            "lab3.linear.backward",
            "lab3.linear.batched",
            "lab3.linear.no_bias",
            "lab3.mlp.torch",
            "lab3.mlp.nested",
        ),
        "Your Linear computes the product on numpy arrays and wraps the result in a new "
        "Tensor, so backward stops there: x and the weight get no gradient (only the bias "
        "does). The graph only knows the operations done on Tensors. Think about which "
        "objects the product must be computed on.",
        wrong=rerun(attribute("torch.nn.functional", "linear", _graph_cut)),
        planted=("linear-cuts-graph",),
    ),
    Misconception(
        "lab3.dropout.not_scaled",
        DROPOUT,
        "Your Dropout zeroes elements with probability p but leaves the kept ones as they "
        "are, so in training every activation is on average (1 - p) times smaller than in "
        "evaluation. Inverted dropout compensates during training so that evaluation needs "
        "no change. Think about what the expected value of the output should be.",
        wrong=_dropout_unscaled,
        planted=("dropout-not-scaled",),
    ),
]


def _dropout_rates(spec: Spec, got: Outputs) -> list[tuple[np.ndarray, float]]:
    """(output, p) of each dropout in training the check's learner side ran."""
    if spec.id == "lab3.dropout.rates":
        from grader.checking.hidden.lab3 import RATES

        return [(np.asarray(got[f"p={p:g}"]), p) for p in RATES]
    from grader.checking.specs.lab3 import DROPOUT_P

    key = "first call" if spec.id == "lab3.dropout.train" else "out"
    return [(np.asarray(got[key]), DROPOUT_P)]


def _keeps_with_p(spec: Spec, inputs: Inputs, got: Outputs) -> bool:
    """The kept fraction and the scale together: about p of the elements kept (not dropped),
    each kept one x / (1 - p) or x / p, for every p where keeping and dropping differ."""
    from grader.checking.specs.draws import rate_rows

    x, seen = inputs["x"], 0
    for out, p in _dropout_rates(spec, got):
        if abs(p - 0.5) < 0.05:
            continue  # keeping or dropping half: the same
        scales = (1 / (1 - p), 1 / p) if p > 0 else (1.0,)
        if not any(all(r.ok for r in rate_rows("out", out, x, 1 - p, s)) for s in scales):
            return False
        seen += 1
    return seen > 0


MISCONCEPTIONS += [
    Misconception(
        "lab3.dropout.p_as_keep_probability",
        DROPOUT,
        "Your Dropout keeps each element with probability p, so Dropout(0.3) zeroes about 70% "
        "of the activations instead of 30%. In PyTorch p is the probability of dropping an "
        "element. Think about which side of the comparison with p your mask keeps.",
        observed=_keeps_with_p,
        planted=("dropout-keeps-with-p",),
    ),
]


def _dropping_in_eval(spec: Spec, inputs: Inputs, got: Outputs) -> bool:
    """In evaluation the output is a training-mode dropout of x: about p of it zeroed, the rest
    scaled by torch's 1/(1-p) (the rows the training checks judge a dropout by)."""
    from grader.checking.specs.draws import dropout_scale, rate_rows
    from grader.checking.specs.lab3 import DROPOUT_P

    out, x = np.asarray(got["out"]), inputs["x"]
    rows = rate_rows("out", out, x, DROPOUT_P, dropout_scale(DROPOUT_P))
    return bool(rows) and all(row.ok for row in rows)


MISCONCEPTIONS += [
    Misconception(
        "lab3.dropout.active_in_eval",
        ("lab3.dropout.eval",),
        "Your Dropout keeps dropping after model.eval(), so evaluation zeroes random activations "
        "and every measurement depends on chance. In evaluation Dropout is the identity. Think "
        "about which attribute tells the layer the mode it is in.",
        observed=_dropping_in_eval,
        planted=("dropout-active-in-eval",),
    ),
]
