"""Fixtures for the dashboard's browser check: pulsegate servers on scratch databases and
one headless Chromium (Debian's chromium and chromium-driver, driven by Selenium).

Run by scripts/browser-check, which installs what this needs and sets
PULSEGATE_BINARY, BROWSER_CHECK_SCRATCH and BROWSER_CHECK_ARTIFACTS.
"""

import json
import os
import re
import signal
import subprocess
import time
import urllib.request
from pathlib import Path

import pytest
from selenium import webdriver
from selenium.webdriver.chrome.service import Service

ROOT = Path(__file__).resolve().parents[2]
BINARY = os.environ.get("PULSEGATE_BINARY", str(ROOT / ".build/debug/pulsegate"))
SCRATCH = Path(os.environ.get("BROWSER_CHECK_SCRATCH", "/tmp/pulsegate-browser-check"))
ARTIFACTS = Path(os.environ.get("BROWSER_CHECK_ARTIFACTS", str(ROOT / ".build/browser-check")))
# Every process started here is written down, so that scripts/browser-check's trap can
# end what a crashed test run would leave behind.
PIDS = SCRATCH / "pids"


def remember(pid):
    with open(PIDS, "a") as f:
        f.write(f"{pid}\n")


class Server:
    """One pulsegate process; stop() and start() again keep the port and the database."""

    def __init__(self, name, *args, env=None):
        self.env = {**os.environ, **(env or {})}
        self.dir = SCRATCH / name
        self.dir.mkdir(parents=True, exist_ok=True)
        self.db = self.dir / "db.sqlite"
        self.args = list(args)
        self.port = 0
        self.process = None
        self.starts = 0

    @property
    def base(self):
        return f"http://127.0.0.1:{self.port}"

    def start(self, *extra):
        self.starts += 1
        log = self.dir / f"server-{self.starts}.log"
        command = [BINARY, "--port", str(self.port), "--db", str(self.db),
                   "--public-dir", str(ROOT / "Public"), *self.args, *extra]
        with open(log, "w") as out:
            self.process = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, env=self.env)
        remember(self.process.pid)
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            match = re.search(r"listening on 127\.0\.0\.1:(\d+)", log.read_text())
            if match:
                self.port = int(match.group(1))
                return self
            if self.process.poll() is not None:
                break
            time.sleep(0.05)
        raise RuntimeError(f"pulsegate did not start:\n{log.read_text()}")

    def stop(self):
        """SIGTERM, as a service manager would: the server closes live clients with 1001."""
        if self.process and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process = None

    def ingest(self, samples, token=None):
        body = json.dumps({"samples": samples}).encode()
        headers = {"Content-Type": "application/json"}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        request = urllib.request.Request(f"{self.base}/ingest", data=body, headers=headers)
        with urllib.request.urlopen(request, timeout=10) as response:
            assert response.status == 200, response.read()

    def metric(self, name):
        """One unlabelled value of the server's /metrics."""
        with urllib.request.urlopen(f"{self.base}/metrics", timeout=10) as response:
            text = response.read().decode()
        match = re.search(rf"^{re.escape(name)} (\S+)$", text, re.M)
        assert match, f"{name} is not in /metrics"
        return float(match.group(1))

    def get_json(self, path):
        with urllib.request.urlopen(f"{self.base}{path}", timeout=10) as response:
            return json.load(response)


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
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
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
    # Failed requests are what several cases provoke; an exception or console.error of
    # the page's own code is a bug whatever the case.
    broken = [entry["message"] for entry in driver.get_log("browser")
              if entry["level"] == "SEVERE" and (entry.get("source") == "console-api" or "Uncaught" in entry["message"])]
    assert not broken, f"the page logged errors: {broken}"


@pytest.fixture(scope="session")
def artifacts():
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return ARTIFACTS
