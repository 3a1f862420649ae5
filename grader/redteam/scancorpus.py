"""The integrity scan measured: cells honest learners write, and evasions it must flag.

``python -m grader.redteam.scancorpus`` scans both corpora with
:func:`grader.pipeline.integrity.scan` and prints, as JSON, how many honest cells raised a flag
(none should) and how many evasions were flagged with the kind they must get (all should).
"""

from __future__ import annotations

import json

from grader.pipeline.integrity import scan

HONEST = (
    'plt.rcParams["figure.figsize"] = (8, 4)',
    "import matplotlib as mpl\nmpl.rcParams['figure.dpi'] = 120",
    "import matplotlib.pyplot as plt\nplt.rcParams.update({'font.size': 9})",
    "plt.style.use('seaborn-v0_8')",
    "import os\nos.environ['OMP_NUM_THREADS'] = '1'",
    "import os\nos.environ.setdefault('OPENBLAS_NUM_THREADS', '2')",
    "np.random.seed(0)\nrng = np.random.default_rng(42)",
    "np.set_printoptions(precision=3, suppress=True)",
    "import warnings\nwarnings.filterwarnings('ignore', category=RuntimeWarning)",
    "import warnings\nwarnings.simplefilter('ignore')",
    "from tqdm.auto import tqdm\nfor _ in tqdm(range(3), leave=False, disable=True):\n    pass",
    "from tqdm import tqdm\ntqdm.monitor_interval = 0",
    "import sys\nsys.setrecursionlimit(5000)",
    "import time\nstart = time.perf_counter()\nelapsed = time.perf_counter() - start",
    "import seaborn as sns\nsns.set_theme()",
    "from matplotlib import cm\ncolors = cm.viridis(np.linspace(0, 1, 5))",
    "import math, itertools, functools, collections",
    "from pathlib import Path\nout = Path('figures')\nout.mkdir(exist_ok=True)",
    "fig, ax = plt.subplots(figsize=(6, 3))\nax.plot([1, 2, 3])\nplt.show()",
    "Tensor.__repr__ = lambda self: f'T{self.shape}'",
    "try:\n    import torch\nexcept ImportError:\n    torch = None",
    "getattr(model, 'weight').data[:] = 0.0",
    "name = 'relu'\nfn = getattr(Tensor, name)",
    "x = np.zeros(3)\nx[0] = 1.0\nnp.add.at(x, [0, 0], 1.0)",
    "import logging\nlogging.getLogger('matplotlib').setLevel(logging.WARNING)",
)
"""Cells honest learners write: plotting and printing settings, seeds, thread counts, warnings
filters, progress bars, imports for their own plots, their own objects' attributes."""

EVASIONS = (
    ("run = exec\nrun('x = 1')", "exec"),
    ("ev = eval\nev('1 + 1')", "eval"),
    ("list(map(exec, ['x = 1']))", "exec"),
    ("c = compile\nc('1', 'f', 'eval')", "compile"),
    ("getattr(__builtins__, 'ex' + 'ec')('x = 1')", "computed-attribute"),
    ("getattr(__builtins__, 'exec')('x = 1')", "exec"),
    ("import builtins\ngetattr(builtins, ''.join(['ev', 'al']))('1')", "computed-attribute"),
    ("import sys\nf = getattr(sys, '_get' + 'frame')(0)", "computed-attribute"),
    ("import sys\nf = getattr(sys, '_getframe')(0)", "introspection"),
    (
        "import traceback\n"
        "s = traceback.StackSummary.extract(traceback.walk_stack(None), capture_locals=True)",
        "introspection",
    ),
    ("from traceback import walk_stack as w\nframes = list(w(None))", "introspection"),
    ("try:\n    import ctypes\nexcept Exception:\n    pass", "import-ctypes"),
    ("try:\n    import subprocess\nexcept ImportError:\n    pass", "import-subprocess"),
    ("import numpy\nX = numpy\nX.allclose = lambda *a, **k: True", "module-attr-assign"),
    ("X = np\nX.testing.assert_allclose = print", "module-attr-assign"),
    ("setattr(np, 'all' + 'close', lambda *a, **k: True)", "computed-attribute"),
    ("import os\ngetattr(os, 'sys' + 'tem')('true')", "computed-attribute"),
    ("np.allclose = lambda *a, **k: True", "module-attr-assign"),
    ("import sys\nsys.modules['numpy'].allclose = None", "module-attr-assign"),
)
"""Evasions, each with the kind of flag it must raise: ``exec``/``eval``/``compile`` renamed
or passed on, attribute names built at run time, flagged imports inside ``try``, writes
through a module's alias, frame access."""

PRELUDE = "import numpy as np\nimport matplotlib.pyplot as plt\n"
"""What a lab's first cell imports: the corpora's cells follow it."""


def flags_of(cell: str) -> list[str]:
    """The kinds of flag the scan raises on ``cell`` (after the labs' usual imports)."""
    return sorted({flag.kind for flag in scan([PRELUDE, cell])})


def measure() -> dict[str, object]:
    """Both corpora scanned: honest cells flagged (with their flags) and evasions missed."""
    honest = {cell: flags_of(cell) for cell in HONEST}
    evasions = {cell: (kind, flags_of(cell)) for cell, kind in EVASIONS}
    return {
        "honest_cells": len(HONEST),
        "honest_flagged": {cell: kinds for cell, kinds in honest.items() if kinds},
        "evasions": len(EVASIONS),
        "evasions_flagged": sum(kind in kinds for kind, kinds in evasions.values()),
        "evasions_missed": {c: k for c, (k, kinds) in evasions.items() if k not in kinds},
    }


if __name__ == "__main__":
    print(json.dumps(measure(), indent=1))
