"""Tests of the release (solutions -> labs), its source validation and the learner bundle."""

from __future__ import annotations

import copy
import json
import shutil
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import nbformat
import pytest

from grader.assign.bundle import INSTRUCTOR_ONLY, write_bundle
from grader.assign.release import ReleaseError, check_release, release
from grader.assign.sourcecheck import leaks, secret_lines, validate_source
from grader.cellsource import check_calls, regions
from grader.config import REPO
from grader.labs import LABS, blocked_modules, get_lab
from grader.notebook import from_json

FIXTURE_SOLUTIONS = REPO / "tests" / "fixtures" / "solutions"
FIXTURE_NOTEBOOK = "fixture-double.ipynb"


def fixture_source() -> nbformat.NotebookNode:
    return nbformat.read(FIXTURE_SOLUTIONS / FIXTURE_NOTEBOOK, as_version=4)


def cell(nb: nbformat.NotebookNode, grade_id: str) -> nbformat.NotebookNode:
    return next(c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade_id") == grade_id)


@pytest.fixture(scope="module")
def released(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The fixture lab released once into a temporary labs folder."""
    labs = tmp_path_factory.mktemp("labs")
    release(solutions=FIXTURE_SOLUTIONS, labs=labs, lab="fixture")
    return labs


@pytest.mark.slow
def test_release_strips_solutions_and_hidden_tests(released: Path) -> None:
    """Does the released notebook keep the scaffold but lose solutions, hidden tests and outputs?"""
    text = (released / FIXTURE_NOTEBOOK).read_text()
    nb = nbformat.reads(text, as_version=4)
    assert "BEGIN SOLUTION" not in text and "HIDDEN TESTS" not in text
    assert "fixture.double.edge" not in text
    assert "2 * np.asarray(x)" not in text
    assert "raise NotImplementedError()" in cell(nb, "double-solution").source
    assert 'check("fixture.double.value", double)' in cell(nb, "double-tests").source
    assert all(c.outputs == [] and c.execution_count is None for c in nb.cells if "outputs" in c)
    assert [c.id for c in nb.cells] == [c.id for c in fixture_source().cells]
    assert not list(released.glob("*.db")), "the gradebook must stay out of labs/"


@pytest.mark.slow
def test_release_is_byte_identical_and_in_sync(released: Path, tmp_path: Path) -> None:
    """Does a second release write the same bytes, and does the check report no problem?"""
    again = tmp_path / "labs"
    release(solutions=FIXTURE_SOLUTIONS, labs=again, lab="fixture")
    assert (again / FIXTURE_NOTEBOOK).read_bytes() == (released / FIXTURE_NOTEBOOK).read_bytes()
    assert check_release(solutions=FIXTURE_SOLUTIONS, labs=released, lab="fixture") == []


@pytest.mark.slow
def test_check_names_the_first_differing_cell(released: Path, tmp_path: Path) -> None:
    """Is an edited, or missing, released notebook reported with its file and first bad cell?"""
    labs = tmp_path / "labs"
    shutil.copytree(released, labs)
    path = labs / FIXTURE_NOTEBOOK
    nb = json.loads(path.read_text())
    nb["cells"][7]["source"] = ["def square(x):\n", "    return x * x"]
    path.write_text(json.dumps(nb, indent=1))
    problems = check_release(solutions=FIXTURE_SOLUTIONS, labs=labs, lab="fixture")
    assert len(problems) == 1
    assert FIXTURE_NOTEBOOK in problems[0] and "cell 7 (grade_id square-solution)" in problems[0]
    path.unlink()
    problems = check_release(solutions=FIXTURE_SOLUTIONS, labs=labs, lab="fixture")
    assert len(problems) == 1 and "missing" in problems[0]


@pytest.mark.slow
def test_release_keeps_the_gradebook_only_where_asked(tmp_path: Path) -> None:
    """Is nbgrader's gradebook written where the instructor asks, and never into labs/?"""
    gradebook = tmp_path / "instructor" / "gradebook.db"
    release(solutions=FIXTURE_SOLUTIONS, labs=tmp_path / "labs", lab="fixture", gradebook=gradebook)
    assert gradebook.stat().st_size > 0
    assert sorted(p.name for p in (tmp_path / "labs").iterdir()) == [FIXTURE_NOTEBOOK]


@pytest.mark.slow
def test_misspelt_marker_fails_the_release(tmp_path: Path) -> None:
    """Are hidden tests nbgrader would not strip (misspelt markers) refused, writing nothing?"""
    nb = fixture_source()
    target = cell(nb, "double-tests")
    target.source = target.source.replace("HIDDEN TESTS", "HIDDEN TEST")
    solutions = tmp_path / "solutions"
    solutions.mkdir()
    nbformat.write(nb, solutions / FIXTURE_NOTEBOOK)
    with pytest.raises(ReleaseError, match="leak") as raised:
        release(solutions=solutions, labs=tmp_path / "labs", lab="fixture")
    assert 'check("fixture.double.edge", double)' in str(raised.value)
    assert not (tmp_path / "labs" / FIXTURE_NOTEBOOK).exists()
    assert check_release(solutions=solutions, labs=tmp_path / "labs", lab="fixture")


def test_invalid_source_fails_before_nbgrader_runs(tmp_path: Path) -> None:
    """Does a points mismatch stop the release with a message naming the cell?"""
    nb = fixture_source()
    cell(nb, "double-tests").metadata.nbgrader.points = 2
    solutions = tmp_path / "solutions"
    solutions.mkdir()
    nbformat.write(nb, solutions / FIXTURE_NOTEBOOK)
    with pytest.raises(ReleaseError, match=r"double-tests.*points is 2 but its checks are worth 3"):
        release(solutions=solutions, labs=tmp_path / "labs", lab="fixture")


def test_unknown_lab_and_stray_source_are_refused(tmp_path: Path) -> None:
    """Are an unknown lab name and a source notebook belonging to no lab refused?"""
    with pytest.raises(ReleaseError, match="unknown lab"):
        release(solutions=tmp_path, labs=tmp_path / "labs", lab="lab9")
    (tmp_path / "scratch.ipynb").write_text("{}")
    assert "belong to no lab" in check_release(solutions=tmp_path, labs=tmp_path / "labs")[0]


def _edited(edit: str) -> nbformat.NotebookNode:
    nb = fixture_source()
    tests = cell(nb, "double-tests")
    solution = cell(nb, "square-solution")
    if edit == "duplicate-grade-id":
        solution.metadata.nbgrader.grade_id = "double-solution"
    elif edit == "unknown-check":
        tests.source = tests.source.replace("fixture.double.value", "fixture.double.valu")
    elif edit == "non-literal-id":
        tests.source = tests.source.replace('"fixture.double.value"', "'fixture.' + 'x'")
    elif edit == "hidden-in-the-open":
        tests.source = 'check("fixture.double.edge", double)\n' + tests.source
        tests.metadata.nbgrader.points = 4
    elif edit == "graded-twice":
        square_tests = cell(nb, "square-tests")
        square_tests.source += '\ncheck("fixture.double.value", double)'
        square_tests.metadata.nbgrader.points = 3
    elif edit == "no-region":
        solution.source = "def square(x):\n    return x * x"
    elif edit == "unclosed-region":
        solution.source = solution.source.replace("    ### END SOLUTION", "")
    elif edit == "syntax-error":
        tests.source += "\ncheck(("
    return nb


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        ("duplicate-grade-id", "grade_id 'double-solution' is used by 2 cells"),
        ("unknown-check", "no check named 'fixture.double.valu'"),
        ("non-literal-id", "check id must be a string literal"),
        ("hidden-in-the-open", "hidden check 'fixture.double.edge' called outside"),
        ("graded-twice", "is also graded in cell 5"),
        ("no-region", "solution cell without a ### BEGIN SOLUTION region"),
        ("unclosed-region", "BEGIN SOLUTION is never closed"),
        ("syntax-error", "does not parse"),
    ],
)
def test_validation_problems(edit: str, message: str) -> None:
    """Is each kind of broken source reported, and the untouched source accepted?"""
    lab = get_lab("fixture")
    assert validate_source(from_json(fixture_source()), lab) == []
    problems = validate_source(from_json(_edited(edit)), lab)
    assert any(message in p for p in problems), problems


def test_regions_and_check_calls() -> None:
    """Are solution lines, hidden lines and literal check ids found where they are?"""
    source = (
        "def f(x):\n    ### BEGIN SOLUTION\n    return x\n    ### END SOLUTION\n"
        'check("a.b.c", f)\n### BEGIN HIDDEN TESTS\ncheck("a.b.d", f)\n### END HIDDEN TESTS'
    )
    found = regions(source)
    assert found.solution == {1, 2, 3} and found.hidden == {5, 6, 7}
    calls = check_calls(source)
    assert [(c.id, c.line, c.hidden) for c in calls] == [("a.b.c", 5, False), ("a.b.d", 7, True)]


def test_leak_detection_ignores_scaffold_and_common_lines() -> None:
    """Are only long lines unique to solution regions secret, and found if released?"""
    nb = fixture_source()
    secret = secret_lines(from_json(nb))
    assert "return 2 * np.asarray(x)" in secret
    assert 'check("fixture.double.edge", double)' in secret
    assert "def double(x):" not in secret
    released = copy.deepcopy(nb)
    for c in released.cells:
        c.source = "\n".join(line for line in c.source.splitlines() if "###" not in line)
    found = leaks(from_json(released), from_json(nb))
    assert len(found) == 3 and any("double.edge" in f for f in found)


def _bundle_probe(bundle: Path, lab_id: str, check_id: str) -> subprocess.CompletedProcess[str]:
    """Run Python on the unzipped bundle alone (no site, no editable install) and probe it."""
    code = f"""
import importlib, sys
sys.path[:0] = [{str(bundle)!r}]
sys.path.append({sysconfig.get_paths()["purelib"]!r})
import grader, micrograd_plus
assert grader.__file__.startswith({str(bundle)!r}), grader.__file__
from grader import check
from grader.checking.spec import load_lab
print("specs", sorted(s.id for s in load_lab({lab_id!r}) if s.hidden))
for name in {blocked_modules(lab_id)!r}:
    try:
        importlib.import_module(name)
        print("present", name)
    except ModuleNotFoundError:
        pass
print("check", {check_id!r} in [s.id for s in load_lab({lab_id!r})])
"""
    return subprocess.run(
        [sys.executable, "-I", "-S", "-c", code], capture_output=True, text=True, timeout=120
    )


def _assert_bundle(zip_path: Path, lab_id: str, notebook: str, tmp_path: Path) -> Path:
    names = zipfile.ZipFile(zip_path).namelist()
    top = get_lab(lab_id).assignment
    assert f"{top}/{notebook}" in names and f"{top}/README.md" in names
    assert f"{top}/data/mnist_sample.npz" in names
    modules = {n.removeprefix(f"{top}/").removesuffix(".py").replace("/", ".") for n in names}
    for blocked in blocked_modules(lab_id):
        assert blocked not in modules
    bad = [
        m
        for m in modules
        if m.startswith(INSTRUCTOR_ONLY) and m != "grader.checking.hidden.__init__"
    ]
    assert bad == []
    with zipfile.ZipFile(zip_path) as archive:
        archive.extractall(tmp_path / "unzipped")
    return tmp_path / "unzipped" / top


@pytest.mark.slow
def test_fixture_bundle_imports_only_what_it_ships(released: Path, tmp_path: Path) -> None:
    """Does the bundle's check work from the bundle alone, without hidden specs or lab modules?"""
    zip_path = write_bundle(lab="fixture", out=tmp_path, labs=released)
    again = write_bundle(lab="fixture", out=tmp_path / "again.zip", labs=released)
    assert zip_path.read_bytes() == again.read_bytes()
    root = _assert_bundle(zip_path, "fixture", FIXTURE_NOTEBOOK, tmp_path)
    probe = _bundle_probe(root, "fixture", "fixture.double.value")
    assert probe.returncode == 0, probe.stderr
    assert probe.stdout.split("\n")[:2] == ["specs []", "check True"], probe.stdout


RELEASED_LABS = [lab for lab in LABS.values() if (REPO / "labs" / lab.notebook).is_file()]


@pytest.mark.slow
@pytest.mark.parametrize("lab", RELEASED_LABS, ids=[lab.id for lab in RELEASED_LABS])
def test_lab_bundle_leaves_out_this_lab_and_later_ones(lab: object, tmp_path: Path) -> None:
    """Does each released lab's bundle import its visible checks but none of its blocked modules?"""
    from grader.checking.spec import load_lab
    from grader.labs import Lab

    assert isinstance(lab, Lab)
    visible = [s.id for s in load_lab(lab.id) if not s.hidden]
    root = _assert_bundle(write_bundle(lab=lab.id, out=tmp_path), lab.id, lab.notebook, tmp_path)
    probe = _bundle_probe(root, lab.id, visible[0])
    assert probe.returncode == 0, probe.stderr
    assert probe.stdout.split("\n")[:2] == ["specs []", "check True"], probe.stdout
