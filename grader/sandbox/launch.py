"""Trusted side of the sandbox: give a started runner its job, feed it phase by phase,
read its results.

Each notebook runs in a fresh ``python -s -S`` process (:mod:`grader.sandbox.runner`)
with a cleared environment and a ``site`` folder holding only what the learner may
import (:mod:`grader.sandbox.site`), started by :mod:`grader.sandbox.boot` (for a batch,
ahead of its turn: :mod:`grader.sandbox.spares`). With full isolation (the default
wherever bubblewrap works, root or not) that process lives in a bubblewrap sandbox
(:mod:`grader.sandbox.bwrap`); with reduced isolation (only when the caller asks for
it) it runs with resource limits alone. Either way the runner lowers its own limits
(CPU, address space, file size, processes, core dumps) when its job arrives, before any
learner code runs, and a wall-clock timeout, counted from the job, kills the whole sandbox.

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
import select
import shutil
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from grader import config
from grader.sandbox.boot import Started, Writer, full_isolation_available, kill, start
from grader.sandbox.results import Cuts, RunResult, SandboxSetupError, collect
from grader.sandbox.runner import FRAME

if TYPE_CHECKING:
    from grader.sandbox.spares import Spares

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
        preload: modules the runner imports while it waits for the job (those the lab's
            own notebook imports), before any learner code runs.
    """

    lab: str
    cells: list[tuple[int, str]]
    visible: dict[str, Inputs]
    hidden: dict[str, Inputs] = field(default_factory=dict)
    hidden_source: str = ""
    preload: tuple[str, ...] = ()


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


def run(
    job: Job,
    *,
    limits: config.Limits = config.DEFAULT_LIMITS,
    isolation: str | None = None,
    spares: Spares | None = None,
) -> RunResult:
    """Run one notebook's program and its checks' learner sides in a fresh sandbox.

    Args:
        job: the cells and checks.
        limits: time budgets, resource limits and caps.
        isolation: ``full`` or ``reduced``; by default full when available.
        spares: sandboxes started ahead (:class:`grader.sandbox.spares.Spares`): one made
            for this job's lab, limits and isolation is used, when there is one.

    Returns:
        What happened; never raises for anything the learner's code does.

    Raises:
        SandboxSetupError: the sandbox itself failed.
    """
    if isolation is None:
        isolation = "full" if full_isolation_available() else "reduced"
    started = None if spares is None else spares.take(job.lab, job.preload, limits, isolation)
    if started is None:
        started = start(job.lab, limits=limits, isolation=isolation, preload=job.preload)
    return finish(started, job)


def finish(started: Started, job: Job) -> RunResult:
    """Give a started sandbox its job, answer it phase by phase, read back what it produced.
    The wall-clock limit counts from the moment the job is sent."""
    if started.lab != job.lab:  # its site holds another lab's modules
        started.discard()
        raise SandboxSetupError(f"a sandbox started for {started.lab} was given {job.lab}'s job")
    base, limits = started.base, started.limits
    job_message = {
        "lab": job.lab,
        "cells": [{"index": i, "source": s} for i, s in job.cells],
        "visible": list(job.visible),
        "cwd": started.home,
        "cell_timeout": limits.cell_timeout,
        "cell_output": limits.cell_output,
        "total_output": limits.total_output,
        "limits": _rlimits(limits),
    }
    start_time = time.monotonic()
    try:
        started.writer.queue.put(frame(json.dumps(job_message).encode()))
        cuts, killed = _converse(started.proc, started.ctl_out, started.writer, base, job, limits)
        started.writer.queue.put(None)
        seconds = time.monotonic() - start_time
        expected = (list(job.visible), list(job.hidden))
        return collect(
            base, started.proc.returncode, killed, seconds, started.isolation, limits, cuts,
            expected,
        )  # fmt: skip
    finally:
        shutil.rmtree(base, ignore_errors=True)


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
        kill(proc)
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
