"""Lab 1.7.2 hidden checks: batch broadcasting, scalars (0-d), large inputs and logits of
±1e4, permutations, inferred shapes, negative axes, ties for max, repeated indices."""

from __future__ import annotations

from grader.specs.lab1 import draw, operands
from grader.specs.lab2 import (
    MATMUL_HINT,
    as_torch,
    fn_check,
    large_logits,
    tied,
    torch_cross_entropy,
    with_ints,
)

fn_check(
    "lab2.matmul.shared_weight",
    2,
    ("matmul",),
    lambda f: {
        "matmul(x, w)": lambda x, w: f(x, w),
        "matmul(n, x)": lambda n, x: f(n, x),
        "matmul(p, q)": lambda p, q: f(p, q),
    },
    {
        "matmul(x, w)": lambda x, w: x @ w,
        "matmul(n, x)": lambda n, x: n @ x,
        "matmul(p, q)": lambda p, q: p @ q,
    },
    operands(x=(2, 3, 4), w=(4, 5), n=(5, 3), p=(2, 1, 3, 4), q=(5, 4, 2)),
    want="both",
    hint=MATMUL_HINT + "; a matrix shared by a whole batch (or broadcast batch axes) gets the "
    "sum over the batch: unbroadcast its gradient to its own shape",
    hidden=True,
)

fn_check(
    "lab2.exp_log.scalar",
    1,
    ("exp", "log"),
    lambda exp, log: {
        "exp(s)": lambda s: exp(s),
        "log(s)": lambda s: log(s),
        "log(exp(x))": lambda x: log(exp(x)),
    },
    {
        "exp(s)": lambda s: s.exp(),
        "log(s)": lambda s: s.log(),
        "log(exp(x))": lambda x: x.exp().log(),
    },
    operands(s=((), "positive"), x=(2, 3)),
    want="both",
    hint="0-d tensors (shape ()) and composed operations must work too",
    hidden=True,
)
fn_check(
    "lab2.relu.shapes",
    1,
    ("relu",),
    lambda f: {"relu(s)": lambda s: f(s), "relu(x)": lambda x: f(x)},
    {"relu(s)": lambda s: s.relu(), "relu(x)": lambda x: x.relu()},
    operands(s=((), "nonzero"), x=((2, 3, 4), "nonzero")),
    want="both",
    hint="relu is element-wise: any shape, including 0-d",
    hidden=True,
)
fn_check(
    "lab2.tanh_sigmoid.large",
    1,
    ("tanh", "sigmoid"),
    lambda tanh, sigmoid: {"tanh(x)": lambda x: tanh(x), "sigmoid(x)": lambda x: sigmoid(x)},
    {"tanh(x)": lambda x: x.tanh(), "sigmoid(x)": lambda x: x.sigmoid()},
    lambda rng: {"x": draw(rng, (3, 4)) * 400.0, "g": draw(rng, (64,))},
    want="both",
    hint="for |x| in the hundreds the results must be finite: exactly 0, 1 or -1 and zero "
    "gradients, never nan",
    hidden=True,
)

fn_check(
    "lab2.reshape.infer",
    1,
    ("reshape",),
    lambda f: {
        "reshape(x, -1, 2)": lambda x: f(x, -1, 2),
        "reshape(x, (4, 3))": lambda x: f(x, (4, 3)),
    },
    {
        "reshape(x, -1, 2)": lambda x: x.reshape(-1, 2),
        "reshape(x, (4, 3))": lambda x: x.reshape((4, 3)),
    },
    operands(x=(3, 4)),
    want="both",
    hint="accept a shape as one tuple or as separate ints, with -1 inferred (numpy does that)",
    hidden=True,
)
fn_check(
    "lab2.transpose.axes",
    2,
    ("transpose",),
    lambda f: {
        "transpose(x, 1, 2, 0)": lambda x: f(x, 1, 2, 0),
        "transpose(x, (2, 0, 1))": lambda x: f(x, (2, 0, 1)),
        "transpose(x)": lambda x: f(x),
    },
    {
        "transpose(x, 1, 2, 0)": lambda x: x.permute(1, 2, 0),
        "transpose(x, (2, 0, 1))": lambda x: x.permute(2, 0, 1),
        "transpose(x)": lambda x: x.permute(2, 1, 0),
    },
    operands(x=(2, 3, 4)),
    want="both",
    hint="the gradient needs the INVERSE permutation, np.argsort(axes), which differs from "
    "axes itself for (1, 2, 0)",
    hidden=True,
)

fn_check(
    "lab2.mean.keepdims",
    2,
    ("mean",),
    lambda f: {
        "mean(x, axis=-1)": lambda x: f(x, axis=-1),
        "mean(x, axis=(0, 2), keepdims=True)": lambda x: f(x, axis=(0, 2), keepdims=True),
        "mean(s)": lambda s: f(s),
    },
    {
        "mean(x, axis=-1)": lambda x: x.mean(axis=-1),
        "mean(x, axis=(0, 2), keepdims=True)": lambda x: x.mean(axis=(0, 2), keepdims=True),
        "mean(s)": lambda s: s.mean(),
    },
    operands(x=(2, 3, 4), s=()),
    want="both",
    hint="negative axes and tuples of axes: count the averaged elements as x.size // out.size",
    hidden=True,
)

fn_check(
    "lab2.max.ties",
    1,
    ("amax",),
    lambda f: {
        "amax(x)": lambda x: f(x),
        "amax(x, axis=1)": lambda x: f(x, axis=1),
        "amax(x, axis=0)": lambda x: f(x, axis=0),
    },
    {
        "amax(x)": lambda x: x.amax(),
        "amax(x, axis=1)": lambda x: x.amax(dim=1),
        "amax(x, axis=0)": lambda x: x.amax(dim=0),
    },
    tied,
    want="both",
    hint="when k elements tie for the maximum, each gets out.grad / k (like torch.amax): divide "
    "the mask by its count along the axis",
    hidden=True,
)
fn_check(
    "lab2.max.keepdims",
    1,
    ("amax",),
    lambda f: {
        "amax(x, axis=-1)": lambda x: f(x, axis=-1),
        "amax(x, axis=(0, 2), keepdims=True)": lambda x: f(x, axis=(0, 2), keepdims=True),
        "amax(s)": lambda s: f(s),
    },
    {
        "amax(x, axis=-1)": lambda x: x.amax(dim=-1),
        "amax(x, axis=(0, 2), keepdims=True)": lambda x: x.amax(dim=(0, 2), keepdim=True),
        "amax(s)": lambda s: s.amax(),
    },
    operands(x=(2, 3, 4), s=()),
    want="both",
    hint="negative axes, tuples of axes and 0-d tensors: keep the max with keepdims=True for "
    "the mask and expand out.grad with np.expand_dims(g, axis) when keepdims is False",
    hidden=True,
)

fn_check(
    "lab2.getitem.repeated",
    3,
    ("getitem",),
    lambda f: {
        "x[idx]": lambda x, idx: f(x, idx),
        "x[rows, cols]": lambda x, rows, cols: f(x, (rows, cols)),
    },
    {
        "x[idx]": lambda x, idx: x[as_torch(idx)],
        "x[rows, cols]": lambda x, rows, cols: x[as_torch(rows), as_torch(cols)],
    },
    with_ints(
        idx=lambda rng: rng.integers(0, 3, 6),  # 6 draws from 3 rows: repeats for sure
        rows=lambda rng: rng.integers(0, 2, 5),
        cols=lambda rng: rng.integers(0, 2, 5),
    )(operands(x=(4, 5))),
    want="both",
    raw=("idx", "rows", "cols"),
    hint="an index that appears twice must get both gradients: x.grad[idx] += g keeps only one "
    "(numpy buffers the write); use np.add.at(x.grad, idx, g)",
    hidden=True,
)

fn_check(
    "lab2.softmax.large",
    1,
    ("softmax",),
    lambda f: {"softmax(x)": lambda x: f(x)},
    {"softmax(x)": lambda x: x.softmax(-1)},
    large_logits,
    want="both",
    hint="exp(1000) overflows to inf and inf / inf is nan: subtract the row maximum first "
    "(softmax(x) = softmax(x - c) for any c)",
    hidden=True,
)
fn_check(
    "lab2.softmax.axis",
    2,
    ("softmax",),
    lambda f: {"softmax(x, axis=0)": lambda x: f(x, axis=0), "softmax(y, 1)": lambda y: f(y, 1)},
    {"softmax(x, axis=0)": lambda x: x.softmax(0), "softmax(y, 1)": lambda y: y.softmax(1)},
    operands(x=(4, 3), y=(2, 3, 4)),
    want="both",
    hint="use axis everywhere: in the max, the sum, and the gradient's sum (keepdims=True)",
    hidden=True,
)
fn_check(
    "lab2.log_softmax.large",
    1,
    ("log_softmax",),
    lambda f: {"log_softmax(x)": lambda x: f(x)},
    {"log_softmax(x)": lambda x: x.log_softmax(-1)},
    large_logits,
    want="both",
    hint="log(softmax(x)) gives log(0) = -inf for large logits: compute (x - m) - log(sum(exp("
    "x - m))) directly",
    hidden=True,
)
fn_check(
    "lab2.cross_entropy.large",
    4,
    ("cross_entropy",),
    lambda f: {"cross_entropy(x, t)": lambda x, t: f(x, t)},
    {"cross_entropy(x, t)": torch_cross_entropy},
    with_ints(t=lambda rng: rng.integers(0, 5, 4))(large_logits),
    want="both",
    raw=("t",),
    hint="build cross_entropy on the stable log_softmax, never on log(softmax(x))",
    hidden=True,
)
