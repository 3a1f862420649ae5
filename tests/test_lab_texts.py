"""What the labs and the reference pages say matches what the code does.

Each test names one fact stated in prose and reads it back from the code that makes it
true: which engine lab 1.7.5 trains, how it copies weights to PyTorch, how long it takes,
what ``check()`` accepts and prints, and what a hint recommends.
"""

from __future__ import annotations

import inspect
import re

import nbformat
import numpy as np

from grader import check, config
from grader.checking.spec import get_spec, load_lab
from grader.labs import get_lab


def cell(lab: str, grade_id: str) -> str:
    nb = nbformat.read(config.SOLUTIONS / get_lab(lab).notebook, as_version=4)
    return next(c.source for c in nb.cells if c.metadata["nbgrader"]["grade_id"] == grade_id)


def test_lab3_says_lab5_trains_the_learners_layers() -> None:
    """Lab 1.7.5 rebinds nn to the learner's own: does lab 1.7.3 say so, not "reference layers"?"""
    assert "Tensor, nn, ops, optim = mine.Tensor, mine.nn, mine.ops, mine.optim" in cell(
        "lab5", "mine_switch"
    )
    intro, mnist = cell("lab3", "intro"), cell("lab3", "mnist_md")
    assert "your own layers" in intro and "your layers from this notebook" in mnist
    for text in (intro, mnist):
        assert "with the reference layers" not in text
        assert not re.search(r"builds it from\s+`micrograd_plus`'s reference layers", text)


def test_lab5_copies_weights_by_shape_as_lab3_allows_any_order() -> None:
    """Lab 1.7.3 leaves parameters()' order ungraded: does lab 1.7.5 never copy by position?"""
    assert "order is not graded" in cell("lab3", "modules_md")
    for grade_id in ("model_build", "torch_model", "engines_compare"):
        source = cell("lab5", grade_id)
        assert "zip(" not in source or "initial_weights" not in source.split("zip(", 1)[1][:80]
    assert "initial_weights[tuple(p.shape)]" in cell("lab5", "torch_model")
    assert "initial_weights[p.data.shape]" in cell("lab5", "engines_compare")


def test_lab5_states_its_running_time_as_measured() -> None:
    """Is lab 1.7.5's running time stated as a measurement, not as "well under a minute"?"""
    intro = cell("lab5", "intro")
    assert "well under a minute" not in intro
    assert "measured" in intro and "2-core" in intro


def test_quick_reference_states_checks_signature_and_outputs() -> None:
    """Does QUICK_REFERENCE give check()'s real signature and say a pass prints one line?"""
    text = " ".join((config.REPO / "QUICK_REFERENCE.md").read_text(encoding="utf-8").split())
    params = [
        f"*{p.name}"
        if p.kind is p.VAR_POSITIONAL
        else p.name
        if p.default is p.empty
        else f"{p.name}={p.default!r}"
        for p in inspect.signature(check).parameters.values()
    ]
    assert f"check({', '.join(params)})" in text
    assert "A pass prints one line" in text and "`verbose=True` adds the table" in text


def test_matmul_vector_hint_agrees_with_the_lesson() -> None:
    """The lesson says expanding g alone breaks vector @ vector: does the hint not advise it?"""
    load_lab("lab2")
    hint = " ".join(get_spec("lab2.matmul.vector").hints)
    assert "expanding g alone breaks" in hint
    assert "g[None, :] or g[:, None]) before" not in hint
    assert "Expanding `g` alone" in cell("lab2", "matmul-md")


def test_tables_show_only_meaningful_columns() -> None:
    """Are nan rows named, relative errors shown only where defined, a dtype one sentence?"""
    from grader.checking.compare import compare_arrays, format_table

    nan_row = compare_arrays("out", np.array([np.nan, 1.0]), np.array([1.0, 1.0]), 1e-5, 1e-8)
    assert nan_row.message == "1 of 2 elements are nan where numbers were expected"
    assert np.isnan(nan_row.max_abs)  # not the tiny error of the finite elements
    zero = compare_arrays("grad[a]", np.array([1.99, 0.0]), np.zeros(2), 1e-5, 1e-8)
    assert zero.max_abs == 1.99 and np.isnan(zero.max_rel)  # relative to 0: undefined
    dtype = compare_arrays("x.data bits", np.array(64), np.array(32), 0, 0)
    assert (dtype.name, dtype.message) == ("x.data dtype", "float64, expected float32")
    table = format_table([dtype])
    assert table.splitlines()[0].split() == ["what", "ok"] and "float64, expected float32" in table
    lines = format_table([nan_row, zero]).splitlines()
    assert "max rel err" not in lines[0] and lines[1].split()[:3] == ["out", "NO", "-"]
