"""责任人与单位 and the admin's calendar and settings sections under AppTest on the hand-built
test programme: who may open them, the scope each viewer sees, workload counts worked out by
hand, the admin-only forms (and the services refusing everyone else), English labels."""
from __future__ import annotations

from datetime import date

import pytest

from audit import admin_views, calendar_service
from audit.model import NotPermitted
from owners import service as owners
from owners import views
from tests import programme
from tests.conftest import open_page, sign_in

AS_OF = date(2026, 11, 27)


@pytest.fixture
def p(tmp_path):
    """Unit A: `late` (red, 张三, measure of 李四 overdue) and `work` (green, 张三); unit B:
    `other` (王五, not started, no deadline)."""
    prog = programme.build(tmp_path)
    prog.ids = {}
    prog.ids["late"] = prog.new_issue("结算单据审核签字不全", unit="A1", aspect="C2.1")
    prog.assign(prog.ids["late"], deadline="2026-02-27")
    prog.measure(prog.ids["late"], deadline="2026-02-27", owner="owner_a")
    prog.start(prog.ids["late"])
    prog.ids["work"] = prog.new_issue("外包合同先履行后签订", unit="A", aspect="C1.1")
    prog.assign(prog.ids["work"], deadline="2030-03-31")
    prog.measure(prog.ids["work"], deadline="2030-03-31")
    prog.ids["other"] = prog.new_issue("外包商资质未年审", unit="B", aspect="C1.2")
    prog.assign(prog.ids["other"], deadline="2030-06-30", responsible="rect_b")
    prog.db.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    yield prog
    prog.db.conn.close()


def _open(make_app, p, who: str, url: str, lang: str | None = None):
    app = make_app(p.path)
    if lang:
        app.query_params["lang"] = lang
    sign_in(app, who, programme.PASSWORD)
    return open_page(app, url)


def _keys(app) -> set[str]:
    return {b.key for b in app.button if b.key}


def _cells(app, n: int, column: str) -> list:
    return list(app.dataframe[n].value[column])


# --- owners and units --------------------------------------------------------------------------

@pytest.mark.parametrize("who", ["lead", "manager", "admin"])
def test_owners_page_opens_for_leads_managers_and_admins(make_app, p, who):
    app = _open(make_app, p, who, "owners")
    assert not app.exception
    assert app.title[0].value == "责任人与单位"


def test_rectifiers_have_no_owners_page(make_app, p):
    app = sign_in(make_app(p.path), "rect", programme.PASSWORD)
    with pytest.raises(ValueError):
        open_page(app, "owners")


def test_manager_sees_only_its_unit_and_the_units_below(make_app, p):
    app = _open(make_app, p, "manager", "owners")
    units = [u.strip("　└ ") for u in _cells(app, 0, "单位")]
    assert units == ["甲市分公司", "甲县分公司"]
    people = _cells(app, 1, "姓名")
    assert "王五" not in people and "张三" in people


def test_lead_sees_the_whole_tree_with_heads(make_app, p):
    app = _open(make_app, p, "lead", "owners")
    tree = app.dataframe[0].value
    assert list(tree["单位"].str.strip("　└ ")) == ["自治区分公司", "甲市分公司", "甲县分公司",
                                                   "乙市分公司"]
    assert list(tree["单位负责人"]) == ["周总", "孙经理", "未指定", "未指定"]


def test_workload_per_person_and_unit_counts_open_and_overdue(p):
    work = views.workload(p.db, p.actors["lead"], AS_OF)
    zhang, li, wang = (p.people[k] for k in ("rect_a", "owner_a", "rect_b"))
    assert work["people"][zhang] == {"open": 2, "overdue": 1, "measures_open": 1,
                                     "measures_overdue": 0}
    assert work["people"][li] == {"open": 0, "overdue": 0, "measures_open": 1,
                                  "measures_overdue": 1}
    assert work["people"][wang]["open"] == 1
    assert work["units"][p.units["A1"]] == {"open": 1, "overdue": 1}
    tree = views.org_tree(p.db, p.actors["lead"])
    rolled = views.rolled_up(tree, work["units"])
    assert rolled[p.units["A"]] == {"open": 2, "overdue": 1}
    assert rolled[p.units["R"]] == {"open": 3, "overdue": 1}
    scoped = views.workload(p.db, p.actors["manager"], AS_OF)
    assert wang not in scoped["people"]


def test_picking_a_person_lists_their_open_issues(make_app, p):
    app = _open(make_app, p, "lead", "owners")
    people = _cells(app, 1, "姓名")
    row = people.index("张三")
    app.session_state["owners.people"] = {"selection": {"rows": [row], "columns": []}}
    app.run()
    assert not app.exception
    assert any("张三 负责的未销号问题（2 项）" in m.value for m in app.markdown)
    assert "owners.to_catalogue" in _keys(app)


def test_only_the_administrator_gets_the_unit_and_people_forms(make_app, p):
    assert "owners.save.unit" not in _keys(_open(make_app, p, "lead", "owners"))
    assert "owners.save.unit" not in _keys(_open(make_app, p, "manager", "owners"))
    app = _open(make_app, p, "admin", "owners")
    assert {"owners.save.unit", "owners.save.person", "owners.save.head"} <= _keys(app)


def test_administrator_adds_a_unit_and_a_person_and_names_the_head(make_app, p):
    app = _open(make_app, p, "admin", "owners")
    app.text_input(key="owners.unit.code").input("B01")
    app.text_input(key="owners.unit.name").input("乙县分公司")
    app.selectbox(key="owners.unit.level").set_value("county")
    app.selectbox(key="owners.unit.parent").set_value("B")
    app.button(key="owners.save.unit").click().run()
    assert not app.exception and not app.error
    b01 = p.db.conn.execute("SELECT id, parent_id FROM units WHERE code = 'B01'").fetchone()
    assert b01[1] == p.units["B"]
    app.text_input(key="owners.person.name").input("吴六")
    app.selectbox(key="owners.person.unit").set_value(b01[0])
    app.button(key="owners.save.person").click().run()
    assert not app.error
    wu = p.db.conn.execute("SELECT id FROM people WHERE name = '吴六'").fetchone()[0]
    app.selectbox(key="owners.head.unit").set_value(b01[0])
    app.selectbox(key="owners.head.person").set_value(wu)
    app.button(key="owners.save.head").click().run()
    assert not app.error
    head = p.db.conn.execute("SELECT head_person_id FROM units WHERE id = ?", (b01[0],))
    assert head.fetchone()[0] == wu


def test_leads_and_managers_cannot_edit_the_organisation_through_the_service(p):
    for who in ("lead", "manager", "rect"):
        with pytest.raises(NotPermitted):
            owners.create_unit(p.db, p.actors[who], code="X", name="某分公司", level="city",
                               parent_code="R", at=p.at("2026-11-27"))


def test_owners_page_in_english(make_app, p):
    app = _open(make_app, p, "lead", "owners", lang="en")
    assert not app.exception
    assert app.title[0].value == "Owners and units"
    assert "Unit head" in app.dataframe[0].value.columns


# --- the calendar and settings sections (admin page) -----------------------------------------

def test_admin_corrects_a_day_and_publishes_a_year(make_app, p):
    app = _open(make_app, p, "admin", "admin")
    assert not app.exception
    app.date_input(key="calendar.day").set_value(date(2028, 5, 6))
    app.selectbox(key="calendar.kind").set_value("make_up")
    app.text_input(key="calendar.name").input("劳动节调休")
    app.button(key="calendar.save.day").click().run()
    assert not app.exception and not app.error
    row = p.db.conn.execute("SELECT is_working, name, source FROM calendar_days "
                            "WHERE day = '2028-05-06'").fetchone()
    assert row == (1, "劳动节调休", "admin")
    app.selectbox(key="calendar.year").set_value(2027)
    app.run()
    app.button(key="calendar.publish").click().run()
    assert not app.error
    published = p.db.conn.execute("SELECT published FROM calendar_years WHERE year = 2027")
    assert published.fetchone()[0] == 1


def test_unpublished_years_with_deadlines_are_warned_about(p):
    from issues import service as issues
    issues.add_measure(p.db, p.actors["lead"], p.ids["other"], title="年审",
                       owner_person_id=p.people["rect_b"], deadline="2029-01-15",
                       at=p.at("2026-11-20"))
    late = admin_views.unpublished_deadlines(p.db)
    assert late == {2029: 1, 2030: 3}


@pytest.mark.parametrize("who", ["lead", "manager", "rect"])
def test_only_the_administrator_edits_the_calendar_and_settings(p, who):
    with pytest.raises(NotPermitted):
        calendar_service.set_calendar_day(p.db, p.actors[who], "2028-05-06", is_working=True,
                                at=p.at("2026-11-27"))
    with pytest.raises(NotPermitted):
        calendar_service.set_year_published(p.db, p.actors[who], 2027, True, at=p.at("2026-11-27"))
    with pytest.raises(NotPermitted):
        calendar_service.set_setting(p.db, p.actors[who], "warning.amber_working_days", "5",
                           at=p.at("2026-11-27"))


def test_admin_changes_the_amber_window_and_a_broken_ladder_is_refused(make_app, p):
    app = _open(make_app, p, "admin", "admin")
    app.number_input(key="calendar.setting.warning.amber_working_days").set_value(5)
    app.button(key="calendar.save.settings").click().run()
    assert not app.exception and not app.error
    assert admin_views.settings(p.db)["warning.amber_working_days"] == "5"
    app.number_input(key="calendar.setting.escalation.letter_days").set_value(30)
    app.button(key="calendar.save.settings").click().run()
    assert any("提醒 ≤ 督办函 ≤ 约谈" in w.value for w in app.warning)
    assert admin_views.settings(p.db)["escalation.letter_days"] == "10"
