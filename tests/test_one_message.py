"""One mistake, one message: what a failing self-check prints in a notebook."""

from __future__ import annotations

import numpy as np
import pytest

from grader.checking import check as check_module
from grader.checking.check import CheckFailed, checks
from grader.checking.compare import compare_arrays
from grader.checking.outcome import Diagnosis, Outcome
from grader.checking.spec import get_spec, load_lab

MISTAKE = Diagnosis(
    "lab1.grad.assigned", "self.grad = ... replaces the gradient instead of adding to it"
)


def failing(check_id: str, diagnosis: Diagnosis | None = None, error: str = "") -> Outcome:
    load_lab("lab1")
    rows = [] if error else [compare_arrays("grad[a]", np.ones(3), np.full(3, 2.0), 1e-6, 1e-6)]
    return Outcome(get_spec(check_id), rows, error=error, diagnosis=diagnosis)


@pytest.fixture(autouse=True)
def fresh_memory() -> None:
    check_module._shown.clear()


def test_a_diagnosis_replaces_table_and_hint() -> None:
    """Does a recognised mistake print its diagnosis, not the table and the generic hint?"""
    text = check_module._failure_text(failing("lab1.add.reuse", MISTAKE), False, False)
    assert MISTAKE.text() in text and "hint:" not in text and "max abs err" not in text
    assert "verbose=True" in text and len(text.splitlines()) <= 12
    full = check_module._failure_text(failing("lab1.add.reuse", MISTAKE), True, False)
    assert "max abs err" in full  # verbose: everything


def test_one_diagnosis_per_block_with_the_checks_it_explains(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Inside `with checks():`, is a diagnosis shared by two checks printed once, naming both?"""
    with pytest.raises(CheckFailed), checks():
        for check_id in ("lab1.add.reuse", "lab1.mul.reuse"):
            print(check_module._failure_text(failing(check_id, MISTAKE), False, False))
            check_module._deferred[-1].append(check_id)
    out = capsys.readouterr().out
    assert out.count("This looks like lab1.grad.assigned") == 1
    assert "(this explains lab1.add.reuse, lab1.mul.reuse" in out and "hint:" not in out
    assert len(out.splitlines()) <= 12, out


def test_undiagnosed_failures_print_the_first_table_and_hint_once(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Inside `with checks():`, do two failures no diagnosis explains print their headlines,
    then the first one's table and hint once at the block's end, the second named only?"""
    with pytest.raises(CheckFailed), checks():
        for check_id in ("lab1.add.reuse", "lab1.mul.reuse"):
            print(check_module._failure_text(failing(check_id), False, False))
            check_module._deferred[-1].append(check_id)
    out = capsys.readouterr().out
    assert out.count("hint:") == 1 and out.count("max abs err") == 1, out
    assert out.index("lab1.mul.reuse: FAILED") < out.index("lab1.add.reuse:\n")
    assert "(lab1.mul.reuse: verbose=True shows its table)" in out


def test_a_diagnosis_in_a_block_stands_for_its_undiagnosed_failures(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """When one failure of a block is diagnosed, is another one's generic hint left out?"""
    with pytest.raises(CheckFailed), checks():
        for check_id, diagnosis in (("lab1.add.reuse", MISTAKE), ("lab1.mul.reuse", None)):
            print(check_module._failure_text(failing(check_id, diagnosis), False, False))
            check_module._deferred[-1].append(check_id)
    out = capsys.readouterr().out
    assert out.count("This looks like") == 1 and "hint:" not in out, out
    assert "lab1.mul.reuse failed too" in out and len(out.splitlines()) <= 12


def test_the_same_error_is_printed_once_per_block(capsys: pytest.CaptureFixture[str]) -> None:
    """Does a second check failing with the same error point to the first instead of repeating?"""
    error = "your Tensor has no relu (attached in Task 3): the `class Tensor` cell ran again"
    with pytest.raises(CheckFailed), checks():
        for check_id in ("lab1.add.reuse", "lab1.mul.reuse"):
            print(check_module._failure_text(failing(check_id, error=error), False, False))
            check_module._deferred[-1].append(check_id)
    out = capsys.readouterr().out
    assert out.count(error) == 1 and "the same error as lab1.add.reuse above" in out


def test_a_graded_cell_below_its_self_check_prints_one_line() -> None:
    """Does the graded cell (quiet) give a one-line verdict when the self-check just said it all?"""
    first = check_module._failure_text(failing("lab1.add.reuse"), False, False)
    assert "max abs err" in first
    again = check_module._failure_text(failing("lab1.add.reuse"), False, True)
    assert again.count("\n") == 0 and "the same failure as its self-check" in again


@pytest.mark.slow
def test_a_rerun_module_cell_gives_one_message() -> None:
    """After `class Module` runs again, does lab 1.7.3's Sequential self-check give one message
    (re-run the cells after Task 1) instead of a table and a hint about lists per check?"""
    import nbformat

    from grader.labs import LABS
    from grader.redteam import REPO
    from tests.test_learner_path import cells_until, run_cells, source_of

    nb = nbformat.read(REPO / "solutions" / LABS["lab3"].notebook, as_version=4)
    sources = [c.source for c in cells_until(nb, "sequential_check")]
    sources.insert(-1, source_of(nb, "module_class"))  # the learner re-runs Task 1's cell
    text = run_cells(sources)[-1]["text"]
    assert text.count("your Sequential is built on an earlier Module") == 1, text
    assert "Re-run the cells after Task 1" in text
    assert "hint:" not in text and "max abs err" not in text and "look inside lists" not in text
    assert len(text.strip().splitlines()) <= 12, text


def test_an_error_inside_the_reference_engine_names_the_learners_line() -> None:
    """A wrong-shaped product fails inside micrograd_plus: is the learner's own line named?"""
    import micrograd_plus.ops  # noqa: F401  (attaches @)
    from grader.checking.check import learner_error
    from micrograd_plus.tensor import Tensor

    def forward(x: Tensor, weight: Tensor) -> Tensor:
        return x @ weight  # (2, 3) @ (2, 3): the weight stored as (in, out)

    with pytest.raises(ValueError) as raised:
        forward(Tensor(np.ones((2, 3))), Tensor(np.ones((2, 3))))
    text = learner_error(raised.value)
    assert "in forward" in text and "return x @ weight" in text
    assert "ops.py" not in text and "in matmul" not in text


def test_the_learners_cell_is_named_over_deeper_frames() -> None:
    """When a cell calls code in another file of the learner's and the error surfaces inside
    the reference engine, is the cell's line named ("your cell 7, line 2")?"""
    import linecache

    import micrograd_plus.ops  # noqa: F401  (attaches @)
    from grader.checking.check import learner_error
    from micrograd_plus.tensor import Tensor

    helper: dict[str, object] = {}
    exec(compile("def product(x, w):\n    return x @ w\n", "/work/mine/helpers.py", "exec"), helper)
    cell = {"product": helper["product"], "Tensor": Tensor, "np": np}
    source = "def forward(x, weight):\n    return product(x, weight)  # weight stored (in, out)\n"
    linecache.cache["<cell 7>"] = (len(source), None, source.splitlines(True), "<cell 7>")
    exec(compile(source, "<cell 7>", "exec"), cell)  # as the sandbox runs cell 7
    with pytest.raises(ValueError) as raised:
        cell["forward"](Tensor(np.ones((2, 3))), Tensor(np.ones((2, 3))))  # type: ignore[operator]
    text = learner_error(raised.value)
    assert "(in forward, your cell 7, line 2: `return product(x, weight)" in text, text
    assert "helpers.py" not in text and "ops.py" not in text


def test_a_hidden_checks_frame_is_never_named() -> None:
    """Is a frame of the hidden checks (compiled in the sandbox as `<hidden checks of …>`)
    left out of the learner's line?"""
    from grader.checking.check import learner_error

    hidden: dict[str, object] = {"np": np}
    source = "def side():\n    return np.broadcast_to(np.ones(3), (2,))\n"
    exec(compile(source, "<hidden checks of lab3>", "exec"), hidden)
    with pytest.raises(ValueError) as raised:
        hidden["side"]()  # type: ignore[operator]
    text = learner_error(raised.value)
    assert "in side" not in text and "<hidden" not in text, text


def test_validate_names_a_mistake_once_after_the_checks_it_explains() -> None:
    """Does ``validate`` print a diagnosis shared by two failing checks once, with both?"""
    from grader.learner.validate import report_lines

    outcomes = {i: failing(i, MISTAKE) for i in ("lab1.add.reuse", "lab1.mul.reuse")}
    text = "\n".join(report_lines(list(outcomes), outcomes, verbose=False))
    assert text.count(MISTAKE.text().splitlines()[0]) == 1
    assert "this explains lab1.add.reuse, lab1.mul.reuse" in text
    assert "hint:" not in text and "max abs err" not in text
    full = "\n".join(report_lines(list(outcomes), outcomes, verbose=True))
    assert full.count("max abs err") == 2
