"""The dashboard's data (audit/dashboard.py) on a small programme with known history: every
figure and every chart's rows equal values worked out by hand, for today, for two past dates
and for a unit scope; drill-down lists the issues behind a bar or cell."""
from __future__ import annotations

from datetime import date

import pytest

from audit import calendar_service, charts, progress_charts
from audit.dashboard_views import (
    DASHBOARD_KEYS,
    UnknownSelection,
    burnup_weeks,
    dashboard_data,
    drill_down,
    state_table,
    unit_groups,
)
from audit.store.db import rows
from audit.views import CURRENT, figures, scope_for
from issues import graph_model as graphs
from issues import service as issues
from issues.model import Move
from owners import service as owners
from tests.programme import build

D1, D2, D3, TODAY = date(2026, 3, 15), date(2026, 4, 20), date(2026, 5, 1), date(2026, 6, 1)
C1, C2 = "C1 外包合同管理", "C2 费用结算"
A, B = "甲市分公司", "乙市分公司"


@pytest.fixture(scope="module")
def prog(tmp_path_factory):
    """Eight issues; the story of each is on its line. Nothing happens after 2026-04-28, so
    TODAY (06-01) is read from the live columns and the past dates from history."""
    p = build(tmp_path_factory.mktemp("dashboard"))
    lead = p.actors["lead"]
    i1 = p.new_issue("一", amount=1000)              # A; closed 03-20, reopened 03-24,
    p.full_cycle(i1, deadline="2026-03-31", done="2026-03-18", closed="2026-03-20")
    issues.move_issue(p.db, lead, i1, Move.REOPEN, version=p.version(i1),  # closed again
                      reason="佐证不全", at=p.at("2026-03-24"))              # 04-08: late
    p.submit(i1, "2026-04-07")
    p.close(i1, "2026-04-08")
    i2 = p.new_issue("二", unit="A1", amount=2000)    # A1; closed late 03-10 (due 02-28)
    p.full_cycle(i2, deadline="2026-02-28", done="2026-03-05", closed="2026-03-10")
    i3 = p.new_issue("三", unit="B", amount=500)      # B; overdue from 04-16
    p.assign(i3, deadline="2026-04-15", responsible="rect_b")
    p.measure(i3, deadline="2026-04-10")
    p.start(i3)
    i4 = p.new_issue("四", unit="B")                  # B; no measure, never started, due 05-18
    p.assign(i4, deadline="2026-05-18", responsible="rect_b")
    i5 = p.new_issue("五")                            # A; extended 03-31 → 05-31 on 03-25
    p.assign(i5, deadline="2026-03-31")
    p.measure(i5, deadline="2026-03-31")
    p.start(i5)
    owners.extend_deadline(p.db, lead, i5, version=p.version(i5), new_deadline="2026-05-31",
                           reason="跨部门系统改造", at=p.at("2026-03-25"))
    i6 = p.new_issue("六", aspect="C2.1")             # A, C2; ended 02-15
    p.assign(i6, deadline="2026-03-31")
    p.measure(i6, deadline="2026-03-31")
    p.start(i6)
    issues.move_issue(p.db, lead, i6, Move.END, version=p.version(i6), reason="业务已撤销",
                      at=p.at("2026-02-15"))
    i7 = p.new_issue("七", day="2026-04-10")          # A; exists from 04-10, nothing else
    i8 = p.new_issue("八", aspect="C1.2", day="2026-02-02", amount=300, streams=("cleanup",),
                     focus=("F2",))                   # A; returned 04-03, closed 04-28
    p.assign(i8, deadline="2026-06-30", day="2026-02-03")
    p.measure(i8, deadline="2026-06-30", day="2026-02-03")
    p.start(i8, day="2026-02-04")
    p.make_closable(i8, day="2026-04-01")
    p.submit(i8, "2026-04-01")
    issues.move_issue(p.db, lead, i8, Move.RETURN, version=p.version(i8), reason="措施未落实",
                      at=p.at("2026-04-03"))
    p.submit(i8, "2026-04-25")
    p.close(i8, "2026-04-28")
    # Root causes of open issues (i1, i2 and i8 also got '制度缺失' from make_closable).
    kaohe = issues.record_root_cause(p.db, lead, i3, new_cause_title="考核不到位",
                                     at=p.at("2026-04-26"))
    issues.record_root_cause(p.db, lead, i5, cause_id=kaohe, at=p.at("2026-04-26"))
    issues.record_root_cause(p.db, lead, i4, new_cause_title="合同审核缺位",
                             at=p.at("2026-04-26"))
    p.ids = dict(zip("12345678", (i1, i2, i3, i4, i5, i6, i7, i8)))
    return p


def _cause(p, title: str) -> str:
    code = rows(p.db, "SELECT code FROM causes WHERE title = ?", (title,))[0]["code"]
    return f"{code} {title}"


# (as_of, unit) → figures worked out by hand from the stories above
FIGURES = {
    (D1, None): dict(issues=7, categories=2, aspects=3, closed=1, ended=1, open=5, overdue=0,
                     due_soon=0, on_time=0, on_time_due=1, fully_assigned=6,
                     amount_involved=3800.0, amount_rectified=2000.0),
    (D2, None): dict(issues=8, categories=2, aspects=3, closed=2, ended=1, open=5, overdue=1,
                     due_soon=0, on_time=0, on_time_due=4, fully_assigned=6,
                     amount_involved=3800.0, amount_rectified=3000.0),
    (D3, None): dict(issues=8, categories=2, aspects=3, closed=3, ended=1, open=4, overdue=1,
                     due_soon=1, on_time=1, on_time_due=5, fully_assigned=6,
                     amount_involved=3800.0, amount_rectified=3300.0),
    (TODAY, None): dict(issues=8, categories=2, aspects=3, closed=3, ended=1, open=4,
                        overdue=3, due_soon=0, on_time=1, on_time_due=6, fully_assigned=6,
                        amount_involved=3800.0, amount_rectified=3300.0),
    (D3, "A"): dict(issues=6, categories=2, aspects=3, closed=3, ended=1, open=2, overdue=0,
                    due_soon=0, on_time=1, on_time_due=4, fully_assigned=5,
                    amount_involved=3300.0, amount_rectified=3300.0),
    (TODAY, "A"): dict(issues=6, categories=2, aspects=3, closed=3, ended=1, open=2,
                       overdue=1, due_soon=0, on_time=1, on_time_due=4, fully_assigned=5,
                       amount_involved=3300.0, amount_rectified=3300.0),
}


@pytest.mark.parametrize("as_of,unit", list(FIGURES))
def test_dashboard_figures_equal_the_hand_worked_values(prog, as_of, unit):
    data = dashboard_data(prog.db, scope_for(prog.db, unit_code=unit), as_of)
    want = FIGURES[(as_of, unit)]
    assert {k: data["figures"][k] for k in want} == want
    assert data["figures"]["closure_rate"] == pytest.approx(want["closed"] / want["issues"])
    assert data["figures"]["on_time_rate"] == pytest.approx(want["on_time"] / want["on_time_due"])


@pytest.mark.parametrize("as_of,unit", list(FIGURES))
def test_dashboard_figures_are_the_figures_module_s(prog, as_of, unit):
    scope = scope_for(prog.db, unit_code=unit)
    assert dashboard_data(prog.db, scope, as_of)["figures"] == figures(prog.db, scope, as_of)


def test_the_bundle_has_its_documented_keys_and_deltas(prog):
    data = dashboard_data(prog.db, scope_for(prog.db), TODAY, D3)
    assert tuple(data) == DASHBOARD_KEYS
    assert data["as_of"] == "2026-06-01" and data["compare_to"] == "2026-05-01"
    assert data["compare"] == figures(prog.db, scope_for(prog.db), D3)
    d = data["deltas"]
    assert (d["issues"], d["closed"], d["overdue"], d["due_soon"], d["on_time_due"]) == \
        (0, 0, 2, -1, 1)
    assert d["on_time_rate"] == pytest.approx(1 / 6 - 1 / 5)
    assert dashboard_data(prog.db, scope_for(prog.db), TODAY)["deltas"] is None


# --- chart rows, today, whole region -------------------------------------------------------------

@pytest.fixture(scope="module")
def today(prog):
    return dashboard_data(prog.db, scope_for(prog.db), TODAY)


def test_status_by_category_today(today):
    assert today["status_by_category"] == [
        {"category": C1, "code": "C1", "status": "not_started", "count": 2},   # 四 七
        {"category": C1, "code": "C1", "status": "in_progress", "count": 2},   # 三 五
        {"category": C1, "code": "C1", "status": "closed", "count": 3},        # 一 二 八
        {"category": C2, "code": "C2", "status": "ended", "count": 1}]         # 六


def test_status_by_stream_today(today):
    got = {(r["stream"], r["status"]): r["count"] for r in today["status_by_stream"]}
    assert got == {("外包专项整治", "closed"): 1,                                # 八
                   ("外包专项审计整改", "not_started"): 2, ("外包专项审计整改", "in_progress"): 2,
                   ("外包专项审计整改", "closed"): 2, ("外包专项审计整改", "ended"): 1}
    assert [r["stream"] for r in today["status_by_stream"]][0] == "外包专项整治"


def test_heatmap_rolls_the_county_up_into_its_city(today):
    assert [{k: r[k] for k in ("unit", "category", "open", "overdue")}
            for r in today["heatmap"]] == [
        {"unit": A, "category": C1, "open": 2, "overdue": 1},   # 五 (red) 七; 一 二(A1) 八 closed
        {"unit": A, "category": C2, "open": 0, "overdue": 0},   # 六 ended
        {"unit": B, "category": C1, "open": 2, "overdue": 2},   # 三 四
        {"unit": B, "category": C2, "open": 0, "overdue": 0}]   # none: the grid is full


def test_warning_by_unit_today(today):
    assert [(r["unit"], r["warning"], r["count"]) for r in today["warning_by_unit"]] == [
        (A, "red", 1), (A, "green", 1), (B, "red", 2)]


def test_ageing_of_open_items_today(today):
    # 三 四 五 created 01-05 (147 days), 七 created 04-10 (52 days)
    assert today["ageing"] == [{"bucket": "0–30天", "count": 0}, {"bucket": "31–60天", "count": 1},
                               {"bucket": "61–90天", "count": 0},
                               {"bucket": "91–180天", "count": 3},
                               {"bucket": "180天以上", "count": 0}]


def test_on_time_by_month_groups_by_the_original_deadline(today):
    assert today["on_time_by_month"] == [
        {"month": "2026-02", "on_time": 0, "due": 1},    # 二 closed late
        {"month": "2026-03", "on_time": 0, "due": 2},    # 一 re-closed late; 五 (extended)
        {"month": "2026-04", "on_time": 0, "due": 1},    # 三
        {"month": "2026-05", "on_time": 0, "due": 1},    # 四
        {"month": "2026-06", "on_time": 1, "due": 1}]    # 八 closed early


def test_workload_by_owner_names_the_unit_and_the_unassigned(today):
    assert [(r["owner"], r["open"], r["overdue"]) for r in today["workload_by_owner"]] == [
        ("王五（乙市分公司）", 2, 2), ("张三（甲市分公司）", 1, 1), ("未指定责任人", 1, 0)]


def test_focus_progress_lists_all_five(today):
    got = [(r["code"], r["closed"], r["total"]) for r in today["focus_progress"]]
    assert got == [("F1", 2, 7), ("F2", 1, 1), ("F3", 0, 0), ("F4", 0, 0), ("F5", 0, 0)]
    assert today["focus_progress"][0]["focus"] == "F1 外包单价与结算成本"


def test_cause_ranking_counts_open_issues_only(prog, today):
    assert [(r["cause"], r["open_issues"], r["amount"], r["overdue"])
            for r in today["cause_ranking"]] == [
        (_cause(prog, "考核不到位"), 2, 500.0, 2), (_cause(prog, "合同审核缺位"), 1, 0.0, 1)]


def test_cause_ranking_agrees_with_rank_causes(prog, today):
    with state_table(prog.db, scope_for(prog.db), TODAY) as (table, _):
        nodes = rows(prog.db, f"SELECT s.id, i.code, s.status, s.unit_id, s.amount, "
                              f"s.warning = 'red' AS overdue FROM temp.{table} s "
                              f"JOIN issues i ON i.id = s.id")
    links = rows(prog.db, "SELECT issue_id, cause_id FROM issue_causes")
    causes = rows(prog.db, "SELECT id, code, title FROM causes")
    ranked = [r for r in graphs.rank_causes(
        [{**n, "overdue": bool(n["overdue"])} for n in nodes], links, causes)
        if r.open_issues > 0]
    assert [(r.cause_id, r.open_issues, r.amount_open, r.overdue) for r in ranked] == [
        (r["cause_id"], r["open_issues"], r["amount"], r["overdue"])
        for r in today["cause_ranking"]]


def test_chart_rows_build_charts(today):
    """Every row list is accepted by its builder (the shapes are the builders')."""
    charts.status_by_category(today["status_by_category"])
    charts.status_by_stream(today["status_by_stream"])
    charts.heatmap_unit_category(today["heatmap"], "overdue")
    charts.warning_by_unit(today["warning_by_unit"])
    progress_charts.ageing(today["ageing"])
    progress_charts.on_time_by_month(today["on_time_by_month"])
    charts.workload_by_owner(today["workload_by_owner"])
    charts.focus_progress(today["focus_progress"])
    charts.cause_ranking(today["cause_ranking"])
    b = today["burnup"]
    progress_charts.burnup(b["weeks"], b["deadline"], b["projection"])


# --- chart rows, past dates and a unit scope --------------------------------------------------------

def test_past_dates_show_the_state_then(prog):
    d2 = dashboard_data(prog.db, scope_for(prog.db), D2)
    # 八 was returned on 04-03 and is in progress again; 一 re-closed 04-08; 七 exists.
    assert {(r["code"], r["status"]): r["count"] for r in d2["status_by_category"]} == {
        ("C1", "not_started"): 2, ("C1", "in_progress"): 3, ("C1", "closed"): 2,
        ("C2", "ended"): 1}
    assert [(r["unit"], r["warning"], r["count"]) for r in d2["warning_by_unit"]] == [
        (A, "green", 3), (B, "red", 1), (B, "green", 1)]
    assert d2["on_time_by_month"] == [{"month": "2026-02", "on_time": 0, "due": 1},
                                      {"month": "2026-03", "on_time": 0, "due": 2},
                                      {"month": "2026-04", "on_time": 0, "due": 1}]
    d1 = dashboard_data(prog.db, scope_for(prog.db), D1)
    assert [(r["owner"], r["open"], r["overdue"]) for r in d1["workload_by_owner"]] == [
        ("张三（甲市分公司）", 3, 0), ("王五（乙市分公司）", 2, 0)]   # 一 五 八; 三 四
    assert [r["count"] for r in d1["ageing"]] == [0, 1, 4, 0, 0]   # 八 41 days; the rest 69
    # Causes were recorded on 04-26: as recorded on D1 there were none yet. With today's
    # classification (asked for explicitly), D1 already ranks them, with nothing overdue yet;
    # 一 and 八, open then, each have their own '制度缺失' (make_closable records a new cause
    # each time).
    assert d1["cause_ranking"] == []
    today_classes = dashboard_data(prog.db, scope_for(prog.db, classification=CURRENT), D1)
    assert [(r["open_issues"], r["amount"], r["overdue"])
            for r in today_classes["cause_ranking"]] == [
        (2, 500.0, 0), (1, 1000.0, 0), (1, 300.0, 0), (1, 0.0, 0)]
    d3 = dashboard_data(prog.db, scope_for(prog.db), D3)
    assert [(r["open_issues"], r["overdue"]) for r in d3["cause_ranking"]] == [(2, 1), (1, 0)]


def test_a_unit_scope_shows_the_city_and_its_counties(prog):
    data = dashboard_data(prog.db, scope_for(prog.db, unit_code="A"), TODAY)
    assert [{k: r[k] for k in ("unit", "category", "open", "overdue")}
            for r in data["heatmap"]] == [
        {"unit": A, "category": C1, "open": 2, "overdue": 1},
        {"unit": A, "category": C2, "open": 0, "overdue": 0},
        {"unit": "甲县分公司", "category": C1, "open": 0, "overdue": 0},
        {"unit": "甲县分公司", "category": C2, "open": 0, "overdue": 0}]
    assert [(r["unit"], r["warning"], r["count"]) for r in data["warning_by_unit"]] == [
        (A, "red", 1), (A, "green", 1)]
    assert [(r["owner"], r["open"]) for r in data["workload_by_owner"]] == [
        ("张三（甲市分公司）", 1), ("未指定责任人", 1)]
    assert [(r["code"], r["closed"], r["total"]) for r in data["focus_progress"]][:2] == [
        ("F1", 2, 5), ("F2", 1, 1)]


def test_unit_groups_put_each_county_under_its_city(prog):
    groups = unit_groups(prog.db, scope_for(prog.db))
    u = prog.units
    assert groups[u["A1"]] == (u["A"], A) and groups[u["B"]] == (u["B"], B)
    assert groups[u["R"]] == (u["R"], "自治区分公司")


def test_a_managers_dashboard_never_leaves_its_scope(prog):
    manager = prog.actors["manager"]     # A and its county A1
    data = dashboard_data(prog.db, scope_for(prog.db, manager), TODAY)
    assert data["figures"]["issues"] == 6
    assert {r["unit"] for r in data["heatmap"]} == {A, "甲县分公司"}
    assert data["burnup"]["weeks"][-1] == {"week": "2026-06-01", "week_start": "2026-06-01",
                                           "in_scope": 6, "closed": 3}


# --- burn-up ---------------------------------------------------------------------------------------

def test_burnup_counts_each_week_from_history(prog, today):
    weeks = {w["week"]: (w["in_scope"], w["closed"]) for w in today["burnup"]["weeks"]}
    assert len(weeks) == 22                      # Sundays 01-11 … 05-31, then 06-01
    assert weeks["2026-01-11"] == (6, 0)         # 一–六 created 01-05
    assert weeks["2026-02-08"] == (7, 0)         # 八 created 02-02
    assert weeks["2026-03-15"] == (7, 1)         # 二 closed 03-10
    assert weeks["2026-03-22"] == (7, 2)         # 一 closed 03-20
    assert weeks["2026-03-29"] == (7, 1)         # 一 reopened 03-24
    assert weeks["2026-04-12"] == (8, 2)         # 一 closed again 04-08; 七 created 04-10
    assert weeks["2026-04-26"] == (8, 2)         # 八 returned and resubmitted: not closed
    assert weeks["2026-05-03"] == (8, 3)         # 八 closed 04-28
    assert weeks["2026-06-01"] == (8, 3)         # the partial last week ends on the as-of date
    assert today["burnup"]["weeks"][0]["week_start"] == "2026-01-05"


def test_burnup_weeks_agree_with_the_figures_of_each_week(prog, today):
    for w in today["burnup"]["weeks"]:
        f = figures(prog.db, scope_for(prog.db), date.fromisoformat(w["week"]))
        assert (w["in_scope"], w["closed"]) == (f["issues"], f["closed"]), w


def test_burnup_deadline_and_projection(prog, today):
    b = today["burnup"]
    assert b["deadline"] == "2026-06-30"        # the latest original deadline (八)
    ended = figures(prog.db, scope_for(prog.db), TODAY)["ended"]
    assert b["projection"] == progress_charts.project_completion(b["weeks"], TODAY, settled=ended)
    past = burnup_weeks(prog.db, scope_for(prog.db), D2, start=date(2026, 4, 1))
    assert [w["week"] for w in past["weeks"]] == ["2026-04-05", "2026-04-12", "2026-04-19",
                                                  "2026-04-20"]
    assert past["weeks"][-1]["closed"] == 2


def test_burnup_deadline_comes_from_the_setting_when_set(prog, tmp_path):
    p = build(tmp_path)
    p.new_issue("甲")
    calendar_service.set_setting(p.db, p.actors["admin"], "programme.deadline", "2026-12-31",
                       at=p.at("2026-01-06"))
    assert burnup_weeks(p.db, scope_for(p.db), date(2026, 1, 20))["deadline"] == "2026-12-31"


# --- drill-down ------------------------------------------------------------------------------------

@pytest.mark.parametrize("selection,titles", [
    ({"category": C1, "status": "not_started"}, ["四", "七"]),
    ({"stream": "外包专项整治", "status": "closed"}, ["八"]),
    ({"unit": A, "category": C1, "measure": "open"}, ["五", "七"]),
    ({"unit": A, "category": C1, "measure": "overdue"}, ["五"]),
    ({"unit": B, "warning": "red"}, ["三", "四"]),
    ({"bucket": "31–60天"}, ["七"]),
    ({"bucket": "31–60 days"}, ["七"]),
    ({"month": "2026-03"}, ["一", "五"]),
    ({"owner": "王五（乙市分公司）"}, ["三", "四"]),
    ({"owner": "未指定责任人"}, ["七"]),
    ({"focus": "F2 外包业务量与人均效能"}, ["八"]),
    ({"cause": "考核不到位"}, ["三", "五"]),
])
def test_drill_down_lists_the_issues_behind_a_point(prog, selection, titles):
    if "cause" in selection:
        selection = {"cause": _cause(prog, selection["cause"])}
    got = drill_down(prog.db, scope_for(prog.db), TODAY, selection)
    assert sorted(r["title"] for r in got) == sorted(titles)
    assert set(got[0]) == {"id", "code", "title", "unit", "status", "deadline", "warning"}


def test_drill_down_rows_carry_the_state_as_of_the_date(prog):
    got = drill_down(prog.db, scope_for(prog.db), D2, {"category": C1, "status": "in_progress"})
    assert {r["title"]: (r["status"], r["deadline"], r["warning"]) for r in got} == {
        "三": ("in_progress", "2026-04-15", "red"), "五": ("in_progress", "2026-05-31", "green"),
        "八": ("in_progress", "2026-06-30", "green")}
    assert {r["unit"] for r in got} == {A, B}


def test_drill_down_stays_in_the_actors_scope(prog):
    scope = scope_for(prog.db, prog.actors["manager"])
    with pytest.raises(UnknownSelection):
        drill_down(prog.db, scope, TODAY, {"unit": B, "warning": "red"})
    got = drill_down(prog.db, scope, TODAY, {"category": C1, "status": "in_progress"})
    assert [r["title"] for r in got] == ["五"]


def test_drill_down_refuses_an_unknown_field(prog):
    with pytest.raises(UnknownSelection):
        drill_down(prog.db, scope_for(prog.db), TODAY, {"colour": "red"})


# --- a past date: rows changed since are rewound from history ----------------------------------

def test_a_past_date_rewinds_only_what_changed_since_and_agrees_with_the_figures(tmp_path):
    p = build(tmp_path)
    done = p.new_issue("甲")                     # fully assigned 01-06, then a measure without an
    p.assign(done, deadline="2026-03-31")        # owner added 02-10
    p.measure(done, deadline="2026-03-31")
    p.start(done)
    issues.add_measure(p.db, p.actors["lead"], done, title="补充措施", at=p.at("2026-02-10"))
    moved = p.new_issue("乙", unit="B")          # deadline moved 03-31 → 04-30 on 03-25
    p.assign(moved, deadline="2026-03-31", responsible="rect_b")
    p.measure(moved, deadline="2026-03-31")
    owners.extend_deadline(p.db, p.actors["lead"], moved, version=p.version(moved),
                           new_deadline="2026-04-30", reason="系统改造", at=p.at("2026-03-25"))
    scope = scope_for(p.db)
    for day, assigned in ((date(2026, 2, 1), 2), (date(2026, 2, 15), 1), (date(2026, 3, 1), 1)):
        data = dashboard_data(p.db, scope, day, date(2026, 1, 10))
        assert data["figures"] == figures(p.db, scope, day)
        assert data["compare"] == figures(p.db, scope, date(2026, 1, 10))
        assert data["figures"]["fully_assigned"] == assigned
    late = dashboard_data(p.db, scope, date(2026, 4, 5))["warning_by_unit"]
    assert [(r["unit"], r["warning"]) for r in late] == [(A, "red"), (B, "green")]
    early = dashboard_data(p.db, scope, date(2026, 3, 24))["warning_by_unit"]   # 乙 then: amber
    assert [(r["unit"], r["warning"]) for r in early] == [(A, "amber"), (B, "amber")]
