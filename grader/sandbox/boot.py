"""Starting a sandbox: its folder, its ``site``, its process, its control pipe.

:func:`start` builds a private folder (the ``site`` of what the learner may import,
a home, the files the runner writes into), then starts the runner, inside bubblewrap
with full isolation (:mod:`grader.sandbox.bwrap`) or with resource limits alone with
reduced isolation. The runner warms up (the lab's checks, the modules its notebook
imports) and waits for its job; :func:`grader.sandbox.launch.finish` sends it. Nothing of
any learner is in a sandbox before it is given its one job.
"""

from __future__ import annotations

import contextlib
import os
import queue
import secrets
import shutil
import signal
import subprocess
import tempfile
import threading
from dataclasses import dataclass
from pathlib import Path

import grader.sandbox.bwrap as bwrap
from grader import config
from grader.sandbox.results import SandboxSetupError
from grader.sandbox.site import RUNNER, build_site


def isolation_problem() -> str:
    """Empty when full isolation works on this machine; otherwise why not."""
    return bwrap.available()


def full_isolation_available() -> bool:
    return not isolation_problem()


def sandbox_binary() -> str:
    """The ``bwrap`` that full isolation runs, with its version and origin ("" where none)."""
    found = bwrap.binary()
    return "" if isinstance(found, str) else found.describe()


def environment(home: str) -> dict[str, str]:
    return {
        "PATH": "/usr/bin:/bin",
        "HOME": home,
        "TMPDIR": "/tmp" if home == "/home" else home,
        "LANG": "C.UTF-8",
        "MPLBACKEND": "Agg",
        "MPLCONFIGDIR": f"{home}/.matplotlib",
        "OMP_NUM_THREADS": "1",
        "OPENBLAS_NUM_THREADS": "1",
        "MKL_NUM_THREADS": "1",
        "PYTHONHASHSEED": "0",
        "PYTHONDONTWRITEBYTECODE": "1",
        "PYTHONNOUSERSITE": "1",
        "PYTHONSAFEPATH": "1",
        "PYTHONIOENCODING": "utf-8",
        "TQDM_DISABLE": "1",
    }


class Writer(threading.Thread):
    """Writes messages to the runner's control pipe, in order, without blocking the caller."""

    def __init__(self, fd: int) -> None:
        super().__init__(daemon=True)
        self.fd = fd
        self.queue: queue.Queue[bytes | None] = queue.Queue()

    def run(self) -> None:
        try:
            while (data := self.queue.get()) is not None:
                view = memoryview(data)
                while view:
                    view = view[os.write(self.fd, view) :]
        except OSError:
            pass  # the sandbox is gone
        finally:
            os.close(self.fd)


@dataclass
class Started:
    """A sandbox whose runner is up (or starting) and waits for its job on the control pipe.

    Attributes:
        lab, limits, isolation, preload: what it was started for.
        base: its private folder on the trusted side (site, home, output files).
        proc: bubblewrap (or, with reduced isolation, the runner itself).
        writer: the control pipe into the runner.
        ctl_out: the runner's pipe back (``cells-done``, ``visible-done``).
        home: the learner's home as the runner sees it (its working folder).
    """

    lab: str
    limits: config.Limits
    isolation: str
    preload: tuple[str, ...]
    base: Path
    proc: subprocess.Popen[bytes]
    writer: Writer
    ctl_out: int
    home: str

    def alive(self) -> bool:
        return self.proc.poll() is None

    def discard(self) -> None:
        """Stop it without a job and remove its folder (a spare nobody needed)."""
        self.writer.queue.put(None)
        with contextlib.suppress(OSError):
            os.close(self.ctl_out)
        kill(self.proc)
        shutil.rmtree(self.base, ignore_errors=True)


def start(
    lab: str,
    *,
    limits: config.Limits = config.DEFAULT_LIMITS,
    isolation: str = "full",
    preload: tuple[str, ...] = (),
) -> Started:
    """Start a sandbox for one notebook of ``lab``; its runner imports ``preload`` (best
    effort, before any learner code and before its limits) and then waits for the job.

    Raises:
        SandboxSetupError: its folder or process could not be made.
    """
    base = Path(tempfile.mkdtemp(prefix="mgp-sandbox-"))
    try:
        return _start_in(base, lab, limits, isolation, preload)
    except OSError as exc:
        shutil.rmtree(base, ignore_errors=True)
        raise SandboxSetupError(f"the sandbox could not be started: {exc}") from exc


def _open(path: Path) -> int:
    return os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o600)


def _start_in(
    base: Path, lab: str, limits: config.Limits, isolation: str, preload: tuple[str, ...]
) -> Started:
    full = isolation == "full"
    (base / "site").mkdir()
    (base / "home").mkdir()
    mounts = build_site(base / "site", lab, mount_points=full)
    site, home = ("/site", "/home") if full else (str(base / "site"), str(base / "home"))
    inner = [str(bwrap.interpreter()), "-s", "-S", f"{site}/{RUNNER}"]
    sample = config.DATA / "mnist_sample.npz"
    if full:
        low, high = config.SANDBOX_UID_RANGE
        argv = bwrap.command(
            site=base / "site",
            mounts=mounts,
            data=[(sample, "/home/data/mnist_sample.npz")] if sample.exists() else [],
            scratch=limits.scratch,
            uid=low + secrets.randbelow(high - low) if os.geteuid() == 0 else None,
            env=environment(home),
            argv=inner,
        )
        cwd = base
    else:
        (base / "home" / "data").mkdir()
        if sample.exists():
            shutil.copy2(sample, base / "home" / "data" / sample.name)
        (base / "data").symlink_to("home/data", target_is_directory=True)  # for root="../data"
        argv, cwd = inner, base / "home"
    ctl_in_r, ctl_in_w = os.pipe()
    ctl_out_r, ctl_out_w = os.pipe()
    child_fds = [ctl_in_r, ctl_out_w]
    child_fds += [_open(base / n) for n in ("events.jsonl", "visible.npz", "hidden.npz")]
    argv += [",".join(map(str, child_fds)), lab, site, ",".join(preload)]
    with open(base / "stdout.txt", "wb") as out, open(base / "stderr.txt", "wb") as err:
        try:
            proc = subprocess.Popen(
                argv,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=err,
                cwd=cwd,
                env=environment(home),
                pass_fds=tuple(child_fds),
                start_new_session=True,
            )
        except OSError:
            for fd in (ctl_in_w, ctl_out_r):
                os.close(fd)
            raise
        finally:
            for fd in child_fds:
                os.close(fd)
    writer = Writer(ctl_in_w)
    writer.start()
    return Started(lab, limits, isolation, preload, base, proc, writer, ctl_out_r, home)


def kill(proc: subprocess.Popen[bytes]) -> None:
    """Kill the sandbox's process group (bubblewrap takes everything inside with it)."""
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
    proc.wait()
