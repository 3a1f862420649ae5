"""The command line: options reach the core functions; validate and report behave as documented."""

from __future__ import annotations

import csv
import subprocess
import sys
from pathlib import Path
from typing import Any

import nbformat
import pytest

from grader import cli, config
from grader.checking.specs import fixture
from grader.outputs import exports

SOLUTIONS = fixture.SOURCE.parent


def test_release_options_reach_the_release_functions(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Do release, --check and --bundle call the release and bundle functions with keyword
    arguments?"""
    from grader.assign import bundle, release

    calls: list[tuple[str, dict[str, Any]]] = []

    def record(module: Any, name: str, result: Any) -> None:
        def function(**kwargs: Any) -> Any:
            calls.append((name, kwargs))
            return result

        monkeypatch.setattr(module, name, function)

    record(release, "release", [Path("labs/x.ipynb")])
    record(release, "check_release", ["labs/x.ipynb differs"])
    record(bundle, "write_bundle", Path("bundle.zip"))
    assert cli.main(["release", "--lab", "2"]) == 0
    assert cli.main(["release", "--check"]) == 1
    assert cli.main(["release", "--lab", "lab3", "--bundle", "out"]) == 0
    assert calls == [
        ("release", {"solutions": config.SOLUTIONS, "labs": config.LABS_DIR, "lab": "2"}),
        ("check_release", {"solutions": config.SOLUTIONS, "labs": config.LABS_DIR, "lab": None}),
        ("write_bundle", {"lab": "lab3", "out": Path("out")}),
    ]
    assert "labs/x.ipynb differs" in capsys.readouterr().out


def test_bundle_needs_a_lab(capsys: pytest.CaptureFixture[str]) -> None:
    """Is ``--bundle`` without ``--lab`` refused with a message?"""
    assert cli.main(["release", "--bundle", "out"]) == 2
    assert "--bundle needs --lab" in capsys.readouterr().err


def test_autograde_defaults_come_from_config() -> None:
    """Do -j and --timeout default to the config's values?"""
    args = cli.parser().parse_args(["autograde", "subs", "--out", "out"])
    assert args.jobs == config.DEFAULT_JOBS and args.timeout is None and args.seed is None
    assert args.solutions == config.SOLUTIONS


def test_unknown_submissions_folder_is_an_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Is a missing SUBMISSIONS path reported with exit code 2?"""
    args = ["autograde", str(tmp_path / "nope"), "--out", str(tmp_path / "out")]
    args += ["--solutions", str(SOLUTIONS), "--lab", "fixture", "--no-progress"]
    assert cli.main(args) == 2
    assert "error:" in capsys.readouterr().err


@pytest.mark.slow
def test_validate_passes_the_solution_and_fails_the_stub(tmp_path: Path) -> None:
    """Does validate exit 0 on the solution and 1 on the stub, printing points per visible check?"""
    solved, stub = (
        tmp_path / "solved" / fixture.LAB.notebook,
        tmp_path / "stub" / fixture.LAB.notebook,
    )
    for path, nb in ((solved, fixture.solution()), (stub, fixture.released())):
        path.parent.mkdir()
        nbformat.write(nb, path)
    command = [sys.executable, "-m", "grader", "validate", "--lab", "fixture", "--timeout", "2"]
    ok = subprocess.run([*command, str(solved)], capture_output=True, text=True, timeout=120)
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert "fixture.double.value: passed (2/2 points)" in ok.stdout
    assert "visible checks: 3/3" in ok.stdout
    assert "fixture.double.edge" not in ok.stdout  # hidden checks run only at grading
    bad = subprocess.run([*command, str(stub)], capture_output=True, text=True, timeout=120)
    assert bad.returncode == 1
    assert "fixture.double.value: FAILED" in bad.stdout and "visible checks: 0/3" in bad.stdout


@pytest.mark.slow
def test_validate_without_solutions_uses_the_notebooks_own_test_cells(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """In a learner bundle (no solutions/), are the notebook's visible checks run, with no notes?"""
    stub = tmp_path / fixture.LAB.notebook
    nbformat.write(fixture.released(), stub)
    args = ["validate", str(stub), "--lab", "fixture", "--timeout", "2"]
    assert cli.main([*args, "--solutions", str(tmp_path / "none")]) == 1
    printed = capsys.readouterr().out
    assert "visible checks: 0/3" in printed and "note:" not in printed


@pytest.mark.slow
def test_report_prints_the_summary_and_writes_lms_csv(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Does report print statuses and pass rates and write lms.csv (final score, raw score,
    penalty, maximum and percent per learner)?"""
    subs = tmp_path / "subs"
    for student, nb in (("ann", fixture.solution()), ("ben", fixture.released())):
        (subs / student).mkdir(parents=True)
        nbformat.write(nb, subs / student / fixture.LAB.notebook)
    out = tmp_path / "out"
    args = ["autograde", str(subs), "--out", str(out), "--solutions", str(SOLUTIONS)]
    assert cli.main([*args, "--lab", "fixture", "--timeout", "2", "--no-progress", "-j", "1"]) == 0
    capsys.readouterr()
    assert cli.main(["report", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "| graded | 2 |" in printed and "| fixture.double.edge | 1 | 2 | 50% |" in printed
    with open(out / "lms.csv", newline="") as handle:
        assert list(csv.reader(handle)) == [
            [*exports.LMS_COLUMNS],
            ["ann", "", "4", "4", "0", "4", "100.0", "graded"],
            ["ben", "", "0", "0", "0", "4", "0.0", "graded"],
        ]


def test_report_without_grades_is_an_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Does report on a folder without grades.csv exit 2 with a hint?"""
    assert cli.main(["report", str(tmp_path)]) == 2
    assert "run autograde first" in capsys.readouterr().err
