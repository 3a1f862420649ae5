"""Runs INSIDE the sandbox: the learner's program, then each check's learner side.

Started by :mod:`grader.sandbox` as ``python -s -S _runner.py JOB`` with a
fully replaced environment, so it sees the standard library, the sandbox's
``site`` folder (numpy, matplotlib, the learner side of the checks, the
``micrograd_plus`` modules this lab may use) and nothing else. It reports
through two inherited file descriptors: JSON lines of events (one per cell and
per check) and an ``.npz`` of plain numeric arrays. Nothing it writes is
trusted: the grader recomputes the references and judges the arrays itself.
"""

from __future__ import annotations

import builtins
import contextlib
import io
import json
import linecache
import os
import resource
import signal
import sys
import time
import traceback
import warnings
from collections.abc import Iterator, Mapping
from typing import Any, TextIO

RUNNER_ERROR_EXIT = 70


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


class Runner:
    """One notebook's run; ``job`` is the JSON the trusted side wrote."""

    def __init__(self, job: dict[str, Any]) -> None:
        self.job = job
        self.events = os.fdopen(job["events_fd"], "w", encoding="utf-8")
        self.budget = float(job["cell_timeout"])
        self.output_left = int(job["total_output"])
        self.memory_error = False
        self.pid = os.getpid()
        self.namespace: dict[str, Any] = {"__name__": "__main__", "__builtins__": builtins}

    def emit(self, **event: Any) -> None:
        if os.getpid() != self.pid:  # a child the learner's code forked: it reports nothing
            os._exit(0)
        self.events.write(json.dumps(event) + "\n")
        self.events.flush()

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

    def run_specs(self) -> dict[str, Any]:
        """Call each check's learner side; returns the arrays to save, by name."""
        import numpy as np

        from grader.check import learner_error
        from grader.compare import as_numeric
        from grader.spec import get_spec

        arrays: dict[str, Any] = {}
        for check_id in self.job["specs"]:
            spec = get_spec(check_id)
            keys: dict[str, str] = {}
            bad: dict[str, str] = {}
            error, start = "", time.monotonic()
            missing = [name for name in spec.symbols if name not in self.namespace]
            if missing:
                error = f"not defined: {', '.join(missing)} (its cell failed or is gone)"
            else:
                objs = tuple(self.namespace[name] for name in spec.symbols)
                inputs = spec.make_inputs(int(self.job["seed"]))
                try:
                    with (
                        captured(CappedText(0)),
                        time_budget(self.budget),
                        warnings.catch_warnings(),
                    ):
                        warnings.simplefilter("ignore")
                        got = spec.learner(inputs, *objs)
                        if not isinstance(got, Mapping):
                            raise TypeError(f"the learner side returned {type(got).__name__}")
                        for key, value in got.items():
                            arr = as_numeric(value)
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
                        learner_error(exc)
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


def install_noop_check() -> None:
    """Make ``check(...)`` in the learner's cells do nothing: scoring happens outside."""
    import grader
    import grader.check as check_module

    def check(check_id: str, *objs: Any, **kwargs: Any) -> float:
        return 0.0

    grader.check = check
    check_module.check = check


def main(job_path: str) -> None:
    """Run the job at ``job_path``; always ends the process with ``os._exit``."""
    with open(job_path, encoding="utf-8") as handle:
        job = json.load(handle)
    apply_limits(job["limits"])
    sys.path.append(job["site"])
    os.chdir(job["cwd"])
    runner = Runner(job)
    try:
        import numpy as np

        from grader.spec import get_spec, load_lab

        load_lab(job["lab"])
        for check_id in job["specs"]:
            get_spec(check_id)
        install_noop_check()
        runner.emit(event="start", python=sys.version.split()[0], uid=os.getuid())
        runner.run_cells()
        arrays = runner.run_specs()
        with os.fdopen(job["outputs_fd"], "wb") as out:
            np.savez(out, **arrays)
        runner.emit(event="done", memory_error=runner.memory_error)
    except BaseException:
        with contextlib.suppress(BaseException):
            runner.emit(event="runner-error", error=traceback.format_exc(limit=8))
        os._exit(RUNNER_ERROR_EXIT)
    os._exit(0)


if __name__ == "__main__":
    if sys.path and sys.path[0] == os.path.dirname(os.path.abspath(__file__)):
        del sys.path[0]  # the script's own folder (Python < 3.11 has no PYTHONSAFEPATH)
    main(sys.argv[1])
