"""Print what MicroGrad+ adds to a Python that already ships torch (the NGC PyTorch image).

Usage::

    python docker/requirements.py [--extras lab,grader] [--also nbval,pytest] > requirements.txt

The requirements come from ``pyproject.toml`` (the project's dependencies, the
chosen extras, and single packages named with ``--also`` from any extra), so the
container and a plain ``pip install -e .[lab,grader]`` never drift apart. Rules:

* A package that is already installed is left as it is (the image's build wins),
  unless its version breaks a range such as ``numpy>=1.26,<3``: then a package
  the image must keep (``scripts/keep_installed.py``) is an error, any other is
  upgraded to the pinned version.
* When the image's Jupyter stack cannot host nbgrader (JupyterLab 2.3.2 in older NGC
  images; ``keep_installed.py --replacing`` says why), JupyterLab and notebook are
  listed at their exact pins from ``pyproject.toml``: the image's are replaced.
* A missing package of the kept family (JupyterLab, notebook, matplotlib, ...) is
  listed without a version, so pip picks one that fits what the image ships.
* Every other missing package keeps its exact pin from ``pyproject.toml``.
* torch and torchvision are never listed.
"""

from __future__ import annotations

import argparse
import re
import runpy
import sys
from collections.abc import Callable
from importlib import metadata
from pathlib import Path
from typing import Any

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    from pip._vendor import tomli as tomllib  # type: ignore[no-redef]

try:
    from packaging.specifiers import SpecifierSet
except ModuleNotFoundError:  # the image's Python may lack packaging; pip vendors it
    from pip._vendor.packaging.specifiers import SpecifierSet  # type: ignore[assignment]

ROOT = Path(__file__).resolve().parents[1]
NEVER = {"torch", "torchvision"}
REQUIREMENT = re.compile(r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)\s*(\[[^\]]*\])?\s*(.*?)\s*$")


def normalize(name: str) -> str:
    """PEP 503 name: ``Jupyter_Server`` -> ``jupyter-server``."""
    return re.sub(r"[-_.]+", "-", name).lower()


def key_of(requirement: str) -> str:
    """The normalized name a requirement from pyproject.toml names."""
    match = REQUIREMENT.match(requirement)
    if not match:
        raise SystemExit(f"cannot read the requirement {requirement!r} in pyproject.toml")
    return normalize(match.group(1))


def installed_version(name: str) -> str | None:
    """The version of ``name`` in this Python, or None when it is not installed."""
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return None


def keep_installed() -> dict[str, Any]:
    """scripts/keep_installed.py's names and functions."""
    return runpy.run_path(str(ROOT / "scripts" / "keep_installed.py"))


def kept_family() -> set[str]:
    """The packages the image's own builds must keep (scripts/keep_installed.py)."""
    return {normalize(name) for name in keep_installed()["KEEP"]}


def replaced_family(installed: Callable[[str], str | None] = installed_version) -> set[str]:
    """The Jupyter stack when the image's cannot host nbgrader and the labs, else nothing."""
    keep = keep_installed()
    if not keep["misfits"](installed):
        return set()
    return {normalize(name) for name in keep["JUPYTER_STACK"]}


def requirement_line(
    requirement: str,
    keep: set[str],
    installed: Callable[[str], str | None] = installed_version,
    replace: set[str] | frozenset[str] = frozenset(),
) -> str | None:
    """What to ask pip for, or None when the installed package already serves.

    Args:
        requirement: one requirement from pyproject.toml, e.g. ``nbgrader==0.9.6``.
        keep: normalized names of the packages whose installed builds must stay.
        installed: ``name -> version or None``; this Python's packages by default.
        replace: normalized names of the packages whose image builds cannot serve (the
            Jupyter stack, when it cannot host nbgrader): they get pyproject's pin.
    """
    match = REQUIREMENT.match(requirement)
    if not match:
        raise SystemExit(f"cannot read the requirement {requirement!r} in pyproject.toml")
    name, extras, spec = match.group(1), match.group(2) or "", match.group(3)
    key = normalize(name)
    if key in NEVER:
        return None
    if key in replace:
        return f"{name}{extras}{spec}"
    have = installed(name)
    exact = spec.startswith("==")
    if have is not None:
        if exact or not spec or have in SpecifierSet(spec):
            return None
        if key in keep:
            raise SystemExit(
                f"the image ships {name} {have}, but MicroGrad+ needs {name}{spec}; "
                "choose another base image tag"
            )
        return f"{name}{extras}{spec}"
    if key in keep:
        return f"{name}{extras}"
    return f"{name}{extras}{spec}"


def wanted(pyproject: dict[str, Any], extras: list[str], also: list[str]) -> list[str]:
    """The project's dependencies, the chosen extras and the --also packages, in order."""
    project = pyproject["project"]
    groups: dict[str, list[str]] = project.get("optional-dependencies", {})
    unknown = [e for e in extras if e not in groups]
    if unknown:
        raise SystemExit(f"no extra named {', '.join(unknown)} in pyproject.toml")
    chosen = list(project.get("dependencies", []))
    for extra in extras:
        chosen += groups[extra]
    everything = {key_of(r): r for g in groups.values() for r in g}
    for name in also:
        if normalize(name) not in everything:
            raise SystemExit(f"{name} is in no extra of pyproject.toml")
        chosen.append(everything[normalize(name)])
    seen: set[str] = set()
    unique = []
    for requirement in chosen:
        key = key_of(requirement)
        if key not in seen:
            seen.add(key)
            unique.append(requirement)
    return unique


def split(text: str) -> list[str]:
    """``"lab, grader"`` -> ``["lab", "grader"]``."""
    return [part.strip() for part in text.split(",") if part.strip()]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--extras", default="lab,grader", help="comma-separated extras")
    parser.add_argument("--also", default="", help="single packages from any extra")
    parser.add_argument("pyproject", nargs="?", default=str(ROOT / "pyproject.toml"))
    args = parser.parse_args(argv)
    with open(args.pyproject, "rb") as f:
        pyproject = tomllib.load(f)
    keep = kept_family()
    replace = replaced_family()
    for requirement in wanted(pyproject, split(args.extras), split(args.also)):
        line = requirement_line(requirement, keep, replace=replace)
        if line:
            print(line)
    sys.stdout.flush()


if __name__ == "__main__":
    main()
