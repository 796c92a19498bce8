"""Fixtures for the dashboard's browser check: pulsegate servers on scratch databases and
one headless Chromium (Debian's chromium and chromium-driver, driven by Selenium).

Run by scripts/browser-check, which installs what this needs and sets
PULSEGATE_BINARY, BROWSER_CHECK_SCRATCH and BROWSER_CHECK_ARTIFACTS.
"""

import os
import sys
from pathlib import Path

import pytest
from selenium import webdriver
from selenium.webdriver.chrome.service import Service

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "scripts"))
from pulsecheck import Pulsegate, Report  # noqa: E402 (scripts/ is on the path only now)

BINARY = os.environ.get("PULSEGATE_BINARY", str(ROOT / ".build/debug/pulsegate"))
SCRATCH = Path(os.environ.get("BROWSER_CHECK_SCRATCH", "/tmp/pulsegate-browser-check"))
ARTIFACTS = Path(os.environ.get("BROWSER_CHECK_ARTIFACTS", str(ROOT / ".build/browser-check")))
# Every process started here is written down, so that scripts/browser-check's trap can
# end what a crashed test run would leave behind.
PIDS = SCRATCH / "pids"


def remember(pid):
    with open(PIDS, "a") as f:
        f.write(f"{pid}\n")


class Server(Pulsegate):
    """One pulsegate process serving the repository's dashboard; stop() and start()
    again keep the port and the database."""

    def __init__(self, name, *args, env=None):
        SCRATCH.mkdir(parents=True, exist_ok=True)
        super().__init__(BINARY, str(SCRATCH / name), "--public-dir", str(ROOT / "Public"), *args,
                         env=env, pids_file=str(PIDS))
        self.dir = Path(self.dir)


@pytest.fixture
def server_factory():
    servers = []

    def make(name, *args, env=None):
        server = Server(name, *args, env=env)
        servers.append(server)
        return server

    yield make
    for server in servers:
        server.stop()


@pytest.fixture(scope="session")
def driver():
    SCRATCH.mkdir(parents=True, exist_ok=True)
    options = webdriver.ChromeOptions()
    options.binary_location = os.environ.get("CHROMIUM", "/usr/bin/chromium")
    for argument in ["--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu",
                     "--window-size=1280,900", f"--user-data-dir={SCRATCH / 'chromium-profile'}",
                     "--no-first-run", "--disable-background-networking", "--disable-extensions"]:
        options.add_argument(argument)
    # The performance log carries DevTools' network events: a WebSocket's handshake headers and frames.
    options.set_capability("goog:loggingPrefs", {"browser": "ALL", "performance": "ALL"})
    # Times in the plot are local times (chart.js); UTC makes them the server's ms.
    service = Service(os.environ.get("CHROMEDRIVER", "/usr/bin/chromedriver"), env={**os.environ, "TZ": "UTC"})
    browser = webdriver.Chrome(options=options, service=service)
    remember(service.process.pid)
    browser.set_script_timeout(30)
    yield browser
    browser.quit()


@pytest.fixture
def page(driver):
    """The shared browser, reset to a desktop window and the light scheme after each test."""
    driver.execute_cdp_cmd("Network.enable", {})
    yield driver
    driver.execute_cdp_cmd("Network.setBlockedURLs", {"urls": []})
    driver.execute_cdp_cmd("Emulation.setEmulatedMedia", {"features": []})
    driver.set_window_size(1280, 900)
    driver.get("about:blank")
    driver.get_log("performance")  # drained: each test reads only its own events
    # Failed requests are what several cases provoke; an exception or console.error of
    # the page's own code is a bug whatever the case.
    broken = [entry["message"] for entry in driver.get_log("browser")
              if entry["level"] == "SEVERE" and (entry.get("source") == "console-api" or "Uncaught" in entry["message"])]
    assert not broken, f"the page logged errors: {broken}"


@pytest.fixture(scope="session")
def artifacts():
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return ARTIFACTS


# The report every check ends with: a table of the cases and `N passed, M failed`.
REPORT = Report("browser-check")


def pytest_runtest_logreport(report):
    if report.when == "call" or (report.when == "setup" and not report.passed):
        name = report.nodeid.split("::")[-1]
        detail = f"{report.duration:.1f} s" if report.passed else \
            (report.longrepr.reprcrash.message if hasattr(report.longrepr, "reprcrash") else str(report.longrepr))
        if not report.skipped:
            REPORT.rows.append(("browser", name, report.passed, " ".join(detail.split())))


def pytest_terminal_summary(terminalreporter):
    REPORT.finish()
