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
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from grader import config
from grader.labs import LABS, get_lab

SETUP_FAILED_EXIT = 97
"""Exit code of the namespace setup script when a mount fails (a grader problem)."""


class SandboxSetupError(RuntimeError):
    """The sandbox itself could not be started (not the learner's fault)."""


@dataclass(frozen=True)
class Job:
    """What to run: the learner's program cells (notebook index, source) and the checks to call."""

    lab: str
    cells: list[tuple[int, str]]
    spec_ids: list[str]
    seed: int


@dataclass
class CellRun:
    """One program cell as it ran: captured output and error text (empty when it succeeded)."""

    index: int
    stdout: str = ""
    error: str = ""
    seconds: float = 0.0
    finished: bool = False


@dataclass
class SpecRun:
    """What one check's learner side produced: arrays by output name, or an error."""

    error: str = ""
    arrays: dict[str, Any] = field(default_factory=dict)
    non_numeric: dict[str, str] = field(default_factory=dict)


@dataclass
class RunResult:
    """The outcome of one sandbox run.

    Attributes:
        status: ``ok``, or the reason it is ungradable: ``timeout``, ``memory``,
            ``crash``, ``output-limit``.
        detail: a sentence explaining a non-ok status.
        cells: program cells that started, in order.
        specs: check id -> what its learner side returned.
        seconds: wall-clock time of the run.
        isolation: ``full`` or ``reduced``.
        stderr: the tail of what the process wrote outside the runner's capture.
    """

    status: str
    detail: str
    cells: list[CellRun]
    specs: dict[str, SpecRun]
    seconds: float
    isolation: str
    stderr: str = ""


# --------------------------------------------------------------------------- site folder


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
    return binds


# --------------------------------------------------------------------------- isolation


def _site_packages_dirs() -> list[Path]:
    """Folders of third-party packages this machine's Pythons can see (hidden in the chroot)."""
    import glob

    dirs = {Path(p) for p in sys.path if p.endswith(("site-packages", "dist-packages"))}
    for root in {sys.base_prefix, sys.prefix, "/usr", "/usr/local"}:
        for kind in ("site-packages", "dist-packages"):
            dirs.update(Path(p) for p in glob.glob(f"{root}/lib*/python3*/{kind}"))
    return sorted(d for d in dirs if d.is_dir() and not d.is_symlink())


def _interpreter() -> Path:
    """The real interpreter binary (a virtual environment's ``python`` is a symlink to it)."""
    return Path(os.path.realpath(sys.executable))


def _tool(name: str) -> str:
    """Absolute path of a system tool (``chroot`` lives in ``/usr/sbin``, off a plain PATH)."""
    extra = os.pathsep.join(["/usr/sbin", "/sbin", "/usr/bin", "/bin"])
    return shutil.which(name, path=os.environ.get("PATH", "") + os.pathsep + extra) or name


class Script:
    """The namespace setup as shell lines (rendered for ``sh``); folders are made in one go."""

    def __init__(self) -> None:
        self.folders: list[Path] = []
        self.files: list[Path] = []
        self.lines: list[str] = []

    def add(self, tool: str, *argv: str | Path) -> None:
        self.lines.append(" ".join(shlex.quote(str(a)) for a in [_tool(tool), *argv]))

    def bind(self, src: Path, dst: Path) -> None:
        """A read-only bind mount (util-linux applies ``ro`` to the bind itself)."""
        (self.files if src.is_file() else self.folders).append(dst)
        self.add("mount", "--bind", "-o", "ro", src, dst)

    def render(self, first: list[str], run: list[str]) -> str:
        """``first`` lines, then folders and mount points, the mounts, and ``run``."""
        make = []
        if self.folders:
            make.append(
                " ".join(shlex.quote(str(a)) for a in [_tool("mkdir"), "-p", *self.folders])
            )
        if self.files:
            make.append(" ".join(shlex.quote(str(a)) for a in [_tool("touch"), *self.files]))
        body = [f"{line} || exit {SETUP_FAILED_EXIT}" for line in [*first, *make, *self.lines]]
        quoted = " ".join(shlex.quote(a) for a in run)
        return "\n".join([*body, quoted, "exit $?", ""])


def setup_script(
    base: Path, binds: list[tuple[Path, Path]], uid: int, limits: config.Limits
) -> str:
    """The shell script that builds the chroot in ``base/root`` and starts the runner in it.

    The runner sees the site folder as ``/site``, its home and working folder as ``/home``.
    """
    root = base / "root"
    scratch = f"size={limits.scratch},mode=755"
    first = [
        " ".join([_tool("mount"), "-t", "tmpfs", "-o", scratch, "tmpfs", shlex.quote(str(root))])
    ]
    script = Script()
    for top in ("bin", "sbin", "lib", "lib32", "lib64", "libx32", "usr"):
        path = Path("/") / top
        if path.is_symlink():
            script.add("ln", "-s", os.readlink(path), root / top)
        elif path.is_dir():
            script.bind(path, root / top)
    prefix = Path(sys.base_prefix)
    if not prefix.is_relative_to("/usr"):
        script.bind(prefix, root / prefix.relative_to("/"))
    for packages in _site_packages_dirs():  # the interpreter's own third-party packages
        if packages.is_relative_to("/usr") or packages.is_relative_to(prefix):
            target = root / packages.relative_to("/")
            script.add("mount", "-t", "tmpfs", "-o", "ro,size=4k", "tmpfs", target)
    script.bind(base / "site", root / "site")
    for src, mount_point in binds:
        script.bind(src, root / "site" / mount_point.relative_to(base / "site"))
    script.folders += [root / "home/data", root / "tmp", root / "proc"]
    for dev in ("null", "zero", "urandom", "random"):
        script.files.append(root / "dev" / dev)
        script.add("mount", "--bind", f"/dev/{dev}", root / "dev" / dev)
    script.folders.append(root / "dev")
    script.add("mount", "-t", "proc", "proc", root / "proc")
    sample = config.DATA / "mnist_sample.npz"
    if sample.exists():
        script.bind(sample, root / "home/data/mnist_sample.npz")
    if (config.DATA / "MNIST" / "raw").is_dir():
        script.bind(config.DATA / "MNIST" / "raw", root / "home/data/MNIST/raw")
    script.bind(base / "job.json", root / "job.json")
    script.add("chmod", "1777", root / "tmp")
    script.add("chown", f"{uid}:{uid}", root / "home")
    run = [
        _tool("chroot"), str(root), _tool("setpriv"), f"--reuid={uid}", f"--regid={uid}",
        "--clear-groups", "--no-new-privs", "--", str(_interpreter()), "-s", "-S",
        "/site/grader/_runner.py", "/job.json",
    ]  # fmt: skip
    return script.render(first, run)


@functools.cache
def full_isolation_available() -> bool:
    """Whether namespaces, chroot and a user switch work here (root with the util-linux tools)."""
    if os.name != "posix" or os.geteuid() != 0:
        return False
    if not all(Path(_tool(t)).is_absolute() for t in ("unshare", "setpriv", "chroot", "mount")):
        return False
    probe = subprocess.run(
        [_tool("unshare"), "--net", "--mount", "--pid", "--fork", "--propagation", "private",
         "sh", "-c", "mount -t tmpfs tmpfs /mnt 2>/dev/null || mount -t tmpfs tmpfs /tmp"],
        capture_output=True, timeout=30, check=False,
    )  # fmt: skip
    return probe.returncode == 0


# --------------------------------------------------------------------------- running


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
        setup = [_tool("sh"), str(base / "setup.sh")]
        argv = [_tool("unshare"), *spaces, "--propagation", "private", *setup]
    else:
        _fill_home(base / "home")
        runner = str(base / "site" / "grader" / "_runner.py")
        argv = [str(_interpreter()), "-s", "-S", runner, str(base / "job.json")]
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


# --------------------------------------------------------------------------- results


def _signal_of(returncode: int, isolation: str) -> int:
    """The signal that ended the runner (0 if none): ``sh`` reports it as 128 + n."""
    if returncode < 0:
        return -returncode
    if isolation == "full" and returncode > 128:
        return returncode - 128
    return 0


def read_events(path: Path, max_bytes: int) -> list[dict[str, Any]]:
    """The runner's JSON-lines events; malformed lines (the learner may write there) are skipped."""
    events = []
    with open(path, "rb") as handle:
        data = handle.read(max_bytes)
    for line in data.decode("utf-8", errors="replace").splitlines():
        with contextlib.suppress(ValueError):
            event = json.loads(line)
            if isinstance(event, dict) and isinstance(event.get("event"), str):
                events.append(event)
    return events


def load_arrays(path: Path, max_bytes: int) -> dict[str, Any]:
    """Read an ``.npz`` written in the sandbox: numeric arrays only, never pickles, bounded size.

    Raises:
        ValueError: the file is not a well-formed archive of numeric arrays within the bound.
    """
    import zipfile

    import numpy as np
    from numpy.lib import format as npy

    if path.stat().st_size > max_bytes:
        raise ValueError("the outputs file is too large")
    arrays: dict[str, Any] = {}
    budget = max_bytes
    with zipfile.ZipFile(path) as archive:
        for info in archive.infolist():
            if not info.filename.endswith(".npy"):
                raise ValueError(f"unexpected member {info.filename!r}")
            with archive.open(info) as handle:
                version = npy.read_magic(handle)
                if version == (1, 0):
                    shape, _, dtype = npy.read_array_header_1_0(handle)
                else:
                    shape, _, dtype = npy.read_array_header_2_0(handle)
                size = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
                if dtype.hasobject or dtype.kind not in "biuf" or size > budget:
                    raise ValueError(f"{info.filename}: {dtype} {shape} is not allowed")
                budget -= size
            with archive.open(info) as handle:
                arrays[info.filename.removesuffix(".npy")] = npy.read_array(
                    handle, allow_pickle=False
                )
    return arrays


def _capped(base: Path, limits: config.Limits) -> bool:
    """Whether the process's output or event file reached the file-size limit."""
    names = ("stdout.txt", "stderr.txt", "events.jsonl", "outputs.npz")
    return any((base / name).stat().st_size >= limits.file_size for name in names)


def _tail(path: Path, size: int = 2000) -> str:
    with open(path, "rb") as handle:
        handle.seek(max(path.stat().st_size - size, 0))
        return handle.read().decode("utf-8", errors="replace")


def collect(
    base: Path,
    returncode: int,
    killed: bool,
    seconds: float,
    isolation: str,
    limits: config.Limits,
) -> RunResult:
    """What the runner left in ``base`` as a :class:`RunResult`; the status comes from the exit."""
    events = read_events(base / "events.jsonl", limits.file_size)
    stderr = (_tail(base / "stdout.txt") + _tail(base / "stderr.txt")).strip()
    kinds = {e["event"] for e in events}
    if "start" not in kinds and not killed:
        if returncode == SETUP_FAILED_EXIT or "runner-error" in kinds:
            errors = [str(e.get("error", "")) for e in events if e["event"] == "runner-error"]
            raise SandboxSetupError(f"the sandbox did not start: {' '.join(errors)} {stderr}")
    cells: dict[int, CellRun] = {}
    specs: dict[str, SpecRun] = {}
    for event in events:
        if event["event"] in ("cell-start", "cell") and isinstance(event.get("cell"), int):
            cell = cells.setdefault(event["cell"], CellRun(event["cell"]))
            if event["event"] == "cell":
                cell.stdout = str(event.get("stdout", ""))[: limits.cell_output + 200]
                cell.error = str(event.get("error", ""))[:5000]
                cell.seconds = float(event.get("seconds", 0.0))
                cell.finished = True
        elif event["event"] == "spec" and isinstance(event.get("id"), str):
            keys, bad = event.get("keys"), event.get("bad")
            specs[event["id"]] = SpecRun(
                error=str(event.get("error", ""))[:2000],
                arrays=dict(keys) if isinstance(keys, dict) else {},
                non_numeric=dict(bad) if isinstance(bad, dict) else {},
            )
    status, detail = "ok", ""
    signum = _signal_of(returncode, isolation)
    running = [c.index for c in cells.values() if not c.finished]
    where = f" (cell {running[0]} was running)" if running else ""
    if killed:
        status = "timeout"
        detail = f"the notebook ran past its wall-clock limit of {limits.wall_clock:g} s{where}"
    elif signum == signal.SIGXCPU:
        status, detail = "timeout", f"the notebook used up its CPU time limit{where}"
    elif signum == signal.SIGXFSZ:
        status = "output-limit"
        detail = (
            f"the notebook wrote more than {limits.file_size // config.MIB} MiB to a file{where}"
        )
    elif "done" not in kinds and _capped(base, limits):
        status = "output-limit"
        detail = (
            f"the notebook wrote more than {limits.file_size // config.MIB} MiB of output{where}"
        )
    elif "done" not in kinds:
        status = "crash"
        how = f"signal {signal.Signals(signum).name}" if signum else f"exit code {returncode}"
        detail = f"the learner's process ended early ({how}){where}"
    else:
        done = next(e for e in events if e["event"] == "done")
        if done.get("memory_error"):
            status = "memory"
            detail = (
                f"the notebook's code hit the memory limit of {limits.memory / config.GIB:g} GiB"
            )
        else:
            try:
                arrays = load_arrays(base / "outputs.npz", limits.file_size)
            except (ValueError, OSError, EOFError) as exc:
                status, detail = "crash", f"the outputs could not be read: {exc}"
                arrays = {}
            for run_ in specs.values():
                names = run_.arrays
                run_.arrays = {k: arrays[v] for k, v in names.items() if v in arrays}
    if status != "ok":
        for run_ in specs.values():
            run_.arrays = {}
    return RunResult(
        status,
        detail,
        sorted(cells.values(), key=lambda c: c.index),
        specs,
        seconds,
        isolation,
        stderr,
    )
