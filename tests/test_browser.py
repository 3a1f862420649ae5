"""The learner's path in a real browser: JupyterLab, lab 1.7.1, the first self-check.

Starts JupyterLab on a free localhost port with a token, opens the released lab 1.7.1
in headless Chromium (Debian's ``chromium`` and ``chromium-driver``, driven by
Selenium; no browser is ever downloaded), runs the cells from the setup cell through
the first self-check with Shift+Enter as a learner would, and asserts on the check's
report shown in the page. A screenshot is saved in the test's folder and copied to
``out/browser/lab-1.7.1.png``.
"""

from __future__ import annotations

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
from pathlib import Path
from typing import Any

import nbformat
import pytest

from tests import chromium

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOK = "lab-1.7.1-core-tensor-implementation.ipynb"
SCREENSHOT = ROOT / "out" / "browser" / "lab-1.7.1.png"
SERVER_WAIT_S = 90
CELL_WAIT_S = 120

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.timeout(600)]


def released_lab(folder: Path) -> Path:
    """Lab 1.7.1 as learners get it: labs/ when released, else a release made here."""
    folder.mkdir(parents=True)
    shipped = ROOT / "labs" / NOTEBOOK
    if shipped.is_file():
        shutil.copy(shipped, folder / NOTEBOOK)
        return folder / NOTEBOOK
    if not (ROOT / "solutions" / NOTEBOOK).is_file():
        pytest.skip(f"neither labs/{NOTEBOOK} nor its source in solutions/ exists yet")
    from grader.assign.release import release

    release(solutions=ROOT / "solutions", labs=folder, lab="1")
    return folder / NOTEBOOK


def first_self_check(path: Path) -> int:
    """Index of the first visible self-check cell: ungraded code that calls ``check(``."""
    nb = nbformat.read(path, as_version=4)
    for index, cell in enumerate(nb.cells):
        graded = cell.metadata.get("nbgrader", {}).get("grade", False)
        if cell.cell_type == "code" and "check(" in cell.source and not graded:
            return index
    raise AssertionError(f"{path.name} has no self-check cell")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def write_lab_settings(settings: Path) -> None:
    """Render every cell (no windowing) and never ask about news or updates."""
    notebook = settings / "@jupyterlab" / "notebook-extension"
    notebook.mkdir(parents=True)
    (notebook / "tracker.jupyterlab-settings").write_text(json.dumps({"windowingMode": "none"}))
    apputils = settings / "@jupyterlab" / "apputils-extension"
    apputils.mkdir(parents=True)
    (apputils / "notification.jupyterlab-settings").write_text(
        json.dumps({"fetchNews": "false", "checkForUpdates": False})
    )


@pytest.fixture
def jupyterlab(tmp_path: Path) -> Iterator[tuple[str, str, Path]]:
    """A JupyterLab serving a copy of the released lab; yields (base URL, token, notebook)."""
    notebook = released_lab(tmp_path / "work")
    token = secrets.token_hex(16)
    port = free_port()
    home = tmp_path / "home"
    write_lab_settings(home / "lab-settings")
    env = {
        **os.environ,
        "HOME": str(home),
        "JUPYTER_CONFIG_DIR": str(home / "config"),
        "JUPYTER_RUNTIME_DIR": str(home / "runtime"),
        "JUPYTERLAB_SETTINGS_DIR": str(home / "lab-settings"),
        "JUPYTERLAB_WORKSPACES_DIR": str(home / "workspaces"),
        "MPLBACKEND": "module://matplotlib_inline.backend_inline",
    }
    log = (tmp_path / "jupyterlab.log").open("w")
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "jupyter",
            "lab",
            "--no-browser",
            "--ip=127.0.0.1",
            f"--port={port}",
            "--ServerApp.port_retries=0",
            f"--IdentityProvider.token={token}",
            f"--ServerApp.root_dir={notebook.parent}",
            "--ServerApp.allow_root=True",
            "--LabApp.news_url=",
        ],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        wait_for_server(port, token, server, tmp_path / "jupyterlab.log")
        yield f"http://127.0.0.1:{port}", token, notebook
    finally:
        try:
            os.killpg(server.pid, signal.SIGTERM)
            server.wait(timeout=20)
        except (ProcessLookupError, subprocess.TimeoutExpired):
            os.killpg(server.pid, signal.SIGKILL)
            server.wait(timeout=20)
        log.close()


def wait_for_server(port: int, token: str, server: subprocess.Popen[bytes], log: Path) -> None:
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/api/status", headers={"Authorization": f"token {token}"}
    )
    deadline = time.monotonic() + SERVER_WAIT_S
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise AssertionError(f"JupyterLab exited:\n{log.read_text()[-3000:]}")
        try:
            with urllib.request.urlopen(request, timeout=2):
                return
        except OSError:
            time.sleep(0.5)
    raise AssertionError(f"JupyterLab did not answer in {SERVER_WAIT_S} s")


@pytest.fixture
def browser(tmp_path: Path) -> Iterator[Any]:
    """Headless Chromium from Debian's packages, with a fresh profile."""
    driver = chromium.start(tmp_path / "chromium-profile", timeout=60)
    try:
        yield driver
    finally:
        driver.quit()


def cell_output(driver: Any, index: int) -> str:
    """The text of cell ``index``'s output area as the page shows it."""
    text: str = driver.execute_script(
        "const cells = document.querySelectorAll('.jp-NotebookPanel .jp-Notebook .jp-Cell');"
        "const cell = cells[arguments[0]];"
        "if (!cell) return '';"
        "const out = cell.querySelector('.jp-OutputArea');"
        "return out ? out.textContent : '';",
        index,
    )
    return text


def test_learner_runs_the_first_self_check_in_jupyterlab(
    jupyterlab: tuple[str, str, Path], browser: Any, tmp_path: Path
) -> None:
    """Opening lab 1.7.1 in JupyterLab and running it down to the first self-check with
    Shift+Enter, does the learner see that check's report, naming the check, its points
    and the stub still to be written?"""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys
    from selenium.webdriver.support import expected_conditions
    from selenium.webdriver.support.ui import WebDriverWait

    base, token, notebook = jupyterlab
    target = first_self_check(notebook)
    browser.get(f"{base}/lab/tree/{notebook.name}?token={token}")
    wait = WebDriverWait(browser, SERVER_WAIT_S)
    wait.until(
        expected_conditions.presence_of_element_located(
            (By.CSS_SELECTOR, ".jp-NotebookPanel .jp-Notebook .jp-Cell")
        )
    )
    wait.until(lambda d: "Idle" in kernel_status(d))
    first = browser.find_elements(By.CSS_SELECTOR, ".jp-NotebookPanel .jp-Notebook .jp-Cell")[0]
    first.click()
    # One cell at a time, as a learner would: JupyterLab drops queued cells after an error
    # (and in the released lab the stubs raise NotImplementedError until they are written).
    kinds = [cell.cell_type for cell in nbformat.read(notebook, as_version=4).cells]
    try:
        for index in range(target + 1):
            browser.switch_to.active_element.send_keys(Keys.SHIFT, Keys.ENTER)
            if kinds[index] == "code":
                WebDriverWait(browser, CELL_WAIT_S).until(lambda d, i=index: executed(d, i))
        WebDriverWait(browser, CELL_WAIT_S).until(lambda d: "points)" in cell_output(d, target))
    finally:
        picture = screenshot(browser, target, tmp_path / "lab-1.7.1.png")
    shown = cell_output(browser, target)
    setup = cell_output(browser, 1)
    assert "Error" not in setup, f"the setup cell failed:\n{setup}"
    assert "lab1." in shown and "FAILED (0/" in shown, shown
    assert "NotImplementedError" in shown or "not defined yet" in shown, shown
    assert "hint:" in shown, shown
    assert picture.stat().st_size > 10_000


def executed(driver: Any, index: int) -> bool:
    """Whether cell ``index`` has run: its prompt shows an execution count like ``[7]:``."""
    prompt: str = driver.execute_script(
        "const cell = document.querySelectorAll('.jp-NotebookPanel .jp-Notebook .jp-Cell')"
        "[arguments[0]]; const p = cell && cell.querySelector('.jp-InputArea-prompt');"
        "return p ? p.textContent : '';",
        index,
    )
    return any(ch.isdigit() for ch in prompt)


def screenshot(driver: Any, index: int, path: Path) -> Path:
    """Scroll cell ``index`` into view, save what the page shows, and copy it to out/browser/."""
    driver.execute_script(
        "const cell = document.querySelectorAll('.jp-NotebookPanel .jp-Notebook .jp-Cell')"
        "[arguments[0]]; if (cell) cell.scrollIntoView({block: 'center'});",
        index,
    )
    time.sleep(1)  # let the scroll settle before the picture
    driver.save_screenshot(str(path))
    SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy(path, SCREENSHOT)
    return path


def kernel_status(driver: Any) -> str:
    """The status bar's text, e.g. ``Python 3 (ipykernel) | Idle``."""
    text: str = driver.execute_script(
        "const bar = document.querySelector('#jp-main-statusbar');"
        "return bar ? bar.textContent : '';"
    )
    return text
