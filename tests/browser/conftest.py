"""Browser harness: the real app under `streamlit run`, driven by Debian's Chromium through
Playwright. Tests here are marked `browser` and skipped when /usr/bin/chromium is absent."""
from __future__ import annotations

import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Iterator

import pytest

from audit import accounts_service
from audit.store.db import open_database
from tests.conftest import AT

CHROMIUM = Path(os.environ.get("AUDIT_CHROMIUM", "/usr/bin/chromium"))
ROOT = Path(__file__).resolve().parents[2]
# Screenshots go to a temporary folder, so a test run leaves the work tree clean; set
# AUDIT_SCREENSHOTS=docs/screenshots to refresh the README's pictures.
SCREENSHOTS = Path(os.environ.get("AUDIT_SCREENSHOTS")
                   or Path(tempfile.gettempdir()) / "audit-screenshots")
LAUNCH_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
               "--disable-background-networking", "--disable-component-update",
               "--disable-sync", "--no-first-run"]
ADMIN = ("admin", "demo1234")
IDLE = '[data-testid="stApp"][data-test-script-state="notRunning"]'
RUNNING = '[data-testid="stApp"][data-test-script-state="running"]'


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Everything in this folder is a browser test."""
    for item in items:
        if Path(str(item.fspath)).is_relative_to(Path(__file__).parent):
            item.add_marker(pytest.mark.browser)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="session")
def browser_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A database with one administrator (admin / demo1234); not a demo database."""
    path = tmp_path_factory.mktemp("browser") / "app.db"
    db = open_database(path)
    accounts_service.create_user(db, None, *ADMIN, "admin", display_name="系统管理员", at=AT)
    db.conn.close()
    return path


def start_app(db_path: Path, log_path: Path) -> tuple[subprocess.Popen, str]:
    """Start `streamlit run streamlit_app.py` on a free port; return the process and base URL
    once /_stcore/health answers."""
    port = _free_port()
    env = {**os.environ, "AUDIT_DB": str(db_path), "PYTHONPATH": str(ROOT)}
    log = open(log_path, "wb")
    proc = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", "streamlit_app.py",
         "--server.headless", "true", "--server.port", str(port),
         "--server.address", "127.0.0.1", "--browser.gatherUsageStats", "false",
         "--server.fileWatcherType", "none"],
        cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"streamlit exited early; see {log_path}")
        try:
            with urllib.request.urlopen(url + "/_stcore/health", timeout=2) as r:
                if r.status == 200:
                    return proc, url
        except OSError:
            time.sleep(0.3)
    proc.terminate()
    raise RuntimeError(f"streamlit did not become healthy in 60 s; see {log_path}")


@pytest.fixture(scope="session")
def app_url(browser_db: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The base URL of the running app (one server for the whole test run)."""
    if not CHROMIUM.exists():
        pytest.skip(f"{CHROMIUM} not found (apt-get install chromium)")
    proc, url = start_app(browser_db, tmp_path_factory.mktemp("logs") / "streamlit.log")
    yield url
    proc.terminate()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()


@pytest.fixture(scope="session")
def browser():
    """Chromium launched once per test run."""
    if not CHROMIUM.exists():
        pytest.skip(f"{CHROMIUM} not found (apt-get install chromium)")
    from playwright.sync_api import sync_playwright
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(CHROMIUM), args=LAUNCH_ARGS)
        yield b
        b.close()


@pytest.fixture
def page(browser, app_url: str):
    """A fresh browser context (own cookies, own Streamlit session) in Chinese, Shanghai time."""
    context = browser.new_context(locale="zh-CN", timezone_id="Asia/Shanghai",
                                  viewport={"width": 1280, "height": 860})
    pg = context.new_page()
    pg.set_default_timeout(30_000)
    pg.goto(app_url)
    wait_idle(pg)
    yield pg
    context.close()


def wait_idle(page, settle_ms: int = 300) -> None:
    """Wait until Streamlit has finished running and stays idle for `settle_ms`. A click starts
    its rerun a moment later, and elements are painted a moment after the run ends, so a single
    look at the state attribute is not enough."""
    try:
        page.wait_for_selector(RUNNING, timeout=settle_ms)
    except Exception:
        pass
    for _ in range(20):
        page.wait_for_selector(IDLE, timeout=30_000)
        page.wait_for_timeout(settle_ms)
        if page.locator(IDLE).count() == 1:
            return
    raise AssertionError("the app kept rerunning")


def login(page, username: str, password: str) -> None:
    """Fill and submit the sign-in form, then wait for the rerun to finish."""
    form = page.get_by_test_id("stForm")
    form.get_by_role("textbox").nth(0).fill(username)
    form.get_by_role("textbox").nth(1).fill(password)
    form.get_by_test_id("stBaseButton-primaryFormSubmit").click()
    wait_idle(page)


def screenshot(page, name: str) -> Path:
    """Save a full-page screenshot under SCREENSHOTS and return its path."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / name
    page.screenshot(path=str(path), full_page=True)
    return path
