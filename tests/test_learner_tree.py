"""One definition of what a learner gets, shared by the lab bundles, the learner image and the hub.

``grader/assign/learner_tree.py`` defines it; these tests hold the bundles, the learner
environment and ``docker/learner_tree.sh`` (the learner image's tree) to it.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from grader.assign import bundle, learner_env, learner_tree
from grader.assign.release import ReleaseError
from grader.config import REPO
from grader.labs import LABS


def files_under(folder: Path) -> set[str]:
    return {p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file()}


def test_union_of_lab_bundles_is_the_definition() -> None:
    """Do the lab bundles, taken together, hold exactly what a learner gets, file for file?"""
    union: dict[str, Path] = {}
    for lab in LABS.values():
        for name, source in bundle.bundle_files(lab.id, REPO / "labs").items():
            union[f"labs/{name}" if name == lab.notebook else name] = source
    assert union == learner_tree.learner_files()


def test_learner_environment_writes_the_definition_and_the_hub_client(tmp_path: Path) -> None:
    """Does the hub's learner tree hold the definition and only the exchange files beside it?"""
    out = learner_env.build_learner_env(out=tmp_path / "env", tree_only=True)
    written = files_under(out / "course")
    assert written == set(learner_tree.learner_files()) | set(learner_env.HUB_ONLY)
    for name, source in learner_env.HUB_ONLY.items():
        assert (out / "course" / name).read_bytes() == (REPO / source).read_bytes(), name


def test_image_script_writes_the_definition(tmp_path: Path) -> None:
    """Does docker/learner_tree.sh (the learner image's tree) write exactly the definition?"""
    tree = tmp_path / "tree"
    done = subprocess.run(
        ["bash", str(REPO / "docker" / "learner_tree.sh"), str(REPO), str(tree)],
        env={**os.environ, "PYTHON": sys.executable},
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    files = learner_tree.learner_files()
    assert files_under(tree) == set(files)
    assert all((tree / name).read_bytes() == source.read_bytes() for name, source in files.items())
    assert f"learner tree: {len(files)} files" in done.stdout


def test_definition_leaves_out_answers_and_instructor_tools() -> None:
    """Is lab 1.7.5's own reference out (its DataLoader, accuracy, evaluate and train_epoch are
    the lab's tasks), with the grading-side tools, the fixtures, the build files and the
    instructor's docs?"""
    files = learner_tree.learner_files()
    for name in (
        "micrograd_plus/train.py",
        "grader/learner/validate.py",  # grades against solutions/' key: the instructor's
        "grader/redteam/measure.py",
        "grader/checking/specs/fixture.py",
        "grader/exchange.py",
        "pyproject.toml",
        "README.md",
        "data/README.md",
        "docker/entrypoint.sh",
        "scripts/keep_installed.py",
    ):
        assert name in files or (REPO / name).is_file(), name
        assert name not in files, name
    for name in files:
        assert not name.startswith(("solutions/", "tests/", "docs/", "docker/")), name
        module = name.removesuffix(".py").replace("/", ".")
        assert not module.startswith(learner_tree.INSTRUCTOR_ONLY) or module.endswith(
            "hidden.__init__"
        ), name
    for lab in LABS.values():
        assert f"labs/{lab.notebook}" in files
        assert f"grader/checking/specs/{lab.id}.py" in files
        assert f"grader/checking/misconceptions/{lab.id}.py" in files


def test_a_lab_never_gets_its_own_or_later_reference() -> None:
    """Does a learner of lab N get the reference of the earlier labs only?"""
    for lab in LABS.values():
        files = learner_tree.lab_files(lab.id)
        for later in LABS.values():
            for module in later.modules:
                held = f"micrograd_plus/{module}.py" in files
                assert held == (later.number < lab.number), (lab.id, module)


def test_lab5_assembler_runs_from_lab5_files_alone(tmp_path: Path) -> None:
    """Does lab 1.7.5's assembler (the notebook imports it) check a part of the learner's
    framework with only what a learner of lab 1.7.5 gets, no red team, no hidden checks?"""
    tree = learner_tree.write_tree(tmp_path / "lab5", learner_tree.lab_files("lab5"))
    program = (
        "import grader.learner.assemble as a, grader.learner.explain\n"
        f"assert a.__file__.startswith({str(tree)!r}), a.__file__\n"
        "print(a.check_part(a.PARTS[0], ''))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", program],
        cwd=tree,
        env={**os.environ, "PYTHONDONTWRITEBYTECODE": "1"},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.startswith("not defined: Tensor"), done.stdout


def test_notebook_imports_follow_its_code_cells(tmp_path: Path) -> None:
    """Are a notebook's grader imports read from its code cells, magics skipped?"""
    notebook = tmp_path / "nb.ipynb"
    cells = [
        {"cell_type": "markdown", "source": "import grader.cli"},
        {"cell_type": "code", "source": ["%matplotlib inline\n", "from grader import check\n"]},
        {"cell_type": "code", "source": "try:\n    import grader.learner.explain\nexcept: pass"},
        {"cell_type": "code", "source": "def broken(:\n    import grader.pipeline"},
    ]
    notebook.write_text(json.dumps({"cells": cells}))
    assert learner_tree.notebook_imports(notebook) == {"grader", "grader.learner.explain"}


def test_a_notebook_importing_an_instructor_tool_is_refused(tmp_path: Path) -> None:
    """Is a lab whose released notebook imports the grading pipeline refused, not shipped?"""
    labs = tmp_path / "labs"
    labs.mkdir()
    lab = LABS["lab1"]
    nb = json.loads((REPO / "labs" / lab.notebook).read_text())
    nb["cells"].append({"cell_type": "code", "source": "import grader.pipeline.grading"})
    (labs / lab.notebook).write_text(json.dumps(nb))
    with pytest.raises(ReleaseError, match=r"grader\.pipeline"):
        learner_tree.lab_files("lab1", labs=labs)


def test_hub_image_adds_to_the_learner_image_what_the_learner_environment_adds() -> None:
    """Does the hub's single-user image (FROM the learner image) copy in exactly the files the
    hub's learner environment adds to the definition, the exchange client into the tree?"""
    dockerfile = REPO / "deploy" / "jupyterhub" / "Dockerfile"
    copies = {
        line.split()[1]: line.split()[2]
        for line in dockerfile.read_text().splitlines()
        if line.startswith("COPY")
    }
    assert set(copies) == set(learner_env.HUB_ONLY.values())
    assert copies["grader/exchange.py"] == "${MGP_HOME}/grader/exchange.py"
