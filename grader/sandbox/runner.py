"""Runs INSIDE the sandbox: the learner's program, then each check's learner side.

Copied into the sandbox's ``site`` folder and started as
``python -s -S runner.py FDS LAB SITE PRELOAD`` (the inherited file descriptors, the graded
lab, the ``site`` folder as seen inside, the modules to import while waiting) with a cleared
environment, so it sees the standard library, the ``site`` folder
(numpy, matplotlib, the visible checks' learner sides, the ``micrograd_plus``
modules this lab may use) and nothing else. While it waits for its job it loads the
lab's checks and imports what the lab's own notebook imports (the grader may start
it while another notebook still runs). It talks to the trusted side through
inherited file descriptors, in three phases:

1. It reads the job (the learner's cells, the visible check ids, budgets) from the
   control pipe, binds the learner side of every visible check, then runs the
   cells. Nothing of the hidden checks and no seed exists in the sandbox yet.
2. It says ``cells-done``; the trusted side notes how far the events and the output
   have got (whatever comes later is never shown as the notebook's output) and sends
   the visible checks' inputs as arrays. It calls each visible check's learner side
   and writes the arrays.
3. It says ``visible-done``; the trusted side takes the visible arrays, then sends
   the hidden checks (their learner-side module and inputs). It runs them and writes
   their arrays. From here on nothing the learner's code writes reaches any report
   but the arrays, judged outside.

Nothing it writes is trusted: the grader recomputes the references and judges the
arrays itself.
"""

from __future__ import annotations

import builtins
import contextlib
import importlib
import io
import json
import linecache
import os
import resource
import signal
import struct
import sys
import time
import traceback
import types
import warnings
from collections.abc import Iterator, Mapping
from typing import Any, TextIO

RUNNER_ERROR_EXIT = 70
FRAME = struct.Struct(">Q")


class CellTimeout(BaseException):
    """Raised in the learner's code when its time budget runs out."""


class CappedText(io.TextIOBase):
    """A text sink that keeps the first ``cap`` characters and counts the rest."""

    def __init__(self, cap: int) -> None:
        self.cap = max(cap, 0)
        self.parts: list[str] = []
        self.kept = 0
        self.dropped = 0

    def writable(self) -> bool:
        return True

    def write(self, text: str) -> int:
        text = str(text)
        room = self.cap - self.kept
        if room > 0:
            self.parts.append(text[:room])
            self.kept += min(len(text), room)
        self.dropped += max(len(text) - max(room, 0), 0)
        return len(text)

    def getvalue(self) -> str:
        value = "".join(self.parts)
        if self.dropped:
            value += f"\n[... {self.dropped:,} more characters of output not kept]\n"
        return value


def apply_limits(limits: Mapping[str, list[int]]) -> None:
    """Lower (soft, hard) resource limits for this process and everything it starts."""
    for name, (soft, hard) in limits.items():
        kind = getattr(resource, f"RLIMIT_{name.upper()}")
        with contextlib.suppress(ValueError, OSError):
            resource.setrlimit(kind, (soft, hard))


@contextlib.contextmanager
def time_budget(seconds: float) -> Iterator[list[bool]]:
    """Raise :class:`CellTimeout` in the running code after ``seconds``; yields a fired flag."""
    fired = [False]

    def _alarm(signum: int, frame: Any) -> None:
        fired[0] = True
        raise CellTimeout()

    signal.signal(signal.SIGALRM, _alarm)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield fired
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)


@contextlib.contextmanager
def captured(sink: TextIO | CappedText) -> Iterator[None]:
    """Send ``sys.stdout`` and ``sys.stderr`` to ``sink`` (a notebook shows both in the cell)."""
    saved = sys.stdout, sys.stderr
    sys.stdout = sys.stderr = sink
    try:
        yield
    finally:
        sys.stdout, sys.stderr = saved


def format_error(exc: BaseException, limit: int = 4000) -> str:
    """The learner's traceback, without this runner's frame."""
    lines = traceback.format_exception(
        type(exc), exc, exc.__traceback__.tb_next if exc.__traceback__ else None
    )
    text = "".join(lines)
    return text if len(text) <= limit else "...\n" + text[-limit:]


def read_exact(fd: int, size: int) -> bytes:
    """``size`` bytes from ``fd`` (the trusted side's control pipe)."""
    parts, left = [], size
    while left:
        chunk = os.read(fd, min(left, 1 << 20))
        if not chunk:
            raise EOFError("the grader closed the control pipe")
        parts.append(chunk)
        left -= len(chunk)
    return b"".join(parts)


def read_frame(fd: int) -> bytes:
    """One length-prefixed message from the trusted side."""
    (size,) = FRAME.unpack(read_exact(fd, FRAME.size))
    return read_exact(fd, size)


def read_arrays(fd: int) -> dict[str, Any]:
    """A frame holding an ``.npz`` of the checks' inputs, keyed ``<check id>/<input name>``."""
    import numpy as np

    with np.load(io.BytesIO(read_frame(fd)), allow_pickle=False) as data:
        arrays = {name: data[name] for name in data.files}
    inputs: dict[str, Any] = {}
    for key, value in arrays.items():
        check_id, _, name = key.partition("/")
        inputs.setdefault(check_id, {})[name] = value
    return inputs


class Runner:
    """One notebook's run; ``job`` is what the trusted side sent first."""

    def __init__(self, job: dict[str, Any], fds: dict[str, int]) -> None:
        self.job = job
        self.fds = fds
        self.events = os.fdopen(fds["events"], "w", encoding="utf-8")
        self.budget = float(job["cell_timeout"])
        self.output_left = int(job["total_output"])
        self.memory_error = False
        self.pid = os.getpid()
        self.namespace: dict[str, Any] = {"__name__": "__main__", "__builtins__": builtins}
        from grader.checking.check import learner_error
        from grader.checking.compare import as_numeric

        self.learner_error, self.as_numeric = learner_error, as_numeric  # bound before any cell

    def emit(self, **event: Any) -> None:
        if os.getpid() != self.pid:  # a child the learner's code forked: it reports nothing
            os._exit(0)
        self.events.write(json.dumps(event) + "\n")
        self.events.flush()

    def ask(self, what: str) -> None:
        """Tell the trusted side that a phase is over (it answers on the control pipe)."""
        os.write(self.fds["ctl_out"], what.encode() + b"\n")

    def sink(self) -> CappedText:
        return CappedText(min(int(self.job["cell_output"]), self.output_left))

    def run_cells(self) -> None:
        """Execute every program cell in one namespace; a failing cell never stops the next."""
        self.namespace["display"] = lambda *objs, **_: print(*(repr(o) for o in objs))
        for cell in self.job["cells"]:
            index, source = int(cell["index"]), str(cell["source"])
            name = f"<cell {index}>"
            linecache.cache[name] = (len(source), None, source.splitlines(True), name)
            self.emit(event="cell-start", cell=index)
            out, error, start = self.sink(), "", time.monotonic()
            try:
                with captured(out), time_budget(self.budget) as fired:
                    exec(compile(source, name, "exec"), self.namespace)
                if fired[0]:
                    error = f"this cell ignored its time budget of {self.budget:g} s"
            except CellTimeout:
                error = f"stopped: this cell ran past its time budget of {self.budget:g} s"
            except MemoryError as exc:
                self.memory_error = True
                error = "MemoryError: the sandbox's memory limit was reached\n" + format_error(exc)
            except BaseException as exc:  # SystemExit and KeyboardInterrupt included
                error = format_error(exc)
            text = out.getvalue()
            self.output_left -= out.kept
            self.emit(
                event="cell",
                cell=index,
                stdout=text,
                error=error,
                seconds=round(time.monotonic() - start, 3),
            )

    def run_checks(self, specs: Mapping[str, Any], inputs: Mapping[str, Any]) -> dict[str, Any]:
        """Call each check's learner side on its inputs; returns the arrays to save, by name."""
        import numpy as np

        arrays: dict[str, Any] = {}
        for check_id, spec in specs.items():
            keys: dict[str, str] = {}
            bad: dict[str, str] = {}
            error, start = "", time.monotonic()
            missing = [n for n in spec.symbols if n not in self.namespace] if spec else []
            if spec is None:
                error = "this check is not known to the sandbox"
            elif missing:
                error = f"not defined: {', '.join(missing)} (its cell failed or is gone)"
            else:
                objs = tuple(self.namespace[name] for name in spec.symbols)
                try:
                    with (
                        captured(CappedText(0)),
                        time_budget(self.budget),
                        warnings.catch_warnings(),
                    ):
                        warnings.simplefilter("ignore")
                        got = spec.learner(dict(inputs.get(check_id, {})), *objs)
                        if not isinstance(got, Mapping):
                            raise TypeError(f"the learner side returned {type(got).__name__}")
                        for key, value in got.items():
                            arr = self.as_numeric(value)
                            if arr is None:
                                bad[str(key)] = type(value).__name__
                            else:
                                name = f"a{len(arrays)}"
                                arrays[name] = np.array(arr)
                                keys[str(key)] = name
                except CellTimeout:
                    error = f"your code did not finish within {self.budget:g} s"
                except MemoryError:
                    self.memory_error = True
                    error = "your code ran out of memory (MemoryError)"
                except BaseException as exc:
                    error = (
                        self.learner_error(exc)
                        if isinstance(exc, Exception)
                        else f"your code raised {type(exc).__name__}"
                    )
            self.emit(
                event="spec",
                id=check_id,
                error=error,
                keys=keys,
                bad=bad,
                seconds=round(time.monotonic() - start, 3),
            )
        return arrays

    def save(self, fd_name: str, arrays: Mapping[str, Any]) -> None:
        import numpy as np

        with os.fdopen(self.fds[fd_name], "wb") as out:
            np.savez(out, **arrays)


def hidden_module(lab: str, source: str) -> types.ModuleType:
    """The hidden checks' learner sides, sent after the learner's cells have run."""
    name = f"grader.checking.hidden.{lab}"
    module = types.ModuleType(name)
    module.__file__ = f"<hidden checks of {lab}>"
    sys.modules[name] = module
    exec(compile(source, module.__file__, "exec"), module.__dict__)
    return module


def install_noop_check() -> None:
    """Make ``check(...)`` in the learner's cells do nothing: scoring happens outside."""
    import grader
    import grader.checking.check as check_module

    def check(check_id: str, *objs: Any, **kwargs: Any) -> float:
        return 0.0

    grader.check = check
    check_module.check = check


def warm_up(site: str, lab: str, preload: list[str]) -> None:
    """Before the job: load the lab's checks and import ``preload``, each import best effort
    and silent (whatever fails here simply fails again when a cell imports it)."""
    sys.path.append(site)
    with captured(CappedText(0)), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with contextlib.suppress(Exception):
            importlib.import_module("grader.checking.spec").load_lab(lab)
        for name in preload:
            with contextlib.suppress(Exception):
                importlib.import_module(name)


def main(fd_arg: str, lab: str, site: str, preload: str) -> None:
    """Warm up for ``lab``, then run the job sent on the control pipe; always ends the
    process with ``os._exit``."""
    names = ("ctl_in", "ctl_out", "events", "visible", "hidden")
    fds = dict(zip(names, map(int, fd_arg.split(",")), strict=True))
    warm_up(site, lab, [name for name in preload.split(",") if name])
    job = json.loads(read_frame(fds["ctl_in"]))
    apply_limits(job["limits"])
    os.chdir(job["cwd"])
    runner = Runner(job, fds)
    try:
        from grader.checking import spec as spec_module

        # Bind every visible check's learner side now; the registry is never read again.
        spec_module.load_lab(job["lab"])  # loaded while warming up; this binds what it holds
        bound = dict(spec_module._REGISTRY)
        visible = {check_id: bound.get(check_id) for check_id in job["visible"]}
        spec_module._REGISTRY.clear()
        install_noop_check()
        runner.emit(event="start", python=sys.version.split()[0], uid=os.getuid())
        runner.run_cells()
        runner.emit(event="cells-finished", memory_error=runner.memory_error)
        runner.ask("cells-done")
        inputs = read_arrays(fds["ctl_in"])
        runner.save("visible", runner.run_checks(visible, inputs))
        runner.emit(event="visible-finished", memory_error=runner.memory_error)
        runner.ask("visible-done")
        hidden = json.loads(read_frame(fds["ctl_in"]))
        inputs = read_arrays(fds["ctl_in"])
        spec_module._REGISTRY = {}  # whatever the learner's code left in the old one
        if hidden["source"]:
            hidden_module(job["lab"], hidden["source"])
        bound.update(spec_module._REGISTRY)
        runner.save("hidden", runner.run_checks({i: bound.get(i) for i in hidden["ids"]}, inputs))
        runner.emit(event="done")
    except BaseException:
        with contextlib.suppress(BaseException):
            runner.emit(event="runner-error", error=traceback.format_exc(limit=8))
        os._exit(RUNNER_ERROR_EXIT)
    os._exit(0)


if __name__ == "__main__":
    if sys.path and sys.path[0] == os.path.dirname(os.path.abspath(__file__)):
        del sys.path[0]  # the script's own folder (Python < 3.11 has no PYTHONSAFEPATH)
    main(*sys.argv[1:5])
