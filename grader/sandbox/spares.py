"""Sandboxes started ahead: while one notebook runs, the next one's sandbox starts.

Starting a sandbox is mostly waiting: bubblewrap sets up its namespaces, Python
starts, and the runner imports numpy, the lab's checks and what the lab's own
notebook imports (matplotlib, tqdm, ``micrograd_plus``). None of it depends on the
learner, so :class:`Spares` does it for the next notebook while the current one
runs (at ``-j 1`` on the core it leaves idle) and hands the warm sandbox over when
that notebook's turn comes.

Nothing is shared: every sandbox still serves exactly one notebook, gets its job
(cells, check ids, limits) only when it is taken, and its wall-clock limit counts
from then. A spare that died while it waited is replaced by a fresh one; the spares
nobody needs are stopped when the batch ends.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Mapping
from types import TracebackType

from grader import config
from grader.sandbox.boot import Started, full_isolation_available, start
from grader.sandbox.results import SandboxSetupError


class Spares:
    """Sandboxes started ahead for the coming runs of a batch, lab by lab.

    Args:
        runs: how many sandboxes each lab will need, in the order the batch runs them.
        preload: lab -> the modules its notebooks import (:attr:`grader.sandbox.Job.preload`).
        limits, isolation: those of every run in the batch.
        ahead: how many sandboxes to keep started (one is enough when a notebook takes
            longer than a sandbox takes to start).

    Use it as a context manager; :meth:`take` serves :func:`grader.sandbox.run`, and
    :meth:`skip` says that a notebook will not need its sandbox after all.
    """

    def __init__(
        self,
        runs: Mapping[str, int],
        preload: Mapping[str, tuple[str, ...]],
        *,
        limits: config.Limits = config.DEFAULT_LIMITS,
        isolation: str | None = None,
        ahead: int = 1,
    ) -> None:
        self.left = Counter({lab: n for lab, n in runs.items() if n > 0})
        self.order = [lab for lab in runs if self.left[lab]]
        self.preload = dict(preload)
        self.limits = limits
        self.isolation = isolation or ("full" if full_isolation_available() else "reduced")
        self.ahead = ahead
        self.ready: list[Started] = []
        self.started = self.taken = 0
        self._lock = threading.Lock()
        self._closed = False

    def __enter__(self) -> Spares:
        with self._lock:
            self._top_up()
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def take(
        self, lab: str, preload: tuple[str, ...], limits: config.Limits, isolation: str
    ) -> Started | None:
        """A warm sandbox for a job of ``lab`` (then the next one starts), or None: none
        fits, or the batch is over (the caller starts one itself)."""
        if limits != self.limits or isolation != self.isolation:
            return None
        with self._lock:
            if self._closed:
                return None
            found = next((s for s in self.ready if s.lab == lab), None)
            if found is not None:
                self.ready.remove(found)
            self._count(lab)
            self._top_up()
        if found is not None and not (found.alive() and found.preload == preload):
            found.discard()  # it died while it waited (or was made for other imports)
            found = None
        self.taken += found is not None
        return found

    def skip(self, lab: str) -> None:
        """One notebook of ``lab`` ended before its sandbox (unreadable, say)."""
        with self._lock:
            self._count(lab)
            self._top_up()

    def close(self) -> None:
        """Stop every spare still waiting."""
        with self._lock:
            self._closed = True
            ready, self.ready = self.ready, []
        for spare in ready:
            spare.discard()

    def _count(self, lab: str) -> None:
        if self.left[lab] > 0:
            self.left[lab] -= 1

    def _upcoming(self) -> list[str]:
        """The labs of the next ``ahead`` runs (lab by lab, in the batch's order)."""
        labs = [lab for lab in self.order for _ in range(self.left[lab])]
        return labs[: self.ahead]

    def _top_up(self) -> None:
        """Start what the next runs need; stop spares of labs with no run left (under the lock)."""
        for spare in [s for s in self.ready if not self.left[s.lab]]:
            self.ready.remove(spare)
            spare.discard()
        have = Counter(s.lab for s in self.ready)
        for lab, n in Counter(self._upcoming()).items():
            for _ in range(n - have[lab]):
                try:
                    spare = start(
                        lab,
                        limits=self.limits,
                        isolation=self.isolation,
                        preload=self.preload.get(lab, ()),
                    )
                except SandboxSetupError:
                    return  # the run itself will start one and report the problem
                self.ready.append(spare)
                self.started += 1
