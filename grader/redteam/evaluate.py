"""Evaluate a lab's notebooks in one process: the solution, the stub and every planted bug.

Like :func:`grader.redteam.inprocess.evaluate_in_process`, but closer to the sandbox: the
learner's program runs once without torch (``import torch`` fails, as it does
when grading), then every check of the lab runs at each seed asked for.

``python -m grader.redteam.evaluate LAB [--seeds 0 1234]`` prints, as JSON, the
checks that fail for the solution, the released stub and each planted bug. Run
it with ``OPENBLAS_NUM_THREADS=1`` (as the sandbox does): a lab's training cells
can be ten times slower with two BLAS threads on a busy two-core machine.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from grader.checking.check import run_spec
from grader.checking.restore import tensor_methods_restored
from grader.checking.spec import load_lab
from grader.config import REPO
from grader.redteam.inprocess import run_program
from grader.redteam.learner import learner_notebook, load_labs
from grader.redteam.planted import apply_bug, bugs_for


@contextlib.contextmanager
def torch_hidden() -> Iterator[None]:
    """``import torch`` fails inside, as in the sandbox; torch is back afterwards."""
    saved = {name: mod for name, mod in sys.modules.items() if name.split(".")[0] == "torch"}
    for name in [*saved, "torch"]:
        sys.modules[name] = None  # type: ignore[assignment]
    try:
        yield
    finally:
        for name in [n for n in sys.modules if n.split(".")[0] == "torch"]:
            del sys.modules[name]
        sys.modules.update(saved)


@contextlib.contextmanager
def program_run(nb: Any) -> Iterator[dict[str, Any]]:
    """The namespace of ``nb``'s program, run once without torch (as in the sandbox); inside,
    its figures are closed and output is silenced, and the reference Tensor is restored on exit."""
    with tensor_methods_restored():
        with torch_hidden():
            namespace = run_program(nb)
        with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
            if "matplotlib.pyplot" in sys.modules:
                sys.modules["matplotlib.pyplot"].close("all")
            yield namespace


def failing(nb: Any, lab_id: str, seeds: tuple[int, ...] = (0,)) -> dict[int, set[str]]:
    """The checks of ``lab_id`` that ``nb`` fails at each seed (its program runs once)."""
    with program_run(nb) as namespace:
        specs = load_lab(lab_id)
        objs = {spec.id: tuple(namespace.get(n) for n in spec.symbols) for spec in specs}
        return {
            seed: {spec.id for spec in specs if not run_spec(spec, objs[spec.id], seed).passed}
            for seed in seeds
        }


def evaluate_lab(
    lab_id: str, seeds: tuple[int, ...], *, solutions: Path, labs: Path
) -> dict[str, Any]:
    """Failing checks per seed of the solution, the stub and each planted bug (as lists)."""
    (files,) = [f for f in load_labs(solutions, labs) if f.lab.id == lab_id]

    def listed(result: dict[int, set[str]]) -> dict[str, list[str]]:
        return {str(seed): sorted(ids) for seed, ids in result.items()}

    try:
        bugs = bugs_for(lab_id)
    except ModuleNotFoundError:
        bugs = []
    return {
        "checks": sorted(files.checks),
        "solution": listed(failing(learner_notebook(files), lab_id, seeds)),
        "stub": listed(failing(files.released, lab_id, seeds)),
        "bugs": {
            bug.name: {
                "fails": sorted(bug.fails),
                "got": listed(
                    failing(learner_notebook(files, apply_bug(files.source, bug)), lab_id, seeds)
                ),
            }
            for bug in bugs
        },
    }


def main(argv: list[str] | None = None) -> int:
    """``python -m grader.redteam.evaluate LAB [--seeds ...]``: JSON on stdout."""
    parser = argparse.ArgumentParser(prog="python -m grader.redteam.evaluate", description=__doc__)
    parser.add_argument("lab", help="lab id, e.g. lab2")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0])
    parser.add_argument("--solutions", type=Path, default=REPO / "solutions")
    parser.add_argument("--labs", type=Path, default=REPO / "labs")
    args = parser.parse_args(argv)
    result = evaluate_lab(args.lab, tuple(args.seeds), solutions=args.solutions, labs=args.labs)
    print(json.dumps(result, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
