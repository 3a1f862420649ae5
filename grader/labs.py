"""The labs of module 1.7: their ids, notebooks and reference modules."""

from __future__ import annotations

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


def lab_of(check_id: str) -> str:
    """``"lab2.relu.forward"`` -> ``"lab2"``."""
    return check_id.split(".", 1)[0]


def blocked_modules(lab_id: str) -> tuple[str, ...]:
    """Reference modules a learner of ``lab_id`` must not import: this lab's and later ones'."""
    number = LABS[lab_id].number
    return tuple(
        f"micrograd_plus.{m}" for lab in LABS.values() if lab.number >= number for m in lab.modules
    )
