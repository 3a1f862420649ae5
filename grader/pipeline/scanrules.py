"""What the integrity scan (:mod:`grader.pipeline.integrity`) looks for, as data: the kinds of
flag, the imports, calls and attributes behind them, and the settings it leaves alone."""

from __future__ import annotations

from grader.labs import LABS

KINDS = (
    "import-torch",
    "import-micrograd_plus",
    "import-importlib",
    "import-ctypes",
    "import-subprocess",
    "os-system",
    "exit",
    "exec",
    "eval",
    "compile",
    "dynamic-import",
    "module-attr-assign",
    "sys-modules",
    "ipython-hook",
    "builtins-edit",
    "grader-internals",
    "introspection",
    "computed-attribute",
    "syntax-error",
    "scan-failed",
)
"""Every kind of flag the scan raises."""

FLAGGED_IMPORTS = ("torch", "micrograd_plus", "importlib", "ctypes", "subprocess")
"""Top-level packages whose import is flagged ``import-<name>``."""

REFERENCE_MODULES = tuple(f"micrograd_plus.{m}" for lab in LABS.values() for m in lab.modules)
"""The reference modules learners write themselves (``value`` and ``data`` are given)."""

PROCESS_CALLS = frozenset(
    {f"os.{name}" for name in ("system", "popen", "fork", "forkpty", "kill", "killpg")}
    | {
        f"os.{p}{s}"
        for p in ("exec", "spawn")
        for s in ("l", "le", "lp", "lpe", "v", "ve", "vp", "vpe")
    }
    | {"os.posix_spawn", "os.posix_spawnp", "pty.spawn", "pty.fork", "multiprocessing.Process"}
)
"""Calls that run another program or process (kind ``os-system``)."""

EXIT_CALLS = frozenset({"os._exit", "sys.exit", "exit", "quit", "os.abort"})
DYNAMIC_CALLS = {
    "exec": "exec",
    "eval": "eval",
    "compile": "compile",
    "__import__": "dynamic-import",
}
HOOK_ATTRIBUTES = frozenset(
    {
        "events",
        "set_custom_exc",
        "set_hook",
        "ast_transformers",
        "input_transformers_cleanup",
        "input_transformers_post",
        "showtraceback",
        "_showtraceback",
        "register_magic_function",
        "register_magics",
        "kernel",
    }
)
"""Attributes of ``get_ipython()`` whose use changes how cells run or report."""
SYS_HOOKS = frozenset(
    {"excepthook", "displayhook", "breakpointhook", "unraisablehook", "settrace", "setprofile"}
)
INTROSPECTION_CALLS = frozenset(
    {
        "gc.get_objects",
        "gc.get_referrers",
        "gc.get_referents",
        "sys._getframe",
        "inspect.currentframe",
        "inspect.stack",
        "inspect.getouterframes",
        "inspect.trace",
        "inspect.getinnerframes",
        "sys._current_frames",
        "traceback.walk_stack",
        "traceback.walk_tb",
    }
)
"""Calls that reach other code's objects and frames (kind ``introspection``)."""
INTROSPECTION_ATTRIBUTES = frozenset(
    {"f_back", "f_globals", "f_locals", "f_builtins", "tb_frame", "gi_frame", "__code__"}
)
SUBMODULES = frozenset({"numpy.testing", "numpy.linalg", "numpy.random", "numpy.lib", "os.path"})
SETTINGS = (
    "matplotlib.rcParams",
    "matplotlib.pyplot.rcParams",
    "os.environ",
    "pandas.options",
    "numpy.random.seed",
)
"""Settings learners change in plain sight (figure sizes, thread counts): writes to them are
not module edits."""
GUARDED_OK = ("torch",)
"""Imports left unflagged inside ``try``/``except ImportError`` (the labs' optional torch
comparisons); any other flagged import is flagged wherever it is."""
RISKY_NAMES = frozenset({*("exec", "eval", "compile", "__import__"), "_getframe", "system"})
"""Attribute names that reach code execution or frames when fetched by ``getattr``."""
"""``from package import name`` binds a module for these names."""
