"""The rectification flow in a real browser, on the demo database the app creates at first
start: a rectifier records the root cause and accountability of one of its issues in 整改中,
completes its measures with an uploaded PDF and submits; an audit lead strikes it off; the
closed count rises by one; a regional manager sees only its unit in the catalogue. And a lead
builds the Word review pack on 导出 and downloads it."""
from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import Iterator

import pytest
from playwright.sync_api import TimeoutError as PlaywrightTimeout

from tests.browser.conftest import ROOT, login, screenshot, start_app, wait_idle

PASSWORD = "demo1234"


def _pdf() -> bytes:
    """A small valid one-page PDF built here (no fixture file)."""
    objects = [b"<< /Type /Catalog /Pages 2 0 R >>",
               b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
               b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 200 100] >>"]
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for n, body in enumerate(objects, 1):
        offsets.append(len(out))
        out += f"{n} 0 obj\n".encode() + body + b"\nendobj\n"
    xref = len(out)
    out += f"xref\n0 {len(objects) + 1}\n0000000000 65535 f \n".encode()
    for off in offsets:
        out += f"{off:010d} 00000 n \n".encode()
    out += (f"trailer\n<< /Size {len(objects) + 1} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n"
            .encode())
    return bytes(out)


@pytest.fixture(scope="module")
def demo_app(tmp_path_factory: pytest.TempPathFactory, browser) -> Iterator[tuple[str, Path]]:
    """The app on a database path that does not exist yet: it builds the demo itself."""
    folder = tmp_path_factory.mktemp("flow")
    db_path = folder / "tracker.db"
    proc, url = start_app(db_path, folder / "streamlit.log")
    yield url, db_path
    proc.terminate()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()


@pytest.fixture
def new_page(browser, demo_app):
    """new_page() → a fresh context (own Streamlit session) on the demo app, in Chinese."""
    url, _ = demo_app
    contexts = []

    def make():
        context = browser.new_context(locale="zh-CN", timezone_id="Asia/Shanghai",
                                      viewport={"width": 1400, "height": 900})
        contexts.append(context)
        pg = context.new_page()
        pg.set_default_timeout(60_000)
        pg.goto(url)
        wait_idle(pg)
        return pg

    yield make
    for c in contexts:
        c.close()


def _query(db_path: Path, sql: str, params: tuple = ()) -> list[tuple]:
    con = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True)
    try:
        return con.execute(sql, params).fetchall()
    finally:
        con.close()


def _closed(db_path: Path) -> int:
    out = subprocess.run([sys.executable, "-m", "audit", "summary", "--json"], cwd=ROOT,
                         env={"AUDIT_DB": str(db_path), "PYTHONPATH": str(ROOT),
                              "PATH": "/usr/bin:/bin"},
                         capture_output=True, text=True, check=True)
    return int(json.loads(out.stdout)["closed"])


def _nav(page, title: str) -> None:
    page.get_by_test_id("stSidebarNav").get_by_text(title, exact=True).click()
    wait_idle(page)


def _open_issue(page, code: str) -> None:
    """Open an issue through the issue page's picker (same session, no new sign-in)."""
    _nav(page, "问题详情")
    box = page.get_by_label("输入编号或关键词")
    box.fill(code)
    box.press("Enter")
    wait_idle(page)
    page.get_by_test_id("stSelectbox").filter(has_text="选择问题").click()
    page.get_by_role("option").filter(has_text=code).first.click()
    wait_idle(page)
    page.get_by_role("heading").filter(has_text=code).first.wait_for()


def _tab(page, name: str) -> None:
    page.get_by_role("tab", name=name).click()
    wait_idle(page)


def _form(page, heading: str):
    return page.get_by_test_id("stForm").filter(has_text=heading)


def _choose(page, container, selectbox_label: str, option: str) -> None:
    """Open the select box and pick `option`. A rerun that lands while the list is open redraws
    the box and closes the list (seen on a loaded machine), so the list is opened again."""
    box = container.get_by_test_id("stSelectbox").filter(has_text=selectbox_label)
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


def _shot(page, name: str, height: int = 2000) -> None:
    """A screenshot of the whole page: Streamlit scrolls inside its own container, so the
    window is made tall enough instead of relying on full_page."""
    page.set_viewport_size({"width": 1400, "height": height})
    wait_idle(page)
    screenshot(page, name)
    page.set_viewport_size({"width": 1400, "height": 900})
    wait_idle(page)


def _save(page, form, name: str = "保存") -> None:
    form.get_by_role("button", name=name).click()
    wait_idle(page)


def test_rectifier_submits_lead_strikes_off_and_manager_sees_only_its_unit(new_page,
                                                                           demo_app):
    url, db_path = demo_app
    page = new_page()  # the first visit builds the demo database
    login(page, "team", PASSWORD)
    candidates = _query(db_path, """
        SELECT i.id, i.code FROM issues i JOIN users u ON u.person_id = i.responsible_person_id
        WHERE u.username = 'team' AND i.status = 'in_progress' AND i.merged_into_id IS NULL
          AND NOT EXISTS (SELECT 1 FROM measures m WHERE m.issue_id = i.id
                          AND m.owner_person_id = (SELECT person_id FROM users
                                                   WHERE username = 'lead'))
        ORDER BY i.code""")
    assert candidates, "the demo gives the rectifier an issue in progress"
    issue_id, code = candidates[0]
    before = _closed(db_path)

    _open_issue(page, code)
    _tab(page, "根源与责任追究")
    cause = _form(page, "记录问题根源")
    cause.get_by_text("描述新的根源").click()
    cause.get_by_label("根源（一句话）").fill("外包考核制度未覆盖投递时限")
    _save(page, cause)
    page.get_by_text("已保存。").first.wait_for()
    if not _query(db_path, "SELECT 1 FROM accountability WHERE issue_id = ?", (issue_id,)):
        _tab(page, "根源与责任追究")
        acc = _form(page, "记录责任追究")
        acc.get_by_text("不适用（须说明理由）").click()
        acc.get_by_label("不适用的理由").fill("制度缺陷所致，无个人违规")
        _save(page, acc)
        page.get_by_text("已保存。").first.wait_for()

    measures = _query(db_path, "SELECT id FROM measures WHERE issue_id = ? ORDER BY id",
                      (issue_id,))
    for (mid,) in measures:
        _tab(page, "佐证材料")
        upload = _form(page, "上传佐证材料")
        upload.locator("input[type=file]").set_input_files(
            files=[{"name": f"整改佐证_M{mid}.pdf", "mimeType": "application/pdf",
                    "buffer": _pdf()}])
        wait_idle(page)
        _choose(page, upload, "对应措施", f"M{mid}")
        _save(page, upload, "上传")
        page.get_by_text(f"已上传 整改佐证_M{mid}.pdf").first.wait_for()
        _tab(page, "整改措施")
        page.get_by_test_id("stExpander").filter(has_text=f"更新 M{mid}").first.click()
        status = _form(page, "措施状态").first
        _choose(page, status, "措施状态", "已完成")
        _save(page, status)
        page.get_by_text("已保存。").first.wait_for()
    assert page.get_by_text("三不放过：已满足").is_visible()
    _tab(page, "佐证材料")
    _shot(page, "issue_evidence.png", 1400)
    page.get_by_role("button", name="提交验收").click()
    wait_idle(page)
    page.get_by_text("当前状态：待验收").first.wait_for()
    assert _query(db_path, "SELECT status FROM issues WHERE id = ?", (issue_id,)) == \
        [("submitted",)]

    lead = new_page()
    login(lead, "lead", PASSWORD)
    _open_issue(lead, code)
    assert lead.get_by_role("button", name="退回").is_visible()
    lead.get_by_role("button", name="验收销号").click()
    wait_idle(lead)
    lead.get_by_text("当前状态：已销号").first.wait_for()
    _shot(lead, "issue.png")
    assert _closed(db_path) == before + 1
    _nav(lead, "总览")
    _nav(lead, "问题台账")
    lead.get_by_text("大类 → 方面").wait_for()
    _shot(lead, "catalogue.png", 2300)
    # A click on a row's selection box opens that issue in the same session.
    grid = lead.get_by_test_id("stDataFrame").last
    grid.scroll_into_view_if_needed()
    box = grid.bounding_box()
    lead.mouse.click(box["x"] + 16, box["y"] + 35 + 17)
    wait_idle(lead)
    codes = [c for (c,) in _query(db_path, "SELECT code FROM issues "
                                            "WHERE merged_into_id IS NULL")]
    first = min(codes, key=lambda c: [int(x) for x in c[1:].split(".")])
    lead.get_by_role("heading").filter(has_text=first).first.wait_for()
    assert "issue?id=" in lead.url

    lead.get_by_test_id("stSidebar").get_by_text("English", exact=True).click()
    wait_idle(lead)
    _nav(lead, "Issue ledger")  # leave the issue page, so that it opens on its picker
    _nav(lead, "Issue detail")
    box = lead.get_by_label("Code or words")
    box.fill(code)
    box.press("Enter")
    wait_idle(lead)
    lead.get_by_test_id("stSelectbox").filter(has_text="Choose an issue").click()
    lead.get_by_role("option").filter(has_text=code).first.click()
    wait_idle(lead)
    lead.get_by_text("Three do-not-let-go").first.wait_for()
    _shot(lead, "issue_en.png")

    manager = new_page()
    login(manager, "manager", PASSWORD)
    _nav(manager, "问题台账")
    in_unit = _query(db_path, """
        WITH RECURSIVE t(id) AS (SELECT unit_id FROM users WHERE username = 'manager'
                                 UNION SELECT u.id FROM units u JOIN t ON u.parent_id = t.id)
        SELECT COUNT(*) FROM issues WHERE unit_id IN (SELECT id FROM t)
          AND merged_into_id IS NULL""")[0][0]
    total = _query(db_path, "SELECT COUNT(*) FROM issues WHERE merged_into_id IS NULL")[0][0]
    metric = manager.get_by_test_id("stMetric").filter(has_text="问题数")
    assert metric.get_by_test_id("stMetricValue").inner_text().strip() == str(in_unit)
    assert in_unit < total
    units = manager.get_by_test_id("stSelectbox").filter(has_text="单位")
    units.click()
    offered = [o.inner_text() for o in manager.get_by_role("option").all()]
    assert offered and all("包头" in o or o == "全部" or "固阳" in o or "土默特" in o
                           for o in offered), offered


def test_a_lead_builds_the_review_pack_in_the_app_and_downloads_it(new_page, demo_app,
                                                                     tmp_path):
    # The pack's charts render in a child process of the Streamlit server: the downloaded file
    # must hold all ten of them, and the tables.
    import docx
    from docx.oxml.ns import qn
    _, db_path = demo_app
    page = new_page()
    login(page, "lead", PASSWORD)
    _nav(page, "导出")
    page.get_by_role("button", name="生成审阅材料（Word）").click()
    download_button = page.get_by_role("button", name="下载审阅材料")
    download_button.wait_for(timeout=120_000)
    wait_idle(page)
    page.get_by_text("已生成：").first.wait_for()
    _shot(page, "io_report.png", 1200)
    with page.expect_download() as caught:
        download_button.click()
    path = tmp_path / caught.value.suggested_filename
    caught.value.save_as(path)
    assert path.suffix == ".docx"
    pack = docx.Document(str(path))
    assert len(pack.inline_shapes) == 10
    issues = _query(db_path, "SELECT COUNT(*) FROM issues WHERE merged_into_id IS NULL")[0][0]
    # Attachment 1 (问题清单) lists every issue of the programme, once.
    # A narrow column's header is broken between words (严重 / 程度): compare it joined.
    problems = [t for t in pack.tables
                if [c.text.replace("\n", "") for c in t.rows[0].cells][4:6]
                == ["严重程度", "整改类型"]]
    assert len(problems) == 1 and len(problems[0].rows) - 1 == issues
    assert pack.element.body.find(f".//{qn('w:tblHeader')}") is not None
