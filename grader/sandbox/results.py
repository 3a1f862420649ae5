"""What a sandbox run produced, read back by the trusted side (never trusting it).

The runner reports through a JSON-lines events file and two ``.npz`` files of
arrays (visible checks, hidden checks). The trusted side cut the events at the
moments the runner finished its cells and its visible checks (:class:`Cuts`), so
each event is only believed in its own phase: cell output only from before the
first cut, visible checks' results only from between the cuts, hidden checks'
results only after the second. :func:`collect` turns them, with the exit code or
signal, into a :class:`RunResult` whose status says whether the notebook can be
graded.
"""

from __future__ import annotations

import contextlib
import io
import json
import signal
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from grader import config

SETUP_FAILED_EXIT = 97
"""Exit code of a sandbox that could not be set up (a grader problem)."""

HIDDEN_ERROR = "your code raised an error or did not finish in this hidden check"
"""What a failing hidden check's learner side reports (its own text could carry anything)."""


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
class Cuts:
    """Where the trusted side cut the run's files, as sizes in bytes at each moment.

    Attributes:
        cells: events, stdout and stderr sizes when the runner said its cells were done
            (None when it never did).
        visible: events size when it said the visible checks were done, and the visible
            arrays (read at that moment) as bytes.
        tampered: the control channel saw something the runner does not send.
    """

    cells: tuple[int, int, int] | None = None
    visible: int | None = None
    visible_arrays: bytes = b""
    tampered: bool = False


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
        stderr: the tail of what the process wrote outside the runner's capture
            before its cells were done.
        tampered: the learner's code wrote into the sandbox's channel to the grader.
    """

    status: str
    detail: str
    cells: list[CellRun]
    specs: dict[str, SpecRun]
    seconds: float
    isolation: str
    stderr: str = ""
    tampered: bool = False


def parse_events(data: bytes) -> list[dict[str, Any]]:
    """JSON-lines events; malformed lines (the learner may write there) are skipped."""
    events = []
    for line in data.decode("utf-8", errors="replace").splitlines():
        with contextlib.suppress(ValueError, RecursionError):
            event = json.loads(line)
            if isinstance(event, dict) and isinstance(event.get("event"), str):
                events.append(event)
    return events


def read_events(path: Path, max_bytes: int) -> list[dict[str, Any]]:
    """The events in the first ``max_bytes`` of ``path``."""
    with open(path, "rb") as handle:
        return parse_events(handle.read(max_bytes))


def load_arrays(source: Path | bytes, max_bytes: int) -> dict[str, Any]:
    """Read an ``.npz`` written in the sandbox: numeric arrays only, never pickles, bounded size.

    Raises:
        ValueError: the file is not a well-formed archive of numeric arrays within the bound.
    """
    import zipfile

    import numpy as np
    from numpy.lib import format as npy

    data = source if isinstance(source, bytes) else source.read_bytes()
    if len(data) > max_bytes:
        raise ValueError("the outputs file is too large")
    if not data:
        return {}
    arrays: dict[str, Any] = {}
    budget = max_bytes
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
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


def _head(path: Path, end: int, size: int = 2000) -> str:
    """The last ``size`` bytes of ``path`` before byte ``end``."""
    with open(path, "rb") as handle:
        start = max(end - size, 0)
        handle.seek(start)
        return handle.read(end - start).decode("utf-8", errors="replace")


@dataclass
class Phases:
    """The events of each phase, believed only there."""

    cells: list[dict[str, Any]]
    visible: list[dict[str, Any]]
    hidden: list[dict[str, Any]]


def split_events(path: Path, cuts: Cuts, max_bytes: int) -> Phases:
    with open(path, "rb") as handle:
        data = handle.read(max_bytes)
    first = len(data) if cuts.cells is None else cuts.cells[0]
    second = len(data) if cuts.visible is None else cuts.visible
    if cuts.cells is None:
        return Phases(parse_events(data), [], [])
    return Phases(
        parse_events(data[:first]),
        parse_events(data[first:second]),
        parse_events(data[second:]) if cuts.visible is not None else [],
    )


def _spec_runs(
    events: list[dict[str, Any]], ids: set[str], hidden: bool
) -> dict[str, tuple[SpecRun, dict[str, str]]]:
    """The first ``spec`` event of each expected check id: its run and its array names."""
    runs: dict[str, tuple[SpecRun, dict[str, str]]] = {}
    for event in events:
        check_id = event.get("id")
        if event["event"] != "spec" or check_id not in ids or check_id in runs:
            continue
        keys, bad = event.get("keys"), event.get("bad")
        names = {str(k): str(v) for k, v in keys.items()} if isinstance(keys, dict) else {}
        error = str(event.get("error", ""))[:2000]
        run = SpecRun(
            error=HIDDEN_ERROR if hidden and error else error,
            non_numeric={} if hidden or not isinstance(bad, dict) else dict(bad),
        )
        runs[str(check_id)] = (run, names)
    return runs


def _attach(
    runs: dict[str, tuple[SpecRun, dict[str, str]]], source: Path | bytes, max_bytes: int
) -> str:
    """Give each run its arrays from ``source``; the reason when they cannot be read."""
    try:
        arrays = load_arrays(source, max_bytes)
    except (ValueError, OSError, EOFError) as exc:
        return f"the outputs could not be read: {exc}"
    for run, names in runs.values():
        run.arrays = {k: arrays[v] for k, v in names.items() if v in arrays}
    return ""


def collect(
    base: Path,
    returncode: int,
    killed: bool,
    seconds: float,
    isolation: str,
    limits: config.Limits,
    cuts: Cuts,
    expected: tuple[list[str], list[str]],
) -> RunResult:
    """What the runner left in ``base`` as a :class:`RunResult`.

    Args:
        base: the run's folder (events.jsonl, stdout.txt, stderr.txt, hidden.npz).
        returncode, killed, seconds: how the process ended.
        isolation: ``full`` or ``reduced``.
        limits: the limits it ran under.
        cuts: where the trusted side cut the files.
        expected: the visible and the hidden check ids.
    """
    phases = split_events(base / "events.jsonl", cuts, limits.file_size)
    out_end, err_end = (
        (cuts.cells[1], cuts.cells[2])
        if cuts.cells
        else ((base / "stdout.txt").stat().st_size, (base / "stderr.txt").stat().st_size)
    )
    stderr = (_head(base / "stdout.txt", out_end) + _head(base / "stderr.txt", err_end)).strip()
    kinds = {e["event"] for e in phases.cells}
    if "start" not in kinds and not killed:
        if returncode == SETUP_FAILED_EXIT or "runner-error" in kinds or returncode == 1:
            errors = [str(e.get("error", "")) for e in phases.cells if e["event"] == "runner-error"]
            raise SandboxSetupError(f"the sandbox did not start: {' '.join(errors)} {stderr}")
    cells: dict[int, CellRun] = {}
    for event in phases.cells:
        if event["event"] in ("cell-start", "cell") and isinstance(event.get("cell"), int):
            cell = cells.setdefault(event["cell"], CellRun(event["cell"]))
            if event["event"] == "cell" and not cell.finished:
                cell.stdout = str(event.get("stdout", ""))[: limits.cell_output + 200]
                cell.error = str(event.get("error", ""))[:5000]
                with contextlib.suppress(TypeError, ValueError):
                    cell.seconds = float(event.get("seconds", 0.0))
                cell.finished = True
    visible_ids, hidden_ids = expected
    visible = _spec_runs(phases.visible, set(visible_ids), hidden=False)
    hidden = _spec_runs(phases.hidden, set(hidden_ids), hidden=True)
    tampered = cuts.tampered or any(
        e["event"] in ("cell", "cell-start", "start") for e in phases.visible + phases.hidden
    )
    memory = any(
        e.get("memory_error") is True
        for e in phases.cells + phases.visible
        if e["event"] in ("cells-finished", "visible-finished")
    )
    signum = _signal_of(returncode)
    running = [c.index for c in cells.values() if not c.finished]
    where = f" (cell {running[0]} was running)" if running and cuts.cells is None else ""
    status, detail = "ok", ""
    if cuts.visible is not None and not memory:
        # The hidden phase cannot make the notebook ungradable: whatever happened there,
        # the hidden checks that did not report simply fail (and nothing else is said).
        status = "ok"
    elif killed:
        status = "timeout"
        detail = f"the notebook ran past its wall-clock limit of {limits.wall_clock:g} s{where}"
    elif signum == signal.SIGXCPU:
        status, detail = "timeout", f"the notebook used up its CPU time limit{where}"
    elif signum == signal.SIGXFSZ:
        status = "output-limit"
        detail = (
            f"the notebook wrote more than {limits.file_size // config.MIB} MiB to a file{where}"
        )
    elif memory:
        status = "memory"
        detail = f"the notebook's code hit the memory limit of {limits.memory / config.GIB:g} GiB"
    elif cuts.visible is None and _capped(base, limits):
        status = "output-limit"
        detail = (
            f"the notebook wrote more than {limits.file_size // config.MIB} MiB of output{where}"
        )
    elif cuts.visible is None:
        status = "crash"
        how = f"signal {signal.Signals(signum).name}" if signum else f"exit code {returncode}"
        detail = f"the learner's process ended early ({how}){where}"
    if status == "ok":
        problem = _attach(visible, cuts.visible_arrays, limits.file_size)
        if problem:
            status, detail = "crash", problem
        elif (base / "hidden.npz").exists() and _attach(
            hidden, base / "hidden.npz", limits.file_size
        ):
            hidden = {}  # unreadable hidden arrays: the hidden checks fail
    specs = {i: run for i, (run, _) in {**visible, **hidden}.items()}
    if status != "ok":
        specs = {i: SpecRun(error=run.error) for i, run in specs.items()}
    return RunResult(
        status,
        detail,
        sorted(cells.values(), key=lambda c: c.index),
        specs,
        seconds,
        isolation,
        stderr,
        tampered,
    )


def _signal_of(returncode: int) -> int:
    """The signal that ended the runner (0 if none); a wrapper reports it as 128 + n."""
    if returncode < 0:
        return -returncode
    if 128 < returncode < 128 + 65:
        return returncode - 128
    return 0


def _capped(base: Path, limits: config.Limits) -> bool:
    """Whether the process's output or event file reached the file-size limit."""
    names = ("stdout.txt", "stderr.txt", "events.jsonl", "hidden.npz")
    return any(
        (base / name).exists() and (base / name).stat().st_size >= limits.file_size
        for name in names
    )
