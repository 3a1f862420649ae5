"""Learner variants: other correct ways to write labs 1.7.3 and 1.7.4, which their checks accept.

Lab 1.7.5 trains on the learner's own framework, so it must work with every
implementation the earlier labs accept, not only with the reference solution's choices.
Each variant is a set of text edits to the solution notebooks' cells (as a planted bug is,
but every check must still pass): parameters listed in another order, modules keeping
extra (non-parameter) state, ``__call__`` written another way, layers held in a tuple,
optimizers keeping their state in dicts keyed by the parameter, or in lists of pairs.
``tests/test_learner_variants.py`` assembles each and runs lab 1.7.5 to its end on it.
"""

from __future__ import annotations

from dataclasses import dataclass

import nbformat

from grader.redteam.planted import PlantedBug, apply_bug

Edit = tuple[str, str, str, str]
"""``(lab, grade_id, old, new)``: one text replacement in one solution cell."""


@dataclass(frozen=True)
class Variant:
    """One way of writing the labs that their checks accept."""

    name: str
    description: str
    edits: tuple[Edit, ...]


VARIANTS = (
    Variant(
        "parameters-reversed",
        "parameters() lists the tensors last module first (the lab says the order is not graded)",
        (("lab3", "module_parameters", "    return found\n", "    return found[::-1]\n"),),
    ),
    Variant(
        "call-keywords-and-buffers",
        "__call__ passes keyword arguments on; Linear keeps its last input as a numpy buffer "
        "and a float scale; Sequential holds its layers in a tuple",
        (
            (
                "lab3",
                "module_class",
                "    def __call__(self, *args):",
                "    def __call__(self, *args, **kwargs):",
            ),
            (
                "lab3",
                "module_class",
                "return self.forward(*args)",
                "return self.forward(*args, **kwargs)",
            ),
            (
                "lab3",
                "linear_class",
                "        k = 1.0 / np.sqrt(in_features)\n",
                "        k = 1.0 / np.sqrt(in_features)\n        self.scale = k\n",
            ),
            (
                "lab3",
                "linear_class",
                "        out = x @ self.weight.T\n",
                "        self.last_input = np.array(x.data)  # a buffer, not a parameter\n"
                "        out = x @ self.weight.T\n",
            ),
            (
                "lab3",
                "sequential_class",
                "self.layers = list(layers)",
                "self.layers = tuple(layers)",
            ),
        ),
    ),
    Variant(
        "optimizer-state-in-dicts",
        "SGD and Adam keep their state in dicts keyed by id(parameter)",
        (
            ("lab4", "sgd_class", "self.buffers = [None] * len(self.params)", "self.buffers = {}"),
            ("lab4", "sgd_class", "buf = self.buffers[i]", "buf = self.buffers.get(id(p))"),
            ("lab4", "sgd_class", "self.buffers[i] = buf", "self.buffers[id(p)] = buf"),
            (
                "lab4",
                "adam_class",
                "        self.m = [np.zeros_like(p.data) for p in self.params]\n"
                "        self.v = [np.zeros_like(p.data) for p in self.params]\n",
                "        zeros = np.zeros_like\n"
                "        self.state = {id(p): {'m': zeros(p.data), 'v': zeros(p.data)}"
                " for p in self.params}\n",
            ),
            (
                "lab4",
                "adam_class",
                "            self.m[i] = b1 * self.m[i] + (1 - b1) * g\n"
                "            self.v[i] = b2 * self.v[i] + (1 - b2) * g * g\n"
                "            m_hat = self.m[i] / (1 - b1**self.t)\n"
                "            v_hat = self.v[i] / (1 - b2**self.t)\n",
                "            s = self.state[id(p)]\n"
                "            s['m'] = b1 * s['m'] + (1 - b1) * g\n"
                "            s['v'] = b2 * s['v'] + (1 - b2) * g * g\n"
                "            m_hat = s['m'] / (1 - b1**self.t)\n"
                "            v_hat = s['v'] / (1 - b2**self.t)\n",
            ),
        ),
    ),
)


def apply(nb: nbformat.NotebookNode, lab: str, variant: Variant) -> nbformat.NotebookNode:
    """``nb`` (a solution notebook of ``lab``) with the variant's edits of that lab applied."""
    for index, (edit_lab, grade_id, old, new) in enumerate(variant.edits):
        if edit_lab == lab:
            edit = PlantedBug(f"{variant.name}-{index}", lab, grade_id, old, new, frozenset())
            nb = apply_bug(nb, edit)
    return nb
