"""``python -m grader assemble``: the learner's own framework, from their lab notebooks.

Lab 1.7.5 trains its MLP on the ``Tensor``, operations, layers and optimizers the
learner wrote in labs 1.7.1-1.7.4. This module collects, from each completed
notebook, the learner's code cells in notebook order (the solution cells, and the
given cells that attach methods, such as ``Tensor.__neg__, ... = __neg__, ...``)
into a package ``OUT/mylearner/`` with ``tensor.py``, ``ops.py``, ``nn.py`` and
``optim.py``, each importing the earlier ones.

Each part is first run the way its own lab runs it (on the reference modules of the
earlier labs) against that lab's visible checks, with :func:`grader.checking.check.run_spec`:
the checks that decide the self-check cells decide here. A part that is missing,
raises, or fails a check is replaced by the reference ``micrograd_plus`` module, and
:meth:`Engine.table` says which and why. The reference operations and layers build
reference Tensors, so a reference ``ops`` or ``nn`` takes the reference parts below
it along (said in the table too).

What lab 1.7.5 uses that labs 1.7.1-1.7.4 never asked for comes from small adapters
appended to the learner's modules (:data:`ADAPTERS`): ``Tensor(..., requires_grad=)``
(accepted and ignored: the learner's engine tracks every tensor), ``.size`` and
``.item()`` on ``Tensor``; ``nn.manual_seed`` (the layers draw from the module's
``rng``, as they drew from the notebook's); the learning-rate schedulers
``CosineAnnealingLR`` and ``StepLR`` from the reference ``micrograd_plus.optim``.
"""

from __future__ import annotations

import ast
import contextlib
import importlib.util
import io
import sys
import warnings
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

from grader import cellsource, notebook
from grader.labs import get_lab

PACKAGE = "mylearner"
"""The assembled package's name (``OUT/mylearner/``)."""

_SEEDS = "rng = np.random.default_rng(0)  # the lab notebooks' seed cell\n"


@dataclass(frozen=True)
class Part:
    """One module of the framework and the lab in which the learner writes it.

    ``on_reference`` is what the lab's notebook imports before the learner's cells (the
    checks run the part there); ``on_mine`` is what the assembled module imports instead.
    """

    module: str
    lab: str
    on_reference: str
    on_mine: str


PARTS: tuple[Part, ...] = (
    Part("tensor", "lab1", "import numpy as np\n", "import numpy as np\n"),
    Part(
        "ops",
        "lab2",
        "import numpy as np\nfrom micrograd_plus.tensor import Tensor, unbroadcast\n",
        "import numpy as np\nfrom .tensor import Tensor, unbroadcast\n",
    ),
    Part(
        "nn",
        "lab3",
        "import numpy as np\nfrom micrograd_plus import ops\nfrom micrograd_plus.tensor "
        "import Tensor\n" + _SEEDS,
        "import numpy as np\nfrom . import ops\nfrom .tensor import Tensor\n" + _SEEDS,
    ),
    Part(
        "optim",
        "lab4",
        "import numpy as np\nfrom micrograd_plus import nn, ops\nfrom micrograd_plus.tensor "
        "import Tensor\n" + _SEEDS,
        "import numpy as np\nfrom . import nn, ops\nfrom .tensor import Tensor\n" + _SEEDS,
    ),
)

ADAPTERS: dict[str, str] = {
    "tensor": '''
# --- adapters (grader/learner/assemble.py): what lab 1.7.5 uses that lab 1.7.1 never asked for ---
import inspect as _inspect

if "requires_grad" not in _inspect.signature(Tensor.__init__).parameters:
    _learner_init = Tensor.__init__

    def _init(self, *args, requires_grad=True, **kwargs):
        """Your constructor; requires_grad is accepted and ignored (every Tensor is tracked)."""
        _learner_init(self, *args, **kwargs)

    Tensor.__init__ = _init
if not hasattr(Tensor, "size"):
    Tensor.size = property(lambda self: self.data.size)
if not hasattr(Tensor, "item"):
    Tensor.item = lambda self: self.data.item()
''',
    "nn": '''
# --- adapters (grader/learner/assemble.py): seeding, which lab 1.7.3 did in its notebook ---
def manual_seed(seed):
    """Seed the generator your layers draw from (initial weights, dropout masks)."""
    global rng
    rng = np.random.default_rng(seed)
''',
    "optim": """
# --- adapters (grader/learner/assemble.py): learning-rate schedulers from the reference ---
from micrograd_plus.optim import CosineAnnealingLR, StepLR  # noqa: E402
""",
}
"""Source appended to the learner's module of that part (each adds only what is missing)."""


@dataclass
class Status:
    """Where one part of the assembled framework comes from."""

    part: Part
    mine: bool
    reason: str = ""


@dataclass
class Engine:
    """The assembled framework: its modules and where each part came from."""

    package: ModuleType
    statuses: list[Status] = field(default_factory=list)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.package, name)

    @property
    def all_mine(self) -> bool:
        return all(s.mine for s in self.statuses)

    def table(self) -> str:
        """One row per part: lab, module, yours or the reference, and why."""
        rows = [("lab", "part", "runs on", "why")]
        for s in self.statuses:
            lab = f"1.7.{get_lab(s.part.lab).number}"
            source = "yours" if s.mine else "reference micrograd_plus"
            why = s.reason or "passes its lab's visible checks"
            rows.append((lab, s.part.module, source, why))
        widths = [max(len(row[i]) for row in rows) for i in range(3)]
        return "\n".join(
            "  ".join([*(c.ljust(w) for c, w in zip(row[:3], widths, strict=True)), row[3]])
            for row in rows
        )


# ---------------------------------------------------------------- the learner's cells
def _attaches(source: str) -> bool:
    """A given cell that only defines and attaches (``Tensor.__neg__ = __neg__``)."""
    try:
        body = ast.parse(source).body
    except SyntaxError:
        return False
    plain = (ast.FunctionDef, ast.ClassDef, ast.Import, ast.ImportFrom, ast.Assign)
    if not body or not all(isinstance(stmt, plain) for stmt in body):
        return False
    return any(
        isinstance(target, ast.Attribute)
        or (
            isinstance(target, ast.Tuple) and any(isinstance(e, ast.Attribute) for e in target.elts)
        )
        for stmt in body
        if isinstance(stmt, ast.Assign)
        for target in stmt.targets
    )


CELL_MARK = "# ~~ from your notebook: "
"""Opens each cell copied into the package; :func:`explain` reads the task back from it."""


def learner_code(nb: notebook.Notebook) -> str:
    """The learner's part of a lab: solution cells and attaching cells, in notebook order.

    Each cell is preceded by a :data:`CELL_MARK` comment naming its task (the
    ``# Task N: ...`` line that opens the task's solution cell).
    """
    cells, task = [], ""
    for c in nb.program():
        text = cellsource.program_text(c.source)
        first = text.lstrip().split("\n", 1)[0]
        if first.startswith("# Task") or first.startswith("# Extension"):
            task = first.removeprefix("# ").strip()
        if c.is_solution or _attaches(text):
            cells.append(f"{CELL_MARK}{task or 'a cell before the first task'}\n{text}")
    return "\n\n".join(cells) + "\n"


def find_notebook(labs_dir: Path, lab_id: str) -> Path | None:
    """The lab's notebook in ``labs_dir``: its released name, else a copy (``…-Copy1``)."""
    name = get_lab(lab_id).notebook
    if (labs_dir / name).is_file():
        return labs_dir / name
    copies = sorted(labs_dir.glob(f"{name.removesuffix('.ipynb')}*.ipynb"))
    return copies[0] if copies else None


# ---------------------------------------------------------------- checking one part
@contextlib.contextmanager
def _quiet() -> Iterator[None]:
    """No output and no warnings: nbgrader scores a cell that writes to stderr 0."""
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            yield


def check_part(part: Part, code: str, seed: int = 0) -> str:
    """Why ``code`` cannot stand for ``part`` (run as its lab runs it), or ``""``.

    The learner's cells run on the reference modules of the earlier labs, and then
    every visible check of the lab, as the self-check cells run them.
    """
    from grader.checking.check import run_spec
    from grader.checking.restore import tensor_methods_restored
    from grader.checking.spec import load_lab

    namespace: dict[str, object] = {"__name__": f"{PACKAGE}_check_{part.module}"}
    failed: list[str] = []
    with _quiet(), tensor_methods_restored():
        try:
            exec(compile(part.on_reference + code, f"<{part.lab}>", "exec"), namespace)
        except Exception as exc:
            return f"its cells raise {type(exc).__name__}: {exc}"[:160]
        for spec in load_lab(part.lab):
            if spec.hidden:
                continue
            missing = [name for name in spec.symbols if name not in namespace]
            if missing:
                return f"not defined: {', '.join(missing)}"
            try:
                outcome = run_spec(spec, tuple(namespace[n] for n in spec.symbols), seed)
            except Exception as exc:  # TorchMissing included: nothing to compare with
                return f"its checks cannot run: {type(exc).__name__}: {exc}"[:160]
            if not outcome.passed:
                failed.append(spec.id)
    if failed:
        shown = ", ".join(failed[:3]) + (f" and {len(failed) - 3} more" if len(failed) > 3 else "")
        return f"fails {len(failed)} visible check(s): {shown}"
    return ""


# ---------------------------------------------------------------- writing the package
def _reference_source(part: Part, reason: str) -> str:
    lines = [
        f'"""Lab 1.7.{get_lab(part.lab).number}: the reference micrograd_plus.{part.module} '
        f'({reason})."""',
        f"import micrograd_plus.{part.module} as _reference",
    ]
    if part.module == "tensor":
        lines.append("import micrograd_plus.ops  # noqa: F401  (attaches @, .T, .relu(), ...)")
    lines.append("globals().update({k: v for k, v in vars(_reference).items() if k[:2] != '__'})")
    return "\n".join(lines) + "\n"


def _mine_source(part: Part, code: str) -> str:
    number = get_lab(part.lab).number
    head = f'"""Lab 1.7.{number}: your {part.module}, from your notebook\'s cells."""\n'
    return head + part.on_mine + "\n" + code + ADAPTERS.get(part.module, "")


def _decide(codes: dict[str, str | None], seed: int, where: Path) -> list[Status]:
    """Each part yours or the reference, with the reason."""
    statuses = []
    for part in PARTS:
        code = codes[part.module]
        if code is None:
            lab = get_lab(part.lab)
            reason = f"no notebook of lab 1.7.{lab.number} ({lab.notebook}) in {where}"
            statuses.append(Status(part, False, reason))
            continue
        reason = check_part(part, code, seed)
        statuses.append(Status(part, not reason, reason))
    # the reference ops and nn build reference Tensors: the parts below them follow
    chained = ("tensor", "ops", "nn")
    last = max((i for i, s in enumerate(statuses[:3]) if not s.mine), default=-1)
    for s in statuses[: max(last, 0)]:
        if s.mine and s.part.module in chained:
            s.mine = False
            needs = statuses[last].part.module
            s.reason = f"the reference {needs} needs the reference {s.part.module}"
    return statuses


def _load(root: Path) -> ModuleType:
    """Import ``root/mylearner`` afresh (a re-run replaces an earlier import)."""
    for name in [n for n in sys.modules if n == PACKAGE or n.startswith(PACKAGE + ".")]:
        del sys.modules[name]
    init = root / PACKAGE / "__init__.py"
    spec = importlib.util.spec_from_file_location(
        PACKAGE, init, submodule_search_locations=[str(init.parent)]
    )
    assert spec is not None and spec.loader is not None
    package = importlib.util.module_from_spec(spec)
    sys.modules[PACKAGE] = package
    with _quiet():
        spec.loader.exec_module(package)
    return package


def assemble(*, labs_dir: Path = Path("."), out: Path = Path("."), seed: int = 0) -> Engine:
    """Assemble the learner's framework from their lab 1.7.1-1.7.4 notebooks.

    Args:
        labs_dir: the folder of the learner's notebooks.
        out: where ``mylearner/`` is written.
        seed: seed of the check inputs.

    Returns:
        The imported package and, per part, whether it is the learner's and why not.
    """
    codes: dict[str, str | None] = {}
    for part in PARTS:
        path = find_notebook(Path(labs_dir), part.lab)
        codes[part.module] = (
            None if path is None else learner_code(notebook.read(path, max_bytes=50_000_000))
        )
    statuses = _decide(codes, seed, Path(labs_dir))
    target = Path(out) / PACKAGE
    target.mkdir(parents=True, exist_ok=True)
    names = ", ".join(p.module for p in PARTS)
    (target / "__init__.py").write_text(
        f'"""Your framework, assembled by `python -m grader assemble`."""\n'
        f"from . import {names}\nfrom .tensor import Tensor\n"
    )
    for s in statuses:
        code = codes[s.part.module]
        mine = s.mine and code is not None
        text = _mine_source(s.part, code or "") if mine else _reference_source(s.part, s.reason)
        (target / f"{s.part.module}.py").write_text(text)
    return Engine(_load(Path(out)), statuses)


def search_folders(labs_dir: Path | None) -> list[Path]:
    """Where the command looks for the notebooks: the folder given, else ``.`` then ``labs``."""
    return [Path(labs_dir)] if labs_dir is not None else [Path("."), Path("labs")]


def _holds_a_lab(folder: Path) -> bool:
    return any(find_notebook(folder, part.lab) is not None for part in PARTS)


def run(*, labs_dir: Path | None = None, out: Path | None = None, seed: int = 0) -> int:
    """The command: assemble and print the table; exit 1 when a lab's notebook is missing.

    Args:
        labs_dir: the folder of the notebooks; None searches ``.``, then ``labs``.
        out: where ``mylearner/`` is written; None writes it beside the notebooks.
        seed: seed of the check inputs.
    """
    searched = search_folders(labs_dir)
    folder = next((f for f in searched if _holds_a_lab(f)), searched[0])
    print(f"searched for your lab notebooks in: {', '.join(f'{f}/' for f in searched)}")
    if _holds_a_lab(folder):
        print(f"using the notebooks in {folder}/")
    target = folder if out is None else Path(out)
    engine = assemble(labs_dir=folder, out=target, seed=seed)
    print(engine.table())
    print(f"wrote {target / PACKAGE}")
    missing = [s for s in engine.statuses if s.reason.startswith("no notebook")]
    for s in missing:
        print(f"error: {s.reason}", file=sys.stderr)
    if missing:
        print(
            "Run this command in the folder of your lab notebooks, or name it: "
            "python -m grader assemble --labs-dir FOLDER",
            file=sys.stderr,
        )
    return 1 if missing else 0
