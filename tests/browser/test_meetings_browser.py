"""Review meetings (推进会) in a real browser, on the demo database the app creates at first start:
the dashboard shows the items red at several meetings; a lead records today's meeting on 推进会;
back on the dashboard the red count has risen (the demo's 包头 item red at both past meetings is
red at a third one running)."""
from __future__ import annotations

import sqlite3
import subprocess
from pathlib import Path
from typing import Iterator

import pytest

from tests.browser.conftest import login, screenshot, start_app, wait_idle

PASSWORD = "demo1234"


@pytest.fixture(scope="module")
def demo_app(tmp_path_factory: pytest.TempPathFactory, browser) -> Iterator[tuple[str, Path]]:
    """The app on a database path that does not exist yet: it builds the demo itself."""
    folder = tmp_path_factory.mktemp("meetings")
    db_path = folder / "tracker.db"
    proc, url = start_app(db_path, folder / "streamlit.log")
    yield url, db_path
    proc.terminate()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()


def _metric(page, label: str) -> str:
    tile = page.get_by_test_id("stMetric").filter(has_text=label).first
    tile.wait_for()
    return tile.get_by_test_id("stMetricValue").inner_text().strip()


def _nav(page, title: str) -> None:
    page.get_by_test_id("stSidebarNav").get_by_text(title, exact=True).click()
    wait_idle(page)


def _meetings(db_path: Path) -> int:
    con = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True)
    try:
        return con.execute("SELECT COUNT(*) FROM meetings").fetchone()[0]
    finally:
        con.close()


def test_a_lead_records_a_meeting_and_sees_the_red_count_rise_on_the_dashboard(browser,
                                                                              demo_app):
    url, db_path = demo_app
    context = browser.new_context(locale="zh-CN", timezone_id="Asia/Shanghai",
                                  viewport={"width": 1400, "height": 1600})
    try:
        page = context.new_page()
        page.set_default_timeout(90_000)
        page.goto(url)   # the first visit builds the demo database
        wait_idle(page)
        login(page, "lead", PASSWORD)
        _nav(page, "总览")            # a lead's home is the verification queue
        page.get_by_text("整改类型与推进会").first.wait_for()
        before = int(_metric(page, "最多连续红灯"))
        repeated_before = int(_metric(page, "多次红灯问题"))
        assert before == 2 and repeated_before >= 1
        page.get_by_text("超过 30.0% 的上限").first.wait_for()   # the demo is past the cap

        _nav(page, "推进会")
        assert _meetings(db_path) == 2
        form = page.get_by_test_id("stForm").filter(has_text="记录一次推进会")
        form.get_by_label("参会人员").fill("区分公司整改工作领导小组成员")
        form.get_by_label("会议决定事项").fill("连续红灯事项发督办函")
        form.get_by_role("button", name="记录推进会").click()
        wait_idle(page)
        page.get_by_text("已记录推进会").first.wait_for()
        assert _meetings(db_path) == 3
        screenshot(page, "meetings.png")

        _nav(page, "总览")
        page.get_by_text("整改类型与推进会").first.wait_for()
        assert int(_metric(page, "最多连续红灯")) == before + 1
        assert int(_metric(page, "多次红灯问题")) >= repeated_before
        screenshot(page, "dashboard_red_count.png")
    finally:
        context.close()
