"""The whole course loop on one machine, through a real JupyterHub and a real browser.

The instructor releases lab 1.7.1 into nbgrader's exchange; JupyterHub is started from
``deploy/jupyterhub/jupyterhub_config.py`` (its demo mode: a dummy authenticator and
local processes, on 127.0.0.1 only, with npm's configurable-http-proxy); two learners log
in with headless Chromium (Debian's chromium and chromium-driver, driven by Selenium; no
browser is downloaded), fetch the lab through nbgrader's Assignments API, open it in
JupyterLab, run it from the setup cell down to the first self-check with Shift+Enter and
read the check's report, and submit. Ada has written her solution, Bob has not. The
instructor then collects with ``nbgrader collect`` and grades the collected folder with
``python -m grader autograde``: Ada at full marks, Bob at zero. Screenshots are saved in
the test's folder and copied to ``out/jupyterhub/``.
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

ROOT = Path(__file__).resolve().parents[1]
HUB_CONFIG = ROOT / "deploy" / "jupyterhub" / "jupyterhub_config.py"
BIN = Path(sys.executable).parent
SHOTS = ROOT / "out" / "jupyterhub"
LAB = get_lab("lab1")
ASSIGNMENT = LAB.assignment
COURSE_ID = "mgp-test"
WAIT_S = 120
CELL = ".jp-NotebookPanel .jp-Notebook .jp-Cell"

pytestmark = [pytest.mark.slow, pytest.mark.browser, pytest.mark.timeout(900)]


def _missing() -> str:
    """Why this test cannot run here ("" when it can)."""
    if not (BIN / "jupyterhub").exists():
        return "jupyterhub is not installed (the deploy extra: pip install -e '.[deploy]')"
    if shutil.which("configurable-http-proxy") is None:
        return "npm's configurable-http-proxy is not installed (scripts/install_system_deps.sh)"
    if not chromium.CHROMIUM.exists() or not chromium.CHROMEDRIVER.exists():
        return "Debian's chromium and chromium-driver are not installed (.ci/run installs them)"
    return ""


@dataclass
class Course:
    """The instructor's side: the course folder, the exchange, the environment for nbgrader."""

    root: Path
    exchange: Path
    env: dict[str, str]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@pytest.fixture(scope="module")
def course(tmp_path_factory: pytest.TempPathFactory) -> Course:
    """A course folder with lab 1.7.1 released into a fresh exchange."""
    reason = _missing()
    if reason:
        pytest.skip(reason)
    tmp = tmp_path_factory.mktemp("course-loop")
    root, exchange = tmp / "course", tmp / "exchange"
    release = root / "release" / ASSIGNMENT
    release.mkdir(parents=True)
    if (config.LABS_DIR / LAB.notebook).is_file():
        shutil.copy(config.LABS_DIR / LAB.notebook, release / LAB.notebook)
    else:
        from grader.assign.release import release as render

        render(solutions=config.SOLUTIONS, labs=release, lab=LAB.id)
    env = {
        **os.environ,
        "MGP_EXCHANGE": str(exchange),
        "MGP_COURSE_ID": COURSE_ID,
        "JUPYTER_CONFIG_PATH": str(HUB_CONFIG.parent),
        "HOME": str(tmp),
        "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}",  # nbgrader runs alembic from here
    }
    done = subprocess.run(
        [str(BIN / "nbgrader"), "release_assignment", ASSIGNMENT],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert (exchange / COURSE_ID / "outbound" / ASSIGNMENT / LAB.notebook).is_file()
    return Course(root, exchange, env)


@pytest.fixture(scope="module")
def hub(
    course: Course, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[str, str, Path]]:
    """JupyterHub in its demo mode on a free localhost port; yields (base URL, password, the
    folder of the learners' homes)."""
    state = tmp_path_factory.mktemp("hub")
    password = secrets.token_hex(8)
    port = free_port()
    env = {
        **course.env,
        "MGP_HUB_PORT": str(port),
        "MGP_HUB_API_PORT": str(free_port()),
        "MGP_PROXY_API_PORT": str(free_port()),
        "MGP_HUB_STATE": str(state),
        "MGP_HUB_HOMES": str(state / "homes"),
        "MGP_HUB_DUMMY_PASSWORD": password,
        "MGP_LEARNERS": "ada,bob",
    }
    log = (state / "jupyterhub.log").open("w")
    server = subprocess.Popen(
        [str(BIN / "jupyterhub"), "-f", str(HUB_CONFIG)],
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
        yield base, password, state / "homes"
    finally:
        os.killpg(server.pid, signal.SIGTERM)  # cleanup_servers: the hub stops every JupyterLab
        try:
            server.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait(timeout=20)
        log.close()
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


def learner_session(
    driver: Any, base: str, password: str, user: str, home: Path, shots: Path, solved: bool
) -> str:
    """Log in, fetch, (write the solution), run down to the first self-check, submit.

    Returns the self-check's output as the page shows it.
    """
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys
    from selenium.webdriver.support.ui import WebDriverWait

    wait = WebDriverWait(driver, WAIT_S)
    driver.get(f"{base}/hub/logout")  # the previous learner's session ends
    driver.get(f"{base}/hub/login")
    wait.until(lambda d: d.find_elements(By.ID, "username_input"))
    driver.find_element(By.ID, "username_input").send_keys(user)
    driver.find_element(By.ID, "password_input").send_keys(password)
    driver.find_element(By.ID, "login_submit").click()
    wait.until(lambda d: f"/user/{user}/lab" in d.current_url)
    wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, "#jp-main-statusbar"))
    listed = nbgrader_action(driver, user, "fetch")
    assert listed["success"], listed
    notebook = home / user / ASSIGNMENT / LAB.notebook
    assert notebook.is_file(), f"nbgrader fetched nothing into {notebook.parent}"
    if solved:
        nbformat.write(solved_lab1(), notebook)
    target = first_self_check(notebook)
    kinds = [cell.cell_type for cell in nbformat.read(notebook, as_version=4).cells]
    driver.get(f"{base}/user/{user}/lab/tree/{ASSIGNMENT}/{LAB.notebook}")
    wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, CELL))
    wait.until(kernel_idle)
    driver.find_elements(By.CSS_SELECTOR, CELL)[0].click()
    try:
        for index in range(target + 1):
            driver.switch_to.active_element.send_keys(Keys.SHIFT, Keys.ENTER)
            if kinds[index] == "code":
                WebDriverWait(driver, WAIT_S).until(lambda d, i=index: executed(d, i))
        wait.until(lambda d: "points)" in cell_output(d, target))
        driver.switch_to.active_element.send_keys(Keys.CONTROL, "s")
    finally:
        _script(
            driver,
            f"const c = document.querySelectorAll('{CELL}')[arguments[0]];"
            "if (c) c.scrollIntoView({block: 'center'});",
            target,
        )
        time.sleep(1)
        driver.save_screenshot(str(shots / f"{user}-lab-1.7.1.png"))
    shown = cell_output(driver, target)
    setup = cell_output(driver, 1)
    assert "Error" not in setup, f"the setup cell failed for {user}:\n{setup}"
    submitted = nbgrader_action(driver, user, "submit")
    assert submitted["success"], submitted
    return shown


def test_course_loop_on_jupyterhub(
    course: Course,
    hub: tuple[str, str, Path],
    browser: Any,
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    """Released through nbgrader's exchange, worked on by two learners in JupyterLab on
    JupyterHub, submitted, collected and autograded: does each learner see their own
    self-check's verdict, and does the grade follow the work (Ada full marks, Bob zero)?"""
    base, password, homes = hub
    shots = tmp_path_factory.mktemp("screenshots")
    ada = learner_session(browser, base, password, "ada", homes, shots, solved=True)
    bob = learner_session(browser, base, password, "bob", homes, shots, solved=False)
    SHOTS.mkdir(parents=True, exist_ok=True)
    for picture in shots.glob("*.png"):
        assert picture.stat().st_size > 10_000
        shutil.copy(picture, SHOTS / picture.name)
    assert "lab1." in ada and "passed" in ada and "FAILED" not in ada, ada
    assert "lab1." in bob and "FAILED (0/" in bob and "hint:" in bob, bob

    collected = subprocess.run(
        [str(BIN / "nbgrader"), "collect", ASSIGNMENT],
        cwd=course.root,
        env=course.env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert collected.returncode == 0, collected.stdout + collected.stderr
    submitted = course.root / "submitted"
    for user in ("ada", "bob"):
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
    with open(out / "grades.csv", newline="") as handle:
        rows = {row["student_id"]: row for row in csv.DictReader(handle)}
    assert set(rows) == {"ada", "bob"}
    assert rows["ada"]["status"] == rows["bob"]["status"] == "graded"
    assert float(rows["ada"]["score"]) == float(rows["ada"]["max_score"]) > 0
    assert float(rows["bob"]["score"]) == 0
