"""A second corpus: realistic learner mistakes, written independently of the misconceptions.

The planted bugs (``grader/redteam/<lab>.py``) and the catalogue were written together: each
catalogued misconception names the planted bug it was modelled on, so diagnosing the planted
corpus measures the catalogue against its own examples. The mistakes here (but the five of
:data:`LEARNER_PATH`, named in another issue) were written from the lab texts and the cells a
learner edits alone, as a learner would get them wrong (several ways
per idea, different code from the planted bugs), before the catalogue entries of lab 1.7.5, the
optimizers' finer rules, dropout's rate and transpose were written. They are not required to fail
given checks (no ``fails``): they measure diagnosis only
(``python -m grader.redteam.measure --realistic``). The corpus's first run
found one false diagnosis (``accuracy-flat-argmax`` named as comparing the largest logit);
the accuracy checks now judge a case that tells the two apart. The keep-probability rule of
Dropout was also widened to either scale (1/(1-p) or 1/p) once written, so the corpus is not
blind to the catalogue any more: new mistakes belong in a fresh corpus.

:data:`CATALOGUED_AS` was filled in afterwards, from each mistake's description: the catalogued
misconception that describes it, if one does. A mistake without an entry there must get no name.
"""

from __future__ import annotations

from grader.redteam.planted import PlantedBug

Row = tuple[str, str, str, str, str]
"""``(name, grade_id, old, new, description)``."""


def mistakes(lab: str, *rows: Row) -> list[PlantedBug]:
    """The realistic mistakes of ``lab`` as planted bugs that need not fail given checks."""
    return [
        PlantedBug(name, lab, grade_id, old, new, frozenset(), description)
        for name, grade_id, old, new, description in rows
    ]


LOADER_LOOP = (
    "for start in range(0, n, self.batch_size):\n"
    "            idx = order[start : start + self.batch_size]"
)
EPOCH_TAIL = (
    "total, count = 0.0, 0\n"
    "    for xb, yb in loader:\n"
    "        optimizer.zero_grad()\n"
    "        loss = ops.cross_entropy(model(xb), yb)\n"
    "        loss.backward()\n"
    "        optimizer.step()\n"
    "        total += loss.item() * len(yb)\n"
    "        count += len(yb)\n"
    "    return total / count"
)

LAB5 = mistakes(
    "lab5",
    (
        "accuracy-counts-right-rows",
        "accuracy_fn",
        "return float(np.mean(predicted == np.asarray(y)))",
        "return float(np.sum(predicted == np.asarray(y)))",
        "returns how many rows are right, not the fraction",
    ),
    (
        "accuracy-flat-argmax",
        "accuracy_fn",
        "predicted = scores.argmax(axis=1)",
        "predicted = np.argmax(scores)",
        "takes the argmax of the whole array instead of one per row",
    ),
    (
        "loader-len-floor",
        "loader_class",
        "return (len(self.X) + self.batch_size - 1) // self.batch_size",
        "return len(self.X) // self.batch_size",
        "__len__ counts full batches only, while the loop still yields the partial one",
    ),
    (
        "loader-only-full-batches",
        "loader_class",
        LOADER_LOOP,
        "for b in range(n // self.batch_size):\n"
        "            idx = order[b * self.batch_size : (b + 1) * self.batch_size]",
        "loops over the number of full batches: the leftover rows never come out",
    ),
    (
        "loader-order-cached",
        "loader_class",
        "order = self.rng.permutation(n) if self.shuffle else np.arange(n)",
        'if not hasattr(self, "order"):\n'
        "            self.order = self.rng.permutation(n) if self.shuffle else np.arange(n)\n"
        "        order = self.order",
        "draws the permutation the first time and keeps it: every epoch has the same order",
    ),
    (
        "loader-global-seed-each-epoch",
        "loader_class",
        "order = self.rng.permutation(n) if self.shuffle else np.arange(n)",
        "np.random.seed(self.seed)\n"
        "        order = np.random.permutation(n) if self.shuffle else np.arange(n)",
        "seeds numpy's global generator at every epoch: reproducible, but the same order each time",
    ),
    (
        "loader-labels-by-position",
        "loader_class",
        "yield Tensor(self.X[idx], requires_grad=False), self.y[idx]",
        "yield Tensor(self.X[idx], requires_grad=False), self.y[start : start + self.batch_size]",
        "shuffles the images but takes the labels in order: images and labels no longer match",
    ),
    (
        "loader-always-shuffles",
        "loader_class",
        "order = self.rng.permutation(n) if self.shuffle else np.arange(n)",
        "order = self.rng.permutation(n)",
        "shuffles even with shuffle=False",
    ),
    (
        "train-zero-grad-once",
        "train_fn",
        "    for xb, yb in loader:\n        optimizer.zero_grad()\n",
        "    optimizer.zero_grad()\n    for xb, yb in loader:\n",
        "clears the gradients once before the loop instead of before every batch",
    ),
    (
        "train-zero-grad-after-backward",
        "train_fn",
        "        optimizer.zero_grad()\n"
        "        loss = ops.cross_entropy(model(xb), yb)\n"
        "        loss.backward()\n",
        "        loss = ops.cross_entropy(model(xb), yb)\n"
        "        loss.backward()\n"
        "        optimizer.zero_grad()\n",
        "clears the gradients between backward and step: every step sees zeros",
    ),
    (
        "train-returns-last-loss",
        "train_fn",
        "return total / count",
        "return loss.item()",
        "returns the loss of the last batch instead of the epoch's mean",
    ),
    (
        "train-mean-of-batch-losses",
        "train_fn",
        EPOCH_TAIL,
        "losses = []\n"
        "    for xb, yb in loader:\n"
        "        optimizer.zero_grad()\n"
        "        loss = ops.cross_entropy(model(xb), yb)\n"
        "        loss.backward()\n"
        "        optimizer.step()\n"
        "        losses.append(loss.item())\n"
        "    return float(np.mean(losses))",
        "averages the batches' losses with np.mean, ignoring the batch sizes",
    ),
    (
        "train-mode-not-called",
        "train_fn",
        "    model.train()\n",
        "    model.train\n",
        "writes model.train without calling it: the model stays in evaluation mode",
    ),
    (
        "evaluate-eval-not-called",
        "evaluate_fn",
        "    model.eval()\n",
        "    model.eval\n",
        "writes model.eval without calling it: Dropout stays on while measuring",
    ),
    (
        "evaluate-switches-to-train",
        "evaluate_fn",
        "    model.eval()\n",
        "    model.train()\n",
        "switches the model to training mode before measuring it",
    ),
    (
        "evaluate-accuracy-as-count",
        "evaluate_fn",
        "return loss, accuracy(logits, y)",
        "return loss, float(np.sum(logits.data.argmax(axis=1) == y))",
        "returns the number of right answers as the accuracy",
    ),
)

LAB4 = mistakes(
    "lab4",
    (
        "adam-eps-under-root",
        "adam_class",
        "np.sqrt(v_hat) + self.eps",
        "np.sqrt(v_hat + self.eps)",
        "adds eps under the square root",
    ),
    (
        "adam-t-incremented-late",
        "adam_class",
        "        self.t += 1\n        b1, b2 = self.betas\n",
        "        b1, b2 = self.betas\n        self.t = self.t + 1 if self.t else 1\n",
        "a convoluted step counter (still right): nothing should be named",
    ),
    (
        "adamw-decay-last",
        "adamw_class",
        "        for p in self.params:\n"
        "            p.data = p.data * (1 - self.lr * self.decay)\n"
        "        super().step()",
        "        super().step()\n"
        "        for p in self.params:\n"
        "            p.data = p.data - self.lr * self.decay * p.data",
        "runs the Adam step first and shrinks the updated weights afterwards",
    ),
    (
        "adamw-decay-without-lr",
        "adamw_class",
        "p.data = p.data * (1 - self.lr * self.decay)",
        "p.data = p.data * (1 - self.decay)",
        "shrinks the weights by the decay alone, forgetting the learning rate",
    ),
)

LAB3 = mistakes(
    "lab3",
    (
        "dropout-binomial-keep",
        "dropout_class",
        "self.mask = rng.random(x.shape) >= self.p",
        "self.mask = rng.binomial(1, self.p, size=x.shape).astype(bool)",
        "draws the mask with binomial(1, p): each element is kept with probability p",
    ),
    (
        "dropout-keep-mask-keep-scale",
        "dropout_class",
        "self.mask = rng.random(x.shape) >= self.p\n        return x * (self.mask / (1 - self.p))",
        "self.mask = rng.random(x.shape) < self.p\n        return x * (self.mask / self.p)",
        "uses p as the keep probability throughout, for the mask and the scale",
    ),
    (
        "dropout-scale-multiplied",
        "dropout_class",
        "return x * (self.mask / (1 - self.p))",
        "return x * (self.mask * (1 - self.p))",
        "multiplies the kept elements by 1 - p instead of dividing",
    ),
)

LAB2 = mistakes(
    "lab2",
    (
        "transpose-grad-np-transpose-perm",
        "transpose",
        "x.grad += out.grad.transpose(np.argsort(perm))",
        "x.grad += np.transpose(out.grad, perm)",
        "permutes the gradient back with the forward permutation itself",
    ),
    (
        "transpose-grad-reshaped",
        "transpose",
        "x.grad += out.grad.transpose(np.argsort(perm))",
        "x.grad += out.grad.reshape(x.data.shape)",
        "reshapes the gradient to x's shape instead of permuting it back",
    ),
    (
        "transpose-grad-reversed",
        "transpose",
        "x.grad += out.grad.transpose(np.argsort(perm))",
        "x.grad += out.grad.T",
        "reverses all axes of the gradient, whatever the permutation was",
    ),
)

LEARNER_PATH = [
    *mistakes(
        "lab1",
        (
            "backward-loop-in-graph-order",
            "backward",
            "for node in reversed(order):",
            "for node in order:",
            "runs the nodes' backward rules from the leaves to the output",
        ),
    ),
    *mistakes(
        "lab2",
        (
            "relu-clips-input-in-place",
            "relu",
            'out = Tensor(np.maximum(x.data, 0), (x,), "relu")',
            'np.maximum(x.data, 0, out=x.data)\n    out = Tensor(x.data, (x,), "relu")',
            "clips x.data itself: the forward pass changes its input",
        ),
        (
            "getitem-grad-fancy-plus-equals",
            "getitem",
            "np.add.at(x.grad, idx, out.grad)",
            "x.grad[idx] += out.grad",
            "adds the gradient with x.grad[idx] += g, which loses repeated indices",
        ),
    ),
    *mistakes(
        "lab4",
        (
            "zero-grad-float64",
            "optimizer_class",
            "p.grad = np.zeros_like(p.data)",
            "p.grad = np.zeros(p.data.shape)",
            "zero_grad makes float64 zeros whatever the parameter's dtype",
        ),
        (
            "adam-raw-moments",
            "adam_class",
            "m_hat = self.m[i] / (1 - b1**self.t)\n"
            "            v_hat = self.v[i] / (1 - b2**self.t)",
            "m_hat = self.m[i]\n            v_hat = self.v[i]",
            "uses m and v without bias correction",
        ),
    ),
]
"""Mistakes named in the learner walkthrough of issue #26 (a third party's list), written here as
code: the catalogue entries that describe them were written before this corpus."""

MISTAKES = [*LAB2, *LAB3, *LAB4, *LAB5, *LEARNER_PATH]
"""Every realistic mistake, by lab."""

CATALOGUED_AS: dict[str, str] = {
    "transpose-grad-np-transpose-perm": "lab2.transpose.same_permutation",
    "dropout-binomial-keep": "lab3.dropout.p_as_keep_probability",
    "dropout-keep-mask-keep-scale": "lab3.dropout.p_as_keep_probability",
    "adam-eps-under-root": "lab4.adam.eps_inside_sqrt",
    "adamw-decay-last": "lab4.adamw.decay_after_step",
    "loader-only-full-batches": "lab5.dataloader.drops_last_batch",
    "loader-order-cached": "lab5.dataloader.same_order_every_epoch",
    "loader-global-seed-each-epoch": "lab5.dataloader.same_order_every_epoch",
    "train-zero-grad-once": "lab5.train_epoch.no_zero_grad",
    "train-zero-grad-after-backward": "lab5.train_epoch.step_on_cleared_gradients",
    "train-mean-of-batch-losses": "lab5.train_epoch.mean_of_batch_means",
    "train-mode-not-called": "lab5.train_epoch.train_mode_not_set",
    "evaluate-eval-not-called": "lab5.evaluate.training_mode",
    "evaluate-switches-to-train": "lab5.evaluate.training_mode",
    "backward-loop-in-graph-order": "lab1.backward.wrong_order",
    "getitem-grad-fancy-plus-equals": "lab2.getitem.repeated_index_lost",
    "adam-raw-moments": "lab4.adam.no_bias_correction",
    "relu-clips-input-in-place": "lab2.forward.changes_input",
    "zero-grad-float64": "lab4.zero_grad.float64_zeros",
}
"""Mistake name -> the catalogued misconception that describes it, assigned from the mistake's
description after the catalogue was written (ReLU clipping its input in place and float64
zeros from zero_grad once the checks caught them, issue #26). The other 12 mistakes (a count
instead of a fraction, a flat argmax, ``len`` alone wrong, labels taken by position, shuffling
without being asked, the last batch's loss returned, AdamW's decay without the learning rate,
dropout's scale multiplied, transpose's gradient reshaped or reversed, a step counter written
differently but right) have no catalogued misconception: any name on them is a false
diagnosis."""
