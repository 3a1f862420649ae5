"""The ``site`` folder: everything the learner's code may import inside the sandbox.

It holds the allow-listed installed packages (numpy, matplotlib and its
dependencies, tqdm, ...; their folders are bound in), a copy of the
``micrograd_plus`` modules of the labs before the graded one (plus ``value`` and
``data``), the learner side of the visible checks (``grader.checking.specs``) and the
runner. torch, the reference modules of this lab and later ones, and the hidden
checks are simply not there.
"""

from __future__ import annotations

import functools
import importlib.metadata
import shutil
from pathlib import Path

from grader import config
from grader.labs import LABS, get_lab

RUNNER = "mgp_runner.py"
"""The runner's file name inside ``site``."""


@functools.cache
def allowed_entries() -> tuple[tuple[str, Path], ...]:
    """Top-level files and folders of the allow-listed distributions: (name, installed path)."""
    entries: dict[str, Path] = {}
    for dist_name in config.ALLOWED_DISTRIBUTIONS:
        try:
            dist = importlib.metadata.distribution(dist_name)
        except importlib.metadata.PackageNotFoundError:
            continue
        for file in dist.files or []:
            top = file.parts[0]
            if top in ("..", "__pycache__") or top.endswith(".pth"):
                continue
            path = Path(str(dist.locate_file(top)))
            if path.exists():
                entries.setdefault(top, path)
    return tuple(sorted(entries.items()))


def allowed_mgp_modules(lab_id: str) -> list[str]:
    """``micrograd_plus`` modules a learner of ``lab_id`` may import: given ones, earlier labs'."""
    number = get_lab(lab_id).number
    earlier = [m for lab in LABS.values() if lab.number < number for m in lab.modules]
    return [*config.GIVEN_MICROGRAD_MODULES, *earlier]


def _copy_package(src: Path, dst: Path, modules: list[str]) -> None:
    """Copy ``src/<module>.py`` to ``dst`` for each module (a path such as ``checking/spec``)."""
    for module in modules:
        if (src / f"{module}.py").exists():
            (dst / module).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src / f"{module}.py", dst / f"{module}.py")


def build_site(site: Path, lab_id: str, *, mount_points: bool) -> list[tuple[Path, str]]:
    """Fill ``site`` with what the learner may import.

    Args:
        site: an empty folder.
        lab_id: the graded lab (decides which ``micrograd_plus`` modules are copied).
        mount_points: create empty folders for the installed packages and return
            them for bind-mounting (in a sandbox), instead of symlinks (reduced isolation).

    Returns:
        ``(installed folder, mount point relative to site)`` pairs still to bind.
    """
    import micrograd_plus

    mounts = []
    for name, path in allowed_entries():
        target = site / name
        if path.is_file():
            shutil.copy2(path, target)
        elif mount_points:
            target.mkdir()
            mounts.append((path, name))
        else:
            target.symlink_to(path, target_is_directory=True)
    grader_src = Path(__file__).resolve().parents[1]
    _copy_package(grader_src, site / "grader", list(config.LEARNER_GRADER_MODULES))
    shutil.copy2(Path(__file__).with_name("runner.py"), site / RUNNER)
    number = get_lab(lab_id).number
    later = {lab.id for lab in LABS.values() if lab.number > number} | {"__init__"}
    helpers = [  # the lab's specs, earlier labs' specs and shared helper modules
        p.stem
        for p in (grader_src / "checking" / "specs").glob("*.py")
        if p.stem not in later and (not p.stem.startswith("fixture") or p.stem == lab_id)
    ]
    checking = site / "grader" / "checking"
    _copy_package(grader_src / "checking" / "specs", checking / "specs", ["__init__", *helpers])
    _copy_package(grader_src / "checking" / "hidden", checking / "hidden", ["__init__"])
    mgp_src = Path(micrograd_plus.__file__).parent
    _copy_package(mgp_src, site / "micrograd_plus", allowed_mgp_modules(lab_id))
    # micrograd_plus.data falls back to <site>/data/mnist_sample.npz: the home's copy
    (site / "data").symlink_to("../home/data", target_is_directory=True)
    return mounts
