"""Evidence downloads in a real browser end with the session: the link an issue page gives
fetches the file while its session is signed in, and answers 404 after sign-out, for a token
nobody was given, and never through Streamlit's /media addresses."""
from __future__ import annotations

import shutil
import urllib.error
import urllib.request

import pytest

from audit.store.db import open_database
from audit.store.evidence_files import blob_path
from tests.browser.conftest import login, start_app, wait_idle
from tests.conftest import copy_database


@pytest.fixture(scope="module")
def demo_app(demo_path, tmp_path_factory):
    folder = tmp_path_factory.mktemp("downloads")
    path = copy_database(demo_path, folder / "app.db")
    shutil.copytree(demo_path.parent / f"{demo_path.stem}-evidence",
                    folder / "app-evidence")
    proc, url = start_app(path, folder / "streamlit.log")
    yield path, url
    proc.terminate()
    proc.wait(timeout=20)


def _status(url: str) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=30) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as e:
        return e.code, b""


def test_an_evidence_link_works_while_signed_in_and_not_after_sign_out(browser, demo_app):
    path, url = demo_app
    db = open_database(path)
    issue_id, sha, name = db.conn.execute(
        "SELECT issue_id, sha256, filename FROM evidence ORDER BY id LIMIT 1").fetchone()
    expected = blob_path(path.parent / "app-evidence", sha).read_bytes()
    db.conn.close()
    context = browser.new_context(locale="zh-CN", timezone_id="Asia/Shanghai",
                                  viewport={"width": 1280, "height": 860})
    page = context.new_page()
    page.set_default_timeout(60_000)
    page.goto(f"{url}/issue?id={issue_id}")
    wait_idle(page)
    login(page, "lead", "demo1234")
    page.get_by_role("tab", name="佐证材料").click()
    wait_idle(page)
    link = page.locator('a[href*="download/"]').first
    link.wait_for()
    href = link.get_attribute("href")
    target = href if href.startswith("http") else f"{url}/{href.lstrip('/')}"
    assert "/media/" not in page.content().replace("/static/media/", "")
    status, body = _status(target)
    assert status == 200 and body == expected, (status, name)
    assert _status(f"{url}/download/not-a-token")[0] == 404
    page.get_by_test_id("stSidebar").get_by_text("退出登录").click()
    wait_idle(page)
    page.get_by_text("已退出登录。").wait_for()
    assert _status(target)[0] == 404
    context.close()
