"""A double submit records one thing: every creating form's service spends a one-time form
token in its write transaction (a second submit of the same drawing records nothing and is
answered with the first result), the pages bind the token to the drawn form and blank it after
a save; and a double click on 销号, 退回, 特殊原因终结 or 确认合并 cannot reach the next item
(the result is held on screen, the next item opens on an explicit click, and the id and version
bound to the pressed button refuse a second action)."""
from __future__ import annotations

from datetime import date

import pytest

from audit import accounts_service
from audit.model import AlreadySubmitted, StaleEdit, ValidationFailed
from issues import escalation_service, evidence_service, meeting_service, merge_service
from issues import service as issues
from issues.model import Move
from owners import service as owners
from tests import programme
from tests.conftest import open_page, sign_in

TOKEN = "t" * 24


@pytest.fixture
def p(tmp_path):
    prog = programme.build(tmp_path)
    prog.ids = {}
    prog.ids["work"] = prog.new_issue("外包合同先履行后签订", unit="A", aspect="C1.1")
    prog.assign(prog.ids["work"], deadline="2030-03-31")
    prog.ids["m_work"] = prog.measure(prog.ids["work"], deadline="2030-03-31")
    prog.start(prog.ids["work"])
    prog.db.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    yield prog
    prog.db.conn.close()


def _count(p, table: str) -> int:
    return p.db.conn.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0]


def _creations(p):
    """(form, table, submit(token) → id) for every form that creates something."""
    work, lead, rect = p.ids["work"], p.actors["lead"], p.actors["rect"]
    at = p.at("2026-11-20")
    return [
        ("measure", "measures", lambda tok: issues.add_measure(
            p.db, lead, work, title="补签合同", at=at, form_token=tok)),
        ("evidence", "evidence", lambda tok: evidence_service.attach_evidence(
            p.db, rect, work, filename="佐证.pdf", data=programme.PDF,
            evidence_root=p.evidence_root, max_bytes=programme.MAX_UPLOAD, at=at,
            form_token=tok)),
        ("cause", "issue_causes", lambda tok: issues.record_root_cause(
            p.db, rect, work, new_cause_title="合同审核流程缺失", at=at, form_token=tok)),
        ("accountability", "accountability", lambda tok: issues.record_accountability(
            p.db, rect, work, not_applicable=True, reason="制度缺陷", at=at, form_token=tok)),
        ("extension", "extensions", lambda tok: owners.extend_deadline(
            p.db, lead, work, version=None, new_deadline="2030-06-30", reason="待法院判决",
            at=at, form_token=tok)),
        ("user", "users", lambda tok: accounts_service.create_user(
            p.db, p.actors["admin"], "newbie", "Newbie-pass-1", "rectifier",
            unit_id=p.units["A"], at=at, form_token=tok)),
        ("unit", "units", lambda tok: owners.create_unit(
            p.db, p.actors["admin"], code="A2", name="乙县分公司", level="county",
            parent_code="A", at=at, form_token=tok)),
        ("person", "people", lambda tok: owners.create_person(
            p.db, p.actors["admin"], name="新同事", unit_id=p.units["A"], at=at,
            form_token=tok)),
        # A meeting recorded twice would count every red item's red meetings twice.
        ("meeting", "meetings", lambda tok: meeting_service.record_meeting(
            p.db, lead, held_on="2026-11-20", title="第一次推进会", at=at,
            form_token=tok)),
    ]


FORMS = ("measure", "evidence", "cause", "accountability", "extension", "user", "unit",
         "person", "meeting")


@pytest.mark.parametrize("form", FORMS)
def test_a_second_submit_of_the_same_form_records_nothing_and_returns_the_first_result(
        p, form):
    name, table, submit = next(c for c in _creations(p) if c[0] == form)
    before = _count(p, table)
    history = _count(p, "history")
    first = submit(TOKEN)
    after_first = (_count(p, table), _count(p, "history"))
    with pytest.raises(AlreadySubmitted) as refused:
        submit(TOKEN)
    assert refused.value.result == first
    assert _count(p, table) == before + 1
    assert (_count(p, table), _count(p, "history")) == after_first
    assert after_first[1] > history


@pytest.mark.parametrize("form", FORMS)
def test_each_new_drawing_of_a_form_may_record_again(p, form):
    """A new token (the form drawn again, blank, filled again) is a new record, not a repeat:
    only measures and accountability may repeat their values, the rest refuse duplicates by
    their own rules."""
    name, table, submit = next(c for c in _creations(p) if c[0] == form)
    submit("a" * 24)
    try:
        submit("b" * 24)
    except AlreadySubmitted:  # pragma: no cover - the point of the test
        pytest.fail("a fresh token was refused")
    except ValidationFailed:
        pass  # the same username, unit code, person name, deadline: refused by its own rule


def test_a_refused_submit_keeps_its_token_for_the_corrected_one(p):
    rect = p.actors["rect"]
    with pytest.raises(ValidationFailed):
        issues.record_accountability(p.db, rect, p.ids["work"], not_applicable=True,
                                     reason="", at=p.at("2026-11-20"), form_token=TOKEN)
    issues.record_accountability(p.db, rect, p.ids["work"], not_applicable=True,
                                 reason="制度缺陷", at=p.at("2026-11-20"), form_token=TOKEN)
    assert _count(p, "accountability") == 1


def test_a_dependency_and_the_escalation_steps_recorded_twice_are_recorded_once(p):
    lead = p.actors["lead"]
    other = p.measure(p.ids["work"], deadline="2030-03-31", title="完善审核流程")
    for _ in range(2):
        issues.add_dependency(p.db, lead, p.ids["m_work"], other, at=p.at("2026-11-20"))
    assert _count(p, "measure_deps") == 1
    late = p.new_issue("结算单据审核签字不全", unit="A1", aspect="C2.1")
    p.assign(late, deadline="2026-02-27")
    p.measure(late, deadline="2026-02-27")
    p.start(late)
    first = escalation_service.record_escalations(p.db, lead, date(2026, 11, 20),
                                                  p.at("2026-11-20"))
    again = escalation_service.record_escalations(p.db, lead, date(2026, 11, 20),
                                                  p.at("2026-11-20", 10, 1))
    assert first and again == []
    assert _count(p, "escalations") == len(first)


def test_a_merge_confirmed_twice_merges_once_and_a_changed_issue_is_refused(p):
    lead = p.actors["lead"]
    a = p.new_issue("合同变更未履行审批程序", unit="A", aspect="C1.2")
    b = p.new_issue("合同变更未履行审批程序", unit="A", aspect="C1.2", day="2026-01-08")
    shown = {a: p.version(a), b: p.version(b)}
    merge_service.confirm_cluster(p.db, lead, [a, b], a, p.at("2026-11-20"), versions=shown)
    with pytest.raises(StaleEdit):
        merge_service.confirm_cluster(p.db, lead, [a, b], a, p.at("2026-11-20", 10, 1),
                                      versions=shown)
    assert _count(p, "merges") == 1


# --- the pages --------------------------------------------------------------------------------

def _open(make_app, p, who: str, url: str, issue_id: int | None = None):
    app = sign_in(make_app(p.path), who, programme.PASSWORD)
    if issue_id is not None:
        app.query_params["id"] = str(issue_id)
    return open_page(app, url)


def test_pressing_save_twice_on_the_accountability_form_records_one(make_app, p):
    iid = p.ids["work"]
    app = _open(make_app, p, "rect", "issue", iid)
    app.radio(key=f"issue.{iid}.acc.mode").set_value("person")
    app.text_input(key=f"issue.{iid}.acc.person").input("张三")
    app.text_input(key=f"issue.{iid}.acc.action").input("通报批评")
    app.button(key="issue.save.acc").click().run()
    assert not app.exception and not app.error
    # The form is blank again (the browser is told so), and a second press records nothing.
    assert app.text_input(key=f"issue.{iid}.acc.person").value == ""
    assert app.text_input(key=f"issue.{iid}.acc.action").value == ""
    app.button(key="issue.save.acc").click().run()
    assert not app.exception
    assert _count(p, "accountability") == 1


def test_a_resent_submit_of_the_same_drawing_shows_the_first_result(make_app, p):
    """The token is bound to the drawing: a submit carrying a spent token (a request resent
    before the page was drawn again) records nothing and says so."""
    iid = p.ids["work"]
    app = _open(make_app, p, "rect", "issue", iid)
    token = app.session_state["audit.form_token.issue.accountability"]
    issues.record_accountability(p.db, p.actors["rect"], iid, not_applicable=True,
                                 reason="制度缺陷", at=p.at("2026-11-20"), form_token=token)
    app.radio(key=f"issue.{iid}.acc.mode").set_value("na")
    app.text_area(key=f"issue.{iid}.acc.reason").input("制度缺陷")
    app.button(key="issue.save.acc").click().run()
    assert not app.exception and not app.error
    assert any("已经提交过" in i.value for i in app.info)
    assert _count(p, "accountability") == 1
    assert app.session_state["audit.form_token.issue.accountability"] != token


def test_pressing_add_user_twice_creates_one_account(make_app, p):
    app = _open(make_app, p, "admin", "admin")
    form = "audit.admin.add_user"
    fields = [w for w in app.text_input if w.form_id == form]
    fields[0].input("newbie")
    fields[1].input("新同事")
    fields[2].input("Newbie-pass-1")
    button = next(b for b in app.button if b.form_id == form)
    button.click().run()
    assert any("newbie" in s.value for s in app.success)
    next(b for b in app.button if b.form_id == form).click().run()
    assert not app.exception
    assert p.db.conn.execute("SELECT COUNT(*) FROM users WHERE username = 'newbie'"
                             ).fetchone()[0] == 1


def _two_submitted(p) -> tuple[int, int]:
    p.make_closable(p.ids["work"], day="2026-11-19")
    p.submit(p.ids["work"], "2026-11-20")
    second = p.new_issue("结算单据审核签字不全", unit="A", aspect="C2.1")
    p.assign(second, deadline="2030-03-31")
    p.measure(second, deadline="2030-03-31")
    p.start(second)
    p.make_closable(second, day="2026-11-19")
    p.submit(second, "2026-11-21")
    return p.ids["work"], second


def test_after_strike_off_the_result_is_held_and_the_next_item_opens_on_a_click(make_app, p):
    first, second = _two_submitted(p)
    app = _open(make_app, p, "lead", "verify")
    app.button(key="verify.close").click().run()
    assert not app.exception and not app.error
    assert p.status(first) == "closed"
    keys = {b.key for b in app.button}
    # A second click finds no strike-off button in the place of the first.
    assert "verify.close" not in keys and "verify.next" in keys
    assert any("已销号" in s.value for s in app.success)
    assert p.status(second) == "submitted"
    app.button(key="verify.next").click().run()
    assert "verify.close" in {b.key for b in app.button}
    assert p.status(second) == "submitted"


def test_a_strike_off_aimed_at_the_item_shown_is_refused_once_it_has_moved(p):
    """What a second click that still reaches the pressed button sends: the id and version it
    was drawn with. The service refuses it; it never strikes off another item."""
    first, second = _two_submitted(p)
    shown = p.version(first)
    issues.move_issue(p.db, p.actors["lead"], first, Move.CLOSE, version=shown,
                      at=p.at("2026-11-22"))
    with pytest.raises(StaleEdit):
        issues.move_issue(p.db, p.actors["lead"], first, Move.CLOSE, version=shown,
                          at=p.at("2026-11-22", 10, 1))
    assert p.status(second) == "submitted"


def test_after_a_final_move_on_the_issue_page_the_buttons_wait_for_a_click(make_app, p):
    iid = p.ids["work"]
    app = _open(make_app, p, "lead", "issue", iid)
    app.text_area(key=f"issue.{iid}.reason").input("机构撤并，问题不再存在")
    app.button(key="issue.move.end").click().run()
    assert not app.exception and not app.error
    assert p.status(iid) == "ended"
    keys = {b.key for b in app.button}
    assert not any(k and k.startswith("issue.move.") for k in keys)
    app.button(key="issue.held.continue").click().run()
    assert "issue.move.reopen" in {b.key for b in app.button}
    assert app.text_area(key=f"issue.{iid}.reason").value == ""


def test_after_an_import_the_uploader_is_fresh_and_the_old_preview_is_gone(demo_path, tmp_path,
                                                                          make_app):
    """The imported file is not left loaded: a second 确认导入 cannot import it again, and the
    page does not redraw "无变化 … 无需导入" with the old shortfalls and a bar at 检查数据."""
    from tests.conftest import copy_database
    from tests.ledger_factory import row, table, xlsx_bytes
    path = copy_database(demo_path, tmp_path / "demo.db")
    app = open_page(sign_in(make_app(path), "lead", "demo1234"), "import")
    data = xlsx_bytes(table(row(1, 问题编号="", 问题类别="外包合同管理", 问题方面="合同签订",
                                责任单位="包头市分公司", 责任人="新同事", 整改状态="已销号")))
    app.file_uploader(key="issues.import.file.0").set_value(
        ("台账.xlsx", data, "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"))
    app.run()
    assert not app.get("progress")  # read and checked: no bar left at 检查数据
    before = sqlite3_count(path)
    app.button(key="issues.import.confirm").click().run()
    assert not app.exception
    assert any("导入完成" in s.value for s in app.success)
    assert [u.key for u in app.file_uploader] == ["issues.import.file.1"]
    assert app.file_uploader[0].value is None
    assert "issues.import.confirm" not in {b.key for b in app.button}
    assert not app.info and not app.dataframe and not app.get("progress")
    assert sqlite3_count(path) == before + 1


def sqlite3_count(path) -> int:
    import sqlite3
    conn = sqlite3.connect(path)
    try:
        return conn.execute("SELECT COUNT(*) FROM issues").fetchone()[0]
    finally:
        conn.close()
