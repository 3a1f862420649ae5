"""Trusted side of the sandbox: build a private Python world, launch the runner, read its results.

Each notebook runs in a fresh ``python -s -S`` process (``grader/_runner.py``)
with a fully replaced environment and a ``site`` folder holding only what the
learner may import: the allow-listed installed packages (numpy, matplotlib and
its dependencies, tqdm, ...), a copy of the ``micrograd_plus`` modules of the
labs before the graded one (plus ``value``, ``data``), and a copy of the
learner side of the checks. torch and the reference modules of this lab and
later ones are simply not there.

As root (CI), the process also gets (``isolation: full``): new network, mount,
PID, IPC and UTS namespaces (no network at all); a ``chroot`` into a RAM disk
holding only ``/usr``, the Python installation (its own ``site-packages``
hidden), the ``site`` folder, the MNIST data, a scratch home and ``/tmp`` (so
the repository, ``solutions/``, the submissions and the gradebook do not
exist); and a fresh unprivileged user id, so that ``RLIMIT_NPROC`` bounds a
fork loop and nothing can be remounted. Without root (a learner running
``validate``), it falls back to resource limits and a temporary folder
(``isolation: reduced``). Either way the runner lowers its own limits (CPU,
address space, file size, processes, core dumps) before any learner code runs,
and a wall-clock timeout kills the whole process group.
"""

from __future__ import annotations

import contextlib
import functools
import importlib.metadata
import json
import os
import secrets
import shutil
import signal
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from grader import config
from grader.isolation import full_isolation_available, interpreter, setup_script, tool
from grader.labs import LABS, get_lab
from grader.runresult import CellRun, RunResult, SandboxSetupError, SpecRun, collect

__all__ = [
    "CellRun",
    "Job",
    "RunResult",
    "SandboxSetupError",
    "SpecRun",
    "build_site",
    "full_isolation_available",
    "run",
]


@dataclass(frozen=True)
class Job:
    """What to run: the learner's program cells (notebook index, source) and the checks to call."""

    lab: str
    cells: list[tuple[int, str]]
    spec_ids: list[str]
    seed: int


@functools.cache
def allowed_entries() -> tuple[tuple[str, Path], ...]:
    """Top-level files and folders of the allow-listed distributions: (name, installed path)."""
    entries: dict[str, Path] = {}
    for dist_name in config.ALLOWED_DISTRIBUTIONS:
        try:
            dist = importlib.metadata.distribution(dist_name)
        except importlib.metadata.PackageNotFoundError:
            continue
        for file in dist.files or []:
            top = file.parts[0]
            if top in ("..", "__pycache__") or top.endswith(".pth"):
                continue
            path = Path(str(dist.locate_file(top)))
            if path.exists():
                entries.setdefault(top, path)
    return tuple(sorted(entries.items()))


def allowed_mgp_modules(lab_id: str) -> list[str]:
    """``micrograd_plus`` modules a learner of ``lab_id`` may import: given ones, earlier labs'."""
    number = get_lab(lab_id).number
    earlier = [m for lab in LABS.values() if lab.number < number for m in lab.modules]
    return [*config.GIVEN_MICROGRAD_MODULES, *earlier]


def _copy_package(src: Path, dst: Path, modules: list[str]) -> None:
    dst.mkdir(parents=True)
    for module in modules:
        if (src / f"{module}.py").exists():
            shutil.copy2(src / f"{module}.py", dst / f"{module}.py")


def build_site(site: Path, lab_id: str, *, mount_points: bool) -> list[tuple[Path, Path]]:
    """Fill ``site`` with what the learner may import.

    Args:
        site: an empty folder.
        lab_id: the graded lab (decides which ``micrograd_plus`` modules are copied).
        mount_points: create empty folders for the installed packages and return
            them for bind-mounting (as root), instead of symlinks (without root).

    Returns:
        ``(installed folder, mount point)`` pairs still to bind-mount.
    """
    import micrograd_plus

    binds = []
    for name, path in allowed_entries():
        target = site / name
        if path.is_file():
            shutil.copy2(path, target)
        elif mount_points:
            target.mkdir()
            binds.append((path, target))
        else:
            target.symlink_to(path, target_is_directory=True)
    grader_src = Path(__file__).resolve().parent
    _copy_package(grader_src, site / "grader", [*config.LEARNER_GRADER_MODULES, "_runner"])
    number = get_lab(lab_id).number
    later = {lab.id for lab in LABS.values() if lab.number > number} | {"__init__"}
    helpers = [  # the lab's specs, earlier labs' specs and shared helper modules
        p.stem
        for p in (grader_src / "specs").glob("*.py")
        if p.stem not in later and (not p.stem.startswith("fixture") or p.stem == lab_id)
    ]
    _copy_package(grader_src / "specs", site / "grader" / "specs", ["__init__", *helpers])
    _copy_package(grader_src / "hidden", site / "grader" / "hidden", ["__init__", lab_id])
    mgp_src = Path(micrograd_plus.__file__).parent
    _copy_package(mgp_src, site / "micrograd_plus", allowed_mgp_modules(lab_id))
    # micrograd_plus.data falls back to <site>/data/mnist_sample.npz: the home's copy
    (site / "data").symlink_to("../home/data", target_is_directory=True)
    return binds


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
        SandboxSetupError: the sandbox itself failed (mounts, interpreter).
    """
    if isolation is None:
        isolation = "full" if full_isolation_available() else "reduced"
    base = Path(tempfile.mkdtemp(prefix="mgp-sandbox-"))
    try:
        return _run_in(base, job, limits, isolation)
    finally:
        shutil.rmtree(base, ignore_errors=True)


def _run_in(base: Path, job: Job, limits: config.Limits, isolation: str) -> RunResult:
    os.chmod(base, 0o755)
    (base / "site").mkdir()
    binds = build_site(base / "site", job.lab, mount_points=isolation == "full")
    events_fd = os.open(base / "events.jsonl", os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    outputs_fd = os.open(base / "outputs.npz", os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    full = isolation == "full"
    site, home = ("/site", "/home") if full else (str(base / "site"), str(base / "home"))
    payload = {
        "lab": job.lab,
        "cells": [{"index": i, "source": s} for i, s in job.cells],
        "specs": job.spec_ids,
        "seed": job.seed,
        "site": site,
        "cwd": home,
        "events_fd": events_fd,
        "outputs_fd": outputs_fd,
        "cell_timeout": limits.cell_timeout,
        "cell_output": limits.cell_output,
        "total_output": limits.total_output,
        "limits": _rlimits(limits),
    }
    (base / "job.json").write_text(json.dumps(payload))
    if full:
        (base / "root").mkdir()
        low, high = config.SANDBOX_UID_RANGE
        uid = low + secrets.randbelow(high - low)
        (base / "setup.sh").write_text(setup_script(base, binds, uid, limits))
        spaces = ["--net", "--mount", "--pid", "--fork", "--ipc", "--uts", "--kill-child"]
        setup = [tool("sh"), str(base / "setup.sh")]
        argv = [tool("unshare"), *spaces, "--propagation", "private", *setup]
    else:
        _fill_home(base / "home")
        (base / "data").symlink_to("home/data", target_is_directory=True)  # for root="../data"
        runner = str(base / "site" / "grader" / "_runner.py")
        argv = [str(interpreter()), "-s", "-S", runner, str(base / "job.json")]
    start = time.monotonic()
    with open(base / "stdout.txt", "wb") as out, open(base / "stderr.txt", "wb") as err:
        try:
            proc = subprocess.Popen(
                argv,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=err,
                cwd=base if full else base / "home",
                env=_environment(home),
                pass_fds=(events_fd, outputs_fd),
                start_new_session=True,
            )
        finally:
            os.close(events_fd)
            os.close(outputs_fd)
        killed = _wait(proc, limits.wall_clock)
    seconds = time.monotonic() - start
    return collect(base, proc.returncode, killed, seconds, isolation, limits)


def _fill_home(home: Path) -> None:
    """The working folder without root: a copy of the MNIST sample (full MNIST by symlink)."""
    (home / "data").mkdir(parents=True)
    sample = config.DATA / "mnist_sample.npz"
    if sample.exists():
        shutil.copy2(sample, home / "data" / sample.name)
    if (config.DATA / "MNIST").is_dir():
        (home / "data" / "MNIST").symlink_to(config.DATA / "MNIST")


def _wait(proc: subprocess.Popen[bytes], timeout: float) -> bool:
    """Wait for the process, killing its whole group past ``timeout``; True when it was killed."""
    killed = False
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        killed = True
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signal.SIGKILL)  # also whatever the learner's code left behind
    proc.wait()
    return killed
