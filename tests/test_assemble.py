"""``python -m grader assemble``: the learner's framework from their lab notebooks (issue 12)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import numpy as np
import pytest

import micrograd_plus.nn
import micrograd_plus.optim
from grader import cli, config
from grader.labs import get_lab
from grader.learner.assemble import assemble
from grader.redteam import apply_bug, bugs_for


def test_missing_labs_fall_back_with_a_reason(tmp_path: Path) -> None:
    """With no lab notebook there, does every part come from the reference, saying why?"""
    engine = assemble(labs_dir=tmp_path, out=tmp_path)
    assert [s.mine for s in engine.statuses] == [False] * 4
    assert all("no notebook of lab" in s.reason for s in engine.statuses)
    assert engine.nn.Linear is micrograd_plus.nn.Linear
    assert "reference micrograd_plus" in engine.table()


def test_a_failing_lab_falls_back_and_names_its_check(tmp_path: Path) -> None:
    """Is a lab 1.7.4 with a broken zero_grad replaced by the reference, naming the failed check?"""
    name = get_lab("lab4").notebook
    nb = nbformat.read(config.SOLUTIONS / name, as_version=4)
    bug = next(b for b in bugs_for("lab4") if b.name == "zero-grad-rebinds-local")
    nbformat.write(apply_bug(nb, bug), tmp_path / name)
    engine = assemble(labs_dir=tmp_path, out=tmp_path / "out")
    optim = engine.statuses[3]
    assert not optim.mine and "lab4.optimizer.zero_grad" in optim.reason
    assert engine.optim.Adam is micrograd_plus.optim.Adam
    assert (tmp_path / "out" / "mylearner" / "optim.py").is_file()


def test_the_command_prints_the_table(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Does `python -m grader assemble` print one row per part and where it wrote the package?"""
    assert cli.main(["assemble", "--labs-dir", str(tmp_path), "--out", str(tmp_path)]) == 1
    out, err = capsys.readouterr()
    assert out.count("reference micrograd_plus") == 4 and "mylearner" in out
    assert f"searched for your lab notebooks in: {tmp_path}/" in out
    assert err.count("error: no notebook of lab") == 4 and "--labs-dir" in err


def test_the_command_finds_labs_from_the_repository_root(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Run where the README runs `validate` (the folder above labs/): are the notebooks found?"""
    (tmp_path / "labs").mkdir()
    shutil.copy(config.SOLUTIONS / get_lab("lab1").notebook, tmp_path / "labs")
    monkeypatch.chdir(tmp_path)
    assert cli.main(["assemble"]) == 1  # labs 1.7.2-1.7.4 are missing
    out, err = capsys.readouterr()
    assert "searched for your lab notebooks in: ./, labs/" in out
    assert "using the notebooks in labs/" in out
    assert (tmp_path / "labs" / "mylearner" / "tensor.py").is_file()
    assert not (tmp_path / "mylearner").exists()
    tensor_row = next(line for line in out.splitlines() if line.startswith("1.7.1"))
    assert "no notebook" not in tensor_row  # found (then replaced: the reference ops needs it)
    assert "no notebook of lab 1.7.2 (lab-1.7.2-operations.ipynb) in labs" in err


def test_assemble_help_names_the_folders_it_searches(capsys: pytest.CaptureFixture[str]) -> None:
    """Does `assemble --help` say where the notebooks are looked for?"""
    with pytest.raises(SystemExit):
        cli.main(["assemble", "--help"])
    assert "the current folder, else ./labs" in " ".join(capsys.readouterr().out.split())


TRAIN = """
import numpy as np
from pathlib import Path
from grader.learner.assemble import assemble
from micrograd_plus.data import load_mnist

mine = assemble(labs_dir=Path(LABS), out=Path(OUT))
print("ALL_MINE", mine.all_mine, flush=True)
Tensor, nn, ops, optim = mine.Tensor, mine.nn, mine.ops, mine.optim
X, y, Xt, yt = load_mnist(root=DATA, verbose=False)
MEAN, STD = float(X.mean()), float(X.std())
shift_rng, order_rng = np.random.default_rng(0), np.random.default_rng(0)


def shifted(x):  # lab 1.7.5's RandomShift(1)
    n, w = len(x), np.arange(28)
    padded = np.pad(x.reshape(n, 28, 28), ((0, 0), (1, 1), (1, 1)))
    dy, dx = shift_rng.integers(0, 3, size=(2, n, 1, 1))
    return padded[np.arange(n)[:, None, None], dy + w[:, None], dx + w].reshape(n, 784)


nn.manual_seed(0)
layers = [nn.Linear(784, 256), nn.ReLU(), nn.Linear(256, 128), nn.ReLU(), nn.Linear(128, 10)]
model = nn.Sequential(*layers)
optimizer = optim.Adam(model.parameters(), lr=1e-3)
scheduler = optim.CosineAnnealingLR(optimizer, T_max=20)
for epoch in range(20):
    model.train()
    order = order_rng.permutation(len(X))
    for start in range(0, len(X), 128):
        idx = order[start : start + 128]
        optimizer.zero_grad()
        loss = ops.cross_entropy(model(Tensor((shifted(X[idx]) - MEAN) / STD)), y[idx])
        loss.backward()
        optimizer.step()
    scheduler.step()
model.eval()
print("ACCURACY", float(np.mean(model(Tensor((Xt - MEAN) / STD)).data.argmax(1) == yt)))
"""


@pytest.mark.slow
def test_the_solutions_framework_trains_mnist(tmp_path: Path) -> None:
    """Do the code cells of completed labs 1.7.1-1.7.4 train lab 1.7.5's MLP to 95.5%?"""
    labs = tmp_path / "labs"
    labs.mkdir()
    for lab in ("lab1", "lab2", "lab3", "lab4"):
        shutil.copy(config.SOLUTIONS / get_lab(lab).notebook, labs)
    setup = f"LABS, OUT, DATA = {str(labs)!r}, {str(tmp_path)!r}, {str(config.REPO / 'data')!r}\n"
    env = {
        **os.environ,
        "OPENBLAS_NUM_THREADS": "1",
        "OMP_NUM_THREADS": "1",
        "MKL_NUM_THREADS": "1",
    }
    run = subprocess.run(
        [sys.executable, "-c", setup + TRAIN], env=env, capture_output=True, text=True, timeout=300
    )
    assert run.returncode == 0, run.stderr[-2000:]
    assert "ALL_MINE True" in run.stdout, run.stdout
    accuracy = float(run.stdout.split("ACCURACY")[-1])
    assert accuracy >= 0.955, run.stdout


def test_an_error_inside_the_assembled_package_names_lab_and_task(tmp_path: Path) -> None:
    """Does an error raised in mylearner/nn.py name lab 1.7.3, the task and the line?"""
    from grader.learner.assemble import CELL_MARK
    from grader.learner.explain import explain

    package = tmp_path / "mylearner"
    package.mkdir()
    source = f"{CELL_MARK}Task 5: a fully connected layer\ndef forward(x):\n    return x @ 2\n"
    (package / "nn.py").write_text(source)
    namespace: dict[str, object] = {}
    exec(compile(source, str(package / "nn.py"), "exec"), namespace)
    with pytest.raises(ValueError) as raised:
        namespace["forward"](np.ones(3))  # type: ignore[operator]
    text = explain(raised.value, package)
    assert "lab 1.7.3 (lab-1.7.3-layers.ipynb), Task 5: a fully connected layer" in text
    assert "in forward, line: return x @ 2" in text
    assert explain(ValueError("raised elsewhere"), package) == ""
