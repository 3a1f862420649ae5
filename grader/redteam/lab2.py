"""Planted bugs for lab 1.7.2 (operations): learners' mistakes and the checks that catch them."""

from __future__ import annotations

from grader.redteam.planted import assigned_bugs, lab_bugs, own_rule_bugs

BUGS = lab_bugs(
    "lab2",
    (
        "matmul-grad-not-transposed",
        "matmul",
        "a.grad += unbroadcast(g @ np.swapaxes(bd, -1, -2), ad.shape)",
        "a.grad += unbroadcast(g @ bd, ad.shape)",
        {
            "lab2.matmul.backward",
            "lab2.matmul.batched",
            "lab2.matmul.vector",
            "lab2.matmul.shared_weight",
            "lab2.matmul.reuse",
        },
        "d(a @ b)/da computed as g @ b instead of g @ b^T.",
    ),
    (
        "matmul-no-unbroadcast",
        "matmul",
        "b.grad += unbroadcast(np.swapaxes(ad, -1, -2) @ g, bd.shape).reshape(b.shape)",
        "b.grad += (np.swapaxes(ad, -1, -2) @ g).reshape(b.shape)",
        {"lab2.matmul.shared_weight"},
        "A weight matrix shared by a batch gets one gradient per batch item, not their sum.",
    ),
    (
        "relu-passes-negative-gradient",
        "relu",
        "x.grad += out.grad * (x.data > 0)",
        "x.grad += out.grad",
        {"lab2.relu.backward", "lab2.relu.shapes", "lab2.relu.reuse"},
        "relu's backward forgets the mask: the gradient also flows where x < 0.",
    ),
    (
        "transpose-grad-same-permutation",
        "transpose",
        "x.grad += out.grad.transpose(np.argsort(perm))",
        "x.grad += out.grad.transpose(perm)",
        {"lab2.transpose.axes"},
        "transpose's gradient permuted by axes itself, not by the inverse permutation.",
    ),
    (
        "mean-divides-by-size",
        "mean",
        "return total * (total.data.size / x.data.size)",
        "return total * (1 / x.data.size)",
        {"lab2.mean.forward", "lab2.mean.axis", "lab2.mean.keepdims", "lab2.mean.reuse"},
        "mean over an axis divides by the size of the whole input.",
    ),
    (
        "mean-divides-by-output-size",
        "mean",
        "return total * (total.data.size / x.data.size)",
        "return total * (1 / total.data.size)",
        {
            "lab2.mean.forward",
            "lab2.mean.backward",
            "lab2.mean.axis",
            "lab2.mean.keepdims",
            "lab2.mean.reuse",
        },
        "mean divides by the size of its result: the mean of everything is the sum. "
        "cross_entropy, built on it, is not charged for it.",
    ),
    (
        "max-grad-to-every-tie",
        "amax",
        "share = winners / winners.sum(axis=axis, keepdims=True)",
        "share = winners",
        {"lab2.max.tie", "lab2.max.ties"},
        "max sends the full gradient to every tied maximum instead of splitting it.",
    ),
    (
        "getitem-buffered-add",
        "getitem",
        "np.add.at(x.grad, idx, out.grad)",
        "x.grad[idx] += out.grad",
        {"lab2.getitem.array", "lab2.getitem.repeated"},
        "Indexing's gradient written with x.grad[idx] += g: a repeated index counts once.",
    ),
    (
        "relu-clips-input-in-place",
        "relu",
        'out = Tensor(np.maximum(x.data, 0), (x,), "relu")',
        'np.maximum(x.data, 0, out=x.data)\n    out = Tensor(x.data, (x,), "relu")',
        {"lab2.relu.forward", "lab2.relu.backward", "lab2.relu.shapes", "lab2.relu.reuse"},
        "relu clips x.data itself: its values and gradient are right, but every other use of x "
        "now reads the clipped data.",
    ),
    (
        "softmax-shifts-input-in-place",
        "softmax",
        "e = np.exp(x.data - x.data.max(axis=axis, keepdims=True))",
        "x.data -= x.data.max(axis=axis, keepdims=True)\n    e = np.exp(x.data)",
        {
            "lab2.softmax.forward",
            "lab2.softmax.backward",
            "lab2.softmax.stable",
            "lab2.softmax.large",
            "lab2.softmax.axis",
            "lab2.softmax.reuse",
        },
        "softmax subtracts the maximum from x.data itself: the logits are changed for every "
        "other use of x.",
    ),
    (
        "softmax-no-max-shift",
        "softmax",
        "e = np.exp(x.data - x.data.max(axis=axis, keepdims=True))",
        "e = np.exp(x.data)",
        {"lab2.softmax.stable", "lab2.softmax.large"},
        "The textbook softmax without the max shift: nan for large logits.",
    ),
    (
        "log-softmax-grad-no-sum",
        "log-softmax",
        "x.grad += g - np.exp(out.data) * g.sum(axis=axis, keepdims=True)",
        "x.grad += g - np.exp(out.data) * g",
        {
            "lab2.log_softmax.stable",
            "lab2.log_softmax.backward",
            "lab2.log_softmax.large",
            "lab2.log_softmax.reuse",
        },
        "log_softmax's gradient multiplies softmax by g instead of by the sum of g.",
    ),
    (
        "cross-entropy-sum",
        "cross-entropy",
        "return -mean(picked)",
        "return -picked.sum()",
        {"lab2.cross_entropy.forward", "lab2.cross_entropy.backward", "lab2.cross_entropy.large"},
        "cross_entropy sums the losses of the batch instead of averaging them.",
    ),
)
MEAN_RULE = """out = Tensor(x.data.mean(axis=axis, keepdims=keepdims), (x,), "mean")

    def _backward():
        g = out.grad if keepdims or axis is None else np.expand_dims(out.grad, axis)
        x.grad += np.broadcast_to(g, x.shape) * (out.data.size / x.data.size)

    out._backward = _backward
    return out"""
BUGS += own_rule_bugs(
    "lab2",
    (
        "mean",
        "mean",
        "total = x.sum(axis=axis, keepdims=keepdims)\n"
        "    return total * (total.data.size / x.data.size)",
        MEAN_RULE,
    ),
)
BUGS += assigned_bugs(
    "lab2",
    (
        "matmul",
        "matmul",
        "a.grad += unbroadcast(g @ np.swapaxes(bd, -1, -2), ad.shape).reshape(a.shape)\n"
        "        b.grad += unbroadcast(np.swapaxes(ad, -1, -2) @ g, bd.shape).reshape(b.shape)",
    ),
    ("exp", "exp", "x.grad += out.data * out.grad"),
    ("log", "log", "x.grad += out.grad / x.data"),
    ("relu", "relu", "x.grad += out.grad * (x.data > 0)"),
    ("tanh", "tanh", "x.grad += out.grad * (1 - out.data**2)"),
    ("sigmoid", "sigmoid", "x.grad += out.grad * out.data * (1 - out.data)"),
    ("reshape", "reshape", "x.grad += out.grad.reshape(x.shape)"),
    ("transpose", "transpose", "x.grad += out.grad.transpose(np.argsort(perm))"),
    ("max", "amax", "x.grad += share * g"),
    ("softmax", "softmax", "x.grad += s * (g - (g * s).sum(axis=axis, keepdims=True))"),
    (
        "log_softmax",
        "log-softmax",
        "x.grad += g - np.exp(out.data) * g.sum(axis=axis, keepdims=True)",
    ),
)
BUGS += lab_bugs(
    "lab2",
    (
        "getitem-grad-assigned",
        "getitem",
        "np.add.at(x.grad, idx, out.grad)",
        "grad = np.zeros_like(x.data)\n"
        "        np.add.at(grad, idx, out.grad)\n"
        "        x.grad = grad",
        {"lab2.getitem.reuse"},
        "getitem's rule assigns (=) its gradient instead of adding it (+=): an input used twice "
        "keeps only the last contribution.",
    ),
)
