"""Finding hand-ins: one walker reads the files, the layouts only parse names (fast).

The exchange's ``inbound/`` is writable by every learner: an entry is a learner's only when the
account that created it is that learner (or the instructor's, or an account without a passwd
entry, as in a copied exchange).
"""

from __future__ import annotations

import ast
import datetime as dt
import os
import pwd
from pathlib import Path

import pytest

import grader.pipeline.claims as claims
import grader.pipeline.layouts as layouts
from grader.checking.specs import fixture
from grader.pipeline.discover import discover

NOTEBOOKS = {fixture.LAB.notebook: "fixture"}
UTC = dt.timezone.utc
NB = '{"cells": [], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}'
ASSIGNMENT = fixture.LAB.notebook.removesuffix(".ipynb")
PARSERS = [Path(layouts.__file__), Path(claims.__file__)]
FILE_IO = {"open", "listdir", "scandir", "walk", "stat", "lstat", "iterdir", "glob", "rglob",
           "read_text", "read_bytes", "is_file", "is_dir", "is_symlink", "exists", "isfile",
           "isdir", "islink", "readlink", "getsize"}  # fmt: skip


def _nobody() -> pwd.struct_passwd:
    if os.geteuid() != 0:
        pytest.skip("setting a file's owner needs root (os.chown)")
    try:
        return pwd.getpwnam("nobody")
    except KeyError:
        pytest.skip("no 'nobody' account to own a file")


def _entry(inbound: Path, learner: str, when: str, uid: int | None = None) -> Path:
    folder = inbound / f"{learner}+{ASSIGNMENT}+2026-03-01 {when}.000000 UTC+r{when[:2]}"
    folder.mkdir(parents=True)
    (folder / fixture.LAB.notebook).write_text(NB)
    if uid is not None:
        for path in (folder, folder / fixture.LAB.notebook):
            os.chown(path, uid, -1)
    return folder


def _discover(root: Path, tmp_path: Path):
    unpack = tmp_path / "unpacked"
    unpack.mkdir()
    return discover(root, NOTEBOOKS, unpack_to=unpack, max_bytes=1 << 20)


def test_an_inbound_entry_made_by_another_account_is_not_the_learners(tmp_path: Path) -> None:
    """Is an exchange entry named for ada but created by another account ignored, flagged
    ``not-owner`` on ada's row with the account named, and her own submission graded?"""
    nobody = _nobody()
    inbound = tmp_path / "exchange" / "inbound"
    real = _entry(inbound, "ada", "09:00:00")
    forged = _entry(inbound, "ada", "10:00:00", nobody.pw_uid)  # later: it would supersede
    found = _discover(tmp_path / "exchange", tmp_path)
    assert found.found["ada"]["fixture"] == real / fixture.LAB.notebook
    assert f"ignored-file:not-owner:{forged.name}" in found.flags["ada"]
    assert not any(flag.startswith("duplicate-submission") for flag in found.flags["ada"])
    assert any("nobody" in note and forged.name in note for note in found.notes)
    assert "nobody" not in found.found


def test_an_inbound_entry_made_by_its_own_learner_is_graded(tmp_path: Path) -> None:
    """Is an entry whose creating account is the learner it names graded, as are entries of
    accounts without a passwd entry (a copied exchange)?"""
    nobody = _nobody()
    inbound = tmp_path / "exchange" / "inbound"
    own = _entry(inbound, "nobody", "09:00:00", nobody.pw_uid)
    unknown = max(entry.pw_uid for entry in pwd.getpwall()) + 1000
    copied = _entry(inbound, "ada", "09:00:00", unknown)
    found = _discover(tmp_path / "exchange", tmp_path)
    assert found.found["nobody"]["fixture"] == own / fixture.LAB.notebook
    assert found.found["ada"]["fixture"] == copied / fixture.LAB.notebook
    assert not [flag for flags in found.flags.values() for flag in flags if "not-owner" in flag]


def test_the_walker_sees_file_reading(tmp_path: Path) -> None:
    """Does the file-reading check see ``open``, ``os.listdir`` and ``Path.read_text``?"""
    sample = tmp_path / "sample.py"
    sample.write_text("import os\ndef f(p):\n    return open(p), os.listdir(p), p.read_text()\n")
    assert _file_reading(sample) == ["listdir", "open", "read_text"]


def _file_reading(path: Path) -> list[str]:
    calls = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Call):
            func = node.func
            name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
            if name in FILE_IO:
                calls.append(name)
    return sorted(calls)


@pytest.mark.parametrize("source", PARSERS, ids=lambda path: path.name)
def test_parsers_never_read_files(source: Path) -> None:
    """Do ``layouts.py`` and ``claims.py`` only parse what the walker read (no ``open``,
    listing, ``stat``, ``Path.read_*``, nor an ``os``/``Path`` import)?"""
    assert _file_reading(source) == []
    imported = {
        alias.name
        for node in ast.walk(ast.parse(source.read_text(encoding="utf-8")))
        if isinstance(node, ast.Import | ast.ImportFrom)
        for alias in node.names
    }
    assert not imported & {"os", "Path", "shutil", "zipfile", "pwd"}


def test_the_timestamp_beside_a_notebook_is_its_time(tmp_path: Path) -> None:
    """In plain folders, is the ``timestamp.txt`` beside a notebook its time, while one that is
    a link or over 1000 bytes is not read?"""
    root = tmp_path / "sub"
    for who in ("ada", "bob", "cy"):
        (root / who).mkdir(parents=True)
        (root / who / fixture.LAB.notebook).write_text(NB)
    (root / "ada" / "timestamp.txt").write_text("2026-03-01 12:00:00.000000 UTC")
    (root / "bob" / "timestamp.txt").symlink_to(root / "ada" / "timestamp.txt")
    (root / "cy" / "timestamp.txt").write_text("2026-03-01 12:00:00 UTC" + " " * 1000)
    found = _discover(root, tmp_path)
    assert found.handins["ada", "fixture"].submitted == dt.datetime(2026, 3, 1, 12, tzinfo=UTC)
    assert found.handins["bob", "fixture"].submitted is None
    assert found.handins["cy", "fixture"].submitted is None
