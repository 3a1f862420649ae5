"""The instructor's MNIST grading set never reaches a learner: not in labs/, a bundle or the image.

``grader/checking/hidden/mnist_grading.npz`` (2,000 digits that are not in the learner's sample, see
``data/README.md``) is what lab 1.7.5's model accuracy is measured on. A learner who had it
could fake that accuracy from its labels, so every way the course reaches a learner is
checked for it, by name and by content.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from grader.assign.bundle import write_bundle
from grader.config import REPO
from grader.labs import LABS

GRADING_PATH = REPO / "grader" / "checking" / "hidden" / "mnist_grading.npz"
GRADING_NAME = GRADING_PATH.stem
RELEASED_LABS = [lab for lab in LABS.values() if (REPO / "labs" / lab.notebook).is_file()]


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@pytest.fixture(scope="module")
def grading_sha256() -> str:
    assert GRADING_PATH.is_file(), "run scripts/build_mnist_sample.py"
    return sha256(GRADING_PATH.read_bytes())


def test_labs_hold_no_grading_set(grading_sha256: str) -> None:
    """Does no file under labs/ hold the grading set, or name its file?"""
    for path in (REPO / "labs").rglob("*"):
        if path.is_file():
            data = path.read_bytes()
            assert sha256(data) != grading_sha256, path
            assert GRADING_NAME.encode() not in data, path


@pytest.mark.parametrize("lab", RELEASED_LABS, ids=[lab.id for lab in RELEASED_LABS])
def test_bundle_holds_no_grading_set(lab: object, grading_sha256: str, tmp_path: Path) -> None:
    """Does each released lab's learner bundle leave the grading set out?"""
    from grader.labs import Lab

    assert isinstance(lab, Lab)
    with zipfile.ZipFile(write_bundle(lab=lab.id, out=tmp_path)) as archive:
        names = archive.namelist()
        assert not [n for n in names if GRADING_NAME in n]
        assert all(sha256(archive.read(n)) != grading_sha256 for n in names)
        assert any(n.endswith("data/mnist_sample.npz") for n in names)


def test_learner_tree_holds_no_grading_set(grading_sha256: str, tmp_path: Path) -> None:
    """Does the learner image's tree (docker/learner_tree.sh) leave the grading set out?"""
    tree = tmp_path / "tree"
    subprocess.run(
        ["bash", str(REPO / "docker" / "learner_tree.sh"), str(REPO), str(tree)],
        env={**os.environ, "PYTHON": sys.executable},
        check=True,
        capture_output=True,
        timeout=120,
    )
    files = [p for p in tree.rglob("*") if p.is_file()]
    assert (tree / "data" / "mnist_sample.npz") in files
    assert not [p for p in files if GRADING_NAME in p.name]
    assert all(sha256(p.read_bytes()) != grading_sha256 for p in files)
