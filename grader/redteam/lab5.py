"""Planted bugs of lab 1.7.5 (MNIST training): each must fail exactly its checks."""

from __future__ import annotations

from grader.redteam.planted import lab_bugs

BATCHES = {"lab5.dataloader.batches", "lab5.dataloader.more_sizes"}
EVALUATE = {"lab5.evaluate", "lab5.evaluate.heavy_dropout"}
MODEL = {"lab5.model.accuracy", "lab5.model.per_class"}

BUGS = lab_bugs(
    "lab5",
    (
        "accuracy-compares-max-logit",
        "accuracy_fn",
        "predicted = scores.argmax(axis=1)",
        "predicted = scores.max(axis=1)",
        {"lab5.accuracy", "lab5.accuracy.edge_cases"} | EVALUATE,
        "compares the largest logit itself with the label instead of its position (argmax)",
    ),
    (
        "loader-drops-last-batch",
        "loader_class",
        "for start in range(0, n, self.batch_size):",
        "for start in range(0, n - self.batch_size + 1, self.batch_size):",
        BATCHES,
        "stops before the last, partial batch: the leftover rows are never trained on",
    ),
    (
        "loader-overlapping-batches",
        "loader_class",
        "idx = order[start : start + self.batch_size]",
        "idx = order[start : start + self.batch_size + 1]",
        BATCHES,
        "an off-by-one slice: each batch takes one row too many, so rows repeat across batches",
    ),
    (
        "loader-same-order-every-epoch",
        "loader_class",
        "self.rng.permutation(n)",
        "np.random.default_rng(self.seed).permutation(n)",
        {"lab5.dataloader.reshuffle"},
        "re-creates the generator from the seed in every epoch: every epoch has the same order",
    ),
    (
        "loader-ignores-seed",
        "loader_class",
        "self.rng.permutation(n)",
        "np.random.permutation(n)",
        {"lab5.dataloader.seeded"},
        "shuffles with numpy's global generator: the seed given to the loader changes nothing",
    ),
    (
        "no-zero-grad",
        "train_fn",
        "        optimizer.zero_grad()\n",
        "",
        {"lab5.train_epoch.epoch", "lab5.train_epoch.partial_batch"} | MODEL,
        "forgets zero_grad: every batch's gradient is added to all the previous ones, and the "
        "model trains badly",
    ),
    (
        "step-before-backward",
        "train_fn",
        "loss.backward()\n        optimizer.step()",
        "optimizer.step()\n        loss.backward()",
        {"lab5.train_epoch.one_step", "lab5.train_epoch.epoch", "lab5.train_epoch.partial_batch"}
        | MODEL,
        "steps before backward: each step sees the zeroed gradients, so the model never learns",
    ),
    (
        "no-train-mode",
        "train_fn",
        "    model.train()\n",
        "",
        {"lab5.train_epoch.train_mode"},
        "never switches back to training mode: after evaluate, Dropout stays off while training",
    ),
    (
        "mean-of-batch-means",
        "train_fn",
        "total += loss.item() * len(yb)\n        count += len(yb)",
        "total += loss.item()\n        count += 1",
        {"lab5.train_epoch.epoch", "lab5.train_epoch.partial_batch"},
        "averages the batches' mean losses: a small last batch counts as much as a full one",
    ),
    (
        "evaluate-in-train-mode",
        "evaluate_fn",
        "    model.eval()\n",
        "",
        EVALUATE,
        "evaluates in training mode: Dropout stays on, so the loss and accuracy are random",
    ),
)
