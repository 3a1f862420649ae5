"""The Gradescope autograder zip, run as Gradescope runs it.

``python -m grader gradescope --lab 1`` builds the zip once; it is unpacked into
temporary folders laid out like Gradescope's ``/autograder`` (``source/``,
``run_autograder``, ``submission/``; the root set by ``AUTOGRADER_ROOT``), and
``run_autograder`` grades three submissions of lab 1 side by side: the solution, the
released stub and a planted bug. Each ``results.json`` is validated against a JSON
Schema of Gradescope's documented format (``tests/fixtures/gradescope-results.schema.json``).

Where a package registry answers, the zip's own ``setup.sh`` first builds a fresh virtual
environment from its ``requirements.txt`` alone (``SKIP_APT=1``: no system packages here;
``TORCH_INDEX_URL=""``: this machine's pip finds the CPU torch wheel itself), and
``run_autograder`` grades with that interpreter, outside this repository; offline, the
tests grade with this interpreter and the fresh-environment test is skipped.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import stat
import subprocess
import sys
import zipfile
from pathlib import Path
from typing import Any

import jsonschema
import nbformat
import pytest

from grader import config
from grader.redteam import apply_bug, bugs_for
from grader.redteam.learner import learner_notebook, load_labs

ROOT = Path(__file__).resolve().parents[1]
SCHEMA = json.loads((ROOT / "tests" / "fixtures" / "gradescope-results.schema.json").read_text())
LAB = "lab1"
SEED = 3

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def autograder_zip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("gradescope") / "autograder.zip"
    command = ["gradescope", "--lab", "1", "--seed", str(SEED), "--out", str(out)]
    done = subprocess.run(
        [sys.executable, "-m", "grader", *command],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    return out


def _registry_answers() -> bool:
    try:
        socket.create_connection(("pypi.org", 443), timeout=5).close()
    except OSError:
        return False
    return True


@pytest.fixture(scope="module")
def fresh_python(
    autograder_zip: Path, tmp_path_factory: pytest.TempPathFactory
) -> tuple[str | None, str]:
    """The interpreter of the virtual environment the zip's setup.sh builds in a fresh folder
    (pip against the registry, nothing of this repository), or None and why."""
    if not _registry_answers():
        return None, "no package registry answers (offline)"
    root = tmp_path_factory.mktemp("fresh-autograder")
    with zipfile.ZipFile(autograder_zip) as archive:
        archive.extractall(root / "source")
    env = {
        key: value for key, value in os.environ.items() if key not in ("PYTHONPATH", "VIRTUAL_ENV")
    }
    env.update(AUTOGRADER_ROOT=str(root), SKIP_APT="1", TORCH_INDEX_URL="")
    done = subprocess.run(
        ["bash", str(root / "source" / "setup.sh")],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return str(root / "venv" / "bin" / "python"), ""


def _submissions() -> dict[str, tuple[Any, set[str] | None]]:
    """Name -> (notebook, the checks it must fail; None for every check)."""
    files = next(f for f in load_labs(config.SOLUTIONS, config.LABS_DIR) if f.lab.id == LAB)
    bug = bugs_for(LAB)[0]
    return {
        "solution": (learner_notebook(files), set()),
        "stub": (files.released, None),
        "bug": (learner_notebook(files, apply_bug(files.source, bug)), set(bug.fails)),
    }


@pytest.fixture(scope="module")
def graded(
    autograder_zip: Path,
    tmp_path_factory: pytest.TempPathFactory,
    fresh_python: tuple[str | None, str],
) -> dict[str, tuple[dict[str, Any], set[str] | None]]:
    """Each submission's results.json, graded by run_autograder in its own /autograder (with
    the fresh environment's interpreter where there is one)."""
    python = fresh_python[0] or sys.executable
    runs = {}
    for name, (nb, fails) in _submissions().items():
        root = tmp_path_factory.mktemp(f"autograder-{name}")
        with zipfile.ZipFile(autograder_zip) as archive:
            archive.extractall(root / "source")
        shutil.copy(root / "source" / "run_autograder", root / "run_autograder")
        (root / "submission").mkdir()
        nbformat.write(nb, root / "submission" / f"my-{name}.ipynb")  # renamed on purpose
        env = {**os.environ, "AUTOGRADER_ROOT": str(root), "AUTOGRADER_PYTHON": python}
        env.pop("PYTHONPATH", None)
        process = subprocess.Popen(
            ["bash", str(root / "run_autograder")],
            cwd=root,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        runs[name] = (root, process, fails)
    results = {}
    for name, (root, process, fails) in runs.items():
        output, _ = process.communicate(timeout=600)
        assert process.returncode == 0, output
        results[name] = (json.loads((root / "results" / "results.json").read_text()), fails)
    return results


def test_setup_builds_a_fresh_environment(
    fresh_python: tuple[str | None, str],
    graded: dict[str, tuple[dict[str, Any], set[str] | None]],
) -> None:
    """Does the zip's setup.sh build, from its requirements alone, an environment whose
    interpreter grades the three submissions (with valid results)?"""
    python, why = fresh_python
    if python is None:
        pytest.skip(why)
    version = subprocess.run(
        [python, "-c", "import torch, numpy; print(torch.__version__, numpy.__version__)"],
        capture_output=True,
        text=True,
        cwd="/",
    )
    assert version.returncode == 0 and "+cpu" in version.stdout, version.stderr
    for results, _ in graded.values():
        jsonschema.validate(results, SCHEMA)


def test_requirements_pin_public_versions_and_setup_checks_python(autograder_zip: Path) -> None:
    """Are the requirements free of local version tags, and does setup.sh update apt's lists
    before installing, check the image's Python, and use the CPU torch index by default?"""
    with zipfile.ZipFile(autograder_zip) as archive:
        requirements = archive.read("requirements.txt").decode().split()
        setup = archive.read("setup.sh").decode()
    assert requirements and not any("+" in line for line in requirements)
    assert setup.index("apt-get update") < setup.index("apt-get install")
    assert "sys.version_info < (3, " in setup and "needs Python >=" in setup
    assert "https://download.pytorch.org/whl/cpu" in setup


def test_zip_layout(autograder_zip: Path) -> None:
    """Does the zip hold setup.sh and run_autograder (executable) at its root, pinned
    requirements, and of the solutions only this lab's notebook?"""
    with zipfile.ZipFile(autograder_zip) as archive:
        names = archive.namelist()
        modes = {info.filename: info.external_attr >> 16 for info in archive.infolist()}
        requirements = archive.read("requirements.txt").decode().split()
        settings = json.loads(archive.read("gradescope.json"))
    for script in ("setup.sh", "run_autograder"):
        assert script in names and modes[script] & stat.S_IXUSR
    assert all("==" in line for line in requirements) and any(
        line.startswith("torch==") for line in requirements
    )
    solutions = [n for n in names if n.startswith("solutions/")]
    assert solutions == ["solutions/lab-1.7.1-core-tensor-implementation.ipynb"]
    assert not any("redteam" in n or "__pycache__" in n for n in names)
    assert settings["lab"] == LAB and settings["seed"] == SEED


@pytest.mark.skipif(shutil.which("shellcheck") is None, reason="shellcheck is not installed")
def test_scripts_pass_shellcheck(autograder_zip: Path, tmp_path: Path) -> None:
    """Do setup.sh and run_autograder pass shellcheck?"""
    with zipfile.ZipFile(autograder_zip) as archive:
        archive.extractall(tmp_path, members=["setup.sh", "run_autograder"])
    done = subprocess.run(
        [
            "shellcheck",
            "--shell=bash",
            str(tmp_path / "setup.sh"),
            str(tmp_path / "run_autograder"),
        ],
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stdout


@pytest.mark.parametrize("name", ["solution", "stub", "bug"])
def test_results_follow_gradescope_format(
    graded: dict[str, tuple[dict[str, Any], set[str] | None]], name: str
) -> None:
    """Is each results.json valid against Gradescope's format, with a total equal to its
    tests' scores and exactly the expected checks failed?"""
    results, fails = graded[name]
    jsonschema.validate(results, SCHEMA)
    tests = results["tests"]
    assert tests and results["score"] == sum(t["score"] for t in tests)
    failed = {t["name"].split(": ", 1)[1] for t in tests if t["status"] == "failed"}
    everything = {t["name"].split(": ", 1)[1] for t in tests}
    assert failed == (everything if fails is None else fails)
    assert "Status: graded" in results["output"]
    assert "named lab-1.7.1-core-tensor-implementation.ipynb" in results["output"]


def test_hidden_checks_are_not_shown_before_publishing(
    graded: dict[str, tuple[dict[str, Any], set[str] | None]],
) -> None:
    """Are hidden checks after_published, reporting only pass/fail and a hint, while visible
    checks show the learner's error or their expected-vs-got table?"""
    tests = graded["stub"][0]["tests"]
    hidden = [t for t in tests if t["visibility"] == "after_published"]
    visible = [t for t in tests if t["visibility"] == "visible"]
    assert hidden and visible
    for test in hidden:
        assert test["output"].startswith("hidden check ") and "expected" not in test["output"]
    assert all("NotImplementedError" in t["output"] for t in visible)
    bug = [t for t in graded["bug"][0]["tests"] if t["status"] == "failed"]
    assert any("expected" in t["output"] for t in bug if t["visibility"] == "visible")


def test_a_submission_without_a_notebook_scores_zero(autograder_zip: Path, tmp_path: Path) -> None:
    """Does an upload without one notebook get 0 and say what to upload, in valid results?"""
    from grader.runs.gradescope import find_notebook

    (tmp_path / "a.ipynb").write_text("{}")
    (tmp_path / "b.ipynb").write_text("{}")
    path, note = find_notebook(tmp_path, "lab-1.7.1-core-tensor-implementation.ipynb")
    assert path is None and "Upload exactly one notebook" in note and "a.ipynb, b.ipynb" in note
