"""Code that runs away: endless loops, exits, huge allocations, forks and floods of output.

Each is appended to otherwise correct code; the sandbox must stop it (or let it
finish) and grade what the notebook defined. Honest code that only warns is here too.
"""

from __future__ import annotations

from grader.redteam.tamper.case import TamperCase

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

RUNTIME_WARNING = """
import warnings

import numpy as np

with np.errstate(divide="warn"):
    _ = np.log(np.zeros(3))
warnings.warn("correct code may warn", RuntimeWarning, stacklevel=1)
"""

CASES: list[TamperCase] = [
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
        "runtime-warning", "correct code that emits RuntimeWarnings", "append", code=RUNTIME_WARNING
    ),
]
