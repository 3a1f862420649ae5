"""``check(id, ...)``: run one spec in this process and report like a good teacher.

The same function serves the learner's visible self-checks, the hidden test
cells nbgrader runs, and the project's own tests. (The trusted autograder uses
the same specs, split across two processes: see :mod:`grader.sandbox`.)

A passing check prints one line; a failing one prints its table, the learner's
own line that raised (with the failing case's label) and a rung of its hint ladder (a
second failing run, or ``hint=2``, climbs it). Inside ``with checks():`` every check of a
cell reports its verdict and the cell fails once at the end, after one message: the
diagnosis of a known mistake, or else the first failure's table and hint.
"""

from __future__ import annotations

import importlib
import importlib.util
import inspect
import re
import sys
import sysconfig
import traceback
import warnings
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from grader.checking.compare import as_numeric
from grader.checking.numpy_side import InputChanged
from grader.checking.outcome import Outcome, judge
from grader.checking.rerun import missing_methods, stale_bases
from grader.checking.spec import Inputs, Outputs, Spec, get_spec

DEFAULT_SEED = 0

TORCH_MISSING = (
    "the checks compare your code with PyTorch, which is not installed in this Python "
    f"({sys.executable}): run `make lab` in the repository (it installs torch==2.13.0), or "
    "`pip install torch==2.13.0`; the course's container already has it"
)


class CheckFailed(AssertionError):
    """A check did not pass; the message holds the report."""


class TorchMissing(CheckFailed):
    """PyTorch, the reference of every check, cannot be imported here."""


# ------------------------------------------------------------- the learner's line
_LIBRARY_DIRS = tuple(
    p.replace("\\", "/")
    for p in {sysconfig.get_paths()["stdlib"], sysconfig.get_paths()["purelib"]}
    | {sysconfig.get_paths()["platlib"]}
)


def _reference_dir() -> str:
    """The reference engine's folder (``…/micrograd_plus/``), or "" where it is absent."""
    spec = importlib.util.find_spec("micrograd_plus")
    origin = spec.origin if spec is not None else None
    return origin.replace("\\", "/").rsplit("/", 1)[0] + "/" if origin else ""


_REFERENCE_DIR = _reference_dir()


def _is_learner_frame(filename: str) -> bool:
    """A frame of the learner's code: not the grader's (its hidden checks included), the
    reference engine's, numpy's or the standard library's (an error inside ``micrograd_plus``
    names the learner's call)."""
    path = filename.replace("\\", "/")
    if "/grader/" in path or path.startswith(("<frozen", "<hidden checks")):
        return False
    if _REFERENCE_DIR and path.startswith(_REFERENCE_DIR):
        return False
    return not any(path.startswith(d) for d in _LIBRARY_DIRS) and "site-packages" not in path


_SANDBOX_CELL = re.compile(r"<cell (\d+)>")
"""The name the sandbox compiles notebook cell N under (:mod:`grader.sandbox.runner`)."""


def _cell_name(filename: str) -> str:
    """``cell In[12]`` for a cell of this notebook, ``cell 12`` for one the sandbox ran, else ""."""
    shell = _ipython()
    if shell is not None:
        named = shell.compile.format_code_name(filename)
        if named:
            return f"cell {named[1]}"
    match = _SANDBOX_CELL.fullmatch(filename)
    return f"cell {match[1]}" if match else ""


def _where(filename: str) -> str:
    """``your cell In[12]`` for a notebook cell, else the file's name."""
    cell = _cell_name(filename)
    return f"your {cell}" if cell else filename.replace("\\", "/").rsplit("/", 1)[-1]


def learner_error(exc: BaseException) -> str:
    """One readable line for an exception raised by the learner's code.

    It names the learner's own line: the innermost frame in a notebook cell (an error raised
    inside ``micrograd_plus`` or numpy by ``x @ self.weight`` names that line of the cell),
    else the innermost frame of the learner's other code (a file the learner wrote); and,
    when the check labels its cases, the case that raised.
    """
    frames = traceback.extract_tb(exc.__traceback__)
    mine = [f for f in frames if _is_learner_frame(f.filename)]
    cells = [f for f in mine if _cell_name(f.filename)]
    where = ""
    if mine:
        frame = (cells or mine)[-1]
        where = f" (in {frame.name}, {_where(frame.filename)}, line {frame.lineno}: "
        where += f"`{(frame.line or '').strip()}`)"
    case = getattr(exc, "check_case", "")
    case = f" in case `{case}`" if case else ""
    if isinstance(exc, InputChanged):  # the check found it, after the learner's code returned
        return f"{case.strip()}: {exc}"
    if isinstance(exc, NotImplementedError):
        return (
            f"your code raised NotImplementedError{case}{where}: "
            "replace the stub with your solution"
        )
    return f"your code raised {type(exc).__name__}{case}: {exc}{where}"


# ------------------------------------------------------------- running a spec
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


def reference(spec: Spec, inputs: Inputs) -> Outputs:
    """The spec's expected outputs; :class:`TorchMissing` when PyTorch is not installed."""
    try:
        return spec.reference(inputs)
    except ModuleNotFoundError as exc:
        if exc.name != "torch":
            raise
        raise TorchMissing(TORCH_MISSING) from None


def diagnosed(
    outcome: Outcome, inputs: Inputs, got: Outputs | None = None, expected: Outputs | None = None
) -> Outcome:
    """The outcome with the misconception it matches, where the catalogue is at hand (the
    sandbox carries none: the trusted grader diagnoses its arrays)."""
    try:
        from grader.checking.misconceptions import diagnosed as diagnose
    except ImportError:
        return outcome
    return diagnose(outcome, inputs, got, expected)


_EXPECTED: dict[tuple[int, int], tuple[Spec, Outputs]] = {}
"""(id of a spec, seed) -> the spec and its reference outputs: a check run again (a
re-run self-check cell) compares with the outputs computed the first time."""


def expected_outputs(spec: Spec, inputs: Inputs, seed: int) -> Outputs:
    """The reference outputs of ``spec`` on its inputs at ``seed``, computed once per process
    (read-only arrays)."""
    key = (id(spec), seed)
    if key not in _EXPECTED:
        outputs = reference(spec, {k: v.copy() for k, v in inputs.items()})
        for value in outputs.values():
            if hasattr(value, "setflags"):
                value.setflags(write=False)
        _EXPECTED[key] = (spec, outputs)  # the spec is kept: its id is never reused
    return _EXPECTED[key][1]


def run_spec(spec: Spec, objs: tuple[Any, ...], seed: int = DEFAULT_SEED) -> Outcome:
    """Run learner and reference in this process and compare them."""
    try:
        inputs = spec.make_inputs(seed)  # a few checks' inputs hold PyTorch's values
    except ModuleNotFoundError as exc:
        if exc.name != "torch":
            raise
        raise TorchMissing(TORCH_MISSING) from None
    got, error = run_learner(spec, objs, {k: v.copy() for k, v in inputs.items()})
    if got is None:
        return diagnosed(Outcome(spec, error=error), inputs)
    got = {k: as_numeric(v) if as_numeric(v) is not None else v for k, v in got.items()}
    expected = expected_outputs(spec, inputs, seed)
    return diagnosed(Outcome(spec, judge(spec, got, expected, inputs)), inputs, got, expected)


# ------------------------------------------------------------- the notebook side
def _ipython() -> Any:
    shell = sys.modules.get("IPython")
    get = getattr(shell, "get_ipython", None)
    return get() if get else None


def _show_report_only(
    shell: Any, etype: type, value: BaseException, tb: Any, tb_offset: Any = None
) -> None:
    """IPython handler for a failed check: the one-line reason, not the grader's frames."""
    shell._showtraceback(etype, value, [f"{etype.__name__}: {value}"])


def _install_handler() -> None:
    shell = _ipython()
    if shell is not None and CheckFailed not in getattr(shell, "custom_exceptions", ()):
        shell.set_custom_exc((CheckFailed,), _show_report_only)


_deferred: list[list[str]] = []
"""One list per open ``checks()`` block: the ids that failed in it."""

_causes: list[dict[str, list[str]]] = []
"""One dict per open ``checks()`` block: a cause printed once (a diagnosis, an error) -> the
ids of the failing checks it explains."""

_details: list[dict[str, str]] = []
"""One dict per open ``checks()`` block: check id -> the table and hint of a failure no
diagnosis explained, printed at the block's end only when no diagnosis was printed there."""

_shown: dict[str, str] = {}
"""check id -> the report last printed for its failure, so that a graded cell repeating the
self-check just above it prints one line instead of the same table."""

_rung: dict[str, int] = {}
"""check id -> the highest rung of its hint ladder shown in this kernel: the next failing
run of the same self-check climbs one rung."""


def hint_level(check_id: str, asked: int | None, quiet: bool) -> int:
    """The rung of the hint ladder a failing run shows: ``asked`` (``hint=``) when given, the
    rung last shown for a graded cell (``quiet``: it repeats the self-check above it), else
    the rung after the last one shown."""
    if asked is not None:
        return max(1, asked)
    return max(1, _rung.get(check_id, 0) + (0 if quiet else 1))


def _failure_text(outcome: Outcome, verbose: bool, quiet: bool, hint: int | None = None) -> str:
    """What a failing check prints in a notebook: each mistake's message once.

    A recognised misconception replaces the table and the generic hint (``verbose=True``
    shows them); inside ``with checks():`` a diagnosis or an error shared by several checks
    is printed once, at the block's end, with the checks it explains; a graded cell
    (``quiet=True``) whose failure was just reported in full gives a one-line verdict. A
    hint shows the rung of :func:`hint_level`; showing it moves the check up its ladder.
    """
    check_id = outcome.spec.id
    level = hint_level(check_id, hint, quiet)
    full = outcome.report(verbose, level)
    headline = outcome.headline()
    if quiet and not verbose and _shown.get(check_id) == full:
        return f"{headline}: the same failure as its self-check reported above"
    _shown[check_id] = full
    shows_hint = outcome.shows_hint and (verbose or outcome.diagnosis is None)
    if shows_hint and not quiet:
        _rung[check_id] = max(_rung.get(check_id, 0), min(level, len(outcome.spec.hints)))
    if verbose:
        return full
    cause = outcome.diagnosis.text() if outcome.diagnosis is not None else ""
    if _causes and cause:  # said once, at the block's end
        _causes[-1].setdefault(cause, []).append(outcome.spec.id)
        return "\n".join([headline, *([f"  {outcome.error}"] if outcome.error else [])])
    if _causes and outcome.error:
        seen = _causes[-1].setdefault(f"error: {outcome.error}", [])
        seen.append(outcome.spec.id)
        if len(seen) > 1:
            return f"{headline}\n  the same error as {seen[0]} above"
    if _causes and not cause:  # its table and hint wait for the block's end
        details = outcome.details(level)
        if details:
            _details[-1][outcome.spec.id] = details
        return "\n".join([headline, *([f"  {outcome.error}"] if outcome.error else [])])
    if cause:
        lines = [headline, *([f"  {outcome.error}"] if outcome.error else []), cause]
        return "\n".join([*lines, "(check(..., verbose=True) shows the table)"])
    return full


def _print_causes(causes: dict[str, list[str]], details: dict[str, str]) -> None:
    """Each cause of a ``checks()`` block once, with the checks it explains; when no
    diagnosis was found, the tables and hints of the failures instead (one mistake often
    fails several checks: a diagnosis of one explains the others better than their hints)."""
    diagnoses = {t: ids for t, ids in causes.items() if not t.startswith("error: ")}
    for text, ids in diagnoses.items():  # errors were printed where they first occurred
        print(f"{text}\n  (this explains {', '.join(ids)}; verbose=True shows the tables)")
    if diagnoses and details:
        print(f"  ({', '.join(details)} failed too: check(..., verbose=True) shows each table)")
    elif details:  # the first failure's table and hint; one mistake often fails them all
        (first, text), *others = details.items()
        print(f"{first}:\n{text}" if others else text)
        if others:
            tables = "its table" if len(others) == 1 else "their tables"
            print(f"  ({', '.join(i for i, _ in others)}: verbose=True shows {tables})")


@contextmanager
def checks() -> Iterator[None]:
    """Run every ``check(...)`` in the block, report each, then fail once if any failed.

    ``with checks():`` around a self-check cell's calls shows every failing check of the
    cell, so the first one does not hide the one whose hint names the mistake.
    """
    __tracebackhide__ = True
    _install_handler()
    failed: list[str] = []
    _deferred.append(failed)
    _causes.append({})
    _details.append({})
    try:
        yield
    finally:
        _deferred.pop()
        _print_causes(_causes.pop(), _details.pop())
    if failed:
        raise CheckFailed(f"{len(failed)} check(s) failed: {', '.join(failed)}; see above")


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
        return ()
    return tuple(namespace[name] for name in spec.symbols)


def evaluate(spec: Spec, objs: tuple[Any, ...], namespace: Mapping[str, Any], seed: int) -> Outcome:
    """The outcome of one check called from a notebook whose globals are ``namespace``."""
    resolved = _resolve(spec, objs, namespace)
    if not resolved and spec.symbols:
        missing = [name for name in spec.symbols if name not in namespace]
        return Outcome(
            spec, error=f"not defined yet: {', '.join(missing)} (run the cells above first)"
        )
    lost = missing_methods(spec, resolved) or stale_bases(spec, resolved, namespace)
    if lost:
        return Outcome(spec, error=lost, show_hint=False)
    return run_spec(spec, resolved, seed)


def check(
    check_id: str,
    *objs: Any,
    seed: int = DEFAULT_SEED,
    quiet: bool = False,
    verbose: bool = False,
    hint: int | None = None,
) -> float:
    """Check your code against PyTorch.

    Args:
        check_id: which check, e.g. ``"lab2.relu.backward"``.
        *objs: your function(s) or class(es) it exercises; when left out, they
            are looked up by name in the calling notebook.
        seed: seed of the random inputs.
        quiet: print nothing when the check passes.
        verbose: print the expected-vs-got table of a passing check too.
        hint: the rung of the hint ladder a failure shows: 1 names the concept and the
            section of the lab to read, 2 says more (the rule in words). Left out, the
            first failing run shows rung 1 and each further failing run the next one.

    Returns:
        The points earned.

    Raises:
        CheckFailed: (an AssertionError) after printing what differs; inside
            ``with checks():`` the block raises once at its end instead.
        TorchMissing: PyTorch is not installed (one line says how to install it).
    """
    __tracebackhide__ = True  # IPython and pytest show the report, not grader internals
    _install_handler()
    spec = get_spec(check_id)
    caller = inspect.currentframe()
    namespace = caller.f_back.f_globals if caller and caller.f_back else {}
    outcome = evaluate(spec, objs, namespace, seed)
    if not outcome.passed:
        print(_failure_text(outcome, verbose, quiet, hint))
        if _deferred:
            _deferred[-1].append(spec.id)
            return 0.0
        raise CheckFailed(f"{spec.id} failed; see the report above")
    if not quiet:
        print(outcome.report(verbose))
    return outcome.score
