"""`make lab` as a learner runs it: as root and as an ordinary user.

Each test starts ``make lab`` (with ``PORT`` on a free port), waits for the URL it prints
last, fetches ``/lab`` and ``/api/contents/`` with the printed token, sees the five labs,
then stops the server by the pid ``make lab`` printed. As root, the ordinary user is
``nobody`` in a private mount namespace: root's home is private (mode 700) on machines
where the project's Python lives inside it (a pyenv build), so the namespace lays an open
folder over each closed one on the way to the interpreter and binds the interpreter back in.
"""

from __future__ import annotations

import json
import os
import queue
import re
import shutil
import signal
import socket
import stat
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from grader.labs import LABS

ROOT = Path(__file__).resolve().parents[1]
URL_WAIT_S = 90
URL = re.compile(r"^http://127\.0\.0\.1:(\d+)/lab\?token=([0-9a-f]+)$")

pytestmark = [pytest.mark.slow, pytest.mark.timeout(240)]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def jupyter_env(home: Path) -> dict[str, str]:
    """A fresh Jupyter home, no desktop (so no browser is opened)."""
    return {
        "HOME": str(home),
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "JUPYTER_CONFIG_DIR": str(home / "config"),
        "JUPYTER_RUNTIME_DIR": str(home / "runtime"),
        "JUPYTERLAB_SETTINGS_DIR": str(home / "lab-settings"),
        "JUPYTERLAB_WORKSPACES_DIR": str(home / "workspaces"),
        "LANG": "C.UTF-8",
    }


def reader(stream: object, lines: queue.Queue[str | None]) -> None:
    for line in iter(stream.readline, ""):  # type: ignore[attr-defined]
        lines.put(line.rstrip("\n"))
    lines.put(None)


def get(url: str, token: str | None = None) -> tuple[int, bytes]:
    headers = {"Authorization": f"token {token}"} if token else {}
    with urllib.request.urlopen(urllib.request.Request(url, headers=headers), timeout=10) as r:
        return r.status, r.read()


def serve_and_stop(cmd: list[str], env: dict[str, str] | None, port: int) -> list[str]:
    """Run ``make lab``, check what it serves, stop it by its pid; returns its output."""
    started = time.monotonic()
    make = subprocess.Popen(
        cmd,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        text=True,
        start_new_session=True,
    )
    lines: queue.Queue[str | None] = queue.Queue()
    threading.Thread(target=reader, args=(make.stdout, lines), daemon=True).start()
    seen: list[str] = []
    try:
        match = None
        while match is None:
            line = lines.get(timeout=max(1.0, URL_WAIT_S - (time.monotonic() - started)))
            if line is None:
                raise AssertionError("make lab ended before printing a URL:\n" + "\n".join(seen))
            seen.append(line)
            match = URL.match(line)
        assert int(match[1]) == port, seen
        token = match[2]
        status, page = get(f"http://127.0.0.1:{port}/lab?token={token}")
        assert status == 200 and b"JupyterLab" in page
        status, listing = get(f"http://127.0.0.1:{port}/api/contents/", token)
        names = {item["name"] for item in json.loads(listing)["content"]}
        labs = {lab.notebook for lab in LABS.values()}
        assert len(labs) == 5 and labs <= names, names
        with pytest.raises(urllib.error.HTTPError):  # the token is needed
            get(f"http://127.0.0.1:{port}/api/contents/")
        pids = [int(p) for p in re.findall(r"JupyterLab \(pid (\d+)\)", "\n".join(seen))]
        assert len(pids) == 1, seen
        os.kill(pids[0], signal.SIGTERM)
        assert make.wait(timeout=30) == 0
        while (line := lines.get(timeout=10)) is not None:
            seen.append(line)
        assert URL.match(seen[-1]), f"the URL is not the last line: {seen[-3:]}"
        return seen
    finally:
        if make.poll() is None:
            os.killpg(make.pid, signal.SIGKILL)
            make.wait(timeout=10)


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root")
def test_make_lab_serves_the_labs_as_root(tmp_path: Path) -> None:
    """As root, does `make lab` say it adds --allow-root and serve the labs all the same?"""
    port = free_port()
    out = serve_and_stop(
        ["make", "-C", str(ROOT), "--no-print-directory", "lab", f"PORT={port}"],
        jupyter_env(tmp_path / "home"),
        port,
    )
    assert sum("--allow-root" in line for line in out) == 1, out
    assert not any("Error" in line for line in out), out


def closed_ancestor(path: Path) -> Path | None:
    """The topmost folder on the way to ``path`` that other users may not enter."""
    for folder in [*reversed(path.parents), path]:
        if not folder.stat().st_mode & stat.S_IXOTH:
            return folder
    return None


def reopen_script(paths: list[Path], staging: Path) -> list[str]:
    """Shell lines that make each of ``paths`` reachable for other users (in a mount ns)."""
    lines = []
    closed: dict[Path, list[tuple[Path, Path]]] = {}
    for index, path in enumerate(paths):
        folder = closed_ancestor(path)
        if folder is None:
            continue
        if folder == path:
            pytest.skip(f"{path} itself is closed to other users")
        kept = staging / str(index)
        kept.mkdir()
        lines.append(f"mount --bind '{path}' '{kept}'")
        closed.setdefault(folder, []).append((path, kept))
    for folder, kept_paths in closed.items():
        lines.append(f"mount -t tmpfs -o mode=755 tmpfs '{folder}'")
        for path, kept in kept_paths:
            lines += [f"mkdir -p '{path}'", f"mount --bind '{kept}' '{path}'"]
    return lines


@pytest.fixture
def user_home() -> Iterator[Path]:
    """A home folder for ``nobody`` outside pytest's private temporary folders."""
    home = Path(tempfile.mkdtemp(prefix="mgp-make-lab-"))
    home.chmod(0o755)
    try:
        yield home
    finally:
        shutil.rmtree(home, ignore_errors=True)


def test_make_lab_serves_the_labs_as_an_ordinary_user(user_home: Path) -> None:
    """As an ordinary user, does `make lab` serve NOTEBOOK_DIR without a word about root?"""
    port = free_port()
    labs = user_home / "my-labs"
    shutil.copytree(ROOT / "labs", labs)
    make_args = ["make", "-C", str(ROOT), "--no-print-directory", "lab", f"PORT={port}"]
    make_args.append(f"NOTEBOOK_DIR={labs}")
    env = jupyter_env(user_home)
    if os.geteuid() != 0:
        out = serve_and_stop(make_args, env, port)
    else:
        if not (shutil.which("runuser") and shutil.which("unshare")):
            pytest.skip("runuser and unshare are needed to run as another user")
        probe = subprocess.run(["unshare", "-m", "true"], capture_output=True, timeout=30)
        if probe.returncode != 0:
            pytest.skip(f"no private mount namespace here: {probe.stderr.decode().strip()}")
        python = Path(sys.base_prefix).resolve()
        venv = (ROOT / ".venv").resolve()
        with tempfile.TemporaryDirectory() as staging:
            lines = reopen_script([ROOT, venv, python], Path(staging))
            for path in user_home.rglob("*"):
                os.chown(path, 65534, 65534, follow_symlinks=False)
            os.chown(user_home, 65534, 65534)
            script = "\n".join(["set -e", *lines, 'exec runuser -u nobody -- env -i "$@"'])
            assignments = [f"{key}={value}" for key, value in env.items()]
            cmd = ["unshare", "-m", "--propagation", "private", "sh", "-c", script, "sh"]
            out = serve_and_stop(cmd + assignments + make_args, None, port)
    assert not any("--allow-root" in line for line in out), out
