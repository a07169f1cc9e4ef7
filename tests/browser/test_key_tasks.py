"""Each user's key task in a real browser, on the demo the app builds at first start, counting
the actions a person takes (a click, a typed field, a file chosen, a choice made; signing in is
one) and failing above six: (1) a rectifier finds its red items and updates one; (2) it
completes a measure with its evidence and submits the issue; (3) an audit lead strikes an item
off and returns another; (4) a manager reads its unit's figures and opens its overdue items;
(5) a lead imports a field ledger; (6) a lead downloads the Word pack.

Every task runs in Chinese and in English. After every action the screen is scanned: no error
box, no text of the other language outside the data (the catalogues say what the tool's own
text is; the demo database says what the data is), and no element whose text overflows a box
that hides it without a tooltip. The last screen of each task is saved under docs/screens/ when
AUDIT_SCREENS is set (e.g. AUDIT_SCREENS=docs/screens), else in a temporary folder."""
from __future__ import annotations

import os
import re
import sqlite3
import subprocess
import tempfile

from pathlib import Path
from typing import Callable, Iterator

import pytest

from audit import messages_en, messages_zh, time_model
from audit.messages import LANG_NAMES, label, t
from tests.browser.conftest import ROOT, start_app, wait_idle

PASSWORD = "demo1234"
MAX_ACTIONS = 6
SCREENS = Path(os.environ.get("AUDIT_SCREENS")
               or Path(tempfile.gettempdir()) / "audit-screens")
if not SCREENS.is_absolute():
    SCREENS = ROOT / SCREENS
CJK = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]+")
PLACEHOLDER = re.compile(r"\{[^{}]*\}")

# Text nodes of the page as a person sees them: no icon ligatures (":material/…:" renders as a
# word in an icon font), nothing hidden.
VISIBLE_TEXT_JS = """() => {
  const out = [];
  const walk = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  while (walk.nextNode()) {
    const node = walk.currentNode, el = node.parentElement;
    if (!el || el.closest('script, style, noscript, [data-testid="stIconMaterial"]')) continue;
    const s = getComputedStyle(el);
    if (s.display === 'none' || s.visibility === 'hidden' || /Material/.test(s.fontFamily)) continue;
    const r = el.getBoundingClientRect();
    // Not drawn, or drawn off the page or in a 1-pixel box (a skip link until it has focus).
    if (!el.getClientRects().length || r.width <= 1 || r.height <= 1 || r.right <= 0
        || r.bottom <= 0 || s.clip === 'rect(0px, 0px, 0px, 0px)') continue;
    const text = node.textContent.trim();
    if (text) out.push(text);
  }
  return out;
}"""

# Elements whose own text is wider than a box that hides the rest, with no tooltip to read it.
OVERFLOW_JS = r"""() => {
  const bad = [];
  const hides = s => [s.overflow, s.overflowX].some(v => v === 'hidden' || v === 'clip');
  for (const el of document.querySelectorAll('[data-testid="stMain"] *, [data-testid="stSidebar"] *')) {
    if (![...el.childNodes].some(n => n.nodeType === 3 && n.textContent.trim())) continue;
    if (!el.getClientRects().length || el.closest('svg, [title], [data-testid="stTooltipHoverTarget"]')
        || /Material/.test(getComputedStyle(el).fontFamily)) continue;
    const r = el.getBoundingClientRect(), own = getComputedStyle(el);
    // A label for screen readers only (a 1-pixel clipped box) is not text cut off.
    if (r.width <= 1 || r.height <= 1 || own.clip !== 'auto' && own.clip !== ''
        || /inset\(50%\)/.test(own.clipPath)) continue;
    for (const box of [el, el.parentElement]) {
      if (!box || box.clientWidth === 0) continue;
      const s = getComputedStyle(box);
      if (hides(s) && box.scrollWidth > box.clientWidth + 1) {
        bad.push(el.textContent.trim().slice(0, 80) + ' <' + el.tagName.toLowerCase() + ' '
                 + (el.closest('[data-testid]')?.getAttribute('data-testid') || '') + '>');
        break;
      }
    }
  }
  return bad;
}"""


def _fragments(texts: dict[str, str]) -> set[str]:
    """Runs of three or more Chinese characters in a catalogue's texts (placeholders out)."""
    found: set[str] = set()
    for value in texts.values():
        found.update(m for m in CJK.findall(PLACEHOLDER.sub(" ", str(value))) if len(m) >= 3)
    return found


def _words(texts: dict[str, str]) -> set[str]:
    """English words of four letters or more in a catalogue's texts (placeholders out)."""
    return {w.lower() for value in texts.values()
            for w in re.findall(r"[A-Za-z]{4,}", PLACEHOLDER.sub(" ", str(value)))}


def _data_text(db_path: Path) -> str:
    """Every text value in the database: what users typed and the demo made (names, titles,
    descriptions, settings), which stays as it is in either language."""
    con = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True)
    try:
        tables = [r[0] for r in con.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE '%fts%'")]
        out = []
        for table in tables:
            for row in con.execute(f'SELECT * FROM "{table}"'):
                out.extend(v for v in row if isinstance(v, str))
        return "\n".join(out)
    finally:
        con.close()


# Streamlit's own texts, which the other half of issue 17 replaces (uploader, select box
# placeholder, form instructions): skipped by the scan and listed by the xfail test below, so
# that what this module finds is the tool's own text.
STREAMLIT_OWN = re.compile(r"^(Upload|Browse files|Drag and drop files? here|Limit .* per file.*"
                           r"|Choose an option|Choose options|Press .*Enter to (submit form|apply)"
                           r"|Skip to main content)$")
SEEN_STREAMLIT_OWN: set[str] = set()

ZH_FRAGMENTS = _fragments(messages_zh.TEXTS) - _fragments(messages_en.TEXTS)
EN_WORDS = (_words(messages_en.TEXTS) - _words(messages_zh.TEXTS)
            - {w.lower() for w in LANG_NAMES.values()})


class Task:
    """One person's task: the actions taken, counted, and the screen checked after each."""

    def __init__(self, page, lang: str, db_path: Path, name: str):
        self.page, self.lang, self.name, self.db_path = page, lang, name, db_path
        self.actions: list[str] = []
        self.problems: list[str] = []
        self.data = _data_text(db_path)

    def act(self, what: str, do: Callable[[], None]) -> None:
        """Take one action, wait for the app, check the screen."""
        do()
        self.actions.append(what)
        wait_idle(self.page)
        self.check(what)

    def check(self, where: str) -> None:
        page = self.page
        for box in page.locator('[data-testid="stException"], '
                                '[data-testid="stAlertContentError"]').all():
            self.problems.append(f"{where}: error box: {box.inner_text()[:160]}")
        for text in page.evaluate(VISIBLE_TEXT_JS):
            if text in self.data:
                continue
            if STREAMLIT_OWN.match(text):
                SEEN_STREAMLIT_OWN.add(f"{self.lang}: {text}")
                continue
            if self.lang == "en":
                leaked = [f for f in ZH_FRAGMENTS if f in text and f not in self.data]
                if leaked or ("、" in text and re.search("[A-Za-z]", text)):
                    self.problems.append(f"{where}: Chinese on the English screen: {text[:100]!r}")
            else:
                leaked = [w for w in re.findall(r"[A-Za-z]{4,}", text)
                          if w.lower() in EN_WORDS and w not in self.data]
                if leaked:
                    self.problems.append(f"{where}: English on the Chinese screen: "
                                         f"{leaked} in {text[:100]!r}")
        for text in page.evaluate(OVERFLOW_JS):
            self.problems.append(f"{where}: cut off without a way to read it: {text!r}")

    def finish(self) -> None:
        """Save the last screen; fail above six actions or on any problem seen."""
        page = self.page
        SCREENS.mkdir(parents=True, exist_ok=True)
        page.set_viewport_size({"width": 1400, "height": 2400})
        wait_idle(page)
        # Streamlit scrolls inside its own container: show the page from its top.
        page.evaluate("document.querySelector('[data-testid=\"stMain\"]')?.scrollTo(0, 0)")
        page.screenshot(path=str(SCREENS / f"{self.name}-{self.lang}.png"), full_page=True)
        assert len(self.actions) <= MAX_ACTIONS, (len(self.actions), self.actions)
        problems = list(dict.fromkeys(self.problems))
        assert not problems, "\n".join(problems)


@pytest.fixture(scope="module", params=["zh", "en"])
def demo(request, tmp_path_factory, browser) -> Iterator[tuple[str, Path, str]]:
    """The app on a fresh path (it builds the demo itself), one per language."""
    folder = tmp_path_factory.mktemp(f"tasks-{request.param}")
    db_path = folder / "tracker.db"
    proc, url = start_app(db_path, folder / "streamlit.log")
    yield url, db_path, request.param
    proc.terminate()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()


@pytest.fixture
def task(browser, demo, request):
    """task(name) → a Task on a fresh browser session in the demo's language, at sign-in."""
    url, db_path, lang = demo
    contexts = []

    def make(name: str) -> Task:
        context = browser.new_context(locale="zh-CN" if lang == "zh" else "en-US",
                                      timezone_id="Asia/Shanghai",
                                      viewport={"width": 1400, "height": 900})
        contexts.append(context)
        page = context.new_page()
        page.set_default_timeout(60_000)
        page.goto(url + ("/?lang=en" if lang == "en" else "/"))
        wait_idle(page)
        return Task(page, lang, db_path, name)

    yield make
    for c in contexts:
        c.close()


def _sign_in(task: Task, username: str) -> None:
    page = task.page

    def do() -> None:
        form = page.get_by_test_id("stForm")
        form.get_by_role("textbox").nth(0).fill(username)
        form.get_by_role("textbox").nth(1).fill(PASSWORD)
        form.get_by_test_id("stBaseButton-primaryFormSubmit").click()
    task.act("sign in", do)
    page.get_by_test_id("stSidebarNav").wait_for()


def _key(key: str) -> str:
    """The CSS class Streamlit gives the element of a widget with this key."""
    return ".st-key-" + re.sub(r"[^a-zA-Z0-9_-]", "-", key)


def _pick_row(task: Task, table_key: str, index: int) -> None:
    """Click row `index` of a selectable dataframe (a canvas: the row is clicked by position)."""
    page = task.page
    grid = page.locator(f'[class*="{_key(table_key)[1:]}"]').get_by_test_id("stDataFrame")
    grid.scroll_into_view_if_needed()
    box = grid.bounding_box()
    task.act(f"pick row {index + 1}", lambda: page.mouse.click(
        box["x"] + 14, box["y"] + 35 + 35 * index + 17))


def _nav(task: Task, title_key: str) -> None:
    title = t(title_key, task.lang)
    task.act(f"open {title}", lambda: task.page.get_by_test_id("stSidebarNav")
             .get_by_text(title, exact=True).click())


def _query(db_path: Path, sql: str, params: tuple = ()) -> list[tuple]:
    con = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True)
    try:
        return con.execute(sql, params).fetchall()
    finally:
        con.close()


def _actor_rows(db_path: Path, username: str, view: str):
    """What 我的任务 / 验收 lists for a demo account now (the page's own read models)."""
    from audit.demo import demo_actor
    from audit.store.db import open_database
    from issues import work_views
    db = open_database(db_path, migrate=False)
    try:
        actor = demo_actor(db, username)
        # The app's today (Asia/Shanghai), not the machine's: from 16:00 UTC they differ.
        return getattr(work_views, view)(db, actor, time_model.today())
    finally:
        db.conn.close()


def test_1_rectifier_finds_its_red_items_and_updates_one(task):
    run = task("task1-rectifier-red")
    page = run.page
    _sign_in(run, "team")
    # The rectifier lands on 我的任务, red first, the first item open for a quick update.
    page.get_by_role("heading", name=t("page.my_work", run.lang)).wait_for()
    first = _actor_rows(run.db_path, "team", "my_issues")[0]
    assert first["warning"] == "red"
    box = page.locator(_key(f"mywork.i{first['id']}.progress")).get_by_role("textbox")
    run.act("type the progress", lambda: box.fill("已完成外包合同补充法律审核 2 份，其余本周完成。"))
    run.act("save", lambda: page.locator(_key("mywork.save.progress")).get_by_role("button")
            .click())
    page.get_by_text(t("mywork.progress_saved", run.lang, code=first["code"])).wait_for()
    run.finish()


def test_2_rectifier_completes_a_measure_with_evidence_and_submits(task):
    from audit.demo import evidence_pdf
    run = task("task2-rectifier-complete")
    page = run.page
    _sign_in(run, "team")
    rows = _actor_rows(run.db_path, "team", "my_measures")
    # The item whose last open measure is the rectifier's own, with nothing else missing.
    target = next(m for m in rows if m["mine"] and m["status"] != "done"
                  and m["closure_missing"] == ["measures_done", "measure_evidence"]
                  and sum(o["issue_id"] == m["issue_id"] and o["status"] != "done"
                          for o in rows) == 1)
    mid = target["id"]
    _pick_row(run, "mywork.measures", rows.index(target))
    page.get_by_text(t("mywork.update_measure", run.lang, id=mid)).wait_for()
    form = page.get_by_test_id("stForm").filter(has=page.locator(_key("mywork.done.measure")))
    run.act("choose the evidence file", lambda: form.locator("input[type=file]").set_input_files(
        files=[{"name": f"整改佐证-M{mid}.pdf", "mimeType": "application/pdf",
                "buffer": evidence_pdf(f"evidence {mid}")}]))
    run.act("mark done with evidence", lambda: page.locator(_key("mywork.done.measure"))
            .get_by_role("button").click())
    submit = page.locator(_key(f"mywork.submit.m{mid}")).get_by_role("button")
    assert "primary" in (submit.get_attribute("data-testid") or ""), \
        "提交验收 is the main button once nothing is missing"
    run.act("submit for verification", lambda: submit.click())
    assert _query(run.db_path, "SELECT status FROM issues WHERE id = ?",
                  (target["issue_id"],)) == [("submitted",)]
    run.finish()


def test_3_lead_strikes_an_item_off_and_returns_another(task):
    run = task("task3-lead-verify")
    page = run.page
    _sign_in(run, "lead2")
    page.get_by_role("heading", name=t("page.verify", run.lang)).wait_for()
    queue = _actor_rows(run.db_path, "lead2", "verify_queue")
    closable = [r for r in queue if r["may_strike_off"] and not r["closure_missing"]]
    assert len(queue) >= 2 and closable
    first = closable[0]
    if queue.index(first) != 0:
        _pick_row(run, "verify.queue", queue.index(first))
    run.act("strike off", lambda: page.locator(_key("verify.close")).get_by_role("button")
            .click())
    assert _query(run.db_path, "SELECT status FROM issues WHERE id = ?",
                  (first["id"],)) == [("closed",)]
    # The result is held on screen; the next item opens on its own click (no double click
    # can strike off the item that would open next). It is the first of the queue.
    run.act("open the next item", lambda: page.locator(_key("verify.next"))
            .get_by_role("button").click())
    other = _actor_rows(run.db_path, "lead2", "verify_queue")[0]
    reason = page.locator(_key(f"verify.{other['id']}.reason")).get_by_role("textbox")
    run.act("type the reason", lambda: reason.fill("佐证材料不全，请补充结算比对表后重新提交"))
    run.act("return", lambda: page.locator(_key("verify.return")).get_by_role("button").click())
    assert _query(run.db_path, "SELECT status FROM issues WHERE id = ?",
                  (other["id"],)) == [("in_progress",)]
    run.finish()


def test_4_manager_reads_its_figures_and_opens_its_overdue_items(task):
    run = task("task4-manager-overdue")
    page = run.page
    _sign_in(run, "manager")
    page.get_by_test_id("stMetric").first.wait_for()
    overdue = page.locator(_key("dash.overdue"))
    run.act("list the overdue items", lambda: overdue.locator("label").first.click())
    links = page.get_by_test_id("stPageLink")
    links.first.wait_for()
    red = _query(run.db_path, """
        SELECT COUNT(*) FROM issues i JOIN units u ON u.id = i.unit_id
        WHERE (u.code = 'BT' OR u.code LIKE 'BT-%') AND i.status IN ('not_started',
              'in_progress', 'submitted') AND i.deadline < date('now', '+8 hours')""")[0][0]
    assert red >= 2 and links.count() >= red
    run.finish()


def test_5_lead_imports_a_field_ledger(task):
    from tests.ledger_factory import row, table, xlsx_bytes
    run = task("task5-lead-import")
    page = run.page
    _sign_in(run, "lead")
    _nav(run, "page.import")
    data = xlsx_bytes(table(row(1, 问题编号="", 问题类别="外包合同管理", 问题方面="合同签订",
                                责任单位="包头市分公司", 责任人="新同事", 整改状态="未启动")))
    run.act("choose the ledger file", lambda: page.locator('[class*="st-key-issues-import-file"]')
            .locator("input[type=file]").set_input_files(files=[{
                "name": "包头台账.xlsx", "buffer": data, "mimeType":
                "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"}]))
    before = _query(run.db_path, "SELECT COUNT(*) FROM issues")[0][0]
    run.act("import", lambda: page.locator(_key("issues.import.confirm")).get_by_role("button")
            .click())
    assert _query(run.db_path, "SELECT COUNT(*) FROM issues")[0][0] == before + 1
    run.finish()


def test_6_lead_downloads_the_word_pack(task):
    run = task("task6-lead-pack")
    page = run.page
    _sign_in(run, "lead")
    _nav(run, "page.io")
    run.act("build the pack", lambda: page.locator(_key("exports.io.report"))
            .get_by_role("button").click())
    button = page.locator(_key("exports.io.download")).get_by_role("button")
    button.wait_for(timeout=180_000)
    with page.expect_download(timeout=120_000) as download:
        run.act("download", lambda: button.click())
    path = download.value.path()
    assert path and Path(path).read_bytes()[:2] == b"PK"
    run.finish()


def test_the_role_is_stated_once_in_the_sidebar(task):
    run = task("sidebar")
    _sign_in(run, "team")
    said = run.page.get_by_test_id("stSidebar").inner_text()
    assert said.count(label("role", "rectifier", run.lang)) == 1


@pytest.mark.xfail(reason="Streamlit's own widget texts: replaced by the other half of issue 17",
                   strict=False)
def test_no_streamlit_widget_english_was_seen_on_any_task_screen():
    assert not SEEN_STREAMLIT_OWN, sorted(SEEN_STREAMLIT_OWN)
