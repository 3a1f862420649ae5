"""The whole course loop on one machine, through a real JupyterHub and a real browser,
with one learner attacking the others.

Three system accounts are made with ``useradd`` for the test (and removed after): Ada, Bob
and the instructor, who alone is in the instructors' group. The learner environment is
built with ``python -m grader learner-env`` from Debian's ``python3`` (root's own
interpreter lives in root's private home); its venv is reused while its requirements hold
(``MGP_TEST_LEARNER_ENV``; the first build takes several minutes). Root creates nbgrader's
private exchange (``python -m grader exchange-init``) for the instructor, who releases lab
1.7.1 into it from their own course folder (0700), as their own account. JupyterHub is
started from ``deploy/jupyterhub/jupyterhub_config.py`` in its password mode, on 127.0.0.1
only, with npm's configurable-http-proxy; each learner's JupyterLab runs as their account,
from the learner environment. Two learners log in with headless Chromium (Debian's chromium
and chromium-driver, driven by Selenium), fetch the lab through nbgrader's Assignments API,
open it in JupyterLab, run it from the setup cell down to the first self-check with
Shift+Enter, read the check's report, and submit: Ada has written her solution, Bob has
not. The instructor collects (as their account), grades with ``python -m grader
autograde`` (as root, for the sandbox: Ada full marks, Bob zero) and releases the feedback
(as their account); each learner fetches their own page. Then Bob runs an attack cell in
his own kernel: importing the hidden checks and the grading tools, reading every file of
the repository, ``solutions/``, the grading set, the instructor's course folder and
gradebook, Ada's home, the exchange's inbound submissions and feedback, and becoming root.
Each attempt must fail with the error the cell reports. The hub runs in a mount namespace
of its own in which the repository's folder is private (0700), as a deployment must keep
it; nothing changes for other processes. Screenshots are copied to ``out/jupyterhub/``.
"""

from __future__ import annotations

import csv
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import nbformat
import pytest

from grader import config
from grader.labs import get_lab
from tests import chromium

try:
    import pwd
except ImportError:  # pragma: no cover - not on Linux
    pwd = None  # type: ignore[assignment]

ROOT = Path(__file__).resolve().parents[1]
HUB_CONFIG = ROOT / "deploy" / "jupyterhub" / "jupyterhub_config.py"
BIN = Path(sys.executable).parent
SHOTS = ROOT / "out" / "jupyterhub"
LAB = get_lab("lab1")
ASSIGNMENT = LAB.assignment
COURSE_ID = "mgp-test"
SYSTEM_PYTHON = Path("/usr/bin/python3")
ENV_CACHE = Path(
    os.environ.get("MGP_TEST_LEARNER_ENV") or "/var/tmp/microgradplus-hub-test/learner-env"
)
"""Where the learner environment is built: its tree is rewritten from this checkout on every
run, its venv reused (by any checkout on this machine) while its requirements hold."""
WAIT_S = 120
CELL = ".jp-NotebookPanel .jp-Notebook .jp-Cell"

pytestmark = [
    pytest.mark.slow,
    pytest.mark.browser,
    pytest.mark.timeout(1500),
]  # a first run builds the learner venv


def _missing() -> str:
    """Why this test cannot run here ("" when it can)."""
    if not (BIN / "jupyterhub").exists():
        return "jupyterhub is not installed (the deploy extra: pip install -e '.[deploy]')"
    if shutil.which("configurable-http-proxy") is None:
        return "npm's configurable-http-proxy is not installed (scripts/install_system_deps.sh)"
    if not chromium.CHROMIUM.exists() or not chromium.CHROMEDRIVER.exists():
        return "Debian's chromium and chromium-driver are not installed (.ci/run installs them)"
    if pwd is None or os.geteuid() != 0:
        return "learners run as accounts of their own: the test needs root to create them"
    if not all(shutil.which(t) for t in ("useradd", "userdel", "groupadd", "groupdel")):
        return "useradd/userdel/groupadd/groupdel are missing (the passwd package)"
    if shutil.which("unshare") is None:
        return "unshare (util-linux) is missing: the hub's repository cannot be made private"
    probe = [str(SYSTEM_PYTHON), "-c", "import ensurepip, venv"]
    if not SYSTEM_PYTHON.exists() or subprocess.run(probe, check=False).returncode != 0:
        return f"{SYSTEM_PYTHON} with venv (an interpreter every account can run) is missing"
    return ""


@dataclass
class Course:
    """The instructor's side: the course folder, the exchange, the hub's environment, the
    learner environment, the folder of the learners' homes, and the instructor's account."""

    root: Path
    exchange: Path
    env: dict[str, str]
    learner_env: Path
    homes: Path
    staff_env: dict[str, str]
    """The instructor's nbgrader commands: run as their account, in the instructors' group."""
    instructor: str
    staff: str


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


HIDE_REPO = """set -e
repo=$1 stage=$2
shift 2
mount --bind "$repo" "$stage"
mount -t tmpfs -o mode=700 tmpfs "$repo"
for entry in "$stage"/* "$stage"/.[!.]* "$stage"/..?*; do
    [ -e "$entry" ] || continue
    name=${entry##*/}
    if [ -d "$entry" ]; then mkdir "$repo/$name"; else : > "$repo/$name"; fi
    mount --bind "$entry" "$repo/$name"
done
exec "$@"
"""
"""The hub's own mount namespace: the repository's folder replaced by a 0700 one (what a
deployment does with ``chmod 700``) through which root still reaches every entry, so that the
learners' servers, started by the hub, meet a private repository; nothing changes outside."""


@dataclass
class Accounts:
    """The test's system accounts: two learners, the instructor and the instructors' group."""

    shared: Path
    ada: Path
    bob: Path
    prof: Path
    staff: str


def _useradd(name: str, home: Path, *group: str) -> None:
    command = ["useradd", "--create-home", "--home-dir", str(home), "--shell", "/bin/bash"]
    command += ["--gid", group[0]] if group else ["--user-group"]
    subprocess.run([*command, name], check=True, capture_output=True, timeout=60)
    home.chmod(0o700)


@pytest.fixture(scope="module")
def accounts() -> Iterator[Accounts]:
    """Ada's, Bob's and the instructor's accounts (named uniquely, homes 0700), the
    instructor's in the instructors' group; all removed after."""
    reason = _missing()
    if reason:
        pytest.skip(reason)
    shared = Path(tempfile.mkdtemp(prefix="mgp-hub-"))
    shared.chmod(0o755)
    (shared / "homes").mkdir(mode=0o755)
    (shared / "staff").mkdir(mode=0o755)
    suffix = secrets.token_hex(2)
    staff = f"staff{suffix}"
    names = {"ada": f"ada{suffix}", "bob": f"bob{suffix}", "prof": f"prof{suffix}"}
    made: list[str] = []
    try:
        subprocess.run(["groupadd", staff], check=True, capture_output=True, timeout=60)
        for who in ("ada", "bob"):
            _useradd(names[who], shared / "homes" / names[who])
            made.append(names[who])
        _useradd(names["prof"], shared / "staff" / names["prof"], staff)
        made.append(names["prof"])
        homes = {
            who: shared / ("staff" if who == "prof" else "homes") / n for who, n in names.items()
        }
        yield Accounts(shared, homes["ada"], homes["bob"], homes["prof"], staff)
    finally:
        for name in made:
            subprocess.run(["userdel", name], capture_output=True, timeout=60)
        subprocess.run(["groupdel", staff], capture_output=True, timeout=60)
        shutil.rmtree(shared, ignore_errors=True)


@pytest.fixture(scope="module")
def course(accounts: Accounts) -> Course:
    """The instructor's course folder (theirs, 0700) with lab 1.7.1 released, as the
    instructor, into a fresh private exchange; and the learner environment."""
    from grader import exchange as private_exchange
    from grader.assign.learner_env import build_learner_env

    prof = accounts.prof.name
    learner_env = build_learner_env(out=ENV_CACHE, python=str(SYSTEM_PYTHON))
    root = accounts.shared / "course"
    exchange = accounts.shared / "exchange"
    private_exchange.init_exchange(
        root=exchange, course_id=COURSE_ID, owner=prof, group=accounts.staff
    )
    release = root / "release" / ASSIGNMENT
    release.mkdir(parents=True)
    if (config.LABS_DIR / LAB.notebook).is_file():
        shutil.copy(config.LABS_DIR / LAB.notebook, release / LAB.notebook)
    else:
        from grader.assign.release import release as render

        render(solutions=config.SOLUTIONS, labs=release, lab=LAB.id)
    for path in (root, *root.rglob("*")):
        shutil.chown(path, prof, accounts.staff)
    root.chmod(0o700)
    env = {
        **os.environ,
        "MGP_EXCHANGE": str(exchange),
        "MGP_COURSE_ID": COURSE_ID,
        "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}",
    }
    staff_env = {
        "MGP_EXCHANGE": str(exchange),
        "MGP_COURSE_ID": COURSE_ID,
        "JUPYTER_CONFIG_PATH": str(learner_env / "course" / "jupyter"),
        "HOME": str(accounts.prof),
        "PATH": f"{learner_env / 'venv' / 'bin'}:/usr/bin:/bin",  # nbgrader runs alembic
        "LANG": "C.UTF-8",
    }
    homes = accounts.ada.parent
    course = Course(root, exchange, env, learner_env, homes, staff_env, prof, accounts.staff)
    instructor(course, "release_assignment", ASSIGNMENT)
    assert (exchange / COURSE_ID / "outbound" / ASSIGNMENT / LAB.notebook).is_file()
    return course


@pytest.fixture(scope="module")
def hub(
    course: Course, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[str, str, Path]]:
    """JupyterHub in its password mode on a free localhost port, each learner's JupyterLab as
    their own account from the learner environment; yields (base URL, password, the folder
    of the learners' homes)."""
    state = tmp_path_factory.mktemp("hub")
    password = secrets.token_hex(8)
    port = free_port()
    env = {
        **course.env,
        "MGP_HUB_PORT": str(port),
        "MGP_HUB_API_PORT": str(free_port()),
        "MGP_PROXY_API_PORT": str(free_port()),
        "MGP_HUB_STATE": str(state),
        "MGP_HUB_DUMMY_PASSWORD": password,
        "MGP_LEARNERS": ",".join(sorted(home.name for home in course.homes.iterdir())),
        "MGP_LEARNER_ENV": str(course.learner_env),
    }
    log = (state / "jupyterhub.log").open("w")
    stage = Path(tempfile.mkdtemp(prefix="mgp-repo-"))  # 0700: root's only
    hide = ["unshare", "--mount", "--propagation", "private", "sh", "-c", HIDE_REPO, "hub"]
    server = subprocess.Popen(
        [*hide, str(ROOT), str(stage), str(BIN / "jupyterhub"), "-f", str(HUB_CONFIG)],
        cwd=state,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + WAIT_S
        while True:
            if server.poll() is not None:
                raise AssertionError(f"JupyterHub exited:\n{_tail(state / 'jupyterhub.log')}")
            try:
                with urllib.request.urlopen(f"{base}/hub/api", timeout=2) as answer:
                    assert "version" in json.loads(answer.read())
                    break
            except OSError:
                if time.monotonic() > deadline:
                    raise AssertionError(f"JupyterHub did not answer in {WAIT_S} s") from None
                time.sleep(0.5)
        yield base, password, course.homes
    finally:
        os.killpg(server.pid, signal.SIGTERM)  # cleanup_servers: the hub stops every JupyterLab
        try:
            server.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait(timeout=20)
        log.close()
        stage.rmdir()  # its mounts went with the hub's namespace
        shutil.copy(state / "jupyterhub.log", tmp_path_factory.getbasetemp() / "jupyterhub.log")


def _tail(path: Path) -> str:
    return path.read_text(errors="replace")[-4000:]


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """Headless Chromium from Debian's packages, with a fresh profile."""
    driver = chromium.start(tmp_path_factory.mktemp("chromium-profile"), timeout=WAIT_S)
    try:
        yield driver
    finally:
        driver.quit()


def _script(driver: Any, source: str, *args: Any) -> Any:
    return driver.execute_script(source, *args)


def cell_output(driver: Any, index: int) -> str:
    """The text of cell ``index``'s output area as the page shows it."""
    return str(
        _script(
            driver,
            f"const c = document.querySelectorAll('{CELL}')[arguments[0]];"
            "const o = c && c.querySelector('.jp-OutputArea'); return o ? o.textContent : '';",
            index,
        )
    )


def executed(driver: Any, index: int) -> bool:
    """Whether cell ``index`` has run: its prompt shows an execution count like ``[7]:``."""
    prompt = _script(
        driver,
        f"const c = document.querySelectorAll('{CELL}')[arguments[0]];"
        "const p = c && c.querySelector('.jp-InputArea-prompt'); return p ? p.textContent : '';",
        index,
    )
    return any(ch.isdigit() for ch in str(prompt))


def kernel_idle(driver: Any) -> bool:
    text = _script(
        driver,
        "const b = document.querySelector('#jp-main-statusbar'); return b ? b.textContent : '';",
    )
    return "Idle" in str(text)


def nbgrader_action(driver: Any, user: str, action: str) -> Any:
    """POST to the learner's own nbgrader Assignments API (what the panel's buttons do)."""
    answer = driver.execute_async_script(
        "const [url, body, done] = arguments;"
        "const m = document.cookie.match(/(?:^|; )_xsrf=([^;]*)/);"
        "fetch(url, {method: 'POST', credentials: 'same-origin', body: body, headers: {"
        "  'X-XSRFToken': m ? decodeURIComponent(m[1]) : '',"
        "  'Content-Type': 'application/x-www-form-urlencoded'}})"
        ".then(r => r.text().then(t => done([r.status, t]))).catch(e => done([0, String(e)]));",
        f"/user/{user}/assignments/{action}",
        f"course_id={COURSE_ID}&assignment_id={ASSIGNMENT}",
    )
    status, text = answer
    assert status == 200, text
    return json.loads(text)


def first_self_check(path: Path) -> int:
    """Index of the first visible self-check cell: ungraded code that calls ``check(``."""
    nb = nbformat.read(path, as_version=4)
    for index, cell in enumerate(nb.cells):
        graded = cell.metadata.get("nbgrader", {}).get("grade", False)
        if cell.cell_type == "code" and "check(" in cell.source and not graded:
            return index
    raise AssertionError(f"{path.name} has no self-check cell")


def solved_lab1() -> Any:
    """Lab 1.7.1 as a learner who solved it would have it: the released notebook with the
    solution code in its solution cells."""
    from grader.redteam.learner import learner_notebook, load_labs

    files = next(f for f in load_labs(config.SOLUTIONS, config.LABS_DIR) if f.lab.id == LAB.id)
    return learner_notebook(files)


def login(driver: Any, base: str, password: str, user: str) -> None:
    """Log ``user`` in (ending the previous session) and wait for their JupyterLab."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    wait = WebDriverWait(driver, WAIT_S)
    driver.get(f"{base}/hub/logout")
    driver.get(f"{base}/hub/login")
    wait.until(lambda d: d.find_elements(By.ID, "username_input"))
    driver.find_element(By.ID, "username_input").send_keys(user)
    driver.find_element(By.ID, "password_input").send_keys(password)
    driver.find_element(By.ID, "login_submit").click()
    wait.until(lambda d: f"/user/{user}/lab" in d.current_url)
    wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, "#jp-main-statusbar"))


def run_cells(driver: Any, base: str, user: str, path: str, upto: int, kinds: list[str]) -> None:
    """Open ``path`` in the user's JupyterLab and run cells 0..``upto`` with Shift+Enter."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys
    from selenium.webdriver.support.ui import WebDriverWait

    wait = WebDriverWait(driver, WAIT_S)
    driver.get(f"{base}/user/{user}/lab/tree/{path}?reset")  # only this notebook open
    wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, CELL))
    wait.until(kernel_idle)
    driver.find_elements(By.CSS_SELECTOR, CELL)[0].click()
    for index in range(upto + 1):
        driver.switch_to.active_element.send_keys(Keys.SHIFT, Keys.ENTER)
        if kinds[index] == "code":
            wait.until(lambda d, i=index: executed(d, i))


def shot(driver: Any, index: int, path: Path) -> None:
    _script(
        driver,
        f"const c = document.querySelectorAll('{CELL}')[arguments[0]];"
        "if (c) c.scrollIntoView({block: 'center'});",
        index,
    )
    time.sleep(1)
    driver.save_screenshot(str(path))


def give(path: Path, user: str) -> None:
    """Hand a file the test wrote to the learner's account."""
    shutil.chown(path, user, user)


def learner_session(
    driver: Any, base: str, password: str, user: str, home: Path, shots: Path, solved: bool
) -> str:
    """Log in, fetch, (write the solution), run down to the first self-check, submit.

    Returns the self-check's output as the page shows it.
    """
    from selenium.webdriver.common.keys import Keys
    from selenium.webdriver.support.ui import WebDriverWait

    login(driver, base, password, user)
    listed = nbgrader_action(driver, user, "fetch")
    assert listed["success"], listed
    notebook = home / ASSIGNMENT / LAB.notebook
    assert notebook.is_file(), f"nbgrader fetched nothing into {notebook.parent}"
    assert notebook.stat().st_uid == pwd.getpwnam(user).pw_uid, "fetched as another account"
    if solved:
        nbformat.write(solved_lab1(), notebook)
        give(notebook, user)
    target = first_self_check(notebook)
    kinds = [cell.cell_type for cell in nbformat.read(notebook, as_version=4).cells]
    try:
        run_cells(driver, base, user, f"{ASSIGNMENT}/{LAB.notebook}", target, kinds)
        WebDriverWait(driver, WAIT_S).until(lambda d: "points)" in cell_output(d, target))
        driver.switch_to.active_element.send_keys(Keys.CONTROL, "s")
    finally:
        shot(driver, target, shots / f"{user[:3]}-lab-1.7.1.png")
    shown = cell_output(driver, target)
    setup = cell_output(driver, 1)
    assert "Error" not in setup, f"the setup cell failed for {user}:\n{setup}"
    submitted = nbgrader_action(driver, user, "submit")
    assert submitted["success"], submitted
    return shown


def instructor(course: Course, *command: str) -> str:
    """Run one of the instructor's nbgrader commands in the course folder, as the instructor's
    own account (nbgrader from the learner environment: root's interpreter is private here)."""
    done = subprocess.run(
        [str(course.learner_env / "venv" / "bin" / "nbgrader"), *command],
        cwd=course.root,
        env=course.staff_env,
        user=course.instructor,
        group=course.staff,
        extra_groups=[course.staff],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout + done.stderr


def grade_and_release(course: Course, accounts: dict[str, str]) -> dict[str, dict[str, str]]:
    """Collect, autograde, lay the feedback out for nbgrader and release it; the grades."""
    instructor(course, "collect", ASSIGNMENT)
    submitted = course.root / "submitted"
    for user in accounts.values():
        assert (submitted / user / ASSIGNMENT / LAB.notebook).is_file()
    out = course.root / "autograded-results"
    options = ["--lab", "1", "--seed", "0", "-j", "2", "--timeout", "60", "--no-progress"]
    graded = subprocess.run(
        [sys.executable, "-m", "grader", "autograde", str(submitted), "--out", str(out), *options],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert graded.returncode == 0, graded.stderr
    reported = subprocess.run(
        [sys.executable, "-m", "grader", "report", str(out), "--feedback-for", "nbgrader"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert reported.returncode == 0, reported.stderr
    shutil.copytree(out / "feedback-nbgrader" / "feedback", course.root / "feedback")
    for path in (course.root / "feedback", *(course.root / "feedback").rglob("*")):
        shutil.chown(path, course.instructor)
    released = instructor(course, "release_feedback", ASSIGNMENT)
    assert released.count("released to") == len(accounts), released
    with open(out / "grades.csv", newline="") as handle:
        return {row["student_id"]: row for row in csv.DictReader(handle)}


def fetched_feedback(driver: Any, base: str, password: str, user: str, home: Path) -> str:
    """Log ``user`` in, fetch their feedback through the Assignments API; the page's text."""
    login(driver, base, password, user)
    fetched = nbgrader_action(driver, user, "fetch_feedback")
    assert fetched["success"], fetched
    pages = sorted((home / ASSIGNMENT / "feedback").glob("*/*.html"))
    assert len(pages) == 1, pages
    return pages[0].read_text(encoding="utf-8")


ATTACK = """\
# Bob's attempts to reach what is not his; each entry says how it ended.
import importlib, json, os, pwd, subprocess, sys
paths = json.loads({paths!r})
tried = {{}}
def attempt(name, action):
    try:
        action()
        tried[name] = "ALLOWED"
    except subprocess.CalledProcessError as e:
        tried[name] = f"CalledProcessError: exit {{e.returncode}}"
    except Exception as e:
        tried[name] = f"{{type(e).__name__}}: {{getattr(e, 'errno', '')}}"
def read(path):
    with open(path, "rb") as handle:
        handle.read(1)
attempt("import hidden checks", lambda: importlib.import_module("grader.checking.hidden.lab1"))
attempt("import grading tools", lambda: importlib.import_module("grader.runs.autograde"))
attempt("list the repository", lambda: os.listdir(paths["repo"]))
for key in ("repo file", "solution", "grading set", "gradebook", "course file", "ada file",
            "ada submission", "ada feedback", "ada feedback page"):
    attempt(key, lambda p=paths[key]: read(p))
for key in ("solutions", "course", "ada home", "inbound", "feedback"):
    attempt(f"list {{key}}", lambda p=paths[key]: os.listdir(p))
outcomes = set()
for path in paths["repo files"]:
    try:
        read(path)
        outcomes.add("ALLOWED")
    except Exception as e:
        outcomes.add(f"{{type(e).__name__}}: {{getattr(e, 'errno', '')}}")
tried["every repository file"] = " | ".join(sorted(outcomes))
attempt("write into ada's submission", lambda: open(paths["ada submission dir"] + "/x", "w"))
attempt("setuid root", lambda: os.setuid(0))
attempt("su root", lambda: subprocess.run(["su", "-c", "id", "root"], input="", text=True,
                                          capture_output=True, timeout=20, check=True))
who = {{"uid": os.getuid(), "user": pwd.getpwuid(os.getuid()).pw_name,
        "grader": importlib.import_module("grader").__file__, "python": sys.executable}}
print("ATTACK " + json.dumps({{"tried": tried, "who": who}}))
"""


def attack(
    driver: Any, base: str, user: str, home: Path, paths: dict[str, Any], shots: Path
) -> dict[str, Any]:
    """Write the attack notebook into ``user``'s home, run it in their JupyterLab; its report."""
    from selenium.webdriver.support.ui import WebDriverWait

    notebook = home / "attack.ipynb"
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    nb.cells = [nbformat.v4.new_code_cell(ATTACK.format(paths=json.dumps(paths)))]
    nbformat.write(nb, notebook)
    give(notebook, user)
    try:
        run_cells(driver, base, user, "attack.ipynb", 0, ["code"])
        WebDriverWait(driver, WAIT_S).until(lambda d: "ATTACK " in cell_output(d, 0))
    finally:
        shot(driver, 0, shots / "bob-attack.png")
    text = cell_output(driver, 0)
    report: dict[str, Any] = json.loads(text[text.index("ATTACK ") + 7 :].splitlines()[0])
    return report


def targets(course: Course, ada: Path) -> dict[str, Any]:
    """What Bob reaches for: the answers, the instructor's files, Ada's work."""
    inbound = course.exchange / COURSE_ID / "inbound"
    (submission,) = inbound.glob(f"{ada.name}+{ASSIGNMENT}+*")
    links = sorted((course.exchange / COURSE_ID / "feedback").glob("*.html"))
    mine = [link for link in links if str(link.resolve()).startswith(str(submission))]
    assert len(mine) == 1, links
    listed = subprocess.run(
        ["git", "ls-files"], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout.split()
    assert len(listed) > 100
    return {
        "repo files": [str(ROOT / name) for name in listed],
        "repo": str(ROOT),
        "repo file": str(ROOT / "pyproject.toml"),
        "solutions": str(config.SOLUTIONS),
        "solution": str(config.SOLUTIONS / LAB.notebook),
        "grading set": str(ROOT / "grader" / "checking" / "hidden" / "mnist_grading.npz"),
        "course": str(course.root),
        "course file": str(course.root / "submitted" / ada.name / ASSIGNMENT / LAB.notebook),
        "gradebook": str(course.root / "gradebook.db"),
        "ada home": str(ada),
        "ada file": str(ada / ASSIGNMENT / LAB.notebook),
        "inbound": str(inbound),
        "ada submission dir": str(submission),
        "ada submission": str(submission / LAB.notebook),
        "feedback": str(course.exchange / COURSE_ID / "feedback"),
        "ada feedback": str(mine[0]),
        "ada feedback page": str(mine[0].resolve()),
    }


def test_course_loop_on_jupyterhub(
    course: Course,
    hub: tuple[str, str, Path],
    browser: Any,
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    """Released through nbgrader's exchange, worked on by two learners in JupyterLab on
    JupyterHub (each as their own account, from the learner environment), submitted,
    collected, autograded and fed back: does each learner see their own self-check's verdict
    and their own feedback, does the grade follow the work (Ada full marks, Bob zero), and
    does every attempt of Bob's on the answers, the instructor's files, Ada's work and root
    fail with the error it should?"""
    base, password, homes = hub
    ada_home, bob_home = sorted(homes.iterdir())
    ada, bob = ada_home.name, bob_home.name
    shots = tmp_path_factory.mktemp("screenshots")
    ada_check = learner_session(browser, base, password, ada, ada_home, shots, solved=True)
    bob_check = learner_session(browser, base, password, bob, bob_home, shots, solved=False)
    assert "lab1." in ada_check and "passed" in ada_check and "FAILED" not in ada_check
    assert "lab1." in bob_check and "FAILED (0/" in bob_check and "hint:" in bob_check

    rows = grade_and_release(course, {"ada": ada, "bob": bob})
    assert set(rows) == {ada, bob}
    assert rows[ada]["status"] == rows[bob]["status"] == "graded"
    assert float(rows[ada]["score"]) == float(rows[ada]["max_score"]) > 0
    assert float(rows[bob]["score"]) == 0
    ada_page = fetched_feedback(browser, base, password, ada, ada_home)
    bob_page = fetched_feedback(browser, base, password, bob, bob_home)
    assert ada in ada_page and bob not in ada_page
    assert bob in bob_page and ada not in bob_page

    report = attack(browser, base, bob, bob_home, targets(course, ada_home), shots)
    SHOTS.mkdir(parents=True, exist_ok=True)
    for picture in shots.glob("*.png"):
        assert picture.stat().st_size > 10_000
        shutil.copy(picture, SHOTS / picture.name)
    who, tried = report["who"], report["tried"]
    assert who["user"] == bob and who["uid"] == pwd.getpwnam(bob).pw_uid != 0, who
    assert who["grader"].startswith(str(course.learner_env / "course")), who
    assert who["python"].startswith(str(course.learner_env / "venv")), who
    assert tried.pop("import hidden checks") == "ModuleNotFoundError: ", tried
    assert tried.pop("import grading tools") == "ModuleNotFoundError: ", tried
    assert tried.pop("su root").startswith("CalledProcessError: exit "), tried
    assert tried.pop("setuid root") == "PermissionError: 1", tried  # EPERM
    assert tried == dict.fromkeys(tried, "PermissionError: 13"), tried  # EACCES, every one
    assert len(tried) == 17, sorted(tried)
