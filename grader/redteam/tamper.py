"""Red-team cases that are not planted bugs: tampering, cheating and hostile code, as data.

Each :class:`TamperCase` says which lab, what the learner's code is before the
tampering (the solution, the released stub, or the lab's first planted bug),
what is done to the notebook, and the outcome the autograder must produce.
:mod:`grader.redteam.corpus` turns them into submissions and ``expected.json``.
"""

from __future__ import annotations

from dataclasses import dataclass

ACTIONS = (
    "append",  # add ``code`` at the end of the target solution cell (module level)
    "insert-in-region",  # add ``code`` as the first line of the target cell's first solution region
    "edit-tests",  # replace the test cells that call the base bug's failing checks with ``code``
    "delete-test",  # delete the first graded test cell
    "points",  # set the first graded test cell's points to 1000
    "duplicate-test",  # paste a copy of the last graded test cell after it (same grade_id)
    "invalid-json",  # cut the notebook's JSON text in half
    "not-a-notebook",  # valid JSON that is no notebook
    "too-large",  # a valid notebook padded beyond the size cap
    "rename",  # save the notebook under another name
    "missing",  # submit no notebook at all (only a text file)
    "extra",  # add an unrelated notebook next to the lab's
)

EXPECTATIONS = ("full", "zero", "bug", "simulated", "deleted", "missing")
"""Besides these, ``ungradable:<reason>``: the lab scores 0 with that status."""


@dataclass(frozen=True)
class TamperCase:
    """One hostile or unusual submission.

    Attributes:
        name: slug, also the student id suffix (``tamper-<name>``) unless ``student`` is set.
        description: what the learner did, in words.
        action: one of :data:`ACTIONS`.
        code: the code the action adds (for ``append``, ``insert-in-region``, ``edit-tests``).
        base: the learner's code before tampering: ``solution``, ``stub`` or ``bug``.
        cell: the target solution cell, ``first`` or ``last`` in notebook order.
        expect: ``full``, ``zero``, ``bug`` (as the base bug alone), ``simulated`` (as the
            same notebook with ``simulate`` in place of ``code``, evaluated in process),
            ``deleted`` (the deleted cell's checks fail), ``missing`` or ``ungradable:<reason>``.
        simulate: for ``simulated``: code with the same effect outside the sandbox.
        flags: substrings the student's flags must contain.
        lab: the lab it is applied to (the first lab with a solution when that one has none).
        student: the student id, when several cases share one student (one per lab).
    """

    name: str
    description: str
    action: str
    code: str = ""
    base: str = "solution"
    cell: str = "first"
    expect: str = "full"
    simulate: str = ""
    flags: tuple[str, ...] = ()
    lab: str = "lab1"
    student: str = ""

    @property
    def student_id(self) -> str:
        return self.student or f"tamper-{self.name}"


INFINITE_LOOP = """
while True:
    pass
"""

IGNORES_INTERRUPTS = """
while True:
    try:
        while True:
            pass
    except BaseException:
        pass
"""

FORK_LOOP = """
import os
import time

for _ in range(64):
    if os.fork() == 0:
        time.sleep(20)
        os._exit(0)
"""

PRINT_1GB = """
_line = "x" * (1 << 20)
for _ in range(1024):
    print(_line)
"""

RAW_OUTPUT_1GB = """
import os

_chunk = b"x" * (1 << 20)
for _ in range(1024):
    os.write(1, _chunk)
"""

MONKEYPATCH = """
import numpy as np
import grader
import grader.check
import grader.compare

np.allclose = lambda *args, **kwargs: True
np.testing.assert_allclose = lambda *args, **kwargs: None
np.testing.assert_array_almost_equal = lambda *args, **kwargs: None
grader.check = lambda *args, **kwargs: 1.0
grader.check.run_spec = lambda spec, *args, **kwargs: grader.check.Outcome(spec, [])
grader.compare.compare_arrays = lambda name, *args, **kwargs: grader.compare.Row(name, True)
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
        _found += [str(p) for p in _folder.glob("grader/hidden/*.py")]
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

PROCESS_SNOOP = """
import os
from pathlib import Path

_seen = {}
_pids = {"self", str(os.getppid()), "1"} | {p for p in os.listdir("/proc") if p.isdigit()}
for _pid in sorted(_pids):
    for _what in ("cwd", "root", "cmdline", "environ"):
        try:
            _path = Path(f"/proc/{_pid}/{_what}")
            _seen[_pid, _what] = (
                os.readlink(_path) if _what in ("cwd", "root") else _path.read_bytes()[:300]
            )
        except OSError as _error:
            _seen[_pid, _what] = type(_error).__name__
print(_seen)
"""

WRITE_GRADER = """
import os
from pathlib import Path

import grader

_targets = [Path(grader.__file__).parent, Path("/site/grader"), Path({repo!r}) / "grader"]
for _pid in [p for p in os.listdir("/proc") if p.isdigit()]:
    try:
        _targets.append(Path(os.readlink(f"/proc/{{_pid}}/cwd")) / "grader")
    except OSError:
        pass
for _folder in _targets:
    try:
        (_folder / "mgp_pwned.py").write_text("SCORE = 100\\n")
        print("wrote into", _folder)
    except OSError as _error:
        print(_folder, type(_error).__name__)
"""

LINGERING_REWRITER = """
import subprocess

_forged = "student_id,status,score,max_score\\ntamper-lingering,graded,500,500\\n"
_script = (
    "for i in $(seq 60); do "
    "for f in $(find / -name grades.csv 2>/dev/null); do printf '%s' \\"$0\\" > $f; done; "
    "sleep 1; done # mgp-lingering-rewriter"
)
subprocess.Popen(
    ["/bin/sh", "-c", _script, _forged],
    start_new_session=True,
    stdin=subprocess.DEVNULL,
    stdout=subprocess.DEVNULL,
    stderr=subprocess.DEVNULL,
)
"""

KILL_EVERYONE = """
import os
import signal

for _pid in [int(p) for p in os.listdir("/proc") if p.isdigit()] + [os.getppid(), 1]:
    if _pid != os.getpid():
        for _kill in (os.kill, os.killpg):
            try:
                _kill(_pid, signal.SIGKILL)
            except OSError:
                pass
"""

PRINT_EVERYTHING = """
import os

print("environment:", dict(os.environ))
print("arguments:", open("/proc/self/cmdline", "rb").read())
for _root, _dirs, _files in os.walk("/"):
    _dirs[:] = [d for d in _dirs if os.path.join(_root, d) not in ("/proc", "/sys", "/dev", "/usr")]
    for _name in _files:
        _path = os.path.join(_root, _name)
        try:
            with open(_path, "rb") as _handle:
                _text = _handle.read(1 << 20)
        except OSError:
            continue
        if _path.endswith((".py", ".json", ".txt", ".ipynb", ".jsonl")):
            print("==", _path)
            print(_text.decode("utf-8", "replace"))
"""

FORGE_REGISTRY = """
import dataclasses
import sys

import numpy as np

import grader.spec as _spec


_fake = {
    "lab5.dataloader.seeded": lambda inputs, *objs: {
        "seed 7, epoch 1": np.arange(60)[::-1], "seed 7 again, epoch 1": np.arange(60)[::-1],
        "seed 8, epoch 1": np.arange(60), "seed 7, epoch 2": np.arange(60),
        "seed 7 again, epoch 2": np.arange(60),
        "same seed: same order in epoch 1": 1.0, "same seed: same order in epoch 2": 1.0,
        "seeds 7 and 8: different orders": 1.0,
    },
    "lab5.dataloader.reshuffle": lambda inputs, *objs: {
        "shuffled, epoch 1": np.arange(60)[::-1], "shuffled, epoch 2": np.roll(np.arange(60), 7),
        "shuffled, epoch 3": np.arange(60)[::-1], "plain, epoch 1": np.arange(60),
        "plain, epoch 2": np.arange(60),
        "shuffle=True: epoch 1 is shuffled": 1.0, "epochs 1 and 2 differ": 1.0,
        "epochs 2 and 3 differ": 1.0, "shuffle=False: rows in order, every epoch": 1.0,
    },
}
for _registry in (_spec._REGISTRY, vars(_spec)["_REGISTRY"], sys.modules["grader.spec"]._REGISTRY):
    for _id, _learner in _fake.items():
        if _id in _registry:
            _registry.update({_id: dataclasses.replace(_registry[_id], learner=_learner)})
        else:
            _registry[_id] = _spec.Spec(_id, 6, ("DataLoader",), lambda rng: {}, _learner, dict)
"""

LABEL_LOOKUP = """
import numpy as np

from micrograd_plus.data import load_mnist

_X_train, _y_train, _X_test, _y_test = load_mnist(root="../data", verbose=False)
_table = {
    (x * 255).round().astype(np.uint8).tobytes(): int(y)
    for x, y in zip(np.concatenate([_X_train, _X_test]), np.concatenate([_y_train, _y_test]))
}


class _LookupModel:
    def eval(self):
        return self

    def train(self, mode=True):
        return self

    def __call__(self, x):
        rows = np.asarray(getattr(x, "data", x))
        logits = np.zeros((len(rows), 10))
        for i, row in enumerate(rows):
            logits[i, _table.get((row * 255).round().astype(np.uint8).tobytes(), 0)] = 1.0
        return logits


model = _LookupModel()
"""

RUNTIME_WARNING = """
import warnings

import numpy as np

with np.errstate(divide="warn"):
    _ = np.log(np.zeros(3))
warnings.warn("correct code may warn", RuntimeWarning, stacklevel=1)
"""

ISOLATION_CASES: list[TamperCase] = [
    TamperCase(
        "process-snoop",
        "the stub plus code reading every visible process's folders, command line and environment",
        "append",
        code=PROCESS_SNOOP,
        base="stub",
        cell="last",
        expect="zero",
    ),
    TamperCase(
        "write-grader",
        "the stub plus code that writes a module into the grader's source folders",
        "append",
        code=WRITE_GRADER,
        base="stub",
        cell="last",
        expect="zero",
    ),
    TamperCase(
        "lingering-rewriter",
        "the stub plus a detached process that keeps rewriting every grades.csv it can find",
        "append",
        code=LINGERING_REWRITER,
        base="stub",
        cell="last",
        expect="zero",
        flags=("import-subprocess",),
    ),
    TamperCase(
        "kill-everyone",
        "the correct code plus SIGKILL sent to every process it can see, its parent included",
        "append",
        code=KILL_EVERYONE,
        cell="last",
        expect="full",
    ),
    TamperCase(
        "print-everything",
        "the correct code plus every readable file, the environment and the arguments printed",
        "append",
        code=PRINT_EVERYTHING,
        cell="last",
        expect="full",
    ),
    TamperCase(
        "forge-registry",
        "the stub plus the DataLoader checks' learner sides replaced in the check registry",
        "append",
        code=FORGE_REGISTRY,
        base="stub",
        cell="last",
        expect="zero",
        flags=("grader-internals",),
        lab="lab5",
    ),
    TamperCase(
        "label-lookup",
        "the stub plus a 'model' that looks every image up in the learner's own MNIST sample",
        "append",
        code=LABEL_LOOKUP,
        base="stub",
        cell="last",
        expect="zero",
        lab="lab5",
    ),
]
"""Attacks on the sandbox itself, graded as root and as an unprivileged instructor
(``tests/test_isolation.py``); not part of :data:`CASES`, the corpus graded once as root."""

CASES: list[TamperCase] = [
    TamperCase(
        "edited-test-cell",
        "a wrong answer, and the test cells that would catch it edited to pass",
        "edit-tests",
        code="# tests edited by the learner\nprint('all tests passed')",
        base="bug",
        expect="bug",
        flags=("test-cell-edited",),
    ),
    TamperCase(
        "deleted-test-cell",
        "the correct code with the first graded test cell deleted",
        "delete-test",
        expect="deleted",
        flags=("test-cell-deleted",),
    ),
    TamperCase(
        "points-1000",
        "the correct code with a test cell's points set to 1000",
        "points",
        expect="full",
        flags=("metadata-tampered",),
        student="tamper-metadata",
    ),
    TamperCase(
        "duplicate-grade-id",
        "a graded test cell pasted twice (two cells with one grade_id)",
        "duplicate-test",
        expect="full",
        flags=("duplicate-grade-id",),
        student="tamper-metadata",
    ),
    TamperCase(
        "invalid-json",
        "a notebook file cut in half",
        "invalid-json",
        expect="ungradable:invalid-json",
    ),
    TamperCase(
        "not-a-notebook",
        "valid JSON that is not a notebook",
        "not-a-notebook",
        expect="ungradable:not-a-notebook",
    ),
    TamperCase(
        "too-large", "a notebook over the size cap", "too-large", expect="ungradable:too-large"
    ),
    TamperCase(
        "renamed-notebook",
        "the correct notebook saved under another name",
        "rename",
        expect="missing",
        flags=("ignored-file",),
    ),
    TamperCase("missing-notebook", "no notebook submitted at all", "missing", expect="missing"),
    TamperCase(
        "extra-notebook",
        "the correct notebook plus an unrelated one",
        "extra",
        expect="full",
        flags=("ignored-file",),
    ),
    TamperCase(
        "infinite-loop",
        "an infinite loop after the definitions (interrupted; later cells still run)",
        "append",
        code=INFINITE_LOOP,
    ),
    TamperCase(
        "ignores-interrupts",
        "a loop that swallows KeyboardInterrupt and every other interruption",
        "append",
        code=IGNORES_INTERRUPTS,
        expect="ungradable:timeout",
    ),
    TamperCase(
        "os-exit",
        "os._exit(0) after the definitions: the process ends",
        "append",
        code="import os\nos._exit(0)",
        expect="ungradable:crash",
        flags=("exit",),
    ),
    TamperCase(
        "sys-exit",
        "sys.exit(0) after the definitions (a notebook carries on with the next cell)",
        "append",
        code="import sys\nsys.exit(0)",
        flags=("exit",),
    ),
    TamperCase(
        "memory-4gb",
        "a 4 GiB allocation",
        "append",
        code="import numpy as np\n_big = np.ones(2**29)",
        expect="ungradable:memory",
    ),
    TamperCase(
        "fork-loop",
        "a loop of forks whose children linger (stopped by the process limit)",
        "append",
        code=FORK_LOOP,
        flags=("os-system",),
    ),
    TamperCase("print-1gb", "1 GiB printed by print()", "append", code=PRINT_1GB),
    TamperCase(
        "raw-output-1gb",
        "1 GiB written straight to file descriptor 1 (the file-size limit stops the writes)",
        "append",
        code=RAW_OUTPUT_1GB,
    ),
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
    TamperCase(
        "runtime-warning", "correct code that emits RuntimeWarnings", "append", code=RUNTIME_WARNING
    ),
]
"""Every non-bug red-team case."""

NEEDS_REPO = (READ_SOLUTIONS, WRITE_GRADER)
"""Cases whose code is formatted with the repository path (``{repo!r}``)."""
