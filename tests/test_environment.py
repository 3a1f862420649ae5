"""environment.yml (conda) and pyproject.toml (pip) name the same pinned dependencies."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    from pip._vendor import tomli as tomllib

ROOT = Path(__file__).resolve().parents[1]
NAME = re.compile(r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)\s*(\[[^\]]*\])?\s*(.*?)\s*$")
OPTIONAL = {"download"}
"""Extras environment.yml leaves out: torchvision only serves load_mnist(download=True)."""


def split(requirement: str) -> tuple[str, str]:
    """``"Jupyter_Server==2.0"`` -> ``("jupyter-server", "==2.0")``."""
    match = NAME.match(requirement)
    assert match, requirement
    return re.sub(r"[-_.]+", "-", match.group(1)).lower(), match.group(3).replace(" ", "")


@pytest.fixture(scope="module")
def pyproject() -> dict[str, Any]:
    with open(ROOT / "pyproject.toml", "rb") as f:
        return tomllib.load(f)


@pytest.fixture(scope="module")
def environment() -> dict[str, Any]:
    yaml = pytest.importorskip("yaml")
    loaded: dict[str, Any] = yaml.safe_load((ROOT / "environment.yml").read_text())
    return loaded


def conda_packages(environment: dict[str, Any]) -> dict[str, str]:
    return dict(split(d) for d in environment["dependencies"] if isinstance(d, str))


def pip_packages(environment: dict[str, Any]) -> dict[str, str]:
    (section,) = [d["pip"] for d in environment["dependencies"] if isinstance(d, dict)]
    return dict(split(line) for line in section if not line.startswith("-"))


def pyproject_packages(pyproject: dict[str, Any]) -> dict[str, str]:
    project = pyproject["project"]
    wanted = list(project["dependencies"])
    for extra, requirements in project["optional-dependencies"].items():
        if extra not in OPTIONAL:
            wanted += requirements
    return dict(split(r) for r in wanted)


def test_environment_is_named_microgradplus(environment: dict[str, Any]) -> None:
    """Is the conda environment called microgradplus, installing the project itself editable?"""
    assert environment["name"] == "microgradplus"
    (section,) = [d["pip"] for d in environment["dependencies"] if isinstance(d, dict)]
    assert "-e ." in section


def test_python_range_matches_requires_python(
    environment: dict[str, Any], pyproject: dict[str, Any]
) -> None:
    """Does environment.yml ask for the same Python versions as pyproject's requires-python?"""
    conda = conda_packages(environment)
    assert conda["python"].split(",") == pyproject["project"]["requires-python"].split(",")


def test_every_pyproject_pin_is_in_environment_with_the_same_version(
    environment: dict[str, Any], pyproject: dict[str, Any]
) -> None:
    """Does every dependency of pyproject (engine and extras) appear in environment.yml as is?"""
    pip = pip_packages(environment)
    want = pyproject_packages(pyproject)
    missing = sorted(set(want) - set(pip))
    assert not missing, f"in pyproject.toml but not environment.yml: {missing}"
    differ = {name: (want[name], pip[name]) for name in want if want[name] != pip[name]}
    assert not differ, f"pyproject.toml vs environment.yml: {differ}"


def test_environment_adds_no_package_pyproject_does_not_know(
    environment: dict[str, Any], pyproject: dict[str, Any]
) -> None:
    """Is every pip package of environment.yml also one of pyproject's, so neither drifts?"""
    extra = sorted(set(pip_packages(environment)) - set(pyproject_packages(pyproject)))
    assert not extra, f"in environment.yml but not pyproject.toml: {extra}"


def test_exact_pins_stay_exact(pyproject: dict[str, Any]) -> None:
    """Are the extras pinned exactly (torch above all: a looser pin pulls a multi-GB build)?"""
    for extra, requirements in pyproject["project"]["optional-dependencies"].items():
        if extra in OPTIONAL:
            continue
        loose = [r for r in requirements if not split(r)[1].startswith("==")]
        assert not loose, f"extra {extra!r} has unpinned requirements: {loose}"
