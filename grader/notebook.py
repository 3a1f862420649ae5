"""One model of a notebook: read once, validated once, asked everything.

The grader, the release, the scoring, the integrity scan and the red-team tools
all ask the same questions of an nbgrader notebook: which cells are code, which
are graded tests or solutions, what a cell's nbgrader metadata says, where its
solution and hidden-test regions are, which ``check()`` calls it makes. They are
answered here (the questions of a cell's text in :mod:`grader.cellsource`) and nowhere else.

A learner's file is untrusted: :func:`read` turns anything malformed (not JSON,
nested too deep, wrong types anywhere the grader looks, a symlink, a special
file, too large) into one :class:`NotebookError` whose ``reason`` becomes the
lab's status ``ungradable:<reason>``.
"""

from __future__ import annotations

import contextlib
import errno
import io
import json
import math
import os
import stat
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

from grader.cellsource import CheckCall, Regions, check_calls, regions, without_hidden

CELL_KINDS = ("code", "markdown", "raw")

REASONS = ("invalid-json", "not-a-notebook", "too-large", "unreadable", "symlink")
"""The reasons :func:`read` can give (the rest come from running the notebook)."""


class NotebookError(ValueError):
    """A file that cannot be graded as a notebook; ``reason`` names why, ``detail`` where."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason = reason
        self.detail = detail


@dataclass(frozen=True)
class Nbgrader:
    """A cell's ``metadata.nbgrader``, typed (defaults when absent)."""

    grade_id: str | None = None
    points: float | None = None
    grade: bool = False
    solution: bool = False
    locked: bool = False
    present: bool = False


@dataclass(frozen=True)
class Cell:
    """One cell: its position, kind, source text and nbgrader metadata."""

    index: int
    kind: str
    source: str
    nbgrader: Nbgrader

    @property
    def grade_id(self) -> str | None:
        return self.nbgrader.grade_id

    @property
    def is_code(self) -> bool:
        return self.kind == "code"

    @property
    def is_test(self) -> bool:
        """An nbgrader graded test cell: code, ``grade`` true, ``solution`` false."""
        return self.is_code and self.nbgrader.grade and not self.nbgrader.solution

    @property
    def is_solution(self) -> bool:
        """A cell the learner writes in (``solution`` true, any kind)."""
        return self.nbgrader.solution

    @property
    def is_program(self) -> bool:
        """Part of the learner's program: a code cell that is not a graded test cell."""
        return self.is_code and not self.is_test

    @cached_property
    def regions(self) -> Regions:
        return regions(self.source)

    @property
    def visible_source(self) -> str:
        """The source as released to learners (hidden-test blocks removed)."""
        return without_hidden(self.source)

    def check_calls(self) -> list[CheckCall]:
        """The ``check()`` calls of this cell (raises SyntaxError when it does not parse)."""
        return check_calls(self.source)


@dataclass(frozen=True)
class Notebook:
    """A validated notebook: its cells, in order."""

    cells: tuple[Cell, ...]

    def code_cells(self) -> list[Cell]:
        return [cell for cell in self.cells if cell.is_code]

    def test_cells(self) -> list[Cell]:
        return [cell for cell in self.cells if cell.is_test]

    def solution_cells(self) -> list[Cell]:
        return [cell for cell in self.cells if cell.is_solution]

    def program(self) -> list[Cell]:
        """The learner's program: code cells but graded test cells."""
        return [cell for cell in self.cells if cell.is_program]

    def cell(self, grade_id: str) -> Cell:
        """The first cell with this grade id (KeyError when none)."""
        for cell in self.cells:
            if cell.grade_id == grade_id:
                return cell
        raise KeyError(f"no cell with grade_id {grade_id!r}")


# --- reading -------------------------------------------------------------------------------


def read(path: Path, *, max_bytes: int) -> Notebook:
    """Read and validate an untrusted notebook file without following a symlink.

    Raises:
        NotebookError: ``symlink``, ``unreadable`` (not a regular file, or an I/O error),
            ``too-large``, ``invalid-json`` or ``not-a-notebook``.
    """
    flags = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0)
    try:
        fd = os.open(path, flags)
    except OSError as exc:
        if exc.errno == errno.ELOOP or os.path.islink(path):
            raise NotebookError("symlink", "a symbolic link is not followed") from exc
        raise NotebookError("unreadable", f"cannot open: {exc.strerror}") from exc
    with os.fdopen(fd, "rb") as handle:
        info = os.fstat(handle.fileno())
        if not stat.S_ISREG(info.st_mode):
            raise NotebookError("unreadable", "not a regular file")
        if info.st_size > max_bytes:
            raise NotebookError("too-large", f"{info.st_size} bytes, over the {max_bytes} cap")
        try:
            data = handle.read(max_bytes + 1)
        except OSError as exc:
            raise NotebookError("unreadable", f"read error: {exc.strerror}") from exc
    if len(data) > max_bytes:
        raise NotebookError("too-large", f"over the {max_bytes}-byte cap")
    if not data.strip():
        raise NotebookError(
            "invalid-json", "the file is empty: save the notebook and hand it in again"
        )
    return loads(data)


def loads(data: bytes | str) -> Notebook:
    """Parse and validate notebook JSON (raises :class:`NotebookError`)."""
    text = data.decode("utf-8-sig", errors="replace") if isinstance(data, bytes) else data
    try:
        parsed = json.loads(text)
    except RecursionError as exc:
        raise NotebookError("invalid-json", "nested too deeply") from exc
    except ValueError as exc:
        raise NotebookError("invalid-json", str(exc)[:200]) from exc
    if isinstance(parsed, dict) and ("worksheets" in parsed or parsed.get("nbformat") == 3):
        parsed = _upgrade(text)
    return from_json(parsed)


def _upgrade(text: str) -> Any:
    """An nbformat 3 notebook as nbformat 4 JSON."""
    import nbformat

    try:
        with contextlib.redirect_stderr(io.StringIO()):
            return json.loads(nbformat.writes(nbformat.reads(text, as_version=4)))
    except Exception as exc:
        raise NotebookError(
            "not-a-notebook", f"an nbformat 3 file that does not convert: {exc}"
        ) from exc


def _type(value: Any) -> str:
    return "null" if value is None else type(value).__name__


def from_json(data: Any) -> Notebook:
    """Validate a notebook's JSON (a dict, or an nbformat ``NotebookNode``) into the model.

    Raises:
        NotebookError: ``not-a-notebook`` naming the first cell and field of the wrong type.
    """

    def bad(where: str, what: str) -> NotebookError:
        return NotebookError("not-a-notebook", f"{where}: {what}")

    if not isinstance(data, Mapping):
        raise bad("the top level", f"a {_type(data)}, not an object")
    raw_cells = data.get("cells")
    if not isinstance(raw_cells, list):
        raise bad("the top level", f"'cells' is a {_type(raw_cells)}, not a list")
    cells = []
    for index, raw in enumerate(raw_cells):
        where = f"cell {index}"
        if not isinstance(raw, Mapping):
            raise bad(where, f"a {_type(raw)}, not an object")
        kind = raw.get("cell_type")
        if kind not in CELL_KINDS:
            raise bad(where, f"cell_type {str(kind)[:40]!r} is not one of {', '.join(CELL_KINDS)}")
        source = raw.get("source", "")
        if isinstance(source, list) and all(isinstance(part, str) for part in source):
            source = "".join(source)
        if not isinstance(source, str):
            raise bad(where, f"source is a {_type(source)}, not text")
        metadata = raw.get("metadata", {})
        if not isinstance(metadata, Mapping):
            raise bad(where, f"metadata is a {_type(metadata)}, not an object")
        cells.append(Cell(index, kind, source, _nbgrader(metadata.get("nbgrader"), where)))
    return Notebook(tuple(cells))


def _nbgrader(meta: Any, where: str) -> Nbgrader:
    if meta is None:
        return Nbgrader()
    if not isinstance(meta, Mapping):
        raise NotebookError("not-a-notebook", f"{where}: metadata.nbgrader is a {_type(meta)}")
    values: dict[str, Any] = {"present": True}
    for name in ("grade", "solution", "locked"):
        value = meta.get(name, False)
        if not isinstance(value, bool):
            raise NotebookError(
                "not-a-notebook", f"{where}: metadata.nbgrader.{name} is a {_type(value)}"
            )
        values[name] = value
    grade_id = meta.get("grade_id")
    if grade_id is not None and not isinstance(grade_id, str):
        raise NotebookError(
            "not-a-notebook", f"{where}: metadata.nbgrader.grade_id is a {_type(grade_id)}"
        )
    points = meta.get("points")
    if points is not None and (
        isinstance(points, bool)
        or not isinstance(points, (int, float))
        or not math.isfinite(points)
    ):
        raise NotebookError(
            "not-a-notebook", f"{where}: metadata.nbgrader.points is not a finite number"
        )
    return Nbgrader(grade_id=grade_id, points=None if points is None else float(points), **values)


# --- cell text -----------------------------------------------------------------------------


def check_ids(cell: Cell) -> list[str]:
    """The distinct literal check ids a cell calls, in order (raises SyntaxError)."""
    return list(dict.fromkeys(c.id for c in cell.check_calls() if c.literal))


def grade_ids(cells: Iterable[Cell]) -> list[str]:
    return [cell.grade_id for cell in cells if cell.grade_id is not None]
