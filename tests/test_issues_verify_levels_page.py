"""The verification page with two-level verification (逐级审核) on, the checks after closure
that are due and the recurrences to confirm, under AppTest on the hand-built programme: 初审 by
one lead, 复核销号 by another, the reopening at a check that needs a reason, a confirmed
recurrence."""
from __future__ import annotations

from audit import calendar_service
from issues import recurrence_service, recurrence_views
from issues import service as issues
from tests.test_issues_work_pages import _keys, _open, _submitted, p  # noqa: F401 (fixture)


def _two_levels_and_submitted(p) -> int:
    """Two-level verification on, and the programme's 'work' issue closable and submitted."""
    calendar_service.set_setting(p.db, p.actors["admin"], "verification.two_level", "1",
                                 at=p.at("2026-11-01"))
    work = p.ids["work"]
    p.make_closable(work, day="2026-11-19")
    _submitted(p, work)
    return work


def test_with_two_levels_one_lead_checks_first_and_another_strikes_off(make_app, p):
    work = _two_levels_and_submitted(p)
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


def test_the_batch_does_the_first_check_and_then_the_strike_off(make_app, p):
    work = _two_levels_and_submitted(p)

    def batch(who: str):
        app = _open(make_app, p, who, "verify")
        assert app.button(key="verify.batch.save.close").label.startswith("所选 0 项按所处层级审核")
        app.button(key="verify.batch.all").click().run()
        app.checkbox(key="verify.batch.checked").check()
        app.button(key="verify.batch.save.close").click().run()
        assert not app.exception and not app.error
        return app

    app = batch("lead")
    table = next(d.value for d in app.dataframe if "结果" in getattr(d.value, "columns", ()))
    assert list(table["原因"]) == ["已初审，待复核销号"] and p.status(work) == "submitted"
    # The queue empties once the item is struck off (the panel goes with it).
    batch("lead2")
    assert p.status(work) == "closed"


def test_a_lead_schedules_the_checks_of_items_struck_off_before_they_existed(make_app, p):
    from tests.test_issues_verification_levels import close_as_an_older_release
    work = p.ids["work"]
    p.make_closable(work, day="2026-11-19")
    _submitted(p, work)
    close_as_an_older_release(p, work, "2026-11-20")
    app = _open(make_app, p, "lead", "verify")
    assert any("尚无回头看日期" in i.value for i in app.info)
    app.button(key="recheck.schedule_missing").click().run()
    assert not app.exception and not app.error
    assert "recheck.schedule_missing" not in _keys(app)
    assert p.db.conn.execute("SELECT recheck_due FROM issues WHERE id = ?",
                             (work,)).fetchone()[0] == "2027-05-20"
