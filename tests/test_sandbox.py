"""The sandbox: what learner code can and cannot do, and the status each misdeed ends in."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from grader import config, sandbox
from grader.checking.spec import get_spec
from grader.checking.specs import fixture
from grader.notebook import from_json
from grader.pipeline import scoring
from grader.sandbox import results

FULL = pytest.mark.skipif(
    not sandbox.full_isolation_available(), reason="full isolation needs root with namespaces"
)
LIMITS = config.Limits(cell_timeout=1.5, notebook_cells=3, startup=4)
SPECS = ["fixture.double.value", "fixture.square.value", "fixture.double.edge"]
HIDDEN = ["fixture.double.edge"]
with np.load(config.DATA / "mnist_sample.npz") as _sample:
    SAMPLE_SHAPE = _sample["X_train"].shape
ISOLATIONS = [pytest.param("full", marks=FULL), "reduced"]


def _job(*extra: str, program: str = "solution") -> sandbox.Job:
    """The fixture's program with ``extra`` cells (index 100, 101, ...) after its setup cell."""
    nb = fixture.solution() if program == "solution" else fixture.released()
    source = from_json(fixture.solution())
    cells = scoring.analyse(from_json(nb), scoring.test_cells(source, "fixture")).program
    for offset, source in enumerate(extra):
        cells.insert(1 + offset, (100 + offset, source))
    hidden_source = (config.REPO / "grader" / "checking" / "hidden" / "fixture.py").read_text()
    return sandbox.Job(
        "fixture",
        cells,
        visible={i: get_spec(i).make_inputs(5) for i in SPECS if i not in HIDDEN},
        hidden={i: get_spec(i).make_inputs(5) for i in HIDDEN},
        hidden_source=hidden_source,
    )


def _cell(result: results.RunResult, index: int) -> results.CellRun:
    return next(c for c in result.cells if c.index == index)


@pytest.mark.parametrize("isolation", ISOLATIONS)
def test_solution_returns_arrays_for_every_check(isolation: str) -> None:
    """Does the solution's program run and return each check's outputs as plain arrays?"""
    result = sandbox.run(_job(), limits=LIMITS, isolation=isolation)
    assert (result.status, result.isolation) == ("ok", isolation)
    assert sorted(result.specs) == sorted(SPECS)
    out = result.specs["fixture.double.value"].arrays["out"]
    assert out.shape == (3, 4) and out.dtype == np.float64


@pytest.mark.parametrize("isolation", ISOLATIONS)
def test_stub_reports_the_learner_error(isolation: str) -> None:
    """Does a stub's NotImplementedError come back as the check's error, with no arrays?"""
    result = sandbox.run(_job(program="released"), limits=LIMITS, isolation=isolation)
    assert result.status == "ok"
    run = result.specs["fixture.double.value"]
    assert "NotImplementedError" in run.error and run.arrays == {}


@pytest.mark.slow
@pytest.mark.parametrize("isolation", ISOLATIONS)
def test_infinite_loop_is_stopped_and_later_cells_run(isolation: str) -> None:
    """Is a looping cell stopped at its budget while the cells after it still run?"""
    result = sandbox.run(_job("while True:\n    pass"), limits=LIMITS, isolation=isolation)
    assert result.status == "ok"
    assert "time budget" in _cell(result, 100).error
    assert all(run.arrays for run in result.specs.values())


IGNORING_LOOP = """
import time
while True:
    try:
        time.sleep(0.01)
    except BaseException:
        pass
"""


@pytest.mark.slow
def test_loop_ignoring_the_alarm_times_out() -> None:
    """Does a loop that swallows the interrupt end as a timeout of the whole notebook?"""
    result = sandbox.run(_job(IGNORING_LOOP), limits=LIMITS, isolation="reduced")
    assert result.status == "timeout"
    assert "cell 100 was running" in result.detail


@pytest.mark.parametrize(
    ("source", "status"),
    [
        ("import os\nos._exit(0)", "crash"),
        ("import sys\nsys.exit(3)", "ok"),
        ("raise KeyboardInterrupt", "ok"),
        ("import numpy as np\na = np.ones(4 * 1024**3 // 8)", "memory"),
    ],
)
def test_exits_and_memory(source: str, status: str) -> None:
    """Do os._exit, sys.exit, KeyboardInterrupt and a 4 GB allocation end as expected?"""
    assert sandbox.run(_job(source), limits=LIMITS, isolation="reduced").status == status


def test_printing_a_gigabyte_is_capped() -> None:
    """Is 1 GB of printed output cut to the cap without failing the notebook?"""
    source = "chunk = 'x' * (1 << 20)\nfor _ in range(1024):\n    print(chunk)"
    result = sandbox.run(_job(source), limits=LIMITS, isolation="reduced")
    assert result.status == "ok"
    stdout = _cell(result, 100).stdout
    assert len(stdout) < LIMITS.cell_output + 200 and "not kept" in stdout


@pytest.mark.parametrize("isolation", ISOLATIONS)
def test_torch_and_reference_modules_do_not_exist(isolation: str) -> None:
    """Are torch and this lab's reference modules unimportable, while the data module works?"""
    source = """
for name in ("torch", "micrograd_plus.tensor", "micrograd_plus.ops"):
    try:
        __import__(name)
        print(name, "imported")
    except ImportError:
        print(name, "missing")
from micrograd_plus.data import load_mnist
print(load_mnist(root="data", verbose=False)[0].shape)
print(load_mnist(root="../data", verbose=False)[0].shape)
print(load_mnist(root="nowhere", verbose=False)[0].shape)
"""
    result = sandbox.run(_job(source), limits=LIMITS, isolation=isolation)
    assert _cell(result, 100).stdout.splitlines() == [
        "torch missing",
        "micrograd_plus.tensor missing",
        "micrograd_plus.ops missing",
        *[str(SAMPLE_SHAPE)] * 3,
    ]


@FULL
def test_full_isolation_hides_files_network_and_bounds_forks() -> None:
    """As root: are the repository and /tmp invisible, the network gone and a fork loop bounded?"""
    source = f"""
import os, socket
print(os.path.exists({str(config.SOLUTIONS)!r}), os.path.exists({str(config.REPO)!r}),
      os.getuid() != 0)
try:
    socket.create_connection(("1.1.1.1", 53), timeout=2)
    print("network")
except OSError:
    print("no network")
children = 0
for _ in range(200):
    try:
        if os.fork() == 0:
            import time; time.sleep(30)
        children += 1
    except OSError:
        break
print(children < {config.DEFAULT_LIMITS.processes})
"""
    result = sandbox.run(_job(source), limits=LIMITS, isolation="full")
    assert result.status == "ok"
    assert _cell(result, 100).stdout.splitlines() == ["False False True", "no network", "True"]
    assert all(run.arrays for run in result.specs.values())


def test_load_arrays_refuses_objects_and_oversized_headers(tmp_path: Path) -> None:
    """Are object arrays and arrays larger than the bound refused when reading sandbox output?"""
    good = tmp_path / "good.npz"
    np.savez(good, a0=np.arange(3.0))
    assert results.load_arrays(good, 1 << 20)["a0"].tolist() == [0.0, 1.0, 2.0]
    objects = tmp_path / "objects.npz"
    np.savez(objects, a0=np.array([{"x": 1}], dtype=object))
    with pytest.raises(ValueError, match="not allowed"):
        results.load_arrays(objects, 1 << 20)
    bomb = tmp_path / "bomb.npz"  # small file, large array
    np.savez_compressed(bomb, a0=np.zeros(100_000))
    assert bomb.stat().st_size < 10_000
    with pytest.raises(ValueError, match="not allowed"):
        results.load_arrays(bomb, 100_000)


def test_read_events_skips_what_is_not_an_event(tmp_path: Path) -> None:
    """Are junk lines the learner wrote into the events file ignored?"""
    path = tmp_path / "events.jsonl"
    path.write_text("PASSED 10/10\n" + json.dumps({"event": "done"}) + "\n[1, 2]\n{broken\n")
    assert results.read_events(path, 1 << 20) == [{"event": "done"}]


@pytest.mark.slow
@FULL
def test_nothing_of_the_hidden_checks_is_readable_while_the_cells_run() -> None:
    """Do the learner's cells find no hidden check, seed or job file anywhere in the sandbox?"""
    source = """
import os, sys
found = []
for root, dirs, files in os.walk("/"):
    dirs[:] = [d for d in dirs if os.path.join(root, d) not in ("/proc", "/sys", "/dev", "/usr")]
    for name in files:
        try:
            text = open(os.path.join(root, name), "rb").read()
        except OSError:
            continue
        if b"fixture.double.edge" in text or b"handle large values" in text:
            found.append(os.path.join(root, name))
print(found, [a for a in sys.argv if "json" in a])
"""
    limits = config.Limits(cell_timeout=60, notebook_cells=3, startup=4)
    result = sandbox.run(_job(source), limits=limits, isolation="full")
    assert _cell(result, 100).error == ""
    assert _cell(result, 100).stdout.strip() == "[] []"
    assert result.specs["fixture.double.edge"].arrays["out"].shape == (8,)


@pytest.mark.parametrize("isolation", ISOLATIONS)
def test_reading_the_channel_early_shows_nothing_and_is_noticed(isolation: str) -> None:
    """When a cell takes the hidden checks off the runner's pipe, is what it prints dropped?"""
    source = r"""
import os, struct, sys
fds = [int(x) for x in sys.argv[1].split(",")]
def frame():
    size = struct.unpack(">Q", os.read(fds[0], 8))[0]
    data = b""
    while len(data) < size:
        data += os.read(fds[0], size - len(data))
    return data
os.write(fds[1], b"cells-done\n")
frame()
os.write(fds[1], b"visible-done\n")
print("STOLEN", frame())
"""
    # The runner then waits for inputs already taken: the wall clock ends it.
    limits = config.Limits(cell_timeout=0.5, notebook_cells=2, startup=1)
    result = sandbox.run(_job(source), limits=limits, isolation=isolation)
    assert result.tampered
    assert not any("STOLEN" in cell.stdout for cell in result.cells)
    assert all(not run.arrays for run in result.specs.values())


@pytest.mark.parametrize("isolation", ISOLATIONS)
def test_replacing_a_check_in_the_registry_changes_nothing(isolation: str) -> None:
    """Does a stub that swaps a check's learner side in the registry still fail that check?"""
    source = """
import dataclasses, sys
import grader.checking.spec as spec
forged = lambda inputs, fn: {"out": 2 * inputs["x"]}
loaded = sys.modules["grader.checking.spec"]
for registry in (spec._REGISTRY, vars(spec)["_REGISTRY"], loaded._REGISTRY):
    for check_id in ("fixture.double.value", "fixture.double.edge"):
        old = registry.get(check_id)
        if old is not None:
            registry.update({check_id: dataclasses.replace(old, learner=forged)})
        else:
            registry[check_id] = spec.Spec(check_id, 1, ("double",), dict, forged, dict)
"""
    result = sandbox.run(_job(source, program="released"), limits=LIMITS, isolation=isolation)
    assert "NotImplementedError" in result.specs["fixture.double.value"].error
    assert result.specs["fixture.double.edge"].arrays == {}


@pytest.mark.parametrize("isolation", ISOLATIONS)
def test_dying_in_a_hidden_check_fails_only_the_hidden_checks(isolation: str) -> None:
    """Does code that ends the process on a hidden input lose the hidden checks and no more?"""
    source = """
import os
import numpy as np
def double(x):
    if np.asarray(x).size == 8:
        os._exit(3)
    return 2 * np.asarray(x)
"""
    job = _job()
    cells = [c for c in job.cells if "def double" not in c[1]] + [(100, source)]
    job = sandbox.Job("fixture", cells, job.visible, job.hidden, job.hidden_source)
    result = sandbox.run(job, limits=LIMITS, isolation=isolation)
    assert result.status == "ok"
    assert result.specs["fixture.double.value"].arrays["out"].shape == (3, 4)
    edge = result.specs.get("fixture.double.edge")
    assert edge is None or (edge.arrays == {} and edge.error == results.HIDDEN_ERROR)
