"""Compare the learner's arrays with the reference's and explain the difference."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np


@dataclass(frozen=True)
class Row:
    """One line of a check's report: one output or gradient."""

    name: str
    ok: bool
    message: str = ""
    max_abs: float = float("nan")
    max_rel: float = float("nan")
    index: str = ""
    expected: str = ""
    got: str = ""


def _fmt(value: Any) -> str:
    if isinstance(value, (float, np.floating)):
        return f"{float(value):.6g}"
    return str(value)


def _error(value: float) -> str:
    """An error column's cell: ``-`` where it is not defined (nan)."""
    return "-" if np.isnan(value) else _fmt(value)


def as_numeric(value: Any) -> np.ndarray | None:
    """The value as a numeric array, or None when it is not one (objects, strings, ragged)."""
    try:
        arr = np.asarray(getattr(value, "data", value))
    except Exception:
        return None
    return arr if arr.dtype.kind in "biuf" else None


def compare_arrays(name: str, got: Any, expected: Any, rtol: float, atol: float) -> Row:
    """Element-wise ``|got - expected| <= atol + rtol * |expected|``, in float64."""
    exp = np.asarray(expected, dtype=np.float64)
    if got is None:
        return Row(name, False, "missing: the learner's code returned nothing for it")
    arr = as_numeric(got)
    if arr is None:
        return Row(name, False, f"not a numeric array (got {type(got).__name__})")
    if arr.shape != exp.shape:
        return Row(name, False, f"shape {arr.shape}, expected {exp.shape}")
    if name.endswith(" bits") and exp.ndim == 0:  # a dtype, as its number of bits
        ok = bool(arr == exp)
        what = "" if ok else f"float{int(arr)}, expected float{int(exp)}"
        return Row(name.removesuffix(" bits") + " dtype", ok, what)
    arr = arr.astype(np.float64)
    close = np.isclose(arr, exp, rtol=rtol, atol=atol, equal_nan=True)
    with np.errstate(all="ignore"):
        diff = np.abs(arr - exp)
        rel = diff / np.abs(exp)
    finite = np.isfinite(diff)
    defined = finite & (exp != 0)  # relative error only where the expected value is not 0
    max_abs = float(diff[finite].max()) if finite.any() else float("nan")
    max_rel = float(rel[defined].max()) if defined.any() else float("nan")
    if close.all():
        return Row(name, True, "", max_abs, max_rel)
    first = tuple(int(i) for i in np.argwhere(~close)[0])
    wrong = int((~close).sum())  # a note only when it tells more than the row: some differ
    message = f"{wrong} of {close.size} elements differ" if wrong < close.size else ""
    wild = ~close & ~np.isfinite(arr) & np.isfinite(exp)
    if wild.any():  # the learner's nan or inf: the finite elements' errors would mislead
        kinds = " or ".join(
            k for k, m in (("nan", np.isnan(arr)), ("inf", np.isinf(arr))) if (m & wild).any()
        )
        message = (
            f"{int(wild.sum())} of {close.size} elements are {kinds} where numbers were expected"
        )
        max_abs = max_rel = float("nan")
        first = tuple(int(i) for i in np.argwhere(wild)[0])
    return Row(
        name, False, message, max_abs, max_rel, str(first), _fmt(exp[first]), _fmt(arr[first])
    )


def format_table(rows: list[Row]) -> str:
    """A fixed-width table: what | ok | max abs/rel error | first bad index | expected | got."""
    names = ("what", "ok", "max abs err", "max rel err", "first bad index", "expected", "got")
    cells = [
        (
            r.name,
            "yes" if r.ok else "NO",
            _error(r.max_abs),
            _error(r.max_rel),
            r.index or "-",
            r.expected or "-",
            r.got or "-",
        )
        for r in rows
    ]
    # only the columns some row fills (what and ok always)
    keep = [i for i in range(len(names)) if i < 2 or any(line[i] != "-" for line in cells)]
    header = [names[i] for i in keep]
    lines = [[line[i] for i in keep] for line in cells]
    widths = [max(len(str(c)) for c in col) for col in zip(header, *lines, strict=False)]
    out = [
        "  ".join(str(c).ljust(w) for c, w in zip(row, widths, strict=True))
        for row in [header, *lines]
    ]
    notes = [f"  - {r.name}: {r.message}" for r in rows if r.message]
    return "\n".join(out + notes)
