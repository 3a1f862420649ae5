"""Lab 1.7.5 runs to its end on every learner variant that labs 1.7.3 and 1.7.4 accept.

Each variant of ``tests/learner_variants.py`` is applied to the solution notebooks of labs
1.7.1-1.7.4; lab 1.7.5's solution notebook then runs beside them, top to bottom, as a
learner runs it (its first cells assemble the learner's framework from those notebooks).
To keep the run short it trains for 2 epochs on 2,000 images and leaves out the two cells
that judge the trained model's accuracy; every other cell runs, PyTorch's comparison included.
"""

from __future__ import annotations

from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

from grader import config
from grader.labs import get_lab
from tests.learner_variants import VARIANTS, Variant, apply

pytestmark = [pytest.mark.slow, pytest.mark.timeout(600)]

ACCURACY_CELLS = {"model_check", "model_test"}
SHORT = (
    "EPOCHS, BATCH_SIZE, LR, SHIFT = 20, 128, 1e-3, 1",
    "EPOCHS, BATCH_SIZE, LR, SHIFT = 2, 128, 1e-3, 1",
)
SAME_START = """
# the same initial weights: both runs' first-epoch losses agree closely
assert torch_history is not None
print("FIRST EPOCH", history["train_loss"][0], torch_history["train_loss"][0])
assert abs(history["train_loss"][0] - torch_history["train_loss"][0]) < 0.01
"""

WRONG_INPUT = """
# an input of the wrong width: the error surfaces inside the learner's lab 1.7.2 and 1.7.3 code
nn.Linear(3, 2)(Tensor(np.ones((4, 5), dtype=np.float32)))
"""


def lab5_short() -> nbformat.NotebookNode:
    """Lab 1.7.5's solution, 2 epochs, without the accuracy cells, with a same-start check."""
    nb = nbformat.read(config.SOLUTIONS / get_lab("lab5").notebook, as_version=4)
    nb.cells = [
        c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade_id") not in ACCURACY_CELLS
    ]
    build = [c for c in nb.cells if SHORT[0] in c.source]
    assert len(build) == 1, "lab 1.7.5's model cell no longer sets EPOCHS as expected"
    build[0].source = build[0].source.replace(*SHORT)
    load = [c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade_id") == "data_load"]
    load[0].source += "\nX_train, y_train = X_train[:2000], y_train[:2000]  # a shorter test run\n"
    nb.cells.append(nbformat.v4.new_code_cell(SAME_START))
    wrong = nbformat.v4.new_code_cell(WRONG_INPUT)
    wrong.metadata["tags"] = ["raises-exception"]
    nb.cells.append(wrong)
    return nb


def learner_folder(folder: Path, variant: Variant) -> Path:
    folder.mkdir()
    for lab in ("lab1", "lab2", "lab3", "lab4"):
        name = get_lab(lab).notebook
        nb = nbformat.read(config.SOLUTIONS / name, as_version=4)
        nbformat.write(apply(nb, lab, variant), folder / name)
    return folder


def outputs(nb: nbformat.NotebookNode, grade_id: str) -> str:
    cell = next(c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade_id") == grade_id)
    return "".join(o.get("text", "") for o in cell.get("outputs", []))


@pytest.mark.parametrize("variant", VARIANTS, ids=lambda v: v.name)
def test_lab5_runs_to_the_end_on_a_learner_variant(
    tmp_path: Path, variant: Variant, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Does lab 1.7.5 train the variant's framework and compare it with PyTorch, no cell failing?"""
    folder = learner_folder(tmp_path / "labs", variant)
    monkeypatch.setenv("MPLBACKEND", "Agg")
    monkeypatch.setenv("OPENBLAS_NUM_THREADS", "1")
    nb = lab5_short()
    NotebookClient(nb, timeout=300, resources={"metadata": {"path": str(folder)}}).execute()
    table = outputs(nb, "mine_assemble")
    assert "reference micrograd_plus" not in table, f"{variant.name} is not accepted:\n{table}"
    assert "training on your framework" in outputs(nb, "mine_switch")
    assert "FIRST EPOCH" in "".join(o.get("text", "") for o in nb.cells[-2].outputs)
    said = "".join(o.get("text", "") for o in nb.cells[-1].outputs)
    assert "comes from your own code of an earlier lab" in said, nb.cells[-1].outputs
    assert "lab 1.7.3 (lab-1.7.3-layers.ipynb), Task 5" in said, said
    assert "lab 1.7.2 (lab-1.7.2-operations.ipynb), Task" in said, said
