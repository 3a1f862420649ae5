"""Trusted side of the sandbox: start the runner, feed it phase by phase, read its results.

Each notebook runs in a fresh ``python -s -S`` process (:mod:`grader.sandbox.runner`)
with a cleared environment and a ``site`` folder holding only what the learner may
import (:mod:`grader.sandbox.site`). With full isolation (the default wherever
bubblewrap works, root or not) that process lives in a bubblewrap sandbox
(:mod:`grader.sandbox.bwrap`); with reduced isolation (only when the caller asks for
it) it runs with resource limits alone. Either way the runner lowers its own limits
(CPU, address space, file size, processes, core dumps) before any learner code runs,
and a wall-clock timeout kills the whole sandbox.

The job reaches the runner over a pipe in three messages: the cells and visible check
ids first; the visible checks' inputs once the runner says its cells are done; the
hidden checks (their learner-side module and inputs) once it says the visible checks
are done. Neither the seed nor anything of the hidden checks is ever written where
the sandbox could read it before the learner's cells have finished.
"""

from __future__ import annotations

import io
import json
import os
import queue
import secrets
import select
import shutil
import signal
import subprocess
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from grader import config
from grader.sandbox import bwrap
from grader.sandbox.results import Cuts, RunResult, collect
from grader.sandbox.runner import FRAME
from grader.sandbox.site import RUNNER, build_site

Inputs = dict[str, Any]


@dataclass(frozen=True)
class Job:
    """What to run: the learner's program cells (notebook index, source) and the checks.

    Attributes:
        lab: the graded lab.
        cells: (notebook index, source) of each program cell, in order.
        visible: visible check id -> its inputs (arrays drawn on the trusted side).
        hidden: hidden check id -> its inputs, sent only after the visible checks ran.
        hidden_source: the learner side of the lab's hidden checks (module source).
    """

    lab: str
    cells: list[tuple[int, str]]
    visible: dict[str, Inputs]
    hidden: dict[str, Inputs] = field(default_factory=dict)
    hidden_source: str = ""


def isolation_problem() -> str:
    """Empty when full isolation works on this machine; otherwise why not."""
    return bwrap.available()


def full_isolation_available() -> bool:
    return not isolation_problem()


def _environment(home: str) -> dict[str, str]:
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


def _rlimits(limits: config.Limits) -> dict[str, tuple[int, int]]:
    """(soft, hard) limits the runner applies to itself before any learner code runs."""
    cpu = int(limits.wall_clock) + 5
    return {
        "cpu": (cpu, cpu + 5),  # SIGXCPU first (reported as a timeout), SIGKILL 5 s later
        "as": (limits.memory, limits.memory),
        "fsize": (limits.file_size, limits.file_size),
        "nproc": (limits.processes, limits.processes),
        "core": (0, 0),
    }


def frame(data: bytes) -> bytes:
    return FRAME.pack(len(data)) + data


def arrays_frame(inputs: dict[str, Inputs]) -> bytes:
    """The checks' inputs as one ``.npz`` frame, keyed ``<check id>/<input name>``."""
    import numpy as np

    buffer = io.BytesIO()
    flat: dict[str, Any] = {
        f"{i}/{name}": np.asarray(v) for i, ins in inputs.items() for name, v in ins.items()
    }
    np.savez(buffer, **flat)
    return frame(buffer.getvalue())


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


def run(
    job: Job, *, limits: config.Limits = config.DEFAULT_LIMITS, isolation: str | None = None
) -> RunResult:
    """Run one notebook's program and its checks' learner sides in a fresh sandbox.

    Args:
        job: the cells and checks.
        limits: time budgets, resource limits and caps.
        isolation: ``full`` or ``reduced``; by default full when available.

    Returns:
        What happened; never raises for anything the learner's code does.

    Raises:
        SandboxSetupError: the sandbox itself failed.
    """
    if isolation is None:
        isolation = "full" if full_isolation_available() else "reduced"
    base = Path(tempfile.mkdtemp(prefix="mgp-sandbox-"))
    try:
        return _run_in(base, job, limits, isolation)
    finally:
        shutil.rmtree(base, ignore_errors=True)


def _open(path: Path) -> int:
    return os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o600)


def _run_in(base: Path, job: Job, limits: config.Limits, isolation: str) -> RunResult:
    full = isolation == "full"
    (base / "site").mkdir()
    (base / "home").mkdir()
    mounts = build_site(base / "site", job.lab, mount_points=full)
    ctl_in_r, ctl_in_w = os.pipe()
    ctl_out_r, ctl_out_w = os.pipe()
    child_fds = [
        ctl_in_r,
        ctl_out_w,
        _open(base / "events.jsonl"),
        _open(base / "visible.npz"),
        _open(base / "hidden.npz"),
    ]
    site, home = ("/site", "/home") if full else (str(base / "site"), str(base / "home"))
    inner = [
        str(bwrap.interpreter()),
        "-s",
        "-S",
        f"{site}/{RUNNER}",
        ",".join(map(str, child_fds)),
    ]
    sample = config.DATA / "mnist_sample.npz"
    if full:
        low, high = config.SANDBOX_UID_RANGE
        argv = bwrap.command(
            site=base / "site",
            mounts=mounts,
            data=[(sample, "/home/data/mnist_sample.npz")] if sample.exists() else [],
            scratch=limits.scratch,
            uid=low + secrets.randbelow(high - low) if os.geteuid() == 0 else None,
            env=_environment(home),
            argv=inner,
        )
        cwd = base
    else:
        (base / "home" / "data").mkdir()
        if sample.exists():
            shutil.copy2(sample, base / "home" / "data" / sample.name)
        (base / "data").symlink_to("home/data", target_is_directory=True)  # for root="../data"
        argv, cwd = inner, base / "home"
    job_message = {
        "lab": job.lab,
        "cells": [{"index": i, "source": s} for i, s in job.cells],
        "visible": list(job.visible),
        "site": site,
        "cwd": home,
        "cell_timeout": limits.cell_timeout,
        "cell_output": limits.cell_output,
        "total_output": limits.total_output,
        "limits": _rlimits(limits),
    }
    start = time.monotonic()
    with open(base / "stdout.txt", "wb") as out, open(base / "stderr.txt", "wb") as err:
        try:
            proc = subprocess.Popen(
                argv,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=err,
                cwd=cwd,
                env=_environment(home),
                pass_fds=tuple(child_fds),
                start_new_session=True,
            )
        finally:
            for fd in child_fds:
                os.close(fd)
        writer = Writer(ctl_in_w)
        writer.start()
        writer.queue.put(frame(json.dumps(job_message).encode()))
        cuts, killed = _converse(proc, ctl_out_r, writer, base, job, limits)
        writer.queue.put(None)
    seconds = time.monotonic() - start
    expected = (list(job.visible), list(job.hidden))
    return collect(base, proc.returncode, killed, seconds, isolation, limits, cuts, expected)


def _size(path: Path) -> int:
    return path.stat().st_size


def _converse(
    proc: subprocess.Popen[bytes],
    ctl: int,
    writer: Writer,
    base: Path,
    job: Job,
    limits: config.Limits,
) -> tuple[Cuts, bool]:
    """Answer the runner's requests until it exits or its time is up; True when killed."""
    cuts = Cuts()
    deadline = time.monotonic() + limits.wall_clock
    pending = b""
    killed = False
    try:
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                killed = proc.poll() is None
                break
            ready, _, _ = select.select([ctl], [], [], min(left, 1.0))
            if not ready:
                if proc.poll() is not None:
                    break
                continue
            chunk = os.read(ctl, 4096)
            if not chunk:
                break  # every writer of the pipe is gone: the sandbox has ended
            pending += chunk
            *lines, pending = pending.split(b"\n")
            if len(pending) > 64:
                cuts.tampered, pending = True, b""
            for line in lines:
                _answer(line, cuts, writer, base, job, limits)
        if not killed:
            try:
                proc.wait(timeout=max(deadline - time.monotonic(), 0.1))
            except subprocess.TimeoutExpired:
                killed = True
    finally:
        os.close(ctl)
        _kill(proc)
    return cuts, killed


def _answer(
    line: bytes, cuts: Cuts, writer: Writer, base: Path, job: Job, limits: config.Limits
) -> None:
    """Mark the cut the runner asked for and send the next part of the job."""
    if line == b"cells-done" and cuts.cells is None:
        cuts.cells = tuple(_size(base / n) for n in ("events.jsonl", "stdout.txt", "stderr.txt"))  # type: ignore[assignment]
        writer.queue.put(arrays_frame(job.visible))
    elif line == b"visible-done" and cuts.cells is not None and cuts.visible is None:
        cuts.visible = _size(base / "events.jsonl")
        with open(base / "visible.npz", "rb") as handle:
            cuts.visible_arrays = handle.read(limits.file_size + 1)
        hidden = {"ids": list(job.hidden), "source": job.hidden_source}
        writer.queue.put(frame(json.dumps(hidden).encode()))
        writer.queue.put(arrays_frame(job.hidden))
    else:
        cuts.tampered = True


def _kill(proc: subprocess.Popen[bytes]) -> None:
    """Kill the sandbox's process group (bubblewrap takes everything inside with it)."""
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
    proc.wait()
