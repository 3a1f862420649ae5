"""Planted bugs of lab 1.7.3 (layers): each must fail exactly its checks."""

from __future__ import annotations

from grader.redteam.planted import lab_bugs

MLP = {"lab3.mlp.torch", "lab3.mlp.nested"}
LINEAR_MIDDLE = (
    "        self.bias = Tensor(rng.uniform(-k, k, out_features).astype(np.float32))"
    " if bias else None\n"
    "        ### END SOLUTION\n\n"
    "    def forward(self, x):\n"
    '        """x of shape (..., in_features) -> (..., out_features)."""\n'
    "        ### BEGIN SOLUTION\n"
    "        out = "
)

BUGS = lab_bugs(
    "lab3",
    (
        "call-drops-arguments",
        "module_class",
        "return self.forward(*args)",
        "return self.forward(args[0])",
        {"lab3.module.call"},
        "__call__ passes only the first argument on to forward",
    ),
    (
        "modules-skip-lists",
        "module_modules",
        "elif isinstance(item, (list, tuple)):",
        "elif isinstance(item, tuple):",
        {
            "lab3.module.modules",
            "lab3.module.modules_deep",
            "lab3.module.parameters_containers",
            "lab3.module.parameters_unique",
            "lab3.module.parameters_deep",
            "lab3.module.zero_grad_nested",
            "lab3.module.train_eval",
            "lab3.module.train_eval_deep",
            "lab3.sequential.parameters",
            *MLP,
        },
        "the module search never looks inside lists, so Sequential's layers are invisible",
    ),
    (
        "modules-no-seen-set",
        "module_modules",
        "            if id(item) in seen:\n                continue\n",
        "",
        {"lab3.module.modules"},
        "a module shared by two parents is listed twice",
    ),
    (
        "parameters-not-nested",
        "module_parameters",
        "for module in self.modules():",
        "for module in [self]:",
        {
            "lab3.module.parameters",
            "lab3.module.parameters_containers",
            "lab3.module.parameters_unique",
            "lab3.module.parameters_deep",
            "lab3.module.zero_grad_nested",
            "lab3.sequential.parameters",
        },
        "parameters() looks at the module's own attributes only, not inside its submodules",
    ),
    (
        "parameters-skip-containers",
        "module_parameters",
        "            if isinstance(value, dict):\n"
        "                items = list(value.values())\n"
        "            elif isinstance(value, (list, tuple)):\n"
        "                items = list(value)\n"
        "            else:\n"
        "                items = [value]\n",
        "            items = [value]\n",
        {
            "lab3.module.parameters_containers",
            "lab3.module.parameters_deep",
            "lab3.module.zero_grad_nested",
        },
        "tensors kept in a list or dict attribute are not parameters",
    ),
    (
        "parameters-duplicates",
        "module_parameters",
        "if isinstance(item, Tensor) and id(item) not in seen:",
        "if isinstance(item, Tensor):",
        {"lab3.module.parameters_unique", "lab3.module.parameters_deep"},
        "a tied tensor is returned twice (an optimizer would update it twice)",
    ),
    (
        "train-not-recursive",
        "module_modes",
        "    for module in self.modules():\n        module.training = mode\n",
        "    self.training = mode\n",
        {"lab3.module.train_eval", "lab3.module.train_eval_deep", *MLP},
        "train()/eval() switch the top module only; the Dropout inside stays in training mode",
    ),
    (
        "linear-in-out-layout",
        "linear_class",
        "(out_features, in_features)).astype(np.float32))\n" + LINEAR_MIDDLE + "x @ self.weight.T",
        "(in_features, out_features)).astype(np.float32))\n" + LINEAR_MIDDLE + "x @ self.weight",
        {
            "lab3.linear.init",
            "lab3.linear.init_sizes",
            "lab3.linear.forward",
            "lab3.linear.backward",
            "lab3.linear.batched",
            "lab3.linear.no_bias",
            *MLP,
        },
        "weight stored as (in, out) and applied as x @ W: consistent, but not PyTorch's layout",
    ),
    (
        "linear-x-at-w",
        "linear_class",
        "out = x @ self.weight.T",
        "out = x @ self.weight",
        {
            "lab3.linear.forward",
            "lab3.linear.backward",
            "lab3.linear.batched",
            "lab3.linear.no_bias",
            *MLP,
        },
        "forward computes x @ W, which only works for a weight of layout (in, out)",
    ),
    (
        "linear-bias-in-features",
        "linear_class",
        "rng.uniform(-k, k, out_features)",
        "rng.uniform(-k, k, in_features)",
        {"lab3.linear.init", "lab3.linear.init_sizes"},
        "the bias has one entry per input instead of one per output",
    ),
    (
        "linear-normal-init",
        "linear_class",
        "rng.uniform(-k, k, (out_features, in_features))",
        "rng.normal(0, k, (out_features, in_features))",
        {"lab3.linear.init", "lab3.linear.init_sizes"},
        "weights drawn from N(0, k^2) instead of U(-k, k)",
    ),
    (
        "linear-cuts-graph",
        "linear_class",
        "out = x @ self.weight.T",
        "out = Tensor(x.data @ self.weight.data.T)",
        {"lab3.linear.backward", "lab3.linear.batched", "lab3.linear.no_bias", *MLP},
        "the product is computed on numpy arrays, so backward never reaches x or the weight",
    ),
    (
        "dropout-not-scaled",
        "dropout_class",
        "return x * (self.mask / (1 - self.p))",
        "return x * self.mask",
        {"lab3.dropout.train", "lab3.dropout.backward", "lab3.dropout.rates"},
        "kept elements are not scaled by 1/(1-p), so the expected activation shrinks",
    ),
    (
        "dropout-active-in-eval",
        "dropout_class",
        "if not self.training or self.p == 0:",
        "if self.p == 0:",
        {"lab3.dropout.eval", *MLP},
        "Dropout keeps dropping in evaluation mode",
    ),
    (
        "dropout-keeps-with-p",
        "dropout_class",
        "self.mask = rng.random(x.shape) >= self.p",
        "self.mask = rng.random(x.shape) < self.p",
        {"lab3.dropout.train", "lab3.dropout.backward", "lab3.dropout.rates"},
        "each element is kept with probability p instead of dropped with it",
    ),
)
