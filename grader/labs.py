"""The labs of module 1.7: their ids, notebooks and reference modules."""

from __future__ import annotations

import importlib
from dataclasses import dataclass


@dataclass(frozen=True)
class Lab:
    """One lab: ``id`` prefixes its check ids (``lab2.relu.forward``)."""

    id: str
    number: int
    notebook: str
    title: str
    modules: tuple[str, ...]
    """The ``micrograd_plus`` modules the learner writes in this lab."""

    @property
    def assignment(self) -> str:
        """The nbgrader assignment name (the notebook's stem)."""
        return self.notebook.removesuffix(".ipynb")


LABS: dict[str, Lab] = {
    lab.id: lab
    for lab in (
        Lab("lab1", 1, "lab-1.7.1-core-tensor-implementation.ipynb", "Core tensor", ("tensor",)),
        Lab("lab2", 2, "lab-1.7.2-operations.ipynb", "Operations", ("ops",)),
        Lab("lab3", 3, "lab-1.7.3-layers.ipynb", "Layers", ("nn",)),
        Lab("lab4", 4, "lab-1.7.4-optimizers.ipynb", "Optimizers", ("optim",)),
        Lab("lab5", 5, "lab-1.7.5-mnist-training.ipynb", "MNIST training", ("train",)),
    )
}


FIXTURE_LABS: dict[str, Lab] = {}
"""Small labs for the grader's own tests (ids start with ``fixture``); never released."""


def register_fixture_lab(lab: Lab) -> Lab:
    """Make a test lab known to :func:`get_lab` (its spec module calls this on import)."""
    if not lab.id.startswith("fixture"):
        raise ValueError(f"a fixture lab's id starts with 'fixture', got {lab.id!r}")
    FIXTURE_LABS[lab.id] = lab
    return lab


def get_lab(lab_id: str) -> Lab:
    """The lab with this id: one of :data:`LABS`, or a fixture lab (imported on first use)."""
    if lab_id in LABS:
        return LABS[lab_id]
    if lab_id.startswith("fixture"):
        importlib.import_module(f"grader.checking.specs.{lab_id}")
        if lab_id in FIXTURE_LABS:
            return FIXTURE_LABS[lab_id]
    raise KeyError(f"unknown lab {lab_id!r}; known: {', '.join(LABS)}")


def resolve_lab(text: str) -> Lab:
    """The lab named by ``text``, in any form the command line accepts.

    ``3``, ``lab3``, ``1.7.3``, the notebook's file name (``lab-1.7.3-layers.ipynb``, also
    inside a path or after a flat-export prefix such as ``ada_1_lab-1.7.3-layers.ipynb``) or its
    stem all name lab 1.7.3; a fixture lab is named by its id or its notebook's name.

    Raises:
        KeyError: no lab answers to ``text``.
    """
    key = text.strip()
    name = key.replace("\\", "/").rsplit("/", 1)[-1]
    number = key.removeprefix("lab").removeprefix("1.7.")
    for lab in LABS.values():
        if number == str(lab.number) or key == lab.id:
            return lab
        if name in (lab.notebook, lab.assignment) or name.endswith("_" + lab.notebook):
            return lab
    if key.startswith("fixture") or name.startswith("fixture"):
        return get_lab((key if key.startswith("fixture") else name).split("-")[0].split(".")[0])
    raise KeyError(
        f"unknown lab {text!r}: give 1..5, lab1..lab5, 1.7.1..1.7.5 or a lab's notebook name"
    )


def lab_of(check_id: str) -> str:
    """``"lab2.relu.forward"`` -> ``"lab2"``."""
    return check_id.split(".", 1)[0]


def blocked_modules(lab_id: str) -> tuple[str, ...]:
    """Reference modules a learner of ``lab_id`` must not import: this lab's and later ones'."""
    number = get_lab(lab_id).number
    return tuple(
        f"micrograd_plus.{m}" for lab in LABS.values() if lab.number >= number for m in lab.modules
    )
