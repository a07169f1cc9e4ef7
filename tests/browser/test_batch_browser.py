"""Working on many items at once and on a phone, in a real browser on the demo programme: a
rectifier writes one progress note on five items at once; a lead opens three submitted items in
the verification queue, sees their evidence (a PDF page drawn as an image) beside the measures,
and strikes the three off in one go; the rectifier's pages at 390 × 844 (a phone) show the work
first, filters folded away, and never scroll sideways."""
from __future__ import annotations

import os
import sqlite3
import subprocess
import tempfile
from datetime import date
from pathlib import Path
from typing import Iterator

import pytest
from playwright.sync_api import TimeoutError as PlaywrightTimeout

from audit.demo import build_demo
from audit.login_service import actor_for
from audit.store.db import open_database
from audit.store.paths import evidence_dir
from tests.browser.conftest import login, start_app, wait_idle
from tests.programme import PDF

PASSWORD = "demo1234"
AS_OF = date(2026, 11, 23)
# The phone's screenshots: to a temporary folder, so a test run leaves the work tree clean;
# AUDIT_SCREENS=docs/screens refreshes the README's.
SCREENS = Path(os.environ.get("AUDIT_SCREENS")
               or Path(tempfile.gettempdir()) / "audit-screens")
PHONE = {"width": 390, "height": 844}


def _prepare(path: Path) -> list[int]:
    """The demo, plus three items of the rectifier `team` made closable and submitted by it:
    their ids (the lead `lead` owns none of their measures, so it may strike them off)."""
    from issues import evidence_service
    from issues import service as issues
    from issues.model import Move
    from owners import service as owners
    db = open_database(path)
    build_demo(db, as_of=AS_OF, seed=1, evidence_root=evidence_dir(path))
    c = db.conn
    team, lead = (c.execute("SELECT id FROM users WHERE username = ?", (u,)).fetchone()[0]
                  for u in ("team", "lead"))
    team_actor, lead_actor = actor_for(db, team), actor_for(db, lead)
    at = "2026-11-23T09:00:00+08:00"
    # Three new items of team's unit, assigned to team's person and worked through by it.
    person, unit = c.execute("SELECT p.id, p.unit_id FROM users u JOIN people p "
                             "ON p.id = u.person_id WHERE u.username = 'team'").fetchone()
    aspect = c.execute("SELECT MIN(id) FROM aspects").fetchone()[0]
    chosen = []
    for n in range(3):
        iid = issues.create_issue(db, lead_actor, aspect_id=aspect, unit_id=unit,
                                  title=f"批量销号演示问题{n + 1}", at=at)
        owners.assign_issue(db, lead_actor, iid, version=None, responsible_person_id=person,
                            supervisor_person_id=person, deadline="2026-12-31", at=at)
        issues.add_measure(db, lead_actor, iid, title="补签外包合同", owner_person_id=person,
                           deadline="2026-12-15", at=at)
        issues.move_issue(db, lead_actor, iid, Move.START, version=None, at=at)
        issues.record_root_cause(db, team_actor, iid, new_cause_title="外包考核制度缺失", at=at)
        issues.record_accountability(db, team_actor, iid, not_applicable=True,
                                     reason="制度缺陷所致", at=at)
        for (mid,) in c.execute("SELECT id FROM measures WHERE issue_id = ?", (iid,)).fetchall():
            evidence_service.attach_evidence(db, team_actor, iid, filename=f"整改佐证M{mid}.pdf",
                                             data=PDF, evidence_root=evidence_dir(path),
                                             max_bytes=5 << 20, measure_id=mid, at=at)
            mv = c.execute("SELECT version FROM measures WHERE id = ?", (mid,)).fetchone()[0]
            issues.set_measure_status(db, team_actor, mid, version=mv, status="done", at=at)
        v = c.execute("SELECT version FROM issues WHERE id = ?", (iid,)).fetchone()[0]
        issues.move_issue(db, team_actor, iid, Move.SUBMIT, version=v, at=at)
        chosen.append(iid)
    c.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    c.close()
    return chosen


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory, browser) -> Iterator[tuple[str, Path, list]]:
    folder = tmp_path_factory.mktemp("batch")
    path = folder / "tracker.db"
    ready = _prepare(path)
    proc, url = start_app(path, folder / "streamlit.log")
    yield url, path, ready
    proc.terminate()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()


@pytest.fixture
def open_as(browser, demo):
    """open_as(user, url_path, viewport) → a signed-in page on that page of the app."""
    url, _, _ = demo
    contexts = []

    def make(user: str, url_path: str, viewport: dict | None = None):
        context = browser.new_context(locale="zh-CN", timezone_id="Asia/Shanghai",
                                      viewport=viewport or {"width": 1400, "height": 900})
        contexts.append(context)
        pg = context.new_page()
        pg.set_default_timeout(60_000)
        pg.goto(f"{url}/{url_path}")
        wait_idle(pg)
        login(pg, user, PASSWORD)
        return pg

    yield make
    for c in contexts:
        c.close()


def _query(path: Path, sql: str, params: tuple = ()) -> list[tuple]:
    con = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        return con.execute(sql, params).fetchall()
    finally:
        con.close()


def _expander(page, title: str):
    box = page.get_by_test_id("stExpander").filter(has_text=title).first
    box.locator("summary").first.click()
    wait_idle(page)
    return box


def _pick_all(page, box) -> None:
    box.get_by_role("button").filter(has_text="全选所示").first.click()
    wait_idle(page)


def test_a_rectifier_updates_five_items_at_once(open_as, demo):
    _, path, ready = demo
    page = open_as("team", "my-work")
    page.get_by_role("heading", name="我的任务").first.wait_for()
    person = _query(path, "SELECT person_id FROM users WHERE username = 'team'")[0][0]
    in_progress = [i for (i,) in _query(path, """
        SELECT id FROM issues WHERE responsible_person_id = ? AND status = 'in_progress'
          AND merged_into_id IS NULL""", (person,))]
    assert len(in_progress) == 5
    filters = _expander(page, "筛选")
    filters.get_by_test_id("stMultiSelect").filter(has_text="状态").first.click()
    page.get_by_role("option").filter(has_text="整改中").first.click()
    page.keyboard.press("Escape")
    wait_idle(page)
    box = _expander(page, "批量处理问题")
    _pick_all(page, box)
    assert box.get_by_role("button").filter(has_text="全选所示（5 项）").count() == 1
    box.get_by_label("整改进展（写入每个所选问题）").fill("已召开专题会，合同补签完成 80%")
    box.get_by_role("button").filter(has_text="保存到所选 5 项").click()
    wait_idle(page)
    page.get_by_text("5 项已完成，0 项未执行").first.wait_for()
    notes = _query(path, "SELECT progress FROM issues WHERE id IN (%s)"
                   % ",".join("?" * len(in_progress)), tuple(in_progress))
    assert [n for (n,) in notes] == ["已召开专题会，合同补签完成 80%"] * 5
    counted = _query(path, "SELECT COUNT(*) FROM history WHERE field = 'progress' "
                           "AND new = '已召开专题会，合同补签完成 80%'")[0][0]
    assert counted == 5


def _evidence_images(page) -> list[int]:
    """naturalWidth of every evidence image in the page (0: not loaded)."""
    page.wait_for_function("""() => [...document.querySelectorAll('img[src*="download/"]')]
        .every(i => i.complete)""")
    return page.evaluate("""() => [...document.querySelectorAll('img[src*="download/"]')]
        .map(i => i.naturalWidth)""")


def test_a_lead_strikes_off_three_after_viewing_their_evidence_inline(open_as, demo):
    _, path, ready = demo
    page = open_as("lead", "verify")
    page.get_by_role("heading", name="验收").first.wait_for()
    codes = dict(_query(path, "SELECT id, code FROM issues WHERE id IN (?,?,?)", tuple(ready)))
    queue = [i for (i,) in _query(path, """SELECT id FROM issues WHERE status = 'submitted'
             AND merged_into_id IS NULL ORDER BY submitted_at, code""")]
    grid = page.get_by_test_id("stDataFrame").first
    for iid in ready:
        row = queue.index(iid)
        heading = page.get_by_role("heading").filter(has_text=codes[iid]).first
        for attempt in range(3):   # the grid paints its canvas a moment after the run
            page.wait_for_timeout(1000)
            grid.scroll_into_view_if_needed()
            b = grid.bounding_box()
            page.mouse.click(b["x"] + 16, b["y"] + 35 + 17 + 35 * row)
            wait_idle(page)
            try:
                heading.wait_for(timeout=10_000)
                break
            except PlaywrightTimeout:
                if attempt == 2:
                    raise
        widths = _evidence_images(page)
        assert widths and all(w == 1000 for w in widths)   # the PDF's page, drawn on the server
    box = _expander(page, "批量验收销号")
    picker = box.get_by_test_id("stMultiSelect").first
    for iid in ready:
        if picker.get_by_text(codes[iid]).count():   # a typed code picks its first match
            continue
        field = picker.locator("input").first
        field.click()
        field.fill(codes[iid])
        page.get_by_role("option").filter(has_text=codes[iid]).first.wait_for()
        field.press("Enter")
        page.keyboard.press("Escape")
        wait_idle(page)
    assert picker.get_by_text("（已查看）").count() == 3
    box.get_by_text("我已逐项核对").click()
    box.get_by_role("button").filter(has_text="所选 3 项验收销号").click()
    wait_idle(page)
    page.get_by_text("3 项已完成，0 项未执行").first.wait_for()
    status = _query(path, "SELECT status, closed_by FROM issues WHERE id IN (?,?,?)",
                    tuple(ready))
    lead = _query(path, "SELECT id FROM users WHERE username = 'lead'")[0][0]
    assert status == [("closed", lead)] * 3


def _no_sideways_scroll(page) -> None:
    widths = page.evaluate("""() => ({doc: document.documentElement.scrollWidth,
        body: document.body.scrollWidth, view: window.innerWidth,
        main: Math.max(...[...document.querySelectorAll(
            '[data-testid=stMain], [data-testid=stAppViewContainer], section.main')]
            .map(e => e.scrollWidth - e.clientWidth), 0)})""")
    assert widths["doc"] <= widths["view"] and widths["body"] <= widths["view"], widths
    assert widths["main"] <= 0, widths


def _columns_in_view(page) -> list[list[str]]:
    """The column headers each table shows on the screen (the grid's accessible table holds
    the columns in view only)."""
    page.wait_for_timeout(1500)   # tables paint a moment after the run ends
    return page.evaluate("""() => [...document.querySelectorAll('[data-testid=stDataFrame]')]
        .map(df => [...df.querySelectorAll('table th[role=columnheader]')]
        .map(t => t.innerText))""")


def _tabs_out_of_view(page) -> list[str]:
    """The tabs of the page's tab bar not wholly on the screen (a bar that scrolls sideways by
    itself hides its last tabs behind an arrow)."""
    return page.evaluate("""() => [...document.querySelectorAll(
        '[data-testid=stTabs] [role=tab]')].filter(t => {
            const r = t.getBoundingClientRect();
            return r.left < 0 || r.right > window.innerWidth; }).map(t => t.innerText)""")


ISSUE_TABS = {"zh": ("概况", "整改措施", "佐证材料", "根源与责任追究", "延期", "变更记录"),
              "en": ("Overview", "Measures", "Evidence", "Root cause and accountability",
                     "Extensions", "History")}


def _every_tab_fits(page, lang: str) -> None:
    """Every tab of 问题详情 in view, and no tab's content widens the page."""
    for name in ISSUE_TABS[lang]:
        tab = page.get_by_role("tab", name=name, exact=True)
        assert _tabs_out_of_view(page) == [], name
        tab.click()
        wait_idle(page)
        _no_sideways_scroll(page)
    assert _tabs_out_of_view(page) == []


def _phone_shot(page, name: str) -> None:
    SCREENS.mkdir(parents=True, exist_ok=True)
    page.wait_for_timeout(1500)   # tables paint their canvas a moment after the run ends
    page.screenshot(path=str(SCREENS / name))


def test_the_rectifiers_pages_work_on_a_phone(open_as, demo):
    page = open_as("team", "my-work", PHONE)
    heading = page.get_by_role("heading", name="我负责的问题").first
    heading.wait_for()
    _no_sideways_scroll(page)
    # the work comes first: the list's heading is on the first screen, the filters are folded
    assert heading.bounding_box()["y"] < PHONE["height"] / 2
    filters = page.get_by_test_id("stExpander").filter(has_text="筛选").first
    assert filters.locator("details").first.get_attribute("open") is None
    # which items are red is seen without swiping the tables sideways: the warning follows
    # the code in the issues' and the measures' tables
    issues_cols, measures_cols = _columns_in_view(page)[:2]
    assert issues_cols[:3] == ["编号", "预警", "标题"], issues_cols
    assert measures_cols[:3] == ["编号", "预警", "措施"], measures_cols
    _phone_shot(page, "my_work_390.png")

    page.get_by_role("link").filter(has_text="打开问题详情").first.click()
    wait_idle(page)
    page.get_by_role("tab", name="佐证材料").wait_for()
    _no_sideways_scroll(page)
    _phone_shot(page, "issue_390.png")
    issue_url = page.url
    page.get_by_role("tab", name="佐证材料").click()
    wait_idle(page)
    upload = page.get_by_test_id("stForm").filter(has_text="上传佐证材料")
    upload.locator("input[type=file]").set_input_files(
        files=[{"name": "现场照片.png", "mimeType": "image/png", "buffer": _png()}])
    wait_idle(page)
    upload.get_by_role("button", name="上传").click()
    wait_idle(page)
    done = page.get_by_text("已上传 现场照片.png").first
    done.wait_for()
    _no_sideways_scroll(page)
    done.scroll_into_view_if_needed()      # the screenshot shows the upload's confirmation
    _phone_shot(page, "issue_upload_390.png")
    _every_tab_fits(page, "zh")

    # the same page in English, whose tab names are longer
    en = open_as("team", issue_url.split("/", 3)[3].replace("lang=zh", "lang=en"), PHONE)
    en.get_by_role("tab", name="History", exact=True).wait_for()
    _every_tab_fits(en, "en")


def _png() -> bytes:
    import io

    from PIL import Image
    out = io.BytesIO()
    Image.new("RGB", (1600, 1200), (200, 220, 240)).save(out, "PNG")
    return out.getvalue()
