"""Where each check's lesson is: the first rung of every hint ladder.

A failing check's first hint names the concept on trial and the section of the lab that
teaches it; the spec's own hint (:attr:`grader.checking.spec.Spec.hint`) says more on the
next rung. :data:`LESSONS` maps a check-id prefix to the heading of that section, exactly
as the notebook writes it (``tests/test_hints.py`` checks every self-check cell sits under
the heading named here), and to the concept the section teaches.
"""

from __future__ import annotations

from typing import NamedTuple

from grader.labs import LABS


class Lesson(NamedTuple):
    """The section that teaches a group of checks and the concept they test."""

    heading: str
    concept: str


DERIVED = Lesson(
    "9. Task 7 — derived operations: `-` and `/`",
    "operations derived from +, * and ** (and the reflected operators)",
)

# fmt: off
LESSONS: dict[str, Lesson] = {
    "lab1.init": Lesson("3. Task 1 — the constructor",
                        "what a Tensor stores: data, grad of the same shape and dtype, its graph"),
    "lab1.unbroadcast": Lesson("4. Task 2 — undoing broadcasting in the backward pass",
                               "a broadcast input's gradient summed back to the input's shape"),
    "lab1.add": Lesson("5. Task 3 — addition",
                       "addition's local gradients, broadcasting and gradient accumulation"),
    "lab1.mul": Lesson("6. Task 4 — multiplication",
                       "the product rule: each input's gradient involves the other input"),
    "lab1.backward": Lesson("7. Task 5 — `backward()` and the topological order",
                            "backward(): a topological order, the seed gradient, accumulation"),
    "lab1.pow": Lesson("8. Task 6 — powers", "the power rule for a number exponent"),
    "lab1.sub_div": DERIVED,
    "lab1.neg": DERIVED,
    "lab1.sub": DERIVED,
    "lab1.truediv": DERIVED,
    "lab1.sum": Lesson("10. Task 8 — `sum(axis=None, keepdims=False)`",
                       "a sum's gradient: every summed element receives the output's gradient"),
    "lab1.zero_grad": Lesson("11. Task 9 — `zero_grad()`", "resetting a gradient"),
    "lab2.matmul": Lesson("2. Task 1 — matrix multiplication `a @ b`",
                          "the matrix product's gradients and the shapes they must have"),
    "lab2.exp": Lesson("3. Task 2 — `exp` and `log`", "exp and its derivative"),
    "lab2.log": Lesson("3. Task 2 — `exp` and `log`", "log and its derivative"),
    "lab2.exp_log": Lesson("3. Task 2 — `exp` and `log`", "exp and log on 0-d tensors"),
    "lab2.relu": Lesson("4. Task 3 — activation functions", "ReLU and where its gradient flows"),
    "lab2.tanh": Lesson("4. Task 3 — activation functions",
                        "tanh and its derivative written with the output"),
    "lab2.sigmoid": Lesson("4. Task 3 — activation functions",
                           "the sigmoid and its derivative written with the output"),
    "lab2.tanh_sigmoid": Lesson("4. Task 3 — activation functions",
                                "saturating activations for very large inputs"),
    "lab2.reshape": Lesson("5. Task 4 — `reshape` and `transpose`",
                           "reshape: the same numbers in a new shape, and back"),
    "lab2.transpose": Lesson("5. Task 4 — `reshape` and `transpose`",
                             "transpose: permuted axes, and the permutation that undoes it"),
    "lab2.mean": Lesson("6. Task 5 — `mean(x, axis=None, keepdims=False)`",
                        "the mean as a sum divided by the number of elements averaged"),
    "lab2.max": Lesson("7. Task 6 — `amax(x, axis=None, keepdims=False)`, the maximum",
                       "the maximum: only the largest elements receive a gradient"),
    "lab2.getitem": Lesson("8. Task 7 — indexing `x[idx]`",
                           "indexing: the gradient goes back to the positions that were picked"),
    "lab2.softmax": Lesson("9. Task 8 — a numerically stable `softmax(x, axis=-1)`",
                           "a stable softmax and its Jacobian-vector product"),
    "lab2.log_softmax": Lesson("10. Task 9 — `log_softmax(x, axis=-1)`",
                               "log-softmax computed directly (log-sum-exp) and its gradient"),
    "lab2.cross_entropy": Lesson("11. Task 10 — `cross_entropy(logits, targets)`",
                                 "cross entropy composed from log_softmax, indexing and mean"),
    "lab3.module.call": Lesson("Task 1: calling a module runs `forward`",
                               "Module.__call__ hands its arguments to forward"),
    "lab3.module.modules": Lesson("Task 2: `modules()` — every module inside, each once",
                                  "walking a tree of modules without recursion, each once"),
    "lab3.module.parameters": Lesson("Task 3: `parameters()` — every `Tensor` held by the model",
                                     "collecting every Tensor of every module, each once"),
    "lab3.module.zero_grad": Lesson("Task 4: `zero_grad()`, `train()` and `eval()`",
                                    "zero_grad() over all the parameters of a model"),
    "lab3.module.train_eval": Lesson("Task 4: `zero_grad()`, `train()` and `eval()`",
                                     "the training flag of every module in the model"),
    "lab3.linear": Lesson("2. `Linear`: $y = xW^\\top + b$",
                          "the Linear layer: torch's weight layout, its initialisation, its graph"),
    "lab3.relu": Lesson("3. `ReLU` as a module", "an operation of lab 1.7.2 wrapped as a layer"),
    "lab3.dropout": Lesson("4. `Dropout`: randomly silence activations while training",
                           "inverted dropout: a random mask, rescaled, and off in evaluation"),
    "lab3.sequential": Lesson("5. `Sequential`: layers in a row",
                              "a container of layers applied in order"),
    "lab3.mlp": Lesson("5. `Sequential`: layers in a row",
                       "a whole model against torch.nn, in evaluation mode"),
    "lab4.optimizer": Lesson("1. The `Optimizer` base class and `zero_grad()`",
                             "an optimizer's zero_grad() over the parameters it was given"),
    "lab4.sgd": Lesson("2. `SGD`: gradient descent, with momentum, Nesterov and weight decay",
                       "torch.optim.SGD's update: momentum buffer, dampening, Nesterov, decay"),
    "lab4.adam": Lesson("3. `Adam`: a step size for every parameter",
                        "Adam's moment estimates, their bias correction and the step"),
    "lab4.adamw": Lesson("4. `AdamW`: weight decay, decoupled", "decoupled weight decay"),
    "lab5.accuracy": Lesson("1. `accuracy`: how often the highest score is the right class",
                            "the predicted class of each row and the fraction right"),
    "lab5.dataloader": Lesson("2. `DataLoader`: mini-batches, shuffled every epoch",
                              "mini-batches drawn from one seeded generator, every row once"),
    "lab5.train_epoch": Lesson("3. `train_epoch`: one pass over the data",
                               "the four steps of a training step and the mean loss of an epoch"),
    "lab5.evaluate": Lesson("4. `evaluate`: loss and accuracy in evaluation mode",
                            "evaluation mode, then the loss and the accuracy"),
    "lab5.model": Lesson("5. Train the network", "training the model until it generalises"),
}
# fmt: on


def lesson_of(check_id: str) -> Lesson | None:
    """The lesson of the longest prefix of ``check_id`` in :data:`LESSONS` (None: no lab's)."""
    keys = [k for k in LESSONS if check_id == k or check_id.startswith(k + ".")]
    keys += [k for k in LESSONS if k.count(".") == 2 and check_id.startswith(k)]  # _nested
    return LESSONS[max(keys, key=len)] if keys else None


def first_rung(check_id: str, concept: str = "") -> str:
    """The first hint of a check: ``concept`` (else its lesson's) and the section to read."""
    lesson = lesson_of(check_id)
    if lesson is None:
        return concept
    lab = LABS.get(check_id.split(".", 1)[0])
    where = f"lab 1.7.{lab.number}, section “{lesson.heading}”" if lab else lesson.heading
    return f"{concept or lesson.concept} (see {where})"
