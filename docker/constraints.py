"""Edit the image's pip constraints so that MicroGrad+ installs on a stock NGC image.

NGC PyTorch images since 25.03 set ``PIP_CONSTRAINT=/etc/pip/constraint.txt``, a file
pinning every Python package the image was built with (NVIDIA: edit that file to
install other versions). Older images ship JupyterLab 2.3.2, which cannot host nbgrader
0.9.6 (``scripts/keep_installed.py``), so the install must replace the Jupyter stack and
with it exactly the pins that hold it. ``docker/install.sh deps`` asks pip, in a dry run
without the image's constraints but with the CUDA stack pinned, what it would install,
then calls::

    python docker/constraints.py --report REPORT.json --out EDITED [IMAGE_CONSTRAINTS...]

EDITED is a copy of the image's constraints in which each pin the dry run must break is
commented out ("lifted by MicroGrad+", with the reason) and replaced by the version the
install puts in; every other line is the image's, verbatim. The install then runs with
``PIP_CONSTRAINT=EDITED`` (the Dockerfile keeps it set for later installs). A pin of the
CUDA stack (torch, torchvision, triton, numpy, nvidia-*, cuda-*) is never lifted: the
script stops instead.
"""

from __future__ import annotations

import argparse
import json
import re
import runpy
from collections.abc import Iterable
from pathlib import Path
from typing import Any

try:
    from packaging.requirements import InvalidRequirement, Requirement
except ModuleNotFoundError:  # the image's Python may lack packaging; pip vendors it
    from pip._vendor.packaging.requirements import (  # type: ignore[assignment]
        InvalidRequirement,
        Requirement,
    )

ROOT = Path(__file__).resolve().parents[1]
MARK = "lifted by MicroGrad+"
HEADER = "# MicroGrad+:"


def normalize(name: str) -> str:
    """PEP 503 name: ``Jupyter_Server`` -> ``jupyter-server``."""
    return re.sub(r"[-_.]+", "-", name).lower()


def keep_installed() -> dict[str, Any]:
    """scripts/keep_installed.py's names and functions."""
    return runpy.run_path(str(ROOT / "scripts" / "keep_installed.py"))


def protected(name: str, cuda_stack: Iterable[str]) -> bool:
    """Is ``name`` part of the CUDA stack the image exists for?"""
    key = normalize(name)
    return key in {normalize(n) for n in cuda_stack} or key.startswith(("nvidia-", "cuda-"))


def planned(report: dict[str, Any]) -> dict[str, str]:
    """``name -> version`` of everything a ``pip install --dry-run --report`` would install."""
    return {
        normalize(item["metadata"]["name"]): item["metadata"]["version"]
        for item in report.get("install", [])
    }


def requirement(line: str) -> Requirement | None:
    """The requirement a constraints line pins, or None (comment, blank, option, unreadable)."""
    text = re.split(r"(^|\s)#", line, maxsplit=1)[0].strip()
    if not text or text.startswith("-"):
        return None
    try:
        return Requirement(text)
    except InvalidRequirement:
        return None


def breaks(pin: Requirement, version: str) -> bool:
    """Would installing ``version`` break the pin (a URL pin is broken by any index build)?"""
    if pin.marker is not None and not pin.marker.evaluate():
        return False
    return bool(pin.url) or not pin.specifier.contains(version, prereleases=True)


def edit(
    lines: list[str], install: dict[str, str], reasons: dict[str, str], cuda_stack: Iterable[str]
) -> tuple[list[str], list[str]]:
    """The constraints ``lines`` with each pin that ``install`` breaks lifted.

    Args:
        lines: the image's constraints, one line each (comments and options kept).
        install: ``normalized name -> version`` that the install will put in.
        reasons: ``normalized name -> why`` for the packages replaced on purpose
            (the Jupyter hosts); any other lifted pin is one they need.
        cuda_stack: names whose pins are never lifted.

    Returns:
        The edited lines, and one ``old pin -> new version`` line per lifted pin.

    Raises:
        SystemExit: when a pin of the CUDA stack would have to be lifted.
    """
    edited, lifted = [], []
    for line in lines:
        pin = requirement(line)
        key = normalize(pin.name) if pin else ""
        if pin is None or key not in install or not breaks(pin, install[key]):
            edited.append(line)
            continue
        old, new = line.strip(), install[key]
        if protected(key, cuda_stack):
            raise SystemExit(
                f"docker/install.sh: installing MicroGrad+ would replace the image's {old} "
                f"with {new}; the CUDA stack is never replaced: choose another NGC_TAG"
            )
        why = reasons.get(key, "needed by the replacement Jupyter stack")
        edited += [f"# {MARK}: {old} ({why})", f"{pin.name}=={new}"]
        lifted.append(f"{old} -> {new} ({why})")
    return edited, lifted


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--report", type=Path, help="pip's --dry-run --report JSON")
    parser.add_argument("--out", type=Path, required=True, help="the edited copy to write")
    parser.add_argument("constraints", nargs="*", type=Path, help="the image's constraints")
    args = parser.parse_args(argv)
    install = planned(json.loads(args.report.read_text())) if args.report else {}
    keep = keep_installed()
    reasons = {normalize(name): why for name, why in keep["misfits"]().items()}
    out = [
        f"{HEADER} the image's pip constraints as docker/install.sh edited them (see the",
        f"{HEADER} Dockerfile): its pins, except those marked as lifted, which the install had",
        f"{HEADER} to replace because the image's Jupyter stack cannot host nbgrader and the labs.",
    ]
    lifted: list[str] = []
    for path in args.constraints:
        # A second run may read its own output: its header lines are written anew.
        read = [line for line in path.read_text().splitlines() if not line.startswith(HEADER)]
        lines, changed = edit(read, install, reasons, keep["CUDA_STACK"])
        out += [f"{HEADER} from {path}", *lines]
        lifted += [f"{path}: {line}" if len(args.constraints) > 1 else line for line in changed]
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text("\n".join(out) + "\n")
    sources = " ".join(str(p) for p in args.constraints) or "none"
    if lifted:
        print(f"Lifting {len(lifted)} pin(s) of the image's constraints ({sources}):")
        print("\n".join(f"  {line}" for line in lifted))
    else:
        print(f"The image's constraints ({sources}) hold: no pin lifted")
    print(f"Constraints for this and later installs: {args.out}")


if __name__ == "__main__":
    main()
