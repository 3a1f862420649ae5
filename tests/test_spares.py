"""Sandboxes started ahead: warm before their job, one notebook each, never left running."""

from __future__ import annotations

import time
from dataclasses import replace

import numpy as np
import pytest

from grader import cellsource, config, sandbox
from grader.checking.spec import get_spec
from grader.checking.specs import fixture
from grader.notebook import from_json
from grader.pipeline import scoring
from grader.sandbox.boot import start
from grader.sandbox.launch import finish
from grader.sandbox.spares import Spares

FULL = pytest.mark.skipif(
    not sandbox.full_isolation_available(), reason="full isolation needs bubblewrap"
)
ISOLATIONS = [pytest.param("full", marks=FULL), "reduced"]
LIMITS = config.Limits(cell_timeout=2.0, notebook_cells=2, startup=2)
PRELOAD = ("numpy", "colorsys", "micrograd_plus.value")
"""``colorsys``: a standard module nothing else in the sandbox imports."""
PROBE = "import sys\nprint(sorted(m for m in ('colorsys', 'numpy') if m in sys.modules))"


def _job(*extra: str, lab: str = "fixture", preload: tuple[str, ...] = PRELOAD) -> sandbox.Job:
    """The fixture's solution program with ``extra`` cells first (index 100, 101, ...)."""
    source = from_json(fixture.solution())
    cells = scoring.analyse(source, scoring.test_cells(source, "fixture")).program
    cells[:0] = [(100 + i, text) for i, text in enumerate(extra)]
    visible = ["fixture.double.value", "fixture.square.value"]
    return sandbox.Job(
        lab, cells, visible={i: get_spec(i).make_inputs(3) for i in visible}, preload=preload
    )


def _printed(result: sandbox.RunResult, index: int = 100) -> str:
    return next(c for c in result.cells if c.index == index).stdout.strip()


@pytest.mark.parametrize("isolation", ISOLATIONS)
def test_a_spare_has_imported_its_labs_modules_before_the_job(isolation: str) -> None:
    """Does a spare's runner import the lab's modules while it waits, and a cold one not
    before its job asks (the learner's cells see the same modules either way)?"""
    with Spares({"fixture": 1}, {"fixture": PRELOAD}, limits=LIMITS, isolation=isolation) as sp:
        time.sleep(1.0)
        warm = sandbox.run(_job(PROBE), limits=LIMITS, isolation=isolation, spares=sp)
        assert sp.taken == 1
    cold = sandbox.run(_job(PROBE, preload=()), limits=LIMITS, isolation=isolation)
    assert _printed(warm) == "['colorsys', 'numpy']"
    assert _printed(cold) == "['numpy']"  # the runner's own import
    assert warm.status == cold.status == "ok"


def test_a_spare_gives_the_same_results_as_a_cold_sandbox() -> None:
    """Are a notebook's outputs and arrays the same from a spare and from a fresh start?"""
    with Spares({"fixture": 1}, {"fixture": PRELOAD}, limits=LIMITS, isolation="reduced") as sp:
        warm = sandbox.run(_job("print(6 * 7)"), limits=LIMITS, isolation="reduced", spares=sp)
    cold = sandbox.run(_job("print(6 * 7)"), limits=LIMITS, isolation="reduced")
    assert [(c.index, c.stdout, c.error) for c in warm.cells] == [
        (c.index, c.stdout, c.error) for c in cold.cells
    ]
    for check_id, run in cold.specs.items():
        assert run.arrays.keys() == warm.specs[check_id].arrays.keys()
        for name, array in run.arrays.items():
            np.testing.assert_array_equal(warm.specs[check_id].arrays[name], array)


def test_the_wall_clock_counts_from_the_job_not_from_the_start() -> None:
    """Does a spare that waited longer than the notebook's whole limit still get all of it?"""
    limits = config.Limits(cell_timeout=1.0, notebook_cells=1, startup=1)
    started = start("fixture", limits=limits, isolation="reduced", preload=PRELOAD)
    time.sleep(limits.wall_clock + 0.5)
    result = finish(started, _job("import time\ntime.sleep(0.5)"))
    assert result.status == "ok" and result.seconds < limits.wall_clock


def test_a_spare_that_died_waiting_is_replaced() -> None:
    """Is a spare killed while it waited discarded, and the notebook run in a fresh sandbox?"""
    with Spares({"fixture": 1}, {"fixture": PRELOAD}, limits=LIMITS, isolation="reduced") as sp:
        spare = sp.ready[0]
        spare.proc.kill()
        spare.proc.wait()
        result = sandbox.run(_job("print('ran')"), limits=LIMITS, isolation="reduced", spares=sp)
        assert (result.status, _printed(result), sp.taken) == ("ok", "ran", 0)
        assert not spare.base.exists()


def test_spares_follow_the_batch_and_none_is_left_running() -> None:
    """Is a spare started only while runs of its lab are left (skips count), and is every
    spare stopped, its folder removed, when the batch ends?"""
    made = []
    with Spares({"fixture": 3}, {}, limits=LIMITS, isolation="reduced") as sp:
        made += sp.ready
        sp.skip("fixture")  # one notebook ended before its sandbox: its spare waits on
        assert (sp.started, len(sp.ready)) == (1, 1)
        first = sp.take("fixture", (), LIMITS, "reduced")
        assert first is not None and sp.started == 2  # the next one started at once
        made += sp.ready
        finish(first, _job(preload=()))
        last = sp.take("fixture", (), LIMITS, "reduced")
        assert last is not None and (sp.started, sp.ready) == (2, [])  # none left to start
        last.discard()
        assert sp.take("fixture", (), LIMITS, "reduced") is None
    assert all(not s.alive() and not s.base.exists() for s in made)


def test_a_spare_is_only_taken_for_its_own_lab_limits_and_isolation() -> None:
    """Does a job of another lab, other limits or other isolation never get a spare, and
    does a sandbox given another lab's job refuse it (its site holds that lab's modules)?"""
    other = replace(LIMITS, cell_timeout=3.0)
    with Spares({"fixture": 2}, {}, limits=LIMITS, isolation="reduced") as sp:
        assert sp.take("lab1", (), LIMITS, "reduced") is None
        assert sp.take("fixture", (), other, "reduced") is None
        assert sp.take("fixture", (), LIMITS, "full") is None
        assert sp.taken == 0 and len(sp.ready) == 1
    started = start("fixture", limits=LIMITS, isolation="reduced")
    with pytest.raises(sandbox.SandboxSetupError, match="given lab1's job"):
        finish(started, _job(lab="lab1"))
    assert not started.alive() and not started.base.exists()


def test_the_imports_of_a_cell() -> None:
    """Are a cell's top-level imports listed (a from-import's names as possible submodules),
    and nested or relative ones left out?"""
    source = (
        "import numpy as np, sys\nfrom micrograd_plus import nn\nfrom .x import y\n"
        "try:\n    import torch\nexcept ImportError:\n    pass\n%matplotlib inline\n"
    )
    assert cellsource.imports(source) == ["numpy", "sys", "micrograd_plus", "micrograd_plus.nn"]
    assert cellsource.imports("def (:") == []
