"""Planted bugs of lab 1.7.4 (optimizers): each must fail exactly its checks."""

from __future__ import annotations

from grader.redteam.planted import lab_bugs

MOMENTUM = {
    "lab4.sgd.momentum",
    "lab4.sgd.dampening",
    "lab4.sgd.momentum_shapes",
    "lab4.sgd.nesterov",
    "lab4.sgd.nesterov_weight_decay",
    "lab4.sgd.weight_decay_momentum",
    "lab4.sgd.lr_change",
}
ADAM = {
    "lab4.adam.default",
    "lab4.adam.bias_correction",
    "lab4.adam.betas_eps",
    "lab4.adam.weight_decay",
    "lab4.adam.shapes",
    "lab4.adamw",
    "lab4.adamw.custom",
}
SGD_DECAY = (
    "            if self.weight_decay:\n                g = g + self.weight_decay * p.data\n"
)
SGD_MOMENTUM = (
    "            if self.momentum:\n"
    "                buf = self.buffers[i]\n"
    "                buf = g.copy() if buf is None else"
    " self.momentum * buf + (1 - self.dampening) * g\n"
    "                self.buffers[i] = buf\n"
    "                g = g + self.momentum * buf if self.nesterov else buf\n"
)

BUGS = lab_bugs(
    "lab4",
    (
        "zero-grad-rebinds-local",
        "optimizer_class",
        "p.grad = np.zeros_like(p.data)",
        "grad = p.grad\n            grad = np.zeros_like(grad)",
        {"lab4.optimizer.zero_grad"},
        "zero_grad assigns zeros to a local name, so the gradients are never reset",
    ),
    (
        "sgd-step-rebinds-local",
        "sgd_class",
        "p.data = p.data - self.lr * g",
        "p = p - self.lr * g",
        {
            "lab4.sgd.plain",
            "lab4.sgd.momentum",
            "lab4.sgd.dampening",
            "lab4.sgd.nesterov",
            "lab4.sgd.weight_decay",
            "lab4.sgd.weight_decay_momentum",
            "lab4.sgd.shapes",
            "lab4.sgd.lr_change",
            "lab4.sgd.momentum_shapes",
            "lab4.sgd.nesterov_weight_decay",
        },
        "step() binds the new value to the loop's local name p: the parameters never change",
    ),
    (
        "zero-grad-float64",
        "optimizer_class",
        "p.grad = np.zeros_like(p.data)",
        "p.grad = np.zeros(p.data.shape)",
        {"lab4.optimizer.zero_grad"},
        "zero_grad makes float64 zeros whatever the parameter's dtype: a float32 model's "
        "gradients (and its updates) silently become float64",
    ),
    (
        "momentum-buffer-not-kept",
        "sgd_class",
        "                self.buffers[i] = buf\n",
        "",
        MOMENTUM,
        "the momentum buffer is never stored, so every step starts a new one",
    ),
    (
        "dampening-on-first-step",
        "sgd_class",
        "buf = g.copy() if buf is None",
        "buf = (1 - self.dampening) * g if buf is None",
        {"lab4.sgd.dampening", "lab4.sgd.momentum_shapes"},
        "the first buffer is dampened too (as if it started at zeros); torch sets it to g",
    ),
    (
        "nesterov-steps-along-buffer",
        "sgd_class",
        "g = g + self.momentum * buf if self.nesterov else buf",
        "g = buf",
        {"lab4.sgd.nesterov", "lab4.sgd.nesterov_weight_decay"},
        "Nesterov uses the buffer instead of g + momentum * buf",
    ),
    (
        "weight-decay-ignored",
        "sgd_class",
        SGD_DECAY,
        "",
        {
            "lab4.sgd.weight_decay",
            "lab4.sgd.weight_decay_momentum",
            "lab4.sgd.nesterov_weight_decay",
        },
        "the weight_decay option is stored but never used",
    ),
    (
        "weight-decay-after-momentum",
        "sgd_class",
        SGD_DECAY + SGD_MOMENTUM + "            p.data = p.data - self.lr * g\n",
        SGD_MOMENTUM + "            p.data = p.data - self.lr * (g + self.weight_decay * p.data)\n",
        {"lab4.sgd.weight_decay_momentum", "lab4.sgd.nesterov_weight_decay"},
        "weight decay added to the step after the momentum instead of to the gradient before it",
    ),
    (
        "adam-no-bias-correction",
        "adam_class",
        "m_hat = self.m[i] / (1 - b1**self.t)\n            v_hat = self.v[i] / (1 - b2**self.t)",
        "m_hat = self.m[i]\n            v_hat = self.v[i]",
        ADAM,
        "Adam without bias correction: the first steps are off by the factor (1 - b^t)",
    ),
    (
        "adam-v-without-sqrt",
        "adam_class",
        "(np.sqrt(v_hat) + self.eps)",
        "(v_hat + self.eps)",
        ADAM,
        "Adam divides by v instead of sqrt(v)",
    ),
    (
        "adam-eps-inside-sqrt",
        "adam_class",
        "(np.sqrt(v_hat) + self.eps)",
        "np.sqrt(v_hat + self.eps)",
        {"lab4.adam.bias_correction", "lab4.adam.betas_eps", "lab4.adamw.custom"},
        "eps added under the square root: only visible with small gradients or a large eps",
    ),
    (
        "adam-step-count-per-parameter",
        "adam_class",
        "        self.t += 1\n        b1, b2 = self.betas\n"
        "        for i, p in enumerate(self.params):\n",
        "        b1, b2 = self.betas\n        for i, p in enumerate(self.params):\n"
        "            self.t += 1\n",
        ADAM,
        "the step counter advances once per parameter instead of once per step",
    ),
    (
        "adamw-decay-through-gradient",
        "adamw_class",
        "p.data = p.data * (1 - self.lr * self.decay)",
        "p.grad = p.grad + self.decay * p.data",
        {"lab4.adamw", "lab4.adamw.custom"},
        "AdamW adds the decay to the gradient (L2, i.e. Adam) instead of shrinking the weights",
    ),
)

BUGS += lab_bugs(
    "lab4",
    (
        "adamw-decay-after-step",
        "adamw_class",
        "        for p in self.params:\n"
        "            p.data = p.data * (1 - self.lr * self.decay)\n"
        "        super().step()",
        "        super().step()\n"
        "        for p in self.params:\n"
        "            p.data = p.data * (1 - self.lr * self.decay)",
        {"lab4.adamw", "lab4.adamw.custom"},
        "AdamW shrinks the weights after the Adam step instead of before it",
    ),
)
