"""What a learner sees: self-checks that point at the real mistake (issue: the learner's path).

The notebook-level tests run lab 1.7.1's solution cells, with a learner's typical mistake
planted, through nbclient in a real kernel and read the outputs the learner would read.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import nbformat
import pytest

from grader.checking.check import checks, evaluate, learner_error
from grader.checking.outcome import Outcome
from grader.checking.spec import get_spec
from grader.labs import LABS
from grader.redteam import REPO, tensor_methods_restored

LAB1 = REPO / "solutions" / LABS["lab1"].notebook
LAB2 = REPO / "solutions" / LABS["lab2"].notebook


def cells_until(nb: Any, last: str) -> list[Any]:
    """The code cells of ``nb`` up to the one whose grade id is ``last`` (graded cells left out)."""
    out = []
    for cell in nb.cells:
        meta = cell.metadata.get("nbgrader", {})
        if cell.cell_type == "code" and not meta.get("grade"):
            out.append(cell)
        if meta.get("grade_id") == last:
            return out
    raise KeyError(last)


def run_cells(sources: list[str]) -> list[dict[str, Any]]:
    """Run ``sources`` as one notebook in a fresh kernel; each cell's text output and error."""
    from nbclient import NotebookClient

    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(s) for s in sources])
    client = NotebookClient(
        nb, timeout=120, kernel_name="python3", allow_errors=True, resources={"metadata": {}}
    )
    client.execute(cwd=str(REPO))
    seen = []
    for cell in nb.cells:
        text, error = "", None
        for out in cell.outputs:
            if out.output_type == "stream":
                text += out.text
            elif out.output_type == "error":
                error = out
        seen.append({"text": text, "error": error})
    return seen


def source_of(nb: Any, grade_id: str) -> str:
    return next(
        c.source for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade_id") == grade_id
    )


@pytest.mark.slow
def test_rerunning_the_class_cell_names_the_lost_methods_and_what_to_rerun() -> None:
    """After the `class Tensor` cell runs again, does the next self-check say which methods are
    gone and to re-run the cells after Task 1, instead of a TypeError and a sorting hint?"""
    nb = nbformat.read(LAB1, as_version=4)
    sources = [c.source for c in cells_until(nb, "backward-self")]
    sources.insert(-1, source_of(nb, "init"))  # the learner re-runs Task 1 just before
    sources[-1] = 'check("lab1.backward.chain")'
    last = run_cells(sources)[-1]
    assert last["error"] is not None and last["error"].ename == "CheckFailed"
    assert (
        "your Tensor has no shape, dtype, ndim, _lift, __add__, __mul__, backward" in last["text"]
    )
    assert "Re-run the cells after Task 1" in last["text"]
    assert "topological" not in last["text"]


@pytest.mark.slow
def test_a_self_check_cell_reports_every_check_and_the_hint_that_names_the_mistake() -> None:
    """With `=` instead of `+=` in __mul__, does the mul self-check cell run all its checks,
    show the `+=` hint of the reused-input check, fail once, and hide the grader's frames?"""
    nb = nbformat.read(LAB1, as_version=4)
    mul = source_of(nb, "mul")
    bad = mul.replace(".grad += unbroadcast(", ".grad = unbroadcast(")
    assert bad != mul
    sources = [bad if c.source == mul else c.source for c in cells_until(nb, "mul-self")]
    last = run_cells(sources)[-1]
    text = last["text"]
    assert "\u2713 lab1.mul.forward: passed (3/3 points)" in text.splitlines()
    assert "\u2717 lab1.mul.reuse: FAILED" in text
    assert "where `+=` belongs" in text
    assert last["error"].ename == "CheckFailed"
    assert "1 check(s) failed: lab1.mul.reuse" in last["error"].evalue
    assert not any("grader/checking/check.py" in line for line in last["error"].traceback)


@pytest.mark.slow
def test_a_solved_lab_prints_one_line_per_passing_check() -> None:
    """Does a solved lab 1.7.1 print one line per passing check and nothing in graded cells?"""
    nb = nbformat.read(LAB1, as_version=4)
    code = [c for c in nb.cells if c.cell_type == "code"]
    graded = [c.metadata.get("nbgrader", {}).get("grade", False) for c in code]
    seen = run_cells([c.source for c in code])
    assert all(s["error"] is None for s in seen)
    assert all(not s["text"] for s, g in zip(seen, graded, strict=True) if g)
    lines = sum(len(s["text"].splitlines()) for s in seen)
    assert lines < 100, lines
    assert all(" - " not in s["text"] for s in seen)


@pytest.mark.slow
def test_the_max_try_cell_prints_the_expected_gradient_beside_the_learners() -> None:
    """Does lab 1.7.2's tie example print the lesson's expected [0, 0.5, 0.5] next to x.grad?"""
    nb = nbformat.read(LAB2, as_version=4)
    seen = run_cells([c.source for c in cells_until(nb, "max-try")])
    assert "x.grad: [0.  0.5 0.5] | expected: max 3.0, x.grad [0, 0.5, 0.5]" in seen[-1]["text"]


def test_a_learners_exception_names_their_line_and_the_case() -> None:
    """Is an exception raised inside numpy reported at the learner's own line, with the label
    of the case that failed (matmul(v, u)), not at a frame inside numpy?"""
    import numpy as np

    from micrograd_plus.tensor import Tensor

    def matmul(a: Any, b: Any) -> Any:
        out = Tensor(a.data @ b.data, (a, b), "@")

        def _backward() -> None:
            a.grad += np.broadcast_to(out.grad[None, :] @ b.data.T, a.shape)  # 0-d g breaks

        out._backward = _backward
        return out

    with tensor_methods_restored():
        outcome = evaluate(get_spec("lab2.matmul.vector"), (matmul,), {}, 0)
    assert "in case `matmul(" in outcome.error
    assert "test_learner_path.py, line" in outcome.error
    assert "numpy" not in outcome.error.split("(in ")[-1]


def test_learner_error_skips_library_frames() -> None:
    """Does learner_error name the innermost frame outside the standard library and numpy?"""
    import numpy as np

    def mine() -> None:
        np.broadcast_to(np.ones(3), (2,))

    try:
        mine()
    except ValueError as exc:
        text = learner_error(exc)
    assert "(in mine, test_learner_path.py" in text


def test_checks_reports_all_and_raises_once(capsys: pytest.CaptureFixture[str]) -> None:
    """Does `with checks():` run a failing check and the next one, then raise once?"""
    from grader import CheckFailed, check

    def relu(x: Any) -> Any:
        raise NotImplementedError

    with pytest.raises(CheckFailed, match="2 check"), checks():
        check("lab2.relu.forward", relu)
        check("lab2.relu.backward", relu)
    out = capsys.readouterr().out
    assert "lab2.relu.forward: FAILED" in out and "lab2.relu.backward: FAILED" in out


def test_a_passing_check_is_one_line_unless_verbose() -> None:
    """Is a passing report one line, and the table shown with verbose=True?"""
    from micrograd_plus.ops import relu

    outcome = evaluate(get_spec("lab2.relu.forward"), (relu,), {}, 0)
    assert isinstance(outcome, Outcome) and outcome.passed
    assert outcome.report() == "\u2713 lab2.relu.forward: passed (2/2 points)"
    assert "max abs err" in outcome.report(verbose=True)


NO_TORCH = """
import sys
sys.modules["torch"] = None  # import torch now raises ModuleNotFoundError
{body}
"""


def run_without_torch(body: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", NO_TORCH.format(body=body)],
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=120,
    )


def test_check_without_torch_says_how_to_install_it() -> None:
    """Without torch, does check() fail with one line on installing torch, no traceback of refs?"""
    body = """
from grader import check
from micrograd_plus.ops import relu
try:
    check("lab2.relu.forward", relu)
except AssertionError as exc:
    print("RAISED", type(exc).__name__, exc)
"""
    result = run_without_torch(body)
    assert "RAISED TorchMissing" in result.stdout
    assert "pip install torch==2.13.0" in result.stdout
    assert "refs.py" not in result.stdout + result.stderr


def test_validate_without_torch_is_one_line_and_nonzero() -> None:
    """Without torch, does `validate` print one actionable line and exit non-zero?"""
    body = f"""
from grader.cli import main
raise SystemExit(main(["validate", {str(REPO / "labs" / LABS["lab1"].notebook)!r}]))
"""
    result = run_without_torch(body)
    assert result.returncode == 2
    assert "torch" in result.stderr and "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_validate_reads_the_lab_from_a_renamed_copy(tmp_path: Path) -> None:
    """Is Jupyter's copy `…-Copy1.ipynb` (or any name) recognised by its lab metadata?"""
    from grader.labs import resolve_lab
    from grader.learner.validate import lab_of_notebook

    copy = tmp_path / "lab-1.7.1-core-tensor-implementation-Copy1.ipynb"
    copy.write_text((REPO / "labs" / LABS["lab1"].notebook).read_text())
    assert lab_of_notebook(copy) == "lab1"
    other = tmp_path / "my attempt.ipynb"
    other.write_text(json.dumps({"cells": [], "metadata": {}}))
    assert lab_of_notebook(other) is None
    assert {resolve_lab(t).id for t in ("1", "lab1", "1.7.1")} == {"lab1"}


def test_quickstart_does_not_hand_over_the_iterative_sort() -> None:
    """Does QUICKSTART.md leave lab 1.7.1's (node, children_done) stack to the learner?"""
    text = (REPO / "QUICKSTART.md").read_text()
    code = text.split("## 3.")[1].split("## 4.")[0].split("```python")[1].split("```")[0]
    assert "stack" not in code and "children_done" not in text and "inputs_done" not in text
    assert "topological order" in text


def test_a_rerun_self_check_reuses_its_reference_and_a_new_spec_gets_its_own() -> None:
    """Is a check's reference computed once per process and seed (read-only, so no check can
    change it), and is a spec replaced in the registry compared with its own reference?"""
    import dataclasses

    from grader.checking.check import expected_outputs

    spec = get_spec("lab2.relu.forward")
    calls = []

    def counted(inputs: dict[str, Any]) -> dict[str, Any]:
        calls.append(1)
        return spec.reference(inputs)

    mine = dataclasses.replace(spec, reference=counted)
    inputs = mine.make_inputs(11)
    first = expected_outputs(mine, inputs, 11)
    assert expected_outputs(mine, inputs, 11) is first and len(calls) == 1
    expected_outputs(mine, mine.make_inputs(12), 12)
    assert len(calls) == 2  # another seed
    assert all(not value.flags.writeable for value in first.values())
    other = dataclasses.replace(spec, reference=lambda inputs: {"relu(x)": inputs["x"] * 0 - 1})
    assert (expected_outputs(other, inputs, 11)["relu(x)"] != first["relu(x)"]).all()
