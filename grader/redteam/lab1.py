"""Planted bugs for lab 1.7.1 (core tensor): learners' mistakes and the checks that catch them."""

from __future__ import annotations

from grader.redteam.planted import assigned_bugs, lab_bugs, own_rule_bugs

BUGS = lab_bugs(
    "lab1",
    (
        "init-no-float32",
        "init",
        "        if dtype is None and not numpy_float:\n"
        "            array = array.astype(np.float32)  # numbers, lists, integer arrays\n",
        "",
        {"lab1.init.dtype", "lab1.init.scalar"},
        "Numbers and lists are stored as numpy makes them (float64, int64), not float32.",
    ),
    (
        "unbroadcast-leading-axes-only",
        "unbroadcast",
        "    for axis, size in enumerate(shape):  # axes of size 1 that it stretched\n"
        "        if size == 1 and grad.shape[axis] != 1:\n"
        "            grad = grad.sum(axis=axis, keepdims=True)\n",
        "",
        {
            "lab1.unbroadcast.ones",
            "lab1.unbroadcast.mixed",
            "lab1.add.both_sides",
            "lab1.mul.both_sides",
        },
        "unbroadcast sums away the added leading axes but forgets the stretched size-1 axes.",
    ),
    (
        "add-no-unbroadcast",
        "add",
        "self.grad += unbroadcast(out.grad, self.shape)\n"
        "        other.grad += unbroadcast(out.grad, other.shape)",
        "self.grad += out.grad\n        other.grad += out.grad",
        {
            "lab1.sub_div.left",
            "lab1.add.broadcast",
            "lab1.add.both_sides",
            "lab1.add.number",
            "lab1.sub_div.numbers",
        },
        "+ passes out.grad on unreduced: a broadcast input gets a gradient of the wrong shape.",
    ),
    (
        "mul-no-unbroadcast",
        "mul",
        "self.grad += unbroadcast(other.data * out.grad, self.shape)\n"
        "        other.grad += unbroadcast(self.data * out.grad, other.shape)",
        "self.grad += other.data * out.grad\n        other.grad += self.data * out.grad",
        {
            "lab1.sub_div.left",
            "lab1.mul.broadcast",
            "lab1.mul.both_sides",
            "lab1.mul.number",
            "lab1.backward.chain",
            "lab1.sub_div.backward",
            "lab1.sub_div.numbers",
            "lab1.neg.reuse",
            "lab1.sub.reuse",
        },
        "* multiplies the gradients but never reduces them to the inputs' shapes.",
    ),
    (
        "mul-grad-assigned",
        "mul",
        "self.grad += unbroadcast(other.data * out.grad, self.shape)\n"
        "        other.grad += unbroadcast(self.data * out.grad, other.shape)",
        "self.grad = unbroadcast(other.data * out.grad, self.shape)\n"
        "        other.grad = unbroadcast(self.data * out.grad, other.shape)",
        {
            "lab1.mul.reuse",
            "lab1.backward.chain",
            "lab1.backward.reuse",
            "lab1.backward.twice",
            "lab1.backward.diamond",
            "lab1.neg.reuse",
            "lab1.truediv.reuse",
        },
        "* assigns (=) its gradients instead of adding (+=): a reused node loses contributions.",
    ),
    (
        "recursive-topological-sort",
        "topo",
        "    order, visited = [], set()\n"
        "    stack = [(root, False)]\n"
        "    while stack:\n"
        "        node, children_done = stack.pop()\n"
        "        if children_done:\n"
        "            order.append(node)\n"
        "        elif id(node) not in visited:\n"
        "            visited.add(id(node))\n"
        "            stack.append((node, True))\n"
        "            stack.extend((child, False) for child in node._prev"
        " if id(child) not in visited)\n"
        "    return order\n",
        "    order, visited = [], set()\n"
        "\n"
        "    def visit(node):\n"
        "        if id(node) not in visited:\n"
        "            visited.add(id(node))\n"
        "            for child in node._prev:\n"
        "                visit(child)\n"
        "            order.append(node)\n"
        "\n"
        "    visit(root)\n"
        "    return order\n",
        {"lab1.backward.deep"},
        "The quickstart's recursive topological sort: RecursionError on a 10,000-deep graph.",
    ),
    (
        "backward-seeds-zeros",
        "backward",
        "grad = np.ones_like(self.data)",
        "grad = np.zeros_like(self.data)",
        {"lab1.backward.chain"},
        "backward() with no argument seeds the output's gradient with 0 instead of 1.",
    ),
    (
        "backward-keeps-intermediate-grads",
        "backward",
        "    for node in order:\n"
        "        if node._prev:  # intermediate results: recomputed from zero on every call\n"
        "            node.grad = np.zeros_like(node.data)\n",
        "",
        {"lab1.backward.twice"},
        "Intermediate gradients are not reset: a second backward() adds stale values again.",
    ),
    (
        "backward-wrong-order",
        "backward",
        "for node in reversed(order):",
        "for node in order:",
        {
            "lab1.sub_div.left",
            "lab1.backward.chain",
            "lab1.backward.reuse",
            "lab1.backward.deep",
            "lab1.backward.twice",
            "lab1.backward.diamond",
            "lab1.sub_div.backward",
            "lab1.sub_div.numbers",
            "lab1.zero_grad",
            "lab1.neg.reuse",
            "lab1.sub.reuse",
            "lab1.truediv.reuse",
        },
        "backward() runs the closures inputs-first, before their outputs' gradients exist.",
    ),
    (
        "pow-grad-one-power-too-many",
        "pow",
        "self.grad += k * self.data ** (k - 1) * out.grad",
        "self.grad += k * self.data**k * out.grad",
        {
            "lab1.sub_div.left",
            "lab1.pow.backward",
            "lab1.pow.exponents",
            "lab1.pow.reuse",
            "lab1.sub_div.backward",
            "lab1.sub_div.numbers",
            "lab1.truediv.reuse",
        },
        "The power rule without lowering the exponent: k * a**k instead of k * a**(k - 1).",
    ),
    (
        "rsub-reversed",
        "derived-reflected",
        "return self._lift(other) + (-self)",
        "return self - other",
        {"lab1.sub_div.left", "lab1.sub_div.numbers"},
        "2.0 - a computed as a - 2.0: the reflected method swaps the operands back wrongly.",
    ),
    (
        "sum-grad-no-expand-dims",
        "sum",
        "        if axis is not None and not keepdims:\n"
        "            g = np.expand_dims(g, axis)  # give the summed axes back, as size 1\n",
        "",
        {"lab1.sum.axis", "lab1.sum.negative_axis"},
        "sum's gradient is broadcast without restoring the summed axis: rows and columns mix up.",
    ),
)
BUGS += lab_bugs(
    "lab1",
    (
        "add-grad-assigned",
        "add",
        "self.grad += unbroadcast(out.grad, self.shape)\n"
        "        other.grad += unbroadcast(out.grad, other.shape)",
        "self.grad = unbroadcast(out.grad, self.shape)\n"
        "        other.grad = unbroadcast(out.grad, other.shape)",
        {
            "lab1.add.reuse",
            "lab1.backward.chain",
            "lab1.backward.reuse",
            "lab1.backward.deep",
            "lab1.backward.twice",
            "lab1.backward.diamond",
            "lab1.zero_grad",
            "lab1.sub.reuse",
            "lab1.truediv.reuse",
        },
        "+ assigns (=) its gradients instead of adding (+=): a reused node loses contributions.",
    ),
)
NEG_RULE = """out = Tensor(-self.data, (self,), "neg")

    def _backward():
        self.grad += -out.grad

    out._backward = _backward
    return out"""
SUB_RULE = """other = self._lift(other)
    out = Tensor(self.data - other.data, (self, other), "-")

    def _backward():
        self.grad += unbroadcast(out.grad, self.shape)
        other.grad += -unbroadcast(out.grad, other.shape)

    out._backward = _backward
    return out"""
TRUEDIV_RULE = """other = self._lift(other)
    out = Tensor(self.data / other.data, (self, other), "/")

    def _backward():
        self.grad += unbroadcast(out.grad / other.data, self.shape)
        other.grad += unbroadcast(-out.grad * self.data / other.data**2, other.shape)

    out._backward = _backward
    return out"""
BUGS += own_rule_bugs(
    "lab1",
    ("neg", "derived", "return self * -1.0", NEG_RULE),
    ("sub", "derived", "return self + (-self._lift(other))", SUB_RULE),
    ("truediv", "derived", "return self * self._lift(other) ** -1.0", TRUEDIV_RULE),
)
BUGS += assigned_bugs(
    "lab1",
    ("pow", "pow", "self.grad += k * self.data ** (k - 1) * out.grad"),
    ("sum", "sum", "self.grad += np.broadcast_to(g, self.shape)"),
)
