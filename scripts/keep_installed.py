"""Print pip constraints that pin what the NGC image ships and MicroGrad+ keeps.

Used by docker/install.sh (the Dockerfile's and scripts/setup.sh's install steps) so
that installing MicroGrad+ into the container never replaces the image's own builds:

* the CUDA stack (torch, torchvision, triton, numpy) is always kept, exactly as built;
* the Jupyter stack (JupyterLab, notebook, jupyter-server, ipykernel) is kept when it
  can host nbgrader and the labs (``JUPYTER_HOSTS``); otherwise it is replaced by the
  versions pyproject.toml pins, and ``--replacing`` says why;
* matplotlib is kept as the image has it.

Usage::

    python scripts/keep_installed.py               # name==version, one a line
    python scripts/keep_installed.py --replacing   # why the Jupyter stack is replaced
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from importlib import metadata

try:
    from packaging.specifiers import SpecifierSet
except ModuleNotFoundError:  # the image's Python may lack packaging; pip vendors it
    from pip._vendor.packaging.specifiers import SpecifierSet  # type: ignore[assignment]

CUDA_STACK = ("torch", "torchvision", "triton", "numpy")
"""What the image exists for: never replaced, never reinstalled."""

JUPYTER_HOSTS = {
    "jupyterlab": ">=4.2,<5",
    "notebook": ">=7.2,<8",
    "jupyter-server": ">=2,<3",
}
"""The servers nbgrader 0.9.6 (its Validate button, formgrader) and the labs run in."""

JUPYTER_STACK = (*JUPYTER_HOSTS, "ipykernel")
"""Kept together when every installed host fits, replaced together otherwise."""

IMAGE_FIRST = ("matplotlib",)
"""Kept as the image has it; installed at pyproject's pin only when missing."""

KEEP = (*CUDA_STACK, *JUPYTER_STACK, *IMAGE_FIRST)
"""Every package whose installed build the container prefers to its own pin."""


def installed_version(name: str) -> str | None:
    """The version of ``name`` in this Python, or None when it is not installed."""
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return None


def misfits(version_of: Callable[[str], str | None] = installed_version) -> dict[str, str]:
    """The installed Jupyter hosts that cannot host nbgrader, each with the reason."""
    found = {}
    for name, needed in JUPYTER_HOSTS.items():
        have = version_of(name)
        if have is not None and have not in SpecifierSet(needed, prereleases=True):
            why = f"the image's {name} {have} cannot host nbgrader, which needs {name}{needed}"
            found[name] = why
    return found


def kept(version_of: Callable[[str], str | None] = installed_version) -> list[str]:
    """``name==version`` for each package the install must leave exactly as it is."""
    names = list(CUDA_STACK)
    if not misfits(version_of):
        names += JUPYTER_STACK
    names += IMAGE_FIRST
    pins = []
    for name in names:
        have = version_of(name)
        if have is not None:
            pins.append(f"{name}=={have}")
    return pins


def main(argv: list[str] | None = None) -> None:
    args = sys.argv[1:] if argv is None else argv
    if args not in ([], ["--replacing"]):
        raise SystemExit("usage: keep_installed.py [--replacing]")
    for line in misfits().values() if args else kept():
        print(line)


if __name__ == "__main__":
    main()
