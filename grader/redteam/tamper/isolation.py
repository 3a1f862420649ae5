"""Attacks on the sandbox itself: snooping, writing into the grader, lingering, killing, leaking.

Graded as root and as an unprivileged instructor (``tests/test_isolation.py``);
not part of the corpus graded once as root.
"""

from __future__ import annotations

from grader.labs import LABS
from grader.redteam.forger import committed_shapes, forger_cell
from grader.redteam.tamper.case import TamperCase

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

import grader.checking.spec as _spec


_fake = {
    "lab5.dataloader.seeded": lambda inputs, *objs: {
        "seed s, epoch 1": np.arange(60)[::-1], "seed s again, epoch 1": np.arange(60)[::-1],
        "seed t, epoch 1": np.arange(60), "seed s, epoch 2": np.arange(60),
        "seed s again, epoch 2": np.arange(60),
    },
    "lab5.dataloader.reshuffle": lambda inputs, *objs: {
        "shuffled, epoch 1": np.arange(60)[::-1], "shuffled, epoch 2": np.roll(np.arange(60), 7),
        "shuffled, epoch 3": np.arange(60)[::-1], "plain, epoch 1": np.arange(60),
        "plain, epoch 2": np.arange(60),
    },
}
_loaded = sys.modules["grader.checking.spec"]
for _registry in (_spec._REGISTRY, vars(_spec)["_REGISTRY"], _loaded._REGISTRY):
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

CASES: list[TamperCase] = [
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
    *(
        TamperCase(
            f"universal-forger-{lab}",
            "the stub plus a cell that takes over the runner's check dispatch and answers every "
            "check, visible and hidden, with outputs of the right names and shapes made up from "
            "what it sends in (echoed inputs, zeros, ones, permutations, fractions in turn)",
            "append",
            code=forger_cell(committed_shapes(lab)),
            base="stub",
            cell="last",
            expect="zero",
            lab=lab,
        )
        for lab in LABS
    ),
    TamperCase(
        "drawing-forger-lab3",
        "the stub plus the forger's cell answering every check with draws of the right "
        "distribution from its own generator: Linear weights from U(-k, k), Dropout masks of "
        "the check's rate scaled by 1/(1-p), the gradient through the same mask",
        "append",
        code=forger_cell(committed_shapes("lab3"), strategy="draws"),
        base="stub",
        cell="last",
        expect="zero",
        lab="lab3",
    ),
]
