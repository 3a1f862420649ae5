"""Learner-controlled text made safe to put in files: ids, CSV cells, log lines.

Student ids come from folder and file names, grade ids from learner-editable
metadata: either can hold bytes that are not UTF-8, newlines, terminal escapes or
a spreadsheet formula. :func:`escape` makes such text one printable line,
:func:`neutralise` applies OWASP's rule against CSV formula injection, and
:class:`LogFormatter` keeps every log line one line.
"""

from __future__ import annotations

import csv
import logging
import unicodedata
from collections.abc import Iterable
from pathlib import Path

FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")
"""OWASP: a spreadsheet cell starting with one of these may be run as a formula."""

_SHORT = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}


def escape(text: str) -> str:
    """``text`` as one printable line: control characters, line separators and undecodable bytes
    (surrogate escapes from ``os.fsdecode``) become backslash escapes; everything else is kept.
    """
    out = []
    for char in text:
        code = ord(char)
        if char in _SHORT:
            out.append(_SHORT[char])
        elif 0xDC80 <= code <= 0xDCFF:  # an undecodable byte, as os.fsdecode carries it
            out.append(f"\\x{code - 0xDC00:02x}")
        elif unicodedata.category(char) in ("Cc", "Cs", "Zl", "Zp"):
            out.append(f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}")
        else:
            out.append(char)
    return "".join(out)


def neutralise(cell: str) -> str:
    """A CSV cell a spreadsheet will not run: ``'`` prefixed when it starts like a formula."""
    return "'" + cell if cell.startswith(FORMULA_PREFIXES) else cell


def write_csv(path: Path, header: Iterable[str], rows: Iterable[Iterable[object]]) -> None:
    """Write a CSV file (UTF-8) with every cell neutralised."""
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow([neutralise(str(cell)) for cell in header])
        for row in rows:
            writer.writerow([neutralise(str(cell)) for cell in row])


class LogFormatter(logging.Formatter):
    """A formatter whose messages are escaped to one line; a traceback's lines are indented, so
    no text from a submission can start a line of its own."""

    def format(self, record: logging.LogRecord) -> str:
        record = logging.makeLogRecord(record.__dict__)
        record.msg, record.args = escape(record.getMessage()), None
        text = super().format(record)
        head, _, rest = text.partition("\n")
        if not rest:
            return head
        tail = [escape(line) for line in rest.split("\n")]
        return "\n".join([head, *("    " + line for line in tail)])
