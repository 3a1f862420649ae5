"""What a sandbox run produced, read back by the trusted side (never trusting it).

The runner reports through a JSON-lines events file and an ``.npz`` of arrays;
:func:`collect` turns them, with the exit code or signal, into a
:class:`RunResult` whose status says whether the notebook can be graded.
"""

from __future__ import annotations

import contextlib
import json
import signal
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from grader import config
from grader.isolation import SETUP_FAILED_EXIT


class SandboxSetupError(RuntimeError):
    """The sandbox itself could not be started (not the learner's fault)."""


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
