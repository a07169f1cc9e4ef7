"""The verification page with two-level verification (逐级审核) on, the checks after closure
that are due and the recurrences to confirm, under AppTest on the hand-built programme: 初审 by
one lead, 复核销号 by another, the reopening at a check that needs a reason, a confirmed
recurrence."""
from __future__ import annotations

from audit import calendar_service
from issues import recurrence_service, recurrence_views
from issues import service as issues
from tests.test_issues_work_pages import _keys, _open, _submitted, p  # noqa: F401 (fixture)


def test_with_two_levels_one_lead_checks_first_and_another_strikes_off(make_app, p):
    calendar_service.set_setting(p.db, p.actors["admin"], "verification.two_level", "1",
                                 at=p.at("2026-11-01"))
    work = p.ids["work"]
    p.make_closable(work, day="2026-11-19")
    _submitted(p, work)
    app = _open(make_app, p, "lead", "verify")
    assert any("逐级审核" in i.value for i in app.info)
    assert "verify.check" in _keys(app) and "verify.close" not in _keys(app)
    app.button(key="verify.check").click().run()
    assert not app.exception and not app.error
    assert p.status(work) == "submitted"
    app.button(key="verify.next").click().run()
    assert "verify.close" not in _keys(app)
    assert any("初审" in i.value for i in app.info)          # why this lead may not strike off
    app = _open(make_app, p, "lead2", "verify")
    app.button(key="verify.close").click().run()
    assert not app.exception and not app.error
    assert p.status(work) == "closed"


def test_a_check_due_reopens_the_item_only_with_a_reason(make_app, p):
    work = p.ids["work"]
    p.make_closable(work, day="2026-11-19")
    _submitted(p, work)
    p.close(work, "2026-11-20")
    issues.schedule_recheck(p.db, p.actors["lead"], work, version=p.version(work),
                            due="2026-11-21", at=p.at("2026-11-20", 17))
    app = _open(make_app, p, "lead", "verify")
    app.button(key="recheck.reopen").click().run()
    assert any("复发原因" in w.value for w in app.warning)
    assert p.status(work) == "closed"
    app.text_area(key=f"recheck.{work}.reason").input("抽查发现又有合同先履行后签订")
    app.button(key="recheck.reopen").click().run()
    assert not app.exception and not app.error
    assert p.status(work) == "in_progress"
    assert recurrence_views.issue_flags(p.db, [work])[work]["recurring"]


def test_a_lead_confirms_a_possible_recurrence(make_app, p):
    late, work = p.ids["late"], p.ids["work"]
    recurrence_service.flag_recurrence(p.db, p.actors["lead"], late, earlier_id=work,
                                       version=p.version(late), at=p.at("2026-11-20"))
    app = _open(make_app, p, "lead", "verify")
    app.button(key=f"recheck.confirm.{late}").click().run()
    assert not app.exception and not app.error
    assert recurrence_views.issue_flags(p.db, [late])[late]["recurring"]


def test_the_administrator_switches_two_level_verification_on_and_sets_the_months(make_app, p):
    from tests import programme
    from tests.conftest import open_page, sign_in
    from audit.store import org
    app = make_app(p.path)
    sign_in(app, "admin", programme.PASSWORD)
    app = open_page(app, "admin")
    app.toggle(key="calendar.vset.two_level").set_value(True)
    app.number_input(key="calendar.vset.months.staged").set_value(3)
    app.button(key="calendar.save.vsettings").click().run()
    assert not app.exception and not app.error
    assert org.setting(p.db, "verification.two_level") == "1"
    assert org.setting(p.db, "recheck.months.staged") == "3"


def test_the_issue_page_shows_the_possible_recurrence_and_the_check_date(make_app, p):
    from tests import programme
    from tests.conftest import open_page, sign_in
    late, work = p.ids["late"], p.ids["work"]
    recurrence_service.flag_recurrence(p.db, p.actors["lead"], late, earlier_id=work,
                                       version=p.version(late), at=p.at("2026-11-20"))
    app = make_app(p.path)
    sign_in(app, "lead", programme.PASSWORD)
    app.query_params["id"] = str(late)
    app = open_page(app, "issue")
    assert not app.exception
    overview = app.dataframe[0].value.to_dict("records")
    assert {"项目": "疑似屡审屡犯", "内容": "待确认"} in overview or any(
        "待确认" in str(r) and "疑似屡审屡犯" in str(r) for r in overview)


def test_with_two_levels_many_pass_first_check_at_once_and_another_lead_strikes_them_off(
        make_app, p):
    """逐级审核 in the batch: one lead passes the picked items at 初审 (the one with nothing to
    show refused by itself), another lead strikes them off in a second batch."""
    calendar_service.set_setting(p.db, p.actors["admin"], "verification.two_level", "1",
                                 at=p.at("2026-11-01"))
    work, late = p.ids["work"], p.ids["late"]
    p.make_closable(work, day="2026-11-19")
    _submitted(p, work)
    _submitted(p, late)                       # no cause, accountability or evidence yet
    app = _open(make_app, p, "lead", "verify")
    assert "verify.batch.save.check" in _keys(app)
    app.button(key="verify.batch.all").click().run()
    app.button(key="verify.batch.save.check").click().run()
    assert not app.exception and "核对" in app.error[0].value    # the check is confirmed first
    assert p.db.conn.execute("SELECT COUNT(*) FROM issues WHERE checked_by IS NOT NULL"
                             ).fetchone()[0] == 0
    app.checkbox(key="verify.batch.checked_first").check()
    app.button(key="verify.batch.save.check").click().run()
    assert not app.exception
    table = next(d.value for d in app.dataframe if "结果" in getattr(d.value, "columns", ()))
    codes = dict(p.db.conn.execute("SELECT id, code FROM issues WHERE id IN (?, ?)",
                                   (work, late)).fetchall())
    result = {item.split()[0]: (done, why) for item, done, why in
              zip(table["项目"], table["结果"], table["原因"])}
    assert result[codes[work]] == ("已完成", "")
    assert result[codes[late]][0] == "未执行" and "三不放过" in result[codes[late]][1]
    lead = p.db.conn.execute("SELECT id FROM users WHERE username = 'lead'").fetchone()[0]
    checked = dict(p.db.conn.execute("SELECT id, checked_by FROM issues WHERE id IN (?, ?)",
                                     (work, late)).fetchall())
    assert checked == {work: lead, late: None}
    assert [p.status(i) for i in (work, late)] == ["submitted", "submitted"]
    app = _open(make_app, p, "lead2", "verify")
    app.button(key="verify.batch.all").click().run()
    app.checkbox(key="verify.batch.checked").check()
    app.button(key="verify.batch.save.close").click().run()
    assert not app.exception
    assert [p.status(i) for i in (work, late)] == ["closed", "submitted"]
