"""The hint ladder: the first hint names the concept and where to look, a second failing run
(or ``hint=2``) says more, and no hint, markdown hint or quick reference holds a solution line."""

from __future__ import annotations

import re
from functools import cache

import nbformat
import numpy as np
import pytest

from grader.checking import check as check_module
from grader.checking.check import CheckFailed, check
from grader.checking.compare import compare_arrays
from grader.checking.lessons import LESSONS, lesson_of
from grader.checking.outcome import Outcome
from grader.checking.spec import Spec, get_spec, load_lab
from grader.labs import LABS
from grader.redteam import REPO

SHORT = 12
"""Solution lines shorter than this, whitespace removed, are too plain to give anything away."""
PLAIN = re.compile(r"(return|pass|else:|try:|finally:|break|continue)\b.{0,12}")
"""Lines that are keywords with a short tail (``return out``, ``else:``)."""


NOISE = re.compile(r"\s+|\bself\.|\bnp\.|\.data\b|\[i\]")
"""What a copied line may lose and stay the same line: spacing, ``self.``, ``np.``, ``.data``,
a loop's ``[i]``."""


def squeeze(text: str) -> str:
    """``text`` without whitespace, ``self.``, ``np.``, ``.data`` or ``[i]``, so that neither
    spacing nor a shortened name hides a copied line."""
    return NOISE.sub("", text).replace("'", '"')


def telling_parts(code: str) -> list[str]:
    """A solution line and, for an assignment, its right-hand side: squeezed, each kept when
    long enough to give the answer away."""
    parts = [code]
    match = re.match(r"[\w.\[\], ]+?\s*(?:[-+*/]?=)\s*(.+)", code)
    if match and not code.startswith(("if ", "elif ", "for ", "while ", "return ")):
        parts.append(match.group(1))
    return [squeeze(p) for p in parts if len(squeeze(p)) >= SHORT and not PLAIN.fullmatch(p)]


def solution_region_lines(source: str) -> list[str]:
    """The code lines between ``### BEGIN SOLUTION`` and ``### END SOLUTION`` of one cell,
    without comments."""
    lines, inside = [], False
    for line in source.splitlines():
        if "### BEGIN SOLUTION" in line:
            inside = True
        elif "### END SOLUTION" in line:
            inside = False
        elif inside:
            lines.append(line.split("  #", 1)[0].split("# ", 1)[0] if "#" in line else line)
    return lines


@cache
def solution_lines() -> dict[str, str]:
    """Every telling solution line of solutions/, squeezed -> where it comes from."""
    found: dict[str, str] = {}
    for lab in LABS.values():
        nb = nbformat.read(REPO / "solutions" / lab.notebook, as_version=4)
        for cell in nb.cells:
            if cell.cell_type != "code":
                continue
            for line in solution_region_lines(cell.source):
                for part in telling_parts(line.strip()):
                    found.setdefault(part, f"{lab.notebook}: {line.strip()}")
    return found


def copied_lines(text: str) -> list[str]:
    """The solution lines that ``text`` contains verbatim (whitespace aside)."""
    flat = squeeze(text)
    return [where for line, where in solution_lines().items() if line in flat]


def all_specs() -> list[Spec]:
    return [s for lab in LABS for s in load_lab(lab)]


def test_the_solution_lines_are_found() -> None:
    """Does the scan find the solution lines a hint once copied (so that an empty scan cannot
    pass the tests below)?"""
    lines = solution_lines()
    assert len(lines) > 100
    assert squeeze("x.grad += out.grad * (x.data > 0)") in lines
    assert copied_lines("then x.grad += out.grad * (x.data > 0) in _backward")
    assert not copied_lines("the gradient flows where the input was positive")


def test_the_answers_once_handed_over_are_gone() -> None:
    """Do the hints that once held their answer (Dropout's scaled mask, ReLU's masked
    gradient, Adam's update, np.add.at, the training loop) now say it in words?"""
    rungs = " ".join(" ".join(s.hints) for s in all_specs())
    for answer in (
        "x * (keep / (1 - p))",
        "x.grad += out.grad * (x.data > 0)",
        "m_hat / (sqrt(v_hat) + eps)",
        "np.add.at(x.grad, idx, g)",
        "loss.backward(), optimizer.step()",
        "out = Tensor(",
    ):
        assert answer not in rungs, answer


def test_no_hint_rung_holds_a_solution_line() -> None:
    """Does no rung of any check's hint ladder, visible or hidden, contain a line of the
    solution notebooks?"""
    copied = {
        f"{s.id} rung {i + 1}": found
        for s in all_specs()
        for i, rung in enumerate(s.hints)
        if (found := copied_lines(rung))
    }
    assert not copied, "\n".join(f"{k}: {v}" for k, v in copied.items())


def test_every_check_has_two_rungs_and_names_its_section() -> None:
    """Has every check of every lab a first rung naming its lab and section and a second one?"""
    for s in all_specs():
        assert len(s.hints) == 2, s.id
        lesson = lesson_of(s.id)
        assert lesson is not None and lesson.heading in s.hints[0], s.id
        assert f"lab 1.7.{LABS[s.lab].number}" in s.hints[0], s.id


def markdown_cells(lab: str) -> list[str]:
    nb = nbformat.read(REPO / "solutions" / LABS[lab].notebook, as_version=4)
    return [c.source for c in nb.cells if c.cell_type == "markdown"]


@pytest.mark.parametrize("lab", list(LABS))
def test_no_markdown_hint_holds_a_solution_line(lab: str) -> None:
    """Does no markdown cell that gives a hint (a "Hint" heading or bold "Hint") contain a
    solution line?"""
    hints = [m for m in markdown_cells(lab) if re.search(r"(^#+ .*hint|\*\*hint)", m, re.I | re.M)]
    assert not [found for m in hints if (found := copied_lines(m))]


@pytest.mark.parametrize("lab", list(LABS))
def test_every_lesson_heading_is_above_its_self_checks(lab: str) -> None:
    """Is every check a notebook calls under the heading its first hint names?"""
    nb = nbformat.read(REPO / "solutions" / LABS[lab].notebook, as_version=4)
    heading, seen = "", 0
    for cell in nb.cells:
        if cell.cell_type == "markdown":
            titles = re.findall(r"^#+ (.+)$", cell.source, re.M)
            heading = titles[-1].strip() if titles else heading
            continue
        for check_id in re.findall(r'check\("([^"]+)"', cell.source):
            lesson = lesson_of(check_id)
            assert lesson is not None and lesson.heading == heading, (check_id, heading)
            seen += 1
    assert seen
    assert all(k.split(".")[0] in LABS for k in LESSONS)


def test_the_quick_reference_is_an_api_reference() -> None:
    """Does QUICK_REFERENCE.md document check()'s hint= and verbose, and hold no solution line?"""
    text = (REPO / "QUICK_REFERENCE.md").read_text(encoding="utf-8")
    assert "hint=" in text and "verbose" in text and "checks()" in text
    assert not copied_lines(text)


# ------------------------------------------------------------------ the ladder in a kernel
def failing(check_id: str) -> Outcome:
    rows = [compare_arrays("grad[x]", np.ones(3), np.full(3, 2.0), 1e-6, 1e-6)]
    return Outcome(get_spec(check_id), rows)


@pytest.fixture(autouse=True)
def fresh_kernel() -> None:
    check_module._shown.clear()
    check_module._rung.clear()


def test_a_second_failing_run_climbs_the_ladder() -> None:
    """Does the first failing run show rung 1 and say how to get more, the graded cell below
    it repeat nothing, and the second run of the self-check show rung 2?"""
    outcome = failing("lab2.relu.backward")
    first_rung, second_rung = outcome.spec.hints
    first = check_module._failure_text(outcome, False, False)
    assert f"hint: {first_rung}" in first and second_rung not in first
    assert 'run it again, or check("lab2.relu.backward", hint=2), for more' in first
    graded = check_module._failure_text(outcome, False, True)
    assert "the same failure as its self-check" in graded
    second = check_module._failure_text(outcome, False, False)
    assert f"hint: {first_rung}" in second and f"more: {second_rung}" in second
    assert "for more" not in second
    third = check_module._failure_text(outcome, False, False)
    assert third == second  # the top rung stays


def test_outside_a_kernel_the_note_points_to_hint_2() -> None:
    """Where a second run does not climb (validate, a terminal), does the first rung point to
    check(..., hint=2) in the notebook instead of "run it again"?"""
    text = failing("lab2.relu.backward").report(rerun=False)
    assert 'in the notebook, check("lab2.relu.backward", hint=2) shows more' in text
    assert "run it again" not in text


def test_hint_2_shows_the_second_rung_at_once() -> None:
    """Does hint=2 show the second rung on the first failing run?"""
    outcome = failing("lab4.adam.bias_correction")
    text = check_module._failure_text(outcome, False, False, 2)
    assert f"more: {outcome.spec.hints[1]}" in text


def test_check_takes_hint(capsys: pytest.CaptureFixture[str]) -> None:
    """Does check(id, obj, hint=2) print the second rung for a learner's failing function?"""
    from micrograd_plus.tensor import Tensor

    def relu(x: Tensor) -> Tensor:
        out = Tensor(np.maximum(x.data, 0), (x,), "relu")

        def _backward() -> None:
            x.grad += 3 * out.grad * (x.data > 0)  # a factor no lesson explains

        out._backward = _backward
        return out

    with pytest.raises(CheckFailed):
        check("lab2.relu.backward", relu, hint=2)
    out = capsys.readouterr().out
    assert "more: " in out and "hint 1 of 2" not in out


def test_a_diagnosis_still_replaces_the_hint(capsys: pytest.CaptureFixture[str]) -> None:
    """With a recognised mistake (relu without its mask), does check(..., hint=2) print the
    one diagnosis and no hint, and leave the ladder where it was?"""
    from micrograd_plus.tensor import Tensor

    def relu(x: Tensor) -> Tensor:
        out = Tensor(np.maximum(x.data, 0), (x,), "relu")

        def _backward() -> None:
            x.grad += out.grad  # the mask is missing

        out._backward = _backward
        return out

    with pytest.raises(CheckFailed):
        check("lab2.relu.backward", relu, hint=2)
    out = capsys.readouterr().out
    assert "This looks like" in out and "hint:" not in out and "more:" not in out
    assert "lab2.relu.backward" not in check_module._rung


@pytest.mark.slow
def test_running_a_failing_self_check_cell_again_climbs_in_a_kernel() -> None:
    """In a real kernel, with `=` for `+=` in __mul__, does the mul self-check cell give the
    first hint and say how to get more, and the same cell run again give the second?"""
    from tests.test_learner_path import LAB1, cells_until, run_cells, source_of

    nb = nbformat.read(LAB1, as_version=4)
    mul = source_of(nb, "mul")
    bad = mul.replace(".grad += unbroadcast(", ".grad = unbroadcast(")
    sources = [bad if c.source == mul else c.source for c in cells_until(nb, "mul-self")]
    first, second = (s["text"] for s in run_cells([*sources, sources[-1]])[-2:])
    spec = get_spec("lab1.mul.reuse")
    assert f"hint: {spec.hints[0]}" in first and "more:" not in first
    assert 'check("lab1.mul.reuse", hint=2)' in first
    assert f"more: {spec.hints[1]}" in second and "for more" not in second
