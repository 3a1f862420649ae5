"""QUICKSTART.md runs as written: its code blocks, in order, print what the page shows."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
FENCE = re.compile(r"^```(\w*)\n(.*?)^```\s*$", re.MULTILINE | re.DOTALL)

# Runs each block in one shared namespace and reports what each printed, as JSON.
DRIVER = """
import contextlib, io, json, sys
blocks = json.load(sys.stdin)
namespace = {"__name__": "__main__"}
printed = []
for index, code in enumerate(blocks):
    buffer = io.StringIO()
    with contextlib.redirect_stdout(buffer):
        exec(compile(code, f"<QUICKSTART.md block {index + 1}>", "exec"), namespace)
    printed.append(buffer.getvalue())
json.dump(printed, sys.stdout)
"""


def blocks() -> list[tuple[str, str | None]]:
    """``(python code, the output block right after it or None)`` for every python block."""
    fences = [
        (m.group(1), m.group(2)) for m in FENCE.finditer((ROOT / "QUICKSTART.md").read_text())
    ]
    pairs = []
    for index, (language, text) in enumerate(fences):
        if language == "python":
            after = fences[index + 1] if index + 1 < len(fences) else None
            pairs.append((text, after[1] if after and after[0] == "output" else None))
    return pairs


def test_quickstart_blocks_print_what_the_page_shows() -> None:
    """Run in order in a fresh Python, does each block print exactly its output block?"""
    pairs = blocks()
    assert len(pairs) >= 5
    result = subprocess.run(
        [sys.executable, "-c", DRIVER],
        input=json.dumps([code for code, _ in pairs]),
        capture_output=True,
        text=True,
        timeout=120,
        cwd=ROOT,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    printed = json.loads(result.stdout)
    for index, ((code, expected), got) in enumerate(zip(pairs, printed, strict=True), start=1):
        if expected is None:
            assert got == "", f"block {index} prints but the page shows no output:\n{got}"
        else:
            assert got.rstrip() == expected.rstrip(), f"block {index}:\n{code}"


def test_quickstart_teaches_the_opening_example() -> None:
    """Does the page show c = a*b + a giving c = 8, a.grad = 4, b.grad = 2 and PyTorch's Match?"""
    outputs = "\n".join(expected or "" for _, expected in blocks())
    assert "Value(data=8.0000, grad=1.0000)" in outputs
    assert "a.grad = 4.0  b.grad = 2.0" in outputs
    assert "Match: True" in outputs
    code = "\n".join(code for code, _ in blocks())
    assert "c = a * b + a" in code and "def backward" in code
