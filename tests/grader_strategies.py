"""Hypothesis strategies for hostile submissions: malformed notebooks, hostile names, broken zips.

Every strategy starts from the fixture lab's notebooks (:mod:`grader.checking.specs.fixture`) and
breaks them the way a real batch does: a value of the wrong JSON type anywhere, a key
missing, metadata duplicated, an odd cell kind, truncated or deeply nested JSON; folder
names with undecodable bytes, newlines, escapes, formula prefixes or a near-collision;
zips with a bad CRC, a file beside a same-named folder, slip paths and nested zips.
Names never contain ``/`` or NUL, never start with ``.`` and are never ``alice`` (the
correct learner every batch holds).
"""

from __future__ import annotations

import copy
import io
import json
import zipfile
from typing import Any

import nbformat
from hypothesis import strategies as st

from grader.checking.specs import fixture

NOTEBOOK = fixture.LAB.notebook
SOLUTION: dict[str, Any] = json.loads(nbformat.writes(fixture.solution()))
STUB: dict[str, Any] = json.loads(nbformat.writes(fixture.released()))

JSON_VALUES = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**40), 2**40)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3)
    ),
    max_leaves=6,
)
"""Any JSON value: what a wrong type anywhere in a notebook looks like."""

CELL_FIELDS = ("cell_type", "source", "metadata", "outputs", "execution_count", "id")
NBGRADER_FIELDS = ("grade", "solution", "locked", "grade_id", "points", "schema_version")


@st.composite
def malformed_notebooks(draw: st.DrawFn) -> bytes:
    """A fixture notebook broken in one or two ways, as the bytes of its file."""
    nb = copy.deepcopy(draw(st.sampled_from([SOLUTION, STUB])))
    for _ in range(draw(st.integers(1, 2))):
        cells = nb.get("cells")
        kind = draw(
            st.sampled_from(
                ["cell-field", "nbgrader-field", "drop", "duplicate", "kind", "top", "cells"]
            )
        )
        if not isinstance(cells, list) or not cells or not all(isinstance(c, dict) for c in cells):
            kind = "top"
        if kind == "top":
            nb[draw(st.sampled_from(["cells", "metadata", "nbformat"]))] = draw(JSON_VALUES)
            continue
        cell = cells[draw(st.integers(0, len(cells) - 1))]
        if kind == "cell-field":
            cell[draw(st.sampled_from(CELL_FIELDS))] = draw(JSON_VALUES)
        elif kind == "nbgrader-field":
            meta = cell.setdefault("metadata", {})
            if isinstance(meta, dict):
                nbgrader = meta.setdefault("nbgrader", {})
                if isinstance(nbgrader, dict):
                    nbgrader[draw(st.sampled_from(NBGRADER_FIELDS))] = draw(JSON_VALUES)
        elif kind == "drop":
            cell.pop(draw(st.sampled_from(CELL_FIELDS)), None)
        elif kind == "duplicate":
            cells.append(copy.deepcopy(cells[draw(st.integers(0, len(cells) - 1))]))
        elif kind == "kind":
            cell["cell_type"] = draw(st.sampled_from(["heading", "", "Code", "raw", "markdown"]))
        else:
            cells.insert(0, draw(JSON_VALUES))
    text = json.dumps(nb).encode()
    how = draw(st.sampled_from(["whole", "whole", "whole", "truncated", "nested", "bytes"]))
    if how == "truncated":
        return text[: draw(st.integers(0, len(text) - 1))]
    if how == "nested":
        return b"[" * draw(st.integers(1_000, 200_000))
    if how == "bytes":
        return draw(st.binary(max_size=64))
    return text


NAME_CHARS = st.characters(
    blacklist_categories=("Cs",), blacklist_characters="/\x00", max_codepoint=0x2FFF
)


@st.composite
def hostile_names(draw: st.DrawFn) -> bytes:
    """A folder name as bytes: control characters, formula prefixes, undecodable bytes."""
    prefix = draw(st.sampled_from(["", "=", "+", "-", "@", "\t", "\r", "\n", "\x1b[31m", " "]))
    body = draw(st.text(NAME_CHARS, min_size=1, max_size=12))
    raw = (prefix + body).encode("utf-8")
    if draw(st.booleans()):
        raw += draw(
            st.binary(min_size=1, max_size=3).filter(lambda b: b"/" not in b and b"\0" not in b)
        )
    name = raw[:200]
    if name.startswith(b".") or name in (b"alice", b"__MACOSX") or not name.strip(b"."):
        name = b"x" + name
    return name


def near_collisions(name: bytes) -> list[bytes]:
    """Names that map to the same plain folder name as ``name`` (``a b`` and ``a_b``)."""
    plain = bytes(c if chr(c).isalnum() else ord("_") for c in name)
    return [name, plain] if plain != name else [name]


@st.composite
def broken_zips(draw: st.DrawFn) -> bytes:
    """A zip of student folders, ``alice`` correct, with broken and hostile members beside her."""
    buffer = io.BytesIO()
    solution = json.dumps(SOLUTION).encode()
    corrupt: list[str] = []
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_STORED) as zf:
        zf.writestr(f"alice/{NOTEBOOK}", solution)
        for index in range(draw(st.integers(1, 3))):
            kind = draw(st.sampled_from(["crc", "clash", "slip", "absolute", "nested", "odd"]))
            student = f"s{index}"
            if kind == "crc":
                zf.writestr(f"{student}/{NOTEBOOK}", solution)
                corrupt.append(f"{student}/{NOTEBOOK}")
            elif kind == "clash":
                zf.writestr(student, b"a file named like a folder")
                zf.writestr(f"{student}/{NOTEBOOK}", solution)
            elif kind == "slip":
                zf.writestr(f"../{student}/{NOTEBOOK}", solution)
            elif kind == "absolute":
                zf.writestr(f"/tmp/{student}/{NOTEBOOK}", solution)
            elif kind == "nested":
                inner = io.BytesIO()
                with zipfile.ZipFile(inner, "w") as nested:
                    nested.writestr(f"{student}/{NOTEBOOK}", solution)
                zf.writestr(f"{student}/inner.zip", inner.getvalue())
            else:
                zf.writestr(f"{student}/{NOTEBOOK}", draw(malformed_notebooks()))
    data = bytearray(buffer.getvalue())
    with zipfile.ZipFile(io.BytesIO(bytes(data))) as zf:
        for member in corrupt:
            info = zf.getinfo(member)
            start = info.header_offset + 30 + len(info.filename.encode()) + len(info.extra)
            data[start + draw(st.integers(0, info.compress_size - 1))] ^= 0xFF
    return bytes(data)
