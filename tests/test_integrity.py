"""Tests of the integrity scan of learner programs (grader.pipeline.integrity)."""

from __future__ import annotations

from textwrap import dedent

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

from grader.notebook import from_json
from grader.pipeline.integrity import KINDS, Flag, instructor_sources, scan, scan_notebook, summary

FLAGGED = [
    ("x = " + " + ".join(["1"] * 100_000), "scan-failed", 1),
    ("import torch", "import-torch", 1),
    ("import torch.nn.functional as F", "import-torch", 1),
    ("from torch import tensor", "import-torch", 1),
    ("x = 1\nimport micrograd_plus.tensor", "import-micrograd_plus", 2),
    ("from micrograd_plus import ops", "import-micrograd_plus", 1),
    ("try:\n    import torch\nexcept ValueError:\n    pass", "import-torch", 2),
    ("from micrograd_plus.ops import relu", "import-micrograd_plus", 1),
    ("import micrograd_plus.tensor as mt", "import-micrograd_plus", 1),
    ("import importlib", "import-importlib", 1),
    ("from importlib import import_module", "import-importlib", 1),
    ("import ctypes", "import-ctypes", 1),
    ("from subprocess import run", "import-subprocess", 1),
    ("import os\nos.system('ls')", "os-system", 2),
    ("from os import popen\npopen('ls')", "os-system", 2),
    ("import os\nos.fork()", "os-system", 2),
    ("import os\nos.execvp('sh', ['sh'])", "os-system", 2),
    ("import os\nos._exit(0)", "exit", 2),
    ("import sys\nsys.exit(1)", "exit", 2),
    ("__import__('numpy')", "dynamic-import", 1),
    ("__import__('torch')", "import-torch", 1),
    ("import importlib\nimportlib.import_module('torch')", "import-torch", 2),
    ("exec('x = 1')", "exec", 1),
    ("y = eval('1 + 1')", "eval", 1),
    ("code = compile('x', '<s>', 'eval')", "compile", 1),
    ("import numpy as np\nnp.allclose = lambda *a, **k: True", "module-attr-assign", 2),
    ("import grader.checking.spec as s\ns._REGISTRY.update({})", "grader-internals", 2),
    ("from grader import spec\nvars(spec)['_REGISTRY'].clear()", "grader-internals", 2),
    ("import sys\nsys.modules['grader.checking.spec']._REGISTRY['x'] = 1", "grader-internals", 2),
    ("import gc\nobjs = gc.get_objects()", "introspection", 2),
    ("import sys\nframe = sys._getframe(1)", "introspection", 2),
    ("import sys\nframe = getattr(sys, '_get' + 'frame')(1)", "computed-attribute", 2),
    ("import inspect\ng = inspect.currentframe().f_back.f_globals", "introspection", 2),
    ("def f():\n    pass\nf.__code__ = None", "introspection", 3),
    ("import numpy as np\nnp.testing.assert_allclose = print", "module-attr-assign", 2),
    ("import numpy\nnumpy.isclose = None", "module-attr-assign", 2),
    ("from numpy import testing\ntesting.assert_allclose = print", "module-attr-assign", 2),
    ("import numpy as np\nnp.testing.x += 1", "module-attr-assign", 2),
    ("import numpy as np\ndel np.allclose", "module-attr-assign", 2),
    ("import numpy as np\nsetattr(np, 'allclose', len)", "module-attr-assign", 2),
    ("import numpy as np\ndelattr(np.testing, 'assert_allclose')", "module-attr-assign", 2),
    ("import numpy as np\nnp.__dict__['allclose'] = len", "module-attr-assign", 2),
    ("import grader\ngrader.check = lambda *a: 0", "module-attr-assign", 2),
    ("from grader import compare\ncompare.compare_arrays = len", "module-attr-assign", 2),
    ("import sys\nsys.modules['torch'] = object()", "sys-modules", 2),
    ("import sys\ndel sys.modules['numpy']", "sys-modules", 2),
    ("import sys\nsys.modules.pop('grader')", "sys-modules", 2),
    ("import sys\nsys.excepthook = print", "ipython-hook", 2),
    ("import sys\nsys.settrace(print)", "ipython-hook", 2),
    ("get_ipython().events.register('post_run_cell', print)", "ipython-hook", 1),
    ("ip = get_ipython()\nip.set_custom_exc((Exception,), print)", "ipython-hook", 2),
    ("get_ipython().ast_transformers.append(None)", "ipython-hook", 1),
    ("import builtins\nbuiltins.print = len", "builtins-edit", 2),
    ("__builtins__['len'] = print", "builtins-edit", 1),
    ("__builtins__.len = print", "builtins-edit", 1),
    ("import builtins\nsetattr(builtins, 'len', print)", "builtins-edit", 2),
    ("def f(:\n    pass", "syntax-error", 1),
    ("x = (1,\ny = 2", "syntax-error", 1),
]

CLEAN = [
    "import numpy as np\nx = np.ones(3)",
    "import math\nmath.sqrt(2.0)",
    "import micrograd_plus\nfrom micrograd_plus.value import Value",
    "from micrograd_plus import data",
    "try:\n    import torch\nexcept ImportError:\n    torch = None",
    "try:\n    import torch\nexcept (ModuleNotFoundError, OSError):\n    pass",
    "class Tensor:\n    pass\nTensor.relu = lambda self: self",
    "def relu(x):\n    return x\nsetattr(Tensor, 'relu', relu)",
    "self_grad = 0\nnp = None",
    "import numpy as np\nnp.random.seed(0)\nnp.seterr(all='ignore')",
    "get_ipython().run_line_magic('matplotlib', 'inline')",
    "%matplotlib inline\n!pip list\nx = 1",
    "import os\npath = os.path.join('a', 'b')",
    "import warnings\nwarnings.filterwarnings('ignore')",
    "from grader import check\ncheck('lab2.relu.forward', relu)",
    "out = {}\nout['x'] = 1\nout.grad = 2",
]


@pytest.mark.parametrize(("source", "kind", "line"), FLAGGED)
def test_flagged(source: str, kind: str, line: int) -> None:
    """Is each suspicious construct flagged with its kind at its line?"""
    flags = scan(["x = 0", source])
    assert (1, line, kind) in [(f.cell, f.line, f.kind) for f in flags], flags


@pytest.mark.parametrize("source", CLEAN)
def test_clean(source: str) -> None:
    """Does ordinary learner code (including Tensor.relu = relu) go unflagged?"""
    assert scan([source]) == []


def test_every_kind_is_tested() -> None:
    """Does the table above exercise every kind of flag the scan raises?"""
    assert {kind for _, kind, _ in FLAGGED} == set(KINDS)


def test_flag_text() -> None:
    """Does a flag read like "import-torch (cell 3, line 1)"?"""
    flag = Flag(3, 1, "import-torch", "import torch")
    assert str(flag) == "import-torch (cell 3, line 1)"
    assert summary([flag, Flag(4, 2, "exec", "")]) == (
        "import-torch (cell 3, line 1); exec (cell 4, line 2)"
    )


def test_magics_keep_line_numbers() -> None:
    """Are % and ! lines dropped without shifting the line numbers of what follows?"""
    flags = scan(["%timeit x\n!ls\nimport torch"])
    assert [(f.line, f.kind) for f in flags] == [(3, "import-torch")]


def test_one_flag_per_line_and_kind() -> None:
    """Is a line flagged once per kind, however many nodes match?"""
    source = "get_ipython().events.register('pre_run_cell', get_ipython().events)"
    assert [f.kind for f in scan([source])] == ["ipython-hook"]


def test_syntax_error_does_not_stop_the_scan() -> None:
    """Does an unparsable cell become a flag while the later cells are still scanned?"""
    flags = scan(["def broken(:", "import ctypes"])
    assert [(f.cell, f.kind) for f in flags] == [(0, "syntax-error"), (1, "import-ctypes")]


def test_scan_notebook_skips_test_cells_and_uses_notebook_indexes() -> None:
    """Are graded test cells left out and flags placed at the notebook's cell index?"""
    graded = {"nbgrader": {"grade": True, "solution": False, "grade_id": "t", "points": 1}}
    nb = new_notebook(
        cells=[
            new_markdown_cell("import torch"),
            new_code_cell("import numpy as np"),
            new_code_cell("import torch", metadata=graded),
            new_code_cell(
                dedent("""\
                def relu(x):
                    import torch
                    return torch.relu(x)
            """)
            ),
        ]
    )
    nb = nbformat.from_dict(nb)
    assert [(f.cell, f.line, f.kind) for f in scan_notebook(from_json(nb))] == [
        (3, 2, "import-torch")
    ]


def test_lab_narrows_the_blocked_modules() -> None:
    """Is an earlier lab's module allowed in a later lab, and this lab's own module flagged?"""
    source = "from micrograd_plus.tensor import Tensor\nfrom micrograd_plus.ops import relu"
    assert [f.line for f in scan([source], lab="lab2")] == [2]
    assert [f.line for f in scan([source], lab="lab1")] == [1, 2]
    assert [f.line for f in scan([source])] == [1, 2]


def test_instructor_cells_are_not_scanned() -> None:
    """Is a cell the instructor wrote skipped unchanged, and scanned once the learner edits it?"""
    given = "# Compare with torch\nimport torch\nprint(torch.__version__)"
    nb = nbformat.from_dict(new_notebook(cells=[new_code_cell(given)]))
    skip = instructor_sources(from_json(nb))
    assert scan([given + "\n\n"], given=skip) == []
    assert [f.kind for f in scan([given + "\nimport ctypes"], given=skip)] == [
        "import-torch",
        "import-ctypes",
    ]


def test_honest_cells_raise_no_flag_and_evasions_are_flagged() -> None:
    """On the committed corpora (grader/redteam/scancorpus.py): does no honest cell (plotting
    and printing settings, seeds, thread counts, warnings filters, progress bars) raise a flag,
    and does every evasion (exec renamed, names built at run time, imports in try, writes
    through a module's alias, frame access) raise the kind it must?"""
    from grader.redteam.scancorpus import measure

    result = measure()
    assert result["honest_flagged"] == {}
    assert result["evasions_missed"] == {}
    assert result["honest_cells"] >= 20 and result["evasions"] >= 15
