"""The learner environment: what a learner's JupyterLab runs from on a hub, and nothing more.

Two parts in one folder ``OUT``:

- ``OUT/course``: the learner tree: what a learner gets
  (:func:`grader.assign.learner_tree.learner_files`, the one definition the lab bundles and
  the learner image share), the exchange client the hub alone needs (:data:`HUB_ONLY`) and
  nbgrader's exchange settings (``course/jupyter/nbgrader_config.py``). Never
  ``solutions/``, the hidden checks, the red team's planted bugs, the grading set, a
  gradebook or the instructor's tools.
- ``OUT/venv``: a virtual environment with the learner's packages (the project's
  dependencies, its ``lab`` and ``torch`` extras, nbgrader and JupyterHub's
  ``jupyterhub-singleuser``) whose site folder points at ``OUT/course`` through a ``.pth``
  file, as the learner image's site folder points at its tree (``docker/install.sh project``).

``OUT/venv/bin/jupyterhub-singleuser`` is the command a hub starts for a learner
(``MGP_LEARNER_ENV=OUT`` in ``deploy/jupyterhub/jupyterhub_config.py``). The venv is rebuilt
only when its requirements or interpreter change; the tree is written afresh every time.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

from grader.assign.learner_tree import learner_files, write_tree
from grader.config import REPO

EXTRAS = ("lab", "torch")
"""The ``pyproject.toml`` extras a learner's environment installs."""

ALSO = ("nbgrader", "nbformat", "nbconvert", "nbclient", "mistune", "jupyterhub")
"""Single pins taken from other extras: nbgrader (the Assignments panel: fetch, submit) and
the hub's single-user server; not the grader's sandbox."""

HUB_ONLY = {
    "grader/exchange.py": "grader/exchange.py",
    "jupyter/nbgrader_config.py": "deploy/jupyterhub/nbgrader_config.py",
}
"""``{path in the learner tree: path in the project}`` beyond what every learner gets: the
exchange client (its submit class, which ``nbgrader_config.py`` names) and nbgrader's exchange
settings, at ``course/jupyter/`` (the learner's JUPYTER_CONFIG_PATH). Only a hub has an
exchange; a bundle or the learner image would hold them unused."""

STAMP = ".microgradplus-requirements"
ROLE_STAMP = ".microgradplus-learner-role"
INSTRUCTOR_EXTENSIONS = ("formgrader", "course_list", "create_assignment")
"""nbgrader's extensions a learner has no use for (``docker/install.sh role`` turns them off
in the learner image too); the Assignments panel (``assignment_list``) stays on."""


def hub_files(root: Path = REPO, labs: Path | None = None) -> dict[str, Path]:
    """``{path inside the hub's learner tree: source file}``: what every learner gets and
    :data:`HUB_ONLY`.

    Raises:
        ReleaseError: a lab is not released, or a released notebook holds solution or
            hidden-test text.
    """
    extra = {name: root / source for name, source in HUB_ONLY.items()}
    return dict(sorted({**learner_files(root, labs), **extra}.items()))


def requirements(root: Path = REPO) -> list[str]:
    """The learner's requirement lines, read from ``pyproject.toml``."""
    if sys.version_info >= (3, 11):
        import tomllib
    else:  # pragma: no cover - Python 3.10: pip's own TOML parser
        from pip._vendor import tomli as tomllib

    project = tomllib.loads((root / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    extras: dict[str, list[str]] = project["optional-dependencies"]
    lines = list(project["dependencies"])
    for extra in EXTRAS:
        lines += extras[extra]
    for name in ALSO:
        lines += [
            line
            for lines_of in extras.values()
            for line in lines_of
            if re.split(r"[<>=!~\[; ]", line, maxsplit=1)[0] == name
        ][:1]
    return lines


def build_venv(venv: Path, *, python: str, lines: list[str], tree: Path) -> Path:
    """Create (or reuse) ``venv`` with ``lines`` installed and ``tree`` on its path."""
    version = subprocess.run(
        [python, "-c", "import sys; print(sys.version)"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    want = hashlib.sha256("\n".join([python, version, *lines]).encode()).hexdigest()
    stamp = venv / STAMP
    if not (stamp.is_file() and stamp.read_text() == want):
        if venv.exists():
            shutil.rmtree(venv)
        subprocess.run([python, "-m", "venv", str(venv)], check=True)
        pip = [str(venv / "bin" / "python"), "-m", "pip", "install", "--quiet"]
        subprocess.run([*pip, *lines], check=True)
        stamp.write_text(want)
    if not (venv / ROLE_STAMP).is_file():
        learner_role(venv)
        (venv / ROLE_STAMP).write_text("\n".join(INSTRUCTOR_EXTENSIONS))
    where = "import sysconfig; print(sysconfig.get_path('purelib'))"
    site = subprocess.run(
        [str(venv / "bin" / "python"), "-c", where],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    (Path(site) / "microgradplus-learner.pth").write_text(f"{tree}\n")
    return venv


def learner_role(venv: Path) -> None:
    """Turn off nbgrader's instructor extensions (formgrader, course list, create assignment)."""
    jupyter = [str(venv / "bin" / "python"), "-m", "jupyter"]
    server = [f"nbgrader.server_extensions.{name}" for name in INSTRUCTOR_EXTENSIONS[:2]]
    lab = [f"@jupyter/nbgrader:{name.replace('_', '-')}" for name in INSTRUCTOR_EXTENSIONS]
    for command in (
        [*jupyter, "server", "extension", "disable", "--sys-prefix", *server],
        [*jupyter, "labextension", "disable", "--level=sys_prefix", *lab],
    ):
        subprocess.run(command, check=True, capture_output=True)


def build_learner_env(
    *, out: Path, python: str | None = None, venv: Path | None = None, tree_only: bool = False
) -> Path:
    """Write the learner environment into ``out`` (see the module's docstring).

    Args:
        out: the environment's folder: ``out/course`` (the tree) and ``out/venv``.
        python: the interpreter the venv is made from (default: this one). On a hub it must
            be one every learner account can run (not a build inside root's home).
        venv: where the venv goes (default ``out/venv``).
        tree_only: write the tree only (the learner image installs its packages itself).

    Returns:
        ``out``.
    """
    out = Path(out).absolute()
    out.mkdir(parents=True, exist_ok=True)
    out.chmod(0o755)
    tree = write_tree(out / "course", hub_files())
    if not tree_only:
        build_venv(
            Path(venv).absolute() if venv else out / "venv",
            python=python or sys.executable,
            lines=requirements(),
            tree=tree,
        )
        for folder, _, names in os.walk(venv or out / "venv"):
            for name in [*names, "."]:
                path = Path(folder, name)
                mode = path.lstat().st_mode
                if not path.is_symlink() and mode & 0o055 != 0o055:
                    runnable = path.is_dir() or mode & 0o100
                    path.chmod(mode | 0o044 | (0o011 if runnable else 0))
    return out
