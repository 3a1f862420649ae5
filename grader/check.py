"""``check(id, ...)``: run one spec in this process and report like a good teacher.

The same function serves the learner's visible self-checks, the hidden test
cells nbgrader runs, and the project's own tests. (The trusted autograder uses
the same specs, split across two processes: see :mod:`grader.sandbox`.)
"""

from __future__ import annotations

import inspect
import traceback
import warnings
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from grader.compare import Row, as_numeric, compare_arrays, format_table
from grader.spec import Inputs, Outputs, Spec, get_spec

if TYPE_CHECKING:
    from grader.misconceptions import Diagnosis

DEFAULT_SEED = 0


class CheckFailed(AssertionError):
    """A check did not pass; the message holds the report."""


@dataclass
class Outcome:
    """What running one spec produced."""

    spec: Spec
    rows: list[Row] = field(default_factory=list)
    error: str = ""
    diagnosis: Diagnosis | None = None
    """The known misconception a failure matches (:mod:`grader.misconceptions`)."""

    @property
    def passed(self) -> bool:
        return not self.error and bool(self.rows) and all(r.ok for r in self.rows)

    @property
    def score(self) -> float:
        return self.spec.points if self.passed else 0.0

    def report(self) -> str:
        head = f"{self.spec.id}: {'passed' if self.passed else 'FAILED'} "
        head += f"({self.score:g}/{self.spec.points:g} points)"
        parts = [head]
        if self.error:
            parts.append(f"  {self.error}")
        if self.rows:
            parts.append(format_table(self.rows))
        if not self.passed and self.spec.hint:
            parts.append(f"hint: {self.spec.hint}")
        if not self.passed and self.diagnosis is not None:
            parts.append(self.diagnosis.text())
        return "\n".join(parts)


def learner_error(exc: BaseException) -> str:
    """One readable line for an exception raised by the learner's code."""
    frames = traceback.extract_tb(exc.__traceback__)
    where = ""
    for frame in reversed(frames):
        if "/grader/" not in frame.filename.replace("\\", "/"):
            where = f" (in {frame.name}, line {frame.lineno}: {(frame.line or '').strip()})"
            break
    if isinstance(exc, NotImplementedError):
        return f"your code raised NotImplementedError{where}: replace the stub with your solution"
    return f"your code raised {type(exc).__name__}: {exc}{where}"


def run_learner(spec: Spec, objs: tuple[Any, ...], inputs: Inputs) -> tuple[Outputs | None, str]:
    """Call the spec's learner side; never raises (the error is returned as text)."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # nbgrader zeroes a cell that writes to stderr
            got = spec.learner(inputs, *objs)
    except Exception as exc:
        return None, learner_error(exc)
    if not isinstance(got, Mapping):
        return None, f"the check's learner side returned {type(got).__name__}, not a dict"
    return got, ""


def judge(spec: Spec, got: Outputs, expected: Outputs, inputs: Inputs) -> list[Row]:
    """Compare got with expected: the spec's own rule, or every expected key element-wise."""
    if spec.compare is not None:
        return spec.compare(got, expected, inputs)
    return [
        compare_arrays(key, got.get(key), value, spec.rtol, spec.atol)
        for key, value in expected.items()
    ]


def diagnosed(
    outcome: Outcome, inputs: Inputs, got: Outputs | None = None, expected: Outputs | None = None
) -> Outcome:
    """The outcome with the misconception it matches, where the catalogue is at hand (the
    sandbox carries none: the trusted grader diagnoses its arrays)."""
    try:
        from grader.misconceptions import diagnosed as diagnose
    except ImportError:
        return outcome
    return diagnose(outcome, inputs, got, expected)


def run_spec(spec: Spec, objs: tuple[Any, ...], seed: int = DEFAULT_SEED) -> Outcome:
    """Run learner and reference in this process and compare them."""
    inputs = spec.make_inputs(seed)
    got, error = run_learner(spec, objs, {k: v.copy() for k, v in inputs.items()})
    if got is None:
        return diagnosed(Outcome(spec, error=error), inputs)
    got = {k: as_numeric(v) if as_numeric(v) is not None else v for k, v in got.items()}
    expected = spec.reference(inputs)
    return diagnosed(Outcome(spec, judge(spec, got, expected, inputs)), inputs, got, expected)


def _resolve(spec: Spec, objs: tuple[Any, ...], namespace: Mapping[str, Any]) -> tuple[Any, ...]:
    if objs:
        if len(objs) != len(spec.symbols):
            raise TypeError(
                f"check({spec.id!r}) takes {len(spec.symbols)} object(s) "
                f"({', '.join(spec.symbols)}), got {len(objs)}"
            )
        return objs
    missing = [name for name in spec.symbols if name not in namespace]
    if missing:
        raise CheckFailed(
            f"{spec.id}: FAILED (0/{spec.points:g} points)\n  "
            f"not defined yet: {', '.join(missing)} (run the cells above first)"
        )
    return tuple(namespace[name] for name in spec.symbols)


def check(check_id: str, *objs: Any, seed: int = DEFAULT_SEED, quiet: bool = False) -> float:
    """Check your code against PyTorch.

    Args:
        check_id: which check, e.g. ``"lab2.relu.backward"``.
        *objs: your function(s) or class(es) it exercises; when left out, they
            are looked up by name in the calling notebook.
        seed: seed of the random inputs.
        quiet: print nothing when the check passes (by default a passing check
            prints its expected-vs-got table too).

    Returns:
        The points earned.

    Raises:
        CheckFailed: (an AssertionError) with a table of what differs.
    """
    __tracebackhide__ = True  # IPython and pytest show the report, not grader internals
    spec = get_spec(check_id)
    caller = inspect.currentframe()
    namespace = caller.f_back.f_globals if caller and caller.f_back else {}
    outcome = run_spec(spec, _resolve(spec, objs, namespace), seed)
    if not outcome.passed:
        print(outcome.report())
        raise CheckFailed(f"{spec.id} failed; see the report above")
    if not quiet:
        print(f"\u2713 {outcome.report()}")
    return outcome.score
