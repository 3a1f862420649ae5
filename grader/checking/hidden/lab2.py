"""Lab 1.7.2 hidden checks: batch broadcasting, scalars (0-d), large inputs and logits of
±1e4, inferred shapes, negative axes, ties for max, repeated indices."""

from __future__ import annotations

from grader.checking.specs.lab1 import ACCUMULATE
from grader.checking.specs.lab2 import (
    CE_TARGETS,
    CROSS_ENTROPY,
    LOG_SOFTMAX,
    MATMUL_HINT,
    SOFTMAX,
    composed,
    fn,
    large_logits,
    tied,
    with_ints,
)
from grader.checking.specs.parts import cross_entropy_parts, with_cross_entropy_parts
from grader.checking.specs.table import Cases, Check, Draw, draw, operands

REUSE_HINT = (
    "the input feeds two {op} nodes, so its .grad must hold both contributions: add (+=) "
    "into .grad in {op}'s _backward, never assign (=), or the second node's rule erases the "
    "first's"
)


def reuse(topic: str, cases: Cases, inputs: Draw, symbol: str = "") -> None:
    """Register ``lab2.<topic>.reuse``: an operation applied twice to the same input(s), so
    a rule that assigns its gradient (=) instead of adding it (+=) keeps half of it."""
    symbol = symbol or topic
    fn(
        topic,
        cases,
        inputs,
        Check("reuse", 1, "grad", hint=(ACCUMULATE, REUSE_HINT.format(op=symbol))),
        symbols=(symbol,),
        hidden=True,
    )


# fmt: off
fn("matmul", {"matmul(x, w)": lambda F, x, w: F.matmul(x, w),
              "matmul(n, x)": lambda F, n, x: F.matmul(n, x),
              "matmul(p, q)": lambda F, p, q: F.matmul(p, q)},
    operands(x=(2, 3, 4), w=(4, 5), n=(5, 3), p=(2, 1, 3, 4), q=(5, 4, 2)),
    Check("shared_weight", 2, "both", hint=MATMUL_HINT + "; a matrix shared by a whole batch (or "
          "broadcast batch axes) gets the sum over the batch: unbroadcast its gradient to its "
          "own shape"),
    hidden=True)

fn("exp_log", {"exp(s)": lambda F, s: F.exp(s),
               "log(s)": lambda F, s: F.log(s),
               "log(exp(x))": lambda F, x: F.log(F.exp(x))},
    operands(s=((), "positive"), x=(2, 3)),
    Check("scalar", 1, "both", hint="0-d tensors (shape ()) and composed operations must work "
          "too"),
    symbols=("exp", "log"), hidden=True)
fn("relu", {"relu(s)": lambda F, s: F.relu(s), "relu(x)": lambda F, x: F.relu(x)},
    operands(s=((), "nonzero"), x=((2, 3, 4), "nonzero")),
    Check("shapes", 1, "both", hint="relu is element-wise: any shape, including 0-d"),
    hidden=True)
fn("tanh_sigmoid", {"tanh(x)": lambda F, x: F.tanh(x), "sigmoid(x)": lambda F, x: F.sigmoid(x)},
    lambda rng: {"x": draw(rng, (3, 4)) * 400.0, "g": draw(rng, (64,))},
    Check("large", 1, "both", hint="for |x| in the hundreds the results must be finite: "
          "exactly 0, 1 or -1 and zero gradients, never nan"),
    symbols=("tanh", "sigmoid"), hidden=True)

fn("reshape", {"reshape(x, -1, 2)": lambda F, x: F.reshape(x, -1, 2),
               "reshape(x, (4, 3))": lambda F, x: F.reshape(x, (4, 3))}, operands(x=(3, 4)),
    Check("infer", 1, "both", hint="accept a shape as one tuple or as separate ints, with -1 "
          "inferred (numpy does that)"),
    hidden=True)
fn("mean", {"mean(x, axis=-1)": lambda F, x: F.mean(x, axis=-1),
            "mean(x, axis=(0, 2), keepdims=True)":
                lambda F, x: F.mean(x, axis=(0, 2), keepdims=True),
            "mean(s)": lambda F, s: F.mean(s)}, operands(x=(2, 3, 4), s=()),
    Check("keepdims", 2, "both", hint="negative axes and tuples of axes: count the averaged "
          "elements as x.size // out.size"),
    hidden=True)

fn("max", {"amax(x)": lambda F, x: F.amax(x),
           "amax(x, axis=1)": lambda F, x: F.amax(x, axis=1),
           "amax(x, axis=0)": lambda F, x: F.amax(x, axis=0)}, tied,
    Check("ties", 1, "both", hint="when k elements tie for the maximum, each gets out.grad / k "
          "(like torch.amax): divide the mask by its count along the axis"),
    Check("keepdims", 1, "both", {"amax(x, axis=-1)": lambda F, x: F.amax(x, axis=-1),
                                  "amax(x, axis=(0, 2), keepdims=True)":
                                      lambda F, x: F.amax(x, axis=(0, 2), keepdims=True),
                                  "amax(s)": lambda F, s: F.amax(s)},
          operands(x=(2, 3, 4), s=()),
          hint="negative axes, tuples of axes and 0-d tensors: build the mask against the max "
          "kept with keepdims=True, and give out.grad its reduced axes back as size-1 axes "
          "(numpy's expand_dims takes a tuple) when keepdims is False"),
    symbols=("amax",), hidden=True)

fn("getitem", {"x[idx]": lambda F, x, idx: F.getitem(x, idx),
               "x[rows, cols]": lambda F, x, rows, cols: F.getitem(x, (rows, cols))},
    with_ints(operands(x=(4, 5)),
              idx=lambda rng: rng.integers(0, 3, 6),  # 6 draws from 3 rows: repeats for sure
              rows=lambda rng: rng.integers(0, 2, 5),
              cols=lambda rng: rng.integers(0, 2, 5)),
    Check("repeated", 3, "both", hint="an index that appears twice must get both gradients: "
          "`+=` through an index array keeps only one (numpy buffers the write); numpy's "
          "ufuncs have an unbuffered method for this (see ufunc.at)"),
    hidden=True)

fn("softmax", SOFTMAX, large_logits,
    Check("large", 1, "both", hint="exp(1000) overflows to inf and inf / inf is nan: subtract "
          "the row maximum first (softmax(x) = softmax(x - c) for any c)"),
    Check("axis", 2, "both", {"softmax(x, axis=0)": lambda F, x: F.softmax(x, axis=0),
                              "softmax(y, 1)": lambda F, y: F.softmax(y, 1)},
          operands(x=(4, 3), y=(2, 3, 4)),
          hint="use axis everywhere: in the max, the sum, and the gradient's sum "
          "(keepdims=True)"),
    hidden=True)
fn("log_softmax", LOG_SOFTMAX, large_logits,
    Check("large", 1, "both", hint="log(softmax(x)) gives log(0) = -inf for large logits: "
          "compute it directly with the log-sum-exp trick (shift by the maximum first)"),
    hidden=True)
composed("cross_entropy", CROSS_ENTROPY,
         with_cross_entropy_parts(with_ints(large_logits, **CE_TARGETS)), cross_entropy_parts,
    Check("large", 4, "both", hint="build cross_entropy on the stable log_softmax, never on "
          "log(softmax(x))"),
    hidden=True)

# every gradient rule with its input used twice: `=` for `+=` in any one of them shows
reuse("matmul", {"matmul(a, b) + matmul(a, b)": lambda F, a, b: F.matmul(a, b) + F.matmul(a, b)},
      operands(a=(3, 4), b=(4, 2)))
reuse("exp", {"exp(x) + exp(x)": lambda F, x: F.exp(x) + F.exp(x)}, operands(x=(3, 4)))
reuse("mean", {"mean(x, axis=1) + mean(x, axis=1)":
               lambda F, x: F.mean(x, axis=1) + F.mean(x, axis=1)}, operands(x=(3, 4)))
reuse("log", {"log(x) + log(x)": lambda F, x: F.log(x) + F.log(x)},
      operands(x=((3, 4), "positive")))
reuse("relu", {"relu(x) + relu(x)": lambda F, x: F.relu(x) + F.relu(x)},
      operands(x=((3, 4), "nonzero")))
reuse("tanh", {"tanh(x) + tanh(x)": lambda F, x: F.tanh(x) + F.tanh(x)}, operands(x=(3, 4)))
reuse("sigmoid", {"sigmoid(x) + sigmoid(x)": lambda F, x: F.sigmoid(x) + F.sigmoid(x)},
      operands(x=(3, 4)))
reuse("reshape", {"reshape(x, 2, 6) + reshape(x, 2, 6)":
                  lambda F, x: F.reshape(x, 2, 6) + F.reshape(x, 2, 6)}, operands(x=(3, 4)))
reuse("transpose", {"transpose(x) + transpose(x)":
                    lambda F, x: F.transpose(x) + F.transpose(x)}, operands(x=(3, 4)))
reuse("max", {"amax(x, axis=1) + amax(x, axis=1)":
              lambda F, x: F.amax(x, axis=1) + F.amax(x, axis=1)}, operands(x=(3, 4)), "amax")
reuse("getitem", {"x[1:3] + x[1:3]": lambda F, x: F.getitem(x, slice(1, 3))
                  + F.getitem(x, slice(1, 3))}, operands(x=(4, 5)))
reuse("softmax", {"softmax(x) + softmax(x)": lambda F, x: F.softmax(x) + F.softmax(x)},
      operands(x=(3, 5)))
reuse("log_softmax", {"log_softmax(x) + log_softmax(x)":
                      lambda F, x: F.log_softmax(x) + F.log_softmax(x)}, operands(x=(3, 5)))
# fmt: on
