"""One lab resolver: every command taking a lab accepts `3`, `lab3`, `1.7.3` and a file name."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from grader import config
from grader.assign import release
from grader.labs import LABS, resolve_lab
from grader.learner import validate
from grader.runs import autograde


def _forms(number: int) -> list[str]:
    lab = LABS[f"lab{number}"]
    return [str(number), f"lab{number}", f"1.7.{number}", lab.notebook, f"labs/{lab.notebook}"]


@pytest.mark.parametrize("number", [1, 2, 3, 4, 5])
def test_every_form_names_the_lab(number: int) -> None:
    """Do ``N``, ``labN``, ``1.7.N`` and the notebook's name (bare or in a path) all resolve?"""
    assert {resolve_lab(form).id for form in _forms(number)} == {f"lab{number}"}


@pytest.mark.parametrize("text", ["6", "lab", "1.7.9", "notes.ipynb", ""])
def test_unknown_labs_are_refused(text: str) -> None:
    """Is anything else refused with a message listing the accepted forms?"""
    with pytest.raises(KeyError, match=r"1\.7\.1\.\.1\.7\.5"):
        resolve_lab(text)


def test_release_and_autograde_take_every_form() -> None:
    """Do ``release --lab`` and ``autograde --lab`` accept the same forms (1.7.3, 2, names)?"""
    assert [lab.id for lab in release.source_labs(config.SOLUTIONS, "1.7.3")] == ["lab3"]
    forms = ["2", "lab3", "1.7.4", LABS["lab1"].notebook, "2"]
    assert autograde.batch_labs(forms, config.SOLUTIONS) == ["lab2", "lab3", "lab4", "lab1"]
    with pytest.raises(release.ReleaseError, match="unknown lab"):
        release.source_labs(config.SOLUTIONS, "9")


@pytest.mark.parametrize("form", ["2", "lab2", "1.7.2", "lab-1.7.2-operations.ipynb"])
def test_validate_takes_every_form(monkeypatch: pytest.MonkeyPatch, form: str) -> None:
    """Does ``validate --lab`` accept every form (it once refused ``2``)?"""
    seen: list[str] = []

    def load_key(lab_id: str, **kwargs: Any) -> None:
        seen.append(lab_id)
        raise RuntimeError("stop here")

    monkeypatch.setattr(validate, "load_key", load_key)
    with pytest.raises(RuntimeError, match="stop here"):
        validate.validate(notebook=Path("mine.ipynb"), lab=form)
    with pytest.raises(RuntimeError, match="stop here"):
        validate.validate(notebook=Path(f"ada_1_{LABS['lab2'].notebook}"))
    assert seen == ["lab2", "lab2"]
