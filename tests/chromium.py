"""Headless Debian Chromium for the browser tests (JupyterLab, JupyterHub): one driver recipe."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-quic",
    "--disable-dev-shm-usage",
    "--window-size=1400,1000",
)


def start(profile: Path, timeout: float) -> Any:
    """A Chromium WebDriver with a fresh ``profile`` folder; the caller quits it.

    Skips the test when Chromium, its driver or selenium is missing.
    """
    if not CHROMIUM.exists() or not CHROMEDRIVER.exists():
        pytest.skip(
            "Debian's chromium and chromium-driver are not installed (.ci/run installs them)"
        )
    webdriver = pytest.importorskip("selenium.webdriver", reason="selenium (dev extra) is missing")
    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for flag in (*FLAGS, f"--user-data-dir={profile}"):
        options.add_argument(flag)
    service = webdriver.ChromeService(executable_path=str(CHROMEDRIVER))
    driver = webdriver.Chrome(options=options, service=service)
    driver.set_page_load_timeout(timeout)
    driver.set_script_timeout(timeout)
    return driver
