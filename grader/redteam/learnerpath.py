"""The learner-path corpus: 36 mistakes of a learner writing the five labs from scratch.

Each mistake is a :class:`~grader.redteam.planted.PlantedBug` (a text substitution in one
solution cell; its ``fails`` left empty) with the self-check cell the learner runs next
(:class:`Mistake`). Every mistake named in the learner walkthrough of issue #26 is here (the
five of :data:`grader.redteam.realistic.LEARNER_PATH` among them: a backward loop in graph
order, ReLU clipping its input, ``x.grad[idx] += g``, float64 zeros from ``zero_grad``, Adam
without bias correction), with the everyday ones beside them. Two are not substitutions: the
``class Module`` cell run again (``rerun``), and ``parameters()`` in reverse order, a choice
lab 1.7.3 allows (``allowed``: its self-check must pass).

:mod:`grader.redteam.learnerrun` runs them in a Jupyter kernel, one per lab.
"""

from __future__ import annotations

from dataclasses import dataclass

from grader.redteam.planted import PlantedBug
from grader.redteam.realistic import LEARNER_PATH


@dataclass(frozen=True)
class Mistake:
    """One learner mistake and the self-check cell (its grade id) that must report it.

    ``rerun`` names a cell run again just before the self-check; ``allowed`` marks a choice the
    lab allows, whose self-check must pass.
    """

    bug: PlantedBug
    check_cell: str
    rerun: str = ""
    allowed: bool = False

    @property
    def name(self) -> str:
        return self.bug.name

    @property
    def lab(self) -> str:
        return self.bug.lab


Row = tuple[str, str, str, str, str, str]
"""``(name, grade_id, old, new, self-check grade id, description)``."""


def mistakes(lab: str, *rows: Row) -> list[Mistake]:
    """The mistakes of ``lab``, one per row."""
    return [
        Mistake(PlantedBug(name, lab, grade_id, old, new, frozenset(), text), check_cell)
        for name, grade_id, old, new, check_cell, text in rows
    ]


_NAMED = {bug.name: bug for bug in LEARNER_PATH}
_CHECK_CELL = {
    "backward-loop-in-graph-order": "backward-self",
    "relu-clips-input-in-place": "act-self",
    "getitem-grad-fancy-plus-equals": "index-self",
    "zero-grad-float64": "optimizer_check",
    "adam-raw-moments": "adam_check",
}
WALKTHROUGH = [Mistake(_NAMED[name], cell) for name, cell in _CHECK_CELL.items()]
"""The five mistakes of the walkthrough already in the realistic corpus, with their self-checks."""

ITERATIVE_TOPO = """order, visited = [], set()
    stack = [(root, False)]
    while stack:
        node, children_done = stack.pop()
        if children_done:
            order.append(node)
        elif id(node) not in visited:
            visited.add(id(node))
            stack.append((node, True))
            stack.extend((child, False) for child in node._prev if id(child) not in visited)
    return order"""
RECURSIVE_TOPO = """order, visited = [], set()

    def visit(node):
        if id(node) not in visited:
            visited.add(id(node))
            for child in node._prev:
                visit(child)
            order.append(node)

    visit(root)
    return order"""

LINEAR_OUT_IN = """(out_features, in_features)).astype(np.float32))
        self.bias = Tensor(rng.uniform(-k, k, out_features).astype(np.float32)) if bias else None
        ### END SOLUTION

    def forward(self, x):
        \"\"\"x of shape (..., in_features) -> (..., out_features).\"\"\"
        ### BEGIN SOLUTION
        out = x @ self.weight.T"""
"""Linear's weight shape and its use in forward: the two lines a layout mistake changes."""

# fmt: off
LAB1 = mistakes(
    "lab1",
    ("add-grad-assigned", "add",
     "self.grad += unbroadcast(out.grad, self.shape)\n"
     "        other.grad += unbroadcast(out.grad, other.shape)",
     "self.grad = unbroadcast(out.grad, self.shape)\n"
     "        other.grad = unbroadcast(out.grad, other.shape)", "add-self",
     "forgets +=: in a + a one path's gradient replaces the other's"),
    ("mul-grad-not-unbroadcast", "mul",
     "self.grad += unbroadcast(other.data * out.grad, self.shape)\n"
     "        other.grad += unbroadcast(self.data * out.grad, other.shape)",
     "self.grad += other.data * out.grad\n        other.grad += self.data * out.grad",
     "mul-self", "a broadcast operand's gradient is not summed back to its shape"),
    ("backward-seed-zero", "backward", "grad = np.ones_like(self.data)",
     "grad = np.zeros_like(self.data)", "backward-self", "seeds backward with 0 instead of 1"),
    ("topo-recursive", "topo", ITERATIVE_TOPO, RECURSIVE_TOPO, "backward-self",
     "the topological sort written as a recursive walk"),
    ("pow-exponent-not-lowered", "pow", "self.grad += k * self.data ** (k - 1) * out.grad",
     "self.grad += k * self.data**k * out.grad", "pow-self",
     "the power rule without lowering the exponent"),
    ("sum-axis-not-restored", "sum",
     "        if axis is not None and not keepdims:\n"
     "            g = np.expand_dims(g, axis)  # give the summed axes back, as size 1\n", "",
     "sum-self", "sum's gradient broadcast without giving the summed axis back"),
    ("init-lists-float64", "init",
     "            array = array.astype(np.float32)  # numbers, lists, integer arrays",
     "            pass  # numbers, lists, integer arrays", "init-self",
     "numbers and lists kept as numpy makes them (float64, int64)"),
)

LAB2 = mistakes(
    "lab2",
    ("transpose-grad-by-axes", "transpose", "x.grad += out.grad.transpose(np.argsort(perm))",
     "x.grad += out.grad.transpose(perm)", "shape-self",
     "transpose's gradient permuted by the axes themselves, not their inverse"),
    ("log-softmax-grad-times-g", "log-softmax",
     "x.grad += g - np.exp(out.data) * g.sum(axis=axis, keepdims=True)",
     "x.grad += g - np.exp(out.data) * g", "logsm-self",
     "log_softmax's gradient multiplies softmax by g, not by the sum of g"),
    ("softmax-no-max-shift", "softmax",
     "e = np.exp(x.data - x.data.max(axis=axis, keepdims=True))", "e = np.exp(x.data)",
     "softmax-self", "softmax without subtracting the maximum"),
    ("mean-divides-by-total", "mean", "return total * (total.data.size / x.data.size)",
     "return total * (1 / x.data.size)", "mean-self",
     "mean over an axis divides by the whole input's size"),
    ("matmul-grad-untransposed", "matmul",
     "a.grad += unbroadcast(g @ np.swapaxes(bd, -1, -2), ad.shape).reshape(a.shape)",
     "a.grad += unbroadcast(g @ bd, ad.shape).reshape(a.shape)", "matmul-self",
     "d(a @ b)/da computed as g @ b"),
    ("max-grad-every-tie", "amax", "share = winners / winners.sum(axis=axis, keepdims=True)",
     "share = winners", "max-self", "max gives the whole gradient to every tied maximum"),
    ("sigmoid-grad-from-input", "sigmoid", "x.grad += out.grad * out.data * (1 - out.data)",
     "x.grad += out.grad * x.data * (1 - x.data)", "act-self",
     "sigmoid's derivative written with x instead of the output"),
)

LAB3 = [
    *mistakes(
        "lab3",
        ("linear-weight-in-out", "linear_class", LINEAR_OUT_IN,
         LINEAR_OUT_IN.replace("(out_features, in_features))", "(in_features, out_features))")
         .replace("x @ self.weight.T", "x @ self.weight"), "linear_check",
         "Linear stores its weight as (in, out) and computes x @ W"),
        ("dropout-p-as-keep", "dropout_class",
         "self.mask = rng.random(x.shape) >= self.p\n        return x * (self.mask / (1 - self.p))",
         "self.mask = rng.random(x.shape) < self.p\n        return x * (self.mask / self.p)",
         "dropout_check", "Dropout keeps each element with probability p"),
        ("dropout-in-eval", "dropout_class", "if not self.training or self.p == 0:",
         "if self.p == 0:", "dropout_check", "Dropout also drops in evaluation mode"),
        ("modules-skip-lists", "module_modules",
         "        elif isinstance(item, (list, tuple)):\n"
         "            stack.extend(reversed(item))\n",
         "", "module_modules_check", "modules() never looks inside lists"),
        ("module-zero-grad-missing", "module_modes",
         "for p in self.parameters():\n        p.grad = np.zeros_like(p.data)", "pass",
         "module_modes_check", "Module.zero_grad left doing nothing"),
        ("sequential-not-chained", "sequential_class",
         "for layer in self.layers:\n            x = layer(x)\n        return x",
         "for layer in self.layers:\n            out = layer(x)\n        return out",
         "sequential_check", "Sequential feeds the input to every layer instead of chaining"),
    ),
    Mistake(PlantedBug("module-class-rerun", "lab3", "module_class", "", "", frozenset(),
                       "runs the class Module cell again after defining the layers"),
            "sequential_check", rerun="module_class"),
    Mistake(PlantedBug("parameters-reversed", "lab3", "module_parameters",
                       "                    found.append(item)\n    return found",
                       "                    found.append(item)\n    return found[::-1]",
                       frozenset(), "parameters() lists the tensors last to first"),
            "module_parameters_check", allowed=True),
]

LAB4 = mistakes(
    "lab4",
    ("sgd-rebinds-local", "sgd_class", "p.data = p.data - self.lr * g", "p = p - self.lr * g",
     "sgd_check", "SGD binds the new value to a local name instead of updating p.data"),
    ("momentum-buffer-dropped", "sgd_class", "                self.buffers[i] = buf\n", "",
     "sgd_check", "the momentum buffer is never stored"),
    ("adam-eps-inside-root", "adam_class", "m_hat / (np.sqrt(v_hat) + self.eps)",
     "m_hat / np.sqrt(v_hat + self.eps)", "adam_check", "Adam's eps under the square root"),
    ("adamw-decay-after-step", "adamw_class",
     "for p in self.params:\n            p.data = p.data * (1 - self.lr * self.decay)\n"
     "        super().step()",
     "super().step()\n        for p in self.params:\n"
     "            p.data = p.data * (1 - self.lr * self.decay)",
     "adamw_check", "AdamW decays the weights after the Adam step"),
)

LAB5 = mistakes(
    "lab5",
    ("accuracy-count", "accuracy_fn", "return float(np.mean(predicted == np.asarray(y)))",
     "return float(np.sum(predicted == np.asarray(y)))", "accuracy_check",
     "accuracy returns the number of right rows"),
    ("loader-len-floor", "loader_class",
     "return (len(self.X) + self.batch_size - 1) // self.batch_size",
     "return len(self.X) // self.batch_size", "loader_check",
     "len() leaves the last partial batch out"),
    ("train-no-zero-grad", "train_fn", "        optimizer.zero_grad()\n", "", "train_check",
     "train_epoch never clears the gradients"),
    ("train-mean-of-batches", "train_fn",
     "total += loss.item() * len(yb)\n        count += len(yb)",
     "total += loss.item()\n        count += 1", "train_check",
     "the epoch loss averaged over batches, not examples"),
    ("evaluate-train-mode", "evaluate_fn", "    model.eval()\n", "", "evaluate_check",
     "evaluate leaves the model in training mode"),
)
# fmt: on

MISTAKES: list[Mistake] = [*LAB1, *LAB2, *LAB3, *LAB4, *LAB5, *WALKTHROUGH]
"""Every mistake of the learner path (36), by lab."""


def for_lab(lab_id: str) -> list[Mistake]:
    """The mistakes of one lab, in the order of their self-checks in the notebook."""
    return [m for m in MISTAKES if m.lab == lab_id]
