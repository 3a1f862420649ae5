"""Cheating: checks patched, torch imported, solutions looked for and a pass faked in the output.

Each must score no more than the learner's own code earns, and carry its flag.
"""

from __future__ import annotations

from grader.redteam.tamper.case import TamperCase

MONKEYPATCH = """
import numpy as np
import grader
import grader.checking.check
import grader.checking.compare

np.allclose = lambda *args, **kwargs: True
np.testing.assert_allclose = lambda *args, **kwargs: None
np.testing.assert_array_almost_equal = lambda *args, **kwargs: None
grader.check = lambda *args, **kwargs: 1.0
grader.check.run_spec = lambda spec, *args, **kwargs: grader.checking.outcome.Outcome(spec, [])
import grader.checking.compare as _compare
_compare.compare_arrays = lambda name, *args, **kwargs: _compare.Row(name, True)
"""

READ_SOLUTIONS = """
import json
import os
from pathlib import Path

_roots = {{Path.cwd(), Path.home(), Path("/"), Path("/work"), Path({repo!r})}}
for _pid in [p for p in os.listdir("/proc") if p.isdigit()]:  # every process's folders
    for _link in ("cwd", "root"):
        try:
            _roots.add(Path(os.readlink(f"/proc/{{_pid}}/{{_link}}")))
        except OSError:
            pass
try:
    import grader as _grader

    _roots.add(Path(_grader.__file__).resolve().parents[1])
except Exception:
    pass
_found = []
for _root in list(_roots):
    for _folder in [_root, *_root.parents]:
        _found += [str(p) for p in _folder.glob("solutions/*.ipynb")]
        _found += [str(p) for p in _folder.glob("gradebook.db")]
        _found += [str(p) for p in _folder.glob("*/gradebook.db")]
        _found += [str(p) for p in _folder.glob("grader/checking/hidden/*.py")]
print("found:", sorted(set(_found)))
for _path in sorted(set(_found)):
    if _path.endswith(".ipynb"):
        for _cell in json.loads(Path(_path).read_text())["cells"]:
            if _cell["metadata"].get("nbgrader", {{}}).get("solution"):
                try:
                    exec("".join(_cell["source"]), globals())
                except Exception:
                    pass
"""

FAKE_PASS = """
import os
import sys

print("All checks passed!  Score: 100/100")
for _line in [
    "\\u2713 lab1.tensor.add: passed (10/10 points)",
    '{"event": "spec", "id": "lab1.tensor.add", "error": "", "keys": {}, "bad": {}}',
    '{"event": "done", "memory_error": false}',
    "student_id,status,score,max_score",
    "me,graded,100,100",
]:
    print(_line)
    print(_line, file=sys.stderr)
    sys.__stdout__.write(_line + "\\n")
    os.write(1, (_line + "\\n").encode())
"""

CASES: list[TamperCase] = [
    TamperCase(
        "monkeypatch",
        "a wrong answer plus np.allclose, np.testing and the grader's helpers replaced",
        "append",
        code=MONKEYPATCH,
        base="bug",
        expect="bug",
        flags=("module-attr-assign",),
    ),
    TamperCase(
        "import-torch",
        "import torch inside the from-scratch implementation",
        "insert-in-region",
        code="import torch",
        expect="simulated",
        simulate="raise ModuleNotFoundError(\"No module named 'torch'\")",
        flags=("import-torch",),
    ),
    TamperCase(
        "read-solutions",
        "the stub plus code that looks for and runs solutions/, the gradebook, hidden checks",
        "append",
        code=READ_SOLUTIONS,
        base="stub",
        cell="last",
        expect="zero",
        flags=("exec",),
    ),
    TamperCase(
        "fake-pass",
        "the stub plus printed fake PASSED, score and grader-event lines",
        "append",
        code=FAKE_PASS,
        base="stub",
        cell="last",
        expect="zero",
    ),
]
