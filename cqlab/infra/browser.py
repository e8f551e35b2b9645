"""A real browser for the tests: Debian's Chromium and chromedriver, driven by Selenium, headless.

Installed the way the launcher installs Redis: apt as root, or `sudo -n`, or a clear message
with the command to run. Selenium Manager and Playwright download browsers at run time, which
does not work offline or behind a proxy: Selenium is pointed at the Debian binaries instead.
"""

import os
import shutil
import subprocess
from pathlib import Path

from cqlab.errors import LabError
from cqlab.infra.install import run_installer

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
APT_PACKAGES = ["chromium", "chromium-driver"]
INSTALL_HINT = f"sudo apt-get install -y {' '.join(APT_PACKAGES)}"


def ensure_chromium() -> None:
    """Install Chromium and chromedriver with apt when missing and allowed; else say how."""
    if CHROMIUM.exists() and CHROMEDRIVER.exists():
        return
    if not shutil.which("apt-get"):
        raise LabError(f"Chromium not found at {CHROMIUM}. To fix (Debian/Ubuntu): {INSTALL_HINT}")
    sudo = [] if os.geteuid() == 0 else ["sudo", "-n"]
    if sudo and subprocess.run(["sudo", "-n", "true"], capture_output=True).returncode != 0:
        raise LabError(f"Chromium is missing and installing it needs root. To fix: {INSTALL_HINT}")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    for command in (["apt-get", "update", "-qq"], ["apt-get", "install", "-y", "-qq", *APT_PACKAGES]):
        run_installer([*sudo, *command], env, INSTALL_HINT)


def headless_chromium(download_dir: Path | None = None):
    """A Selenium WebDriver on headless Chromium that records the console (`get_log("browser")`)."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    ensure_chromium()
    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for argument in ("--headless=new", "--disable-dev-shm-usage", "--window-size=1280,1600"):
        options.add_argument(argument)
    if os.geteuid() == 0:
        options.add_argument("--no-sandbox")  # Chromium refuses to run as root with its sandbox
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(executable_path=str(CHROMEDRIVER)), options=options)
    driver.set_page_load_timeout(60)
    return driver
