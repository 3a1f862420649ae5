"""Sharded grading on a real one-node SLURM, with the faults a cluster has.

``scripts/slurm_cluster.sh`` starts munge, slurmctld and slurmd on 127.0.0.1 (state, ports
and logs of their own in a temporary folder). A small batch (six learners of the fixture lab,
a roster with two learners who handed nothing in and one submitter not on it, a course file
with a late policy and one late submission) is graded once by a plain ``autograde`` and once
through ``deploy/slurm/grade.sbatch``, submitted the way the instructor guide says: an array of
3 shards, then the merge job with ``--dependency=afterok``. On the way:

* shard 3's folder holds results an earlier run left (another seed): task 3 refuses it,
  naming the folder, and grades nothing;
* task 2 is cancelled (``scancel``) while it grades, so the merge job never starts
  (``DependencyNeverSatisfied``);
* the guide's recovery (cancel the merge, rerun only the failed shards with ``SHARDS=3``,
  merge after them) leaves shard 1 as it was, and the merged folder is then byte-identical to
  the single run.

A shard on a node without user namespaces (an ordinary user's job in a user namespace whose
limit of further user namespaces is 0, as ``sysctl user.max_user_namespaces=0`` sets it)
fails with the sandbox's message in its output file. Every daemon is stopped by its pid at
the end, whatever happened. Without SLURM and munge (Debian's ``slurmctld slurmd
slurm-client munge``) those tests skip; the roster merge and the stale-folder refusal are
also tried without SLURM.
"""

from __future__ import annotations

import copy
import json
import os
import shlex
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import nbformat
import pytest

from grader import sandbox
from grader.checking.specs import fixture
from grader.outputs.course_report import timeless
from grader.runs.shard import shard_of

ROOT = Path(__file__).resolve().parents[1]
CLUSTER = ROOT / "scripts" / "slurm_cluster.sh"
SBATCH = "deploy/slurm/grade.sbatch"  # as the guide submits it, from the repository root
SOLUTIONS = fixture.SOURCE.parent
NOTEBOOK = fixture.LAB.notebook
SEED = "5"
SLOW = 8
"""Seconds one learner's notebook sleeps: the window in which task 2 is cancelled."""
WAIT = 240
"""The longest wait, in seconds, for any job to reach a state."""
SIZE = ["--cpus-per-task=1", "--mem-per-cpu=1G"]
"""Each task sized for this 2-core node (the guide: options on sbatch's command line)."""
UNPRIVILEGED_UID = 54_322
PROGRAMS = ("munged", "munge", "slurmctld", "slurmd", "sbatch", "scontrol", "scancel", "sinfo")


def _slurm_missing() -> str:
    path = f"{os.environ.get('PATH', '')}:/usr/sbin:/sbin"  # the daemons, off a plain PATH
    missing = [p for p in PROGRAMS if shutil.which(p, path=path) is None]
    if missing:
        return (
            f"SLURM or munge is not installed (no {', '.join(missing)}): install the Debian "
            "packages slurmctld slurmd slurm-client munge (scripts/install_system_deps.sh)"
        )
    if os.geteuid() != 0:
        return "a one-node SLURM needs root (slurmd starts jobs as their user)"
    return ""


needs_slurm = pytest.mark.skipif(bool(_slurm_missing()), reason=_slurm_missing() or "-")


def _learner(solved: str, *, slow: float = 0) -> Any:
    """The fixture lab's notebook: ``full``, ``half`` (square wrong) or ``stub`` (as released);
    ``slow`` seconds of sleep in a cell of its own."""
    nb = copy.deepcopy(fixture.released() if solved == "stub" else fixture.solution())
    for cell in nb.cells:
        if solved == "half" and cell.metadata.get("nbgrader", {}).get("grade_id") == (
            "square-solution"
        ):
            cell.source = cell.source.replace("x * x", "x + x")
    if slow:
        nb.cells.insert(2, nbformat.v4.new_code_cell(f"import time\ntime.sleep({slow})"))
    return nb


def write_batch(folder: Path, *, slow: float = 0) -> dict[str, Path]:
    """Submissions, roster and course file of the batch (``slow``: bo's notebook sleeps)."""
    learners: dict[str, Any] = {
        "ada": _learner("full"),
        "bo": _learner("full", slow=slow),
        "cy": _learner("stub"),
        "dee": _learner("half"),  # handed in two days late
        "fay": '{"cells": [',  # not a notebook
        "hal": _learner("full"),  # not on the roster
    }
    submissions = folder / "submissions"
    for student, content in learners.items():
        (submissions / student).mkdir(parents=True)
        path = submissions / student / NOTEBOOK
        if isinstance(content, str):
            path.write_text(content)
        else:
            nbformat.write(content, path)
        stamp = "2026-03-03 10:00:00 UTC" if student == "dee" else "2026-03-01 12:00:00 UTC"
        (submissions / student / "timestamp.txt").write_text(stamp)
    roster = folder / "roster.csv"
    people = ["ada", "bo", "cy", "dee", "fay", "ida", "jo"]  # ida, jo: nothing handed in
    roster.write_text("id,name\n" + "".join(f"{p},{p.title()} Lee\n" for p in people))
    course = folder / "course.toml"
    course.write_text(
        '[labs.fixture]\ndue = 2026-03-01T23:59:00Z\n\n[late]\npolicy = "per-day"\n'
        "percent_per_day = 10\n"
    )
    return {"submissions": submissions, "roster": roster, "course": course}


def grader_args(batch: dict[str, Path]) -> list[str]:
    return ["--timeout", "20", "--course", str(batch["course"]), "--roster", str(batch["roster"])]


def autograde(batch: dict[str, Path], out: Path, *extra: str) -> subprocess.Popen[str]:
    """``python -m grader autograde`` of the batch with the test's seed and course files."""
    command = [
        sys.executable, "-m", "grader", "autograde", str(batch["submissions"]), "--out",
        str(out), "--lab", "fixture", "--solutions", str(SOLUTIONS), "--seed", SEED,
        *grader_args(batch), *extra,
    ]  # fmt: skip
    return subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def finish(process: subprocess.Popen[str]) -> str:
    """Wait (bounded) for a grader process; its stderr."""
    _, stderr = process.communicate(timeout=WAIT)
    assert process.returncode == 0, stderr
    return stderr


def files(out: Path) -> dict[str, bytes]:
    """Every file of a results folder but those holding timings (the log, grading.json; the
    course report's one timestamp is taken out) and the gradebook (compared by its rows)."""
    skip = {"grading.json", "autograde.log", "gradebook.db"}
    return {
        str(p.relative_to(out)): timeless(p.read_bytes())
        for p in sorted(out.rglob("*"))
        if p.is_file() and p.name not in skip
    }


def gradebook(path: Path) -> list[tuple[object, ...]]:
    """Every (student, cell, score) of an nbgrader gradebook."""
    query = """
        SELECT submitted_assignment.student_id, base_cell.name, grade.auto_score
        FROM grade
        JOIN submitted_notebook ON grade.notebook_id = submitted_notebook.id
        JOIN submitted_assignment ON submitted_notebook.assignment_id = submitted_assignment.id
        JOIN base_cell ON grade.cell_id = base_cell.id
        ORDER BY 1, 2
    """
    with sqlite3.connect(path) as db:
        return list(db.execute(query))


def assert_same_results(merged: Path, single: Path) -> None:
    one, other = files(single), files(merged)
    assert sorted(other) == sorted(one)
    for name, content in one.items():
        assert other[name] == content, name
    assert gradebook(merged / "gradebook.db") == gradebook(single / "gradebook.db")


def students(out: Path) -> list[str]:
    return [line.split(",")[0] for line in (out / "grades.csv").read_text().splitlines()[1:]]


def earlier_results(folder: Path, shard: str) -> Path:
    """What an earlier run (another seed, another term's submissions) left in ``folder``."""
    folder.mkdir(parents=True)
    (folder / "grades.csv").write_text("student_id,status\nzed,graded\n")
    meta = {"seed": 4, "labs": ["fixture"], "shard": shard, "submissions": "/courses/2025"}
    (folder / "grading.json").write_text(json.dumps(meta | {"started": "2025-12-01T10:00:00"}))
    return folder


@pytest.fixture(scope="module")
def isolation() -> None:
    if not sandbox.full_isolation_available():
        pytest.skip(f"no bubblewrap sandbox here: {sandbox.isolation_problem()}")


@pytest.mark.slow
def test_roster_shards_merge_as_one_run(tmp_path: Path, isolation: None) -> None:
    """Do two shards of a batch with a roster and a course file merge into exactly what one
    run writes, the roster's absent learners added once, at the merge?"""
    batch = write_batch(tmp_path)
    single = autograde(batch, tmp_path / "single", "-j", "2")
    shards = [autograde(batch, tmp_path / f"shard-{k}", "--shard", f"{k}/2") for k in (1, 2)]
    progress = [finish(process) for process in shards]
    finish(single)
    for k in (1, 2):
        assert "ida" not in students(tmp_path / f"shard-{k}")
        assert "jo" not in students(tmp_path / f"shard-{k}")
        owned = sum(shard_of(s, 2) == k for s in ("ada", "bo", "cy", "dee", "fay", "hal"))
        assert f"shard {k}/2: {owned} of 6 students" in progress[k - 1]
        assert f"graded {owned} of {owned} notebooks (100%)" in progress[k - 1]
    merged = tmp_path / "merged"
    command = [sys.executable, "-m", "grader", "merge", str(tmp_path / "shard-1")]
    command += [str(tmp_path / "shard-2"), "--out", str(merged), "--solutions", str(SOLUTIONS)]
    subprocess.run(command, check=True, capture_output=True, timeout=WAIT)
    assert_same_results(merged, tmp_path / "single")
    rows = {line.split(",")[0]: line for line in (merged / "grades.csv").read_text().splitlines()}
    assert students(merged) == ["ada", "bo", "cy", "dee", "fay", "hal", "ida", "jo"]
    assert ",missing," in rows["ida"] and ",missing," in rows["jo"]
    assert "not-on-roster" in rows["hal"] and "Ada Lee" in rows["ada"]


def test_a_shard_refuses_an_earlier_runs_folder(tmp_path: Path) -> None:
    """Is a shard folder left by an earlier run refused, naming it and what it holds, and left
    as it was?"""
    batch = write_batch(tmp_path)
    stale = earlier_results(tmp_path / "shard-1", "1/2")
    before = files(stale)
    process = autograde(batch, stale, "--shard", "1/2", "--allow-reduced-isolation")
    _, stderr = process.communicate(timeout=WAIT)
    assert process.returncode == 2
    assert f"{stale} already holds results (shard 1/2; seed 4; labs fixture;" in stderr
    assert "submissions /courses/2025" in stderr and f"Remove {stale}" in stderr
    assert files(stale) == before


# --- a real SLURM ------------------------------------------------------------------------


def cluster_pids(folder: Path) -> dict[str, int]:
    return {p.stem: int(p.read_text()) for p in (folder / "run").glob("*.pid")}


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def slurm_cluster(action: str, folder: Path) -> subprocess.CompletedProcess[str]:
    command = ["bash", str(CLUSTER), action, str(folder)]
    return subprocess.run(command, capture_output=True, text=True, timeout=180, check=False)


@pytest.fixture(scope="module")
def cluster() -> Iterator[dict[str, Any]]:
    """A one-node SLURM (scripts/slurm_cluster.sh), stopped by pid whatever the tests do."""
    base = Path(tempfile.mkdtemp(prefix="mgp-slurm-"))
    base.chmod(0o755)  # munged, and the unprivileged job, must enter it
    folder = base / "cluster"
    pids: dict[str, int] = {}
    try:
        started = slurm_cluster("start", folder)
        pids = cluster_pids(folder)
        assert started.returncode == 0, started.stdout + started.stderr
        assert sorted(pids) == ["munged", "slurmctld", "slurmd"] and all(map(alive, pids.values()))
        yield {"base": base, "env": {**os.environ, "SLURM_CONF": str(folder / "slurm.conf")}}
    finally:
        pids |= cluster_pids(folder) if (folder / "run").is_dir() else {}
        stopped = slurm_cluster("stop", folder)
        left = {name: pid for name, pid in pids.items() if alive(pid)}
        if not left:
            shutil.rmtree(base, ignore_errors=True)
        assert not left, f"daemons still running after stop: {left}\n{stopped.stderr}"


def sbatch(env: dict[str, str], *args: str) -> str:
    """Submit ``grade.sbatch`` from the repository root, as the guide does; the job id."""
    done = subprocess.run(
        ["sbatch", "--parsable", *SIZE, *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.strip().split(";")[0]


def jobs(env: dict[str, str], job: str) -> dict[str, dict[str, str]]:
    """Array task id (``""`` for a plain job) -> its fields in ``scontrol show job``."""
    done = subprocess.run(
        ["scontrol", "-o", "show", "job", job],
        env=env,
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    found = {}
    for line in done.stdout.splitlines():
        fields = dict(token.split("=", 1) for token in line.split() if "=" in token)
        found[fields.get("ArrayTaskId", "")] = fields
    return found


def wait_for(what: str, condition: Callable[[], bool], show: Callable[[], object]) -> None:
    """Poll ``condition`` for at most :data:`WAIT` seconds; fail naming ``what`` and ``show()``."""
    deadline = time.monotonic() + WAIT
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {WAIT} s: {what}; now: {show()}")
        time.sleep(0.3)


def states(env: dict[str, str], job: str) -> dict[str, str]:
    return {task: f["JobState"] for task, f in jobs(env, job).items()}


def output(logs: Path, name: str) -> str:
    path = logs / name
    return path.read_text(errors="replace") if path.is_file() else ""


@pytest.fixture(scope="module")
def sharded(cluster: dict[str, Any], isolation: None) -> dict[str, Any]:
    """The batch graded once, and through SLURM with a stale shard folder, a cancelled task
    and the guide's recovery; what was seen on the way."""
    base: Path = cluster["base"]
    batch = write_batch(base, slow=SLOW)
    results, logs = base / "results", base / "logs"
    logs.mkdir()
    seen: dict[str, Any] = {"single": base / "single", "results": results, "logs": logs}
    single = autograde(batch, base / "single", "-j", "2", "--no-progress")
    earlier_results(results / "shard-3", "3/3")
    env = cluster["env"] | {
        "SUBMISSIONS": str(batch["submissions"]),
        "RESULTS": str(results),
        "GRADING_SEED": SEED,
        "LAB": "fixture",
        "SOLUTIONS": str(SOLUTIONS),
        "GRADER_ARGS": shlex.join(grader_args(batch)),
        "PYTHON": sys.executable,
    }
    out = f"--output={logs}/grade-%A_%a.out"
    array = sbatch(env, "--array=1-3", out, SBATCH)
    merge = sbatch(
        env, f"--dependency=afterok:{array}", "--export=ALL,SHARDS=3", out, SBATCH, "merge"
    )
    task2 = f"grade-{array}_2.out"
    wait_for(
        "task 2 grading", lambda: "shard 2/3:" in output(logs, task2), lambda: states(env, array)
    )
    subprocess.run(["scancel", f"{array}_2"], env=env, check=True, timeout=30)
    final = {"1": "COMPLETED", "2": "CANCELLED", "3": "FAILED"}
    wait_for("tasks 1-3 ended", lambda: states(env, array) == final, lambda: states(env, array))
    wait_for(
        "the merge job held",
        lambda: jobs(env, merge)[""]["Reason"] == "DependencyNeverSatisfied",
        lambda: jobs(env, merge),
    )
    seen["held"] = jobs(env, merge)[""]
    seen["merged before recovery"] = (results / "merged").exists()
    seen["outputs"] = {k: output(logs, f"grade-{array}_{k}.out") for k in "123"}
    shard1 = (results / "shard-1" / "grades.csv").stat()
    seen["shard-1 before"] = (shard1.st_ino, shard1.st_mtime_ns)
    # the guide's recovery: cancel the held merge, remove the refused folder, rerun the failed
    subprocess.run(["scancel", merge], env=env, check=True, timeout=30)
    shutil.rmtree(results / "shard-3")
    rerun = sbatch(env, "--array=2,3", "--export=ALL,SHARDS=3", out, SBATCH)
    merge = sbatch(
        env, f"--dependency=afterok:{rerun}", "--export=ALL,SHARDS=3", out, SBATCH, "merge"
    )
    wait_for(
        "the merge after the rerun",
        lambda: states(env, merge) == {"": "COMPLETED"},
        lambda: (
            states(env, rerun),
            states(env, merge),
            output(logs, f"grade-{merge}_4294967294.out"),
        ),
    )
    seen["rerun"] = states(env, rerun)
    seen["rerun outputs"] = {k: output(logs, f"grade-{rerun}_{k}.out") for k in "23"}
    shard1 = (results / "shard-1" / "grades.csv").stat()
    seen["shard-1 after"] = (shard1.st_ino, shard1.st_mtime_ns)
    finish(single)
    return seen


@needs_slurm
@pytest.mark.slow
def test_cancelled_task_holds_the_merge(sharded: dict[str, Any]) -> None:
    """Does the merge job stay pending (DependencyNeverSatisfied) and write nothing when an
    array task was cancelled while it graded?"""
    assert sharded["held"]["JobState"] == "PENDING"
    assert not sharded["merged before recovery"]
    cancelled = sharded["outputs"]["2"]
    assert "shard 2/3: 2 of 6 students" in cancelled and "of 2 notebooks (100%)" not in cancelled


@needs_slurm
@pytest.mark.slow
def test_stale_shard_folder_is_refused_in_the_job_output(sharded: dict[str, Any]) -> None:
    """Does task 3 refuse the folder an earlier run left, naming it, in its output file?"""
    text = sharded["outputs"]["3"]
    folder = sharded["results"] / "shard-3"
    assert f"error: MergeError: {folder} already holds results (shard 3/3; seed 4;" in text


@needs_slurm
@pytest.mark.slow
def test_tasks_report_progress_to_their_output_files(sharded: dict[str, Any]) -> None:
    """Does each task's output file say which learners its shard holds and how far it got?"""
    assert "shard 1/3: 2 of 6 students" in sharded["outputs"]["1"]
    assert "graded 2 of 2 notebooks (100%)" in sharded["outputs"]["1"]
    assert "graded 2 of 2 notebooks (100%)" in sharded["rerun outputs"]["2"]


@needs_slurm
@pytest.mark.slow
def test_recovery_reruns_only_the_failed_shards(sharded: dict[str, Any]) -> None:
    """Did the guide's recovery rerun shards 2 and 3 only, leaving shard 1's results as they
    were?"""
    assert sharded["rerun"] == {"2": "COMPLETED", "3": "COMPLETED"}
    assert sharded["shard-1 after"] == sharded["shard-1 before"]


@needs_slurm
@pytest.mark.slow
def test_merged_folder_equals_one_run(sharded: dict[str, Any]) -> None:
    """Is the merged folder byte-identical to one autograde run (timings aside), the roster's
    absent learners in it once?"""
    merged = sharded["results"] / "merged"
    assert_same_results(merged, sharded["single"])
    assert students(merged) == ["ada", "bo", "cy", "dee", "fay", "hal", "ida", "jo"]
    meta = json.loads((merged / "grading.json").read_text())
    assert meta["seed"] == int(SEED) and "shard" not in meta


NO_USERNS = r"""#!/usr/bin/env bash
# userns_limit N COMMAND...: COMMAND in a new user namespace (ids 0-65535 mapped as they are)
# whose own limit of further user namespaces is N, as `sysctl user.max_user_namespaces=N`.
set -euo pipefail
limit=$1
shift
fifo=$(mktemp -u)
mkfifo "$fifo"
# once the ids are mapped, a new exec makes the shell root of the namespace, able to set it
unshare --user bash -c '
    read -r _ <"$0"; rm -f "$0"
    exec bash -c '\''echo "$0" >/proc/sys/user/max_user_namespaces; exec "$@"'\'' "$@"' \
    "$fifo" "$limit" "$@" &
child=$!
for _ in $(seq 200); do
    [ "$(readlink "/proc/$child/ns/user")" != "$(readlink /proc/self/ns/user)" ] && break
    sleep 0.05
done
echo "0 0 65536" >"/proc/$child/uid_map"
echo "0 0 65536" >"/proc/$child/gid_map"
echo go >"$fifo"
wait "$child"
"""


def unprivileged_python(folder: Path, limit: int) -> Path:
    """A ``python`` as an ordinary user's job runs it on a node allowing ``limit`` user
    namespaces: a private mount namespace where that user can reach Python (root's home is
    private here), then :data:`NO_USERNS`, then the user's id."""
    helper = folder / "userns_limit"
    helper.write_text(NO_USERNS)
    home = folder / f"home-{limit}"
    home.mkdir()
    os.chown(home, UNPRIVILEGED_UID, UNPRIVILEGED_UID)
    lines = ["#!/usr/bin/env bash", "set -euo pipefail"]
    lines.append('[ -n "${MGP_MOUNTS:-}" ] || MGP_MOUNTS=1 exec unshare --mount "$0" "$@"')
    prefix = Path(sys.base_prefix)
    blocked = next(
        (p for p in [*reversed(prefix.parents), prefix] if not p.stat().st_mode & 1), None
    )
    if blocked is not None:
        lines.append(f'stage=$(mktemp -d); mount --bind {shlex.quote(str(prefix))} "$stage"')
        lines.append(f"mount -t tmpfs -o mode=755 tmpfs {shlex.quote(str(blocked))}")
        lines.append(f"mkdir -p {shlex.quote(str(prefix))}")
        lines.append(f'mount --bind "$stage" {shlex.quote(str(prefix))}')
    user = f"--reuid={UNPRIVILEGED_UID} --regid={UNPRIVILEGED_UID} --clear-groups --no-new-privs"
    lines.append(
        f"exec bash {shlex.quote(str(helper))} {limit} setpriv {user} env -i HOME={home} "
        f'PATH="$PATH" {shlex.quote(sys.executable)} "$@"'
    )
    wrapper = folder / f"python-userns-{limit}"
    wrapper.write_text("\n".join(lines) + "\n")
    wrapper.chmod(0o755)
    return wrapper


@needs_slurm
@pytest.mark.slow
def test_a_node_without_user_namespaces(cluster: dict[str, Any], isolation: None) -> None:
    """Does a shard whose node allows an ordinary user no user namespaces fail, with the
    sandbox's message in its job output, where the same user on a node that allows them gets
    a sandbox?"""
    probe = subprocess.run(["unshare", "--user", "true"], capture_output=True, timeout=30)
    if probe.returncode != 0:
        pytest.skip(f"no user namespace can be made here to turn off: {probe.stderr!r}")
    base: Path = cluster["base"]
    folder = base / "no-userns"
    folder.mkdir()
    check = "from grader import sandbox; print(repr(sandbox.isolation_problem()))"
    allowed = subprocess.run(
        [str(unprivileged_python(folder, 1000)), "-c", check],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert allowed.stdout.strip() == "''", allowed.stdout + allowed.stderr  # the control
    batch = write_batch(folder)
    env = cluster["env"] | {
        "SUBMISSIONS": str(batch["submissions"]),
        "RESULTS": str(folder / "results"),
        "GRADING_SEED": SEED,
        "LAB": "fixture",
        "SOLUTIONS": str(SOLUTIONS),
        "PYTHON": str(unprivileged_python(folder, 0)),
    }
    job = sbatch(env, "--array=1", f"--output={folder}/grade-%A_%a.out", SBATCH)
    wait_for(
        "the shard failed", lambda: states(env, job) == {"1": "FAILED"}, lambda: states(env, job)
    )
    text = output(folder, f"grade-{job}_1.out")
    assert "error: IsolationUnavailable: no full isolation on this machine:" in text, text
    assert "Creating new namespace failed" in text and "max_*_namespaces" in text, text
    assert not (folder / "results" / "shard-1" / "grades.csv").exists()
