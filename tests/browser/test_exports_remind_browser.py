"""提醒与通知 in a real browser, in Chinese and in English: an administrator adds a DingTalk
robot with its signing secret on the channel settings (the secret never comes back to the
page), then reads the last-run panel of a run that sent eight messages and failed one. The
screenshots are checked for English on the Chinese screen (and Chinese on the English one)."""
from __future__ import annotations

import re
import subprocess
from pathlib import Path
from typing import Iterator

import pytest
from playwright.sync_api import TimeoutError as PlaywrightTimeout

from tests import programme
from tests import remind_programme as rp
from tests.browser.conftest import login, screenshot, start_app, wait_idle
from tests.remind_servers import DING_SECRET, robot_endpoints, smtp_server

NEW_SECRET = "SECbrowser-typed-secret-42"
NEW_WEBHOOK = "https://oapi.dingtalk.com/robot/send?access_token=browser-token-77"
# Words that stay in Latin letters in a Chinese interface: protocols, product terms, and the
# user's own data (addresses, the base URL).
TECHNICAL = {"SMTP", "STARTTLS", "SSL", "TLS", "Webhook", "CA", "English", "HTTP", "Bad",
             "Gateway", "python", "m", "audit", "remind", "README"}


@pytest.fixture(scope="module")
def remind_app(tmp_path_factory: pytest.TempPathFactory, browser) -> Iterator[tuple[str, Path]]:
    """The app on the reminder programme after one run (8 sent, one robot refused once)."""
    folder = tmp_path_factory.mktemp("remind")
    p = rp.build(folder)
    with smtp_server() as (box, port), robot_endpoints() as robots:
        rp.configure_channels(p, smtp_port=port, robots=robots.urls())
        robots.fail_next = [(502, {})]
        rp.run(p)
    p.db.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    p.db.conn.close()
    proc, url = start_app(p.path, folder / "streamlit.log")
    yield url, p.path
    proc.terminate()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()


@pytest.fixture
def admin_page(browser, remind_app):
    url, _ = remind_app
    context = browser.new_context(locale="zh-CN", timezone_id="Asia/Shanghai",
                                  viewport={"width": 1400, "height": 900})
    page = context.new_page()
    page.set_default_timeout(60_000)
    page.goto(url)
    wait_idle(page)
    login(page, "admin", programme.PASSWORD)
    page.get_by_test_id("stSidebarNav").get_by_text("提醒与通知", exact=True).click()
    wait_idle(page)
    yield page
    context.close()


def _shot(page, name: str, height: int = 2600) -> Path:
    page.set_viewport_size({"width": 1400, "height": height})
    wait_idle(page)
    path = screenshot(page, name)
    page.set_viewport_size({"width": 1400, "height": 900})
    wait_idle(page)
    return path


def _main_text(page) -> str:
    """The main area's visible text, without icon ligatures (check_circle, visibility …)."""
    return page.evaluate("""() => {
        const main = document.querySelector('[data-testid="stMain"]').cloneNode(true);
        main.querySelectorAll('[data-testid="stIconMaterial"], [translate="no"]').forEach(e => e.remove());
        document.body.appendChild(main);
        const text = main.innerText;
        main.remove();
        return text;
    }""")


def _latin_words(text: str) -> set[str]:
    text = re.sub(r"\S+@\S+|https?://\S+|\d{4}-\d\d-\d\d[ T\d:]*", " ", text)
    return {w for w in re.findall(r"[A-Za-z]+", text)} - TECHNICAL


def _choose(page, box, option: str) -> None:
    """Open a select box and pick `option` (opened again if a rerun closed the list)."""
    wanted = page.get_by_role("option").filter(has_text=option).first
    for attempt in range(3):
        wait_idle(page)
        box.click()
        try:
            wanted.wait_for(timeout=15_000)
            break
        except PlaywrightTimeout:
            if attempt == 2:
                raise
            page.keyboard.press("Escape")
    wanted.click()


def _chinese_lines(text: str) -> list[str]:
    return [line.strip() for line in text.splitlines() if re.search("[\u4e00-\u9fff]", line)]


def _tab(page, name: str) -> None:
    page.get_by_role("tab", name=name).click()
    wait_idle(page)


def test_channel_settings_and_last_run_in_chinese_then_english(admin_page, remind_app):
    page = admin_page
    page.get_by_role("heading", name="提醒与通知").wait_for()
    form = page.get_by_test_id("stForm").filter(has_text="添加群机器人")
    form.get_by_label("机器人名称").fill("丙县整改群")
    _choose(page, form.get_by_test_id("stSelectbox").filter(has_text="类型"), "钉钉")
    form.get_by_label("Webhook 地址").fill(NEW_WEBHOOK)
    form.get_by_label("加签密钥").fill(NEW_SECRET)
    form.get_by_role("button", name="添加群机器人").click()
    wait_idle(page)
    page.get_by_text("已保存。").wait_for()
    html = page.content()
    for secret in (NEW_SECRET, "browser-token-77", DING_SECRET, "ding-token-456",
                   "mail-secret-1"):
        assert secret not in html
    grid = page.get_by_test_id("stDataFrame").first
    grid.wait_for()
    channels_zh = _shot(page, "remind_channels.png")
    main = _main_text(page)
    assert "电子邮件（SMTP）" in main and "群机器人" in main and "提醒设置" in main
    assert _latin_words(main) == set(), _latin_words(main)

    _tab(page, "单位与人员")
    page.get_by_text("各单位的工作群机器人").wait_for()
    recipients_zh = _shot(page, "remind_recipients.png")
    assert _latin_words(_main_text(page)) == set()

    _tab(page, "运行情况")
    metric = page.get_by_test_id("stMetric").filter(has_text="已发送")
    assert metric.get_by_test_id("stMetricValue").inner_text().strip() == "7"
    failed = page.get_by_test_id("stMetric").filter(has_text="失败")
    assert failed.get_by_test_id("stMetricValue").inner_text().strip() == "1"
    page.get_by_text("本次发送的消息").wait_for()
    page.get_by_text("发送失败或待重试").wait_for()
    runs_zh = _shot(page, "remind_runs.png")
    main = _main_text(page)
    assert _latin_words(main) <= {"HTTP", "Bad", "Gateway"}  # the server's own error text

    page.get_by_test_id("stSidebar").get_by_text("English", exact=True).click()
    wait_idle(page)
    page.get_by_role("heading", name="Reminders").wait_for()
    assert "E-mail (SMTP)" in _main_text(page)
    assert _chinese_lines(_main_text(page)) == []
    channels_en = _shot(page, "remind_channels_en.png")
    _tab(page, "Runs")
    page.get_by_text("Messages sent by this run").wait_for()
    sent = page.get_by_test_id("stMetric").filter(has_text="Sent")
    assert sent.get_by_test_id("stMetricValue").inner_text().strip() == "7"
    runs_en = _shot(page, "remind_runs_en.png")
    assert _chinese_lines(_main_text(page)) == []  # tables are drawn, not text: see the shots
    for path in (channels_zh, recipients_zh, runs_zh, channels_en, runs_en):
        assert path.exists() and path.stat().st_size > 10_000
