"""Start JupyterLab on the labs for ``make lab``, as root or as an ordinary user.

Starts ``jupyter lab`` on ``NOTEBOOK_DIR`` (default ``labs``), listening on 127.0.0.1 at
``PORT`` (default 8888, or the next free port when ``PORT`` is not given), with the token
``JUPYTER_TOKEN`` (a random one unless you give your own). As root it adds
``--allow-root`` and says so in one line. ``LAB_ARGS`` passes further JupyterLab options
(say ``LAB_ARGS=--ip=0.0.0.0`` inside a container). The server's log goes to a file;
once the server answers, the last line printed is the URL to open, with its token.
Ctrl+C (or ending the server's pid) stops it.

Usage: ``python scripts/lab.py`` (``make lab`` runs it with the project's Python).
"""

from __future__ import annotations

import json
import os
import secrets
import shlex
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

START_WAIT_S = 120
ROOT_LINE = (
    "Running as root, so JupyterLab starts with --allow-root. An ordinary user is safer: "
    "code run in a notebook can then change only that user's files, not the whole system."
)


def runtime_dir() -> Path:
    """Where Jupyter writes its server files (``jpserver-<pid>.json``); made if missing."""
    from jupyter_core.paths import jupyter_runtime_dir

    path = Path(jupyter_runtime_dir())
    path.mkdir(parents=True, exist_ok=True)
    return path


def wants_browser() -> bool:
    """Open a browser only for an ordinary user with a desktop (never as root)."""
    if os.geteuid() == 0:
        return False
    return sys.platform == "darwin" or bool(
        os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")
    )


def command(notebook_dir: Path, port: str, extra: list[str]) -> list[str]:
    """The ``jupyter lab`` command line; options in ``extra`` come last and win."""
    cmd = [sys.executable, "-m", "jupyter", "lab", f"--ServerApp.root_dir={notebook_dir}"]
    cmd += ["--ip=127.0.0.1", f"--port={port or 8888}"]
    if port:
        cmd.append("--ServerApp.port_retries=0")  # the port asked for, or a clear failure
    if not wants_browser():
        cmd.append("--no-browser")
    if os.geteuid() == 0:
        cmd.append("--allow-root")
    return cmd + extra


def server_info(pid: int, folder: Path) -> dict[str, object] | None:
    """The server's own record of its URL and port, once it has written it."""
    path = folder / f"jpserver-{pid}.json"
    try:
        info: dict[str, object] = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    return info


def answers(url: str, token: str) -> bool:
    """Whether the server answers its status API with this token."""
    request = urllib.request.Request(
        f"{url.rstrip('/')}/api/status", headers={"Authorization": f"token {token}"}
    )
    try:
        with urllib.request.urlopen(request, timeout=2):
            return True
    except OSError:
        return False


def open_url(info: dict[str, object], token: str) -> str:
    """The address to open: localhost for a server on every interface."""
    host = str(info.get("hostname", "127.0.0.1"))
    if host in ("", "0.0.0.0", "::", "localhost"):
        host = "127.0.0.1"
    if ":" in host:
        host = f"[{host}]"
    base = str(info.get("base_url", "/"))
    return f"http://{host}:{info['port']}{base}lab?token={token}"


def wait_until_served(
    server: subprocess.Popen[bytes], folder: Path, token: str, log: Path
) -> str | None:
    """The URL to open once the server answers, or None when it stopped first."""
    deadline = time.monotonic() + START_WAIT_S
    while time.monotonic() < deadline:
        if server.poll() is not None:
            return None
        info = server_info(server.pid, folder)
        if info is not None:
            url = open_url(info, token)
            if answers(url.split("lab?token=")[0], token):
                return url
        time.sleep(0.3)
    print(f"JupyterLab did not answer within {START_WAIT_S} s; its log: {log}", file=sys.stderr)
    return None


def main() -> int:
    """Start the server, print where to open it, and wait for it to stop."""
    notebook_dir = Path(os.environ.get("NOTEBOOK_DIR") or "labs").resolve()
    if not notebook_dir.is_dir():
        print(f"NOTEBOOK_DIR {notebook_dir} is not a folder", file=sys.stderr)
        return 2
    token = os.environ.get("JUPYTER_TOKEN") or secrets.token_hex(24)
    folder = runtime_dir()
    log = folder / f"microgradplus-lab-{os.getpid()}.log"
    extra = shlex.split(os.environ.get("LAB_ARGS", ""))
    cmd = command(notebook_dir, os.environ.get("PORT", ""), extra)
    if os.geteuid() == 0:
        print(ROOT_LINE)
    with log.open("wb") as out:
        server = subprocess.Popen(
            cmd,
            env={**os.environ, "JUPYTER_TOKEN": token},
            stdin=subprocess.DEVNULL,  # Ctrl+C then stops it at once, without a question
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # Ctrl+C reaches this script, which stops the server
        )
    # Ctrl+C or SIGTERM: the server's own clean stop (it removes its runtime files)
    signal.signal(signal.SIGINT, lambda *_: server.terminate())
    signal.signal(signal.SIGTERM, lambda *_: server.terminate())
    url = wait_until_served(server, folder, token, log)
    if url is None:
        server.terminate()
        code = server.wait()
        print(f"JupyterLab stopped (exit {code}); the end of its log ({log}):", file=sys.stderr)
        print("\n".join(log.read_text(errors="replace").splitlines()[-8:]), file=sys.stderr)
        return 1
    print(f"JupyterLab (pid {server.pid}) serves {notebook_dir}; its log: {log}")
    print("Stop it with Ctrl+C. Open this URL in your browser:")
    print(url, flush=True)
    code = server.wait()
    if code in (0, -signal.SIGINT, -signal.SIGTERM):
        log.unlink(missing_ok=True)  # a clean stop: nothing to read in it
        return 0
    print(f"JupyterLab stopped (exit {code}); its log: {log}", file=sys.stderr)
    return code


if __name__ == "__main__":
    sys.exit(main())
