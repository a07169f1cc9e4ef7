"""The graph service on a hand-built programme: every count, share, date and step below is
worked out by hand from the scenario in `scenario`.

Scenario (units: region R (head 周总) → city A (head 孙经理) → county A1 (no head); city B):
  i1  A,  100 yuan, audits 2024+2025, causes K1 K2, deadline 2026-12-31, measure m1 due 12-20
  i2  A,   50 yuan, audit 2025,        cause  K1,   deadline 2026-09-30 (overdue), no measure
  i3  B,   10 yuan, audit 2025,        cause  K2,   deadline 2026-12-31, measure m3 due 2027-01-15
  i4  A1,   0 yuan, audit 2025,        cause  K3,   no deadline
  i5  A,   no cause, no deadline
  i6  A,   closed on 2026-03-12; its cause 制度缺失 (code R4) was recorded while closing it
  m1 waits for m3 (added 2026-01-08); K3 has one source-level measure, done 2026-01-20.
"""
from __future__ import annotations

from datetime import date

import pytest

from audit.model import NotPermitted, ValidationFailed
from audit.views import Scope, issue_states, scope_for
from issues import dependency_model
from issues import graph_views as gs
from issues import service as issues
from issues.graph_views import cause_dot
from tests.programme import build
from issues import escalation_service


@pytest.fixture
def scenario(tmp_path):
    p = build(tmp_path)
    lead = p.actors["lead"]
    at = p.at("2026-01-05", 9)
    k = {code: issues.create_cause(p.db, lead, code=code, title=title, at=at)
         for code, title in (("K1", "合同审核制度缺失"), ("K2", "结算复核流于形式"),
                             ("K3", "县级授权不清"))}
    i1 = p.new_issue("合同未审核", amount=100, sources=("AUD2024", "AUD2025"))
    i2 = p.new_issue("合同超期未续签", amount=50)
    i3 = p.new_issue("结算依据不足", unit="B", amount=10)
    i4 = p.new_issue("县级越权签约", unit="A1")
    i5 = p.new_issue("台账缺页")
    i6 = p.new_issue("已整改问题")
    for iid, causes in ((i1, ("K1", "K2")), (i2, ("K1",)), (i3, ("K2",)), (i4, ("K3",))):
        for c in causes:
            issues.record_root_cause(p.db, lead, iid, cause_id=k[c], at=p.at("2026-01-05", 10))
    p.assign(i1, deadline="2026-12-31")
    p.assign(i2, deadline="2026-09-30")
    p.assign(i3, deadline="2026-12-31", responsible="rect_b")
    m1 = p.measure(i1, deadline="2026-12-20")
    # Due after its issue's deadline on purpose (a blocked chain): the lead accepts the warning.
    m3 = p.measure(i3, deadline="2027-01-15", owner="rect_b", accept_reason="跨年度采购周期")
    issues.add_dependency(p.db, lead, m1, m3, at=p.at("2026-01-08"))
    src = issues.add_cause_measure(p.db, lead, k["K3"], title="明确县级签约授权",
                                   deadline="2026-01-31", at=p.at("2026-01-10"))
    issues.set_measure_status(p.db, lead, src, version=p.mversion(src), status="done",
                              at=p.at("2026-01-20"))
    p.full_cycle(i6, deadline="2026-03-31", done="2026-03-10", closed="2026-03-12")
    code = {iid: p.db.conn.execute("SELECT code FROM issues WHERE id = ?", (iid,)).fetchone()[0]
            for iid in (i1, i2, i3, i4, i5, i6)}
    p.ids = dict(i1=i1, i2=i2, i3=i3, i4=i4, i5=i5, i6=i6, m1=m1, m3=m3, src=src, **k)
    p.code = code
    return p


AS_OF = date(2026, 11, 23)


def ranked(p, actor="lead", as_of=AS_OF):
    scope = scope_for(p.db, p.actors[actor])
    return {r["code"]: r for r in gs.cause_ranking(p.db, scope, as_of)}


# --- root causes ---------------------------------------------------------------------------


def test_causes_are_ranked_by_open_issues_then_money(scenario):
    got = gs.cause_ranking(scenario.db, Scope(), AS_OF)
    assert [r["code"] for r in got] == ["K1", "K2", "K3", "R4"]
    by = {r["code"]: r for r in got}
    assert (by["K1"]["open_issues"], by["K1"]["total_issues"], by["K1"]["amount_open"]) \
        == (2, 2, 150.0)
    assert (by["K2"]["open_issues"], by["K2"]["amount_open"]) == (2, 110.0)
    assert (by["K3"]["open_issues"], by["K3"]["amount_open"]) == (1, 0.0)
    assert (by["R4"]["open_issues"], by["R4"]["total_issues"]) == (0, 1)


@pytest.mark.parametrize("as_of", [date(2026, 3, 11), AS_OF, date(2026, 12, 20)])
@pytest.mark.parametrize("who", ["lead", "manager"])
def test_issue_states_read_already_give_the_same_ranking_and_escalations(scenario, as_of,
                                                                           who):
    # The Word pack hands over the issue_states rows it has read instead of a second query.
    scope = scope_for(scenario.db, scenario.actors[who])
    states = issue_states(scenario.db, scope, as_of)
    given = gs.load_cause_inputs(scenario.db, scope, as_of, rows=states)
    ranking = gs.cause_ranking(scenario.db, scope, as_of, inputs=given)
    assert ranking == gs.cause_ranking(scenario.db, scope, as_of)
    assert [r["code"] for r in ranking if r["open_issues"]]  # something to compare
    due = gs.escalations_due(scenario.db, scope, as_of, rows=states)
    assert due == gs.escalations_due(scenario.db, scope, as_of)
    if as_of == date(2026, 12, 20):
        assert any(d["issue_id"] == scenario.ids["i2"] for d in due)  # overdue since 09-30


def test_only_the_overdue_issue_counts_as_overdue(scenario):
    by = ranked(scenario)
    assert by["K1"]["overdue"] == 1  # i2, due 2026-09-30
    assert by["K2"]["overdue"] == 0


def test_recurring_when_found_in_two_years_or_two_units(scenario):
    by = ranked(scenario)
    assert by["K1"]["recurring"]       # i1 was found in 2024 and 2025
    assert by["K2"]["recurring"]       # two years through i1
    assert by["K2"]["common"]          # units A and B: 共性问题, shown apart
    assert not by["K3"]["common"]
    assert not by["K3"]["recurring"]   # one issue, one year, one unit
    assert by["K2"]["unit_ids"] == sorted([scenario.units["A"], scenario.units["B"]])


def test_a_city_manager_ranks_only_the_issues_of_the_city(scenario):
    by = ranked(scenario, "manager")
    assert by["K1"]["open_issues"] == 2
    assert (by["K2"]["open_issues"], by["K2"]["amount_open"]) == (1, 100.0)  # i3 is in B
    assert by["K2"]["recurring"]  # still two audit years through i1


def test_greedy_cover_takes_the_smaller_code_on_a_tie_and_counts_uncaused_issues(scenario):
    db = scenario.db
    one = gs.cover(db, Scope(), AS_OF, 1)
    assert [s["code"] for s in one["chosen"]] == ["K1"]  # K1 and K2 both add 2
    assert (one["covered"], one["open_total"], one["share"]) == (2, 5, 0.4)
    three = gs.cover(db, Scope(), AS_OF, 3)
    assert [(s["code"], s["gain"], s["covered_after"]) for s in three["chosen"]] \
        == [("K1", 2, 2), ("K2", 1, 3), ("K3", 1, 4)]
    assert three["share"] == pytest.approx(0.8)  # i5 has no recorded cause
    assert len(gs.cover(db, Scope(), AS_OF, 5)["chosen"]) == 3  # R4 adds nothing open


def test_cause_fixed_at_source_shows_on_its_issues(scenario):
    by = ranked(scenario)
    assert by["K3"]["fixed_at_source"] and not by["K1"]["fixed_at_source"]
    fixes = gs.issue_source_fixes(scenario.db, scenario.ids["i4"])
    assert [(f["code"], [m["completed_on"] for m in f["measures"]]) for f in fixes] \
        == [("K3", ["2026-01-20"])]
    assert gs.issue_source_fixes(scenario.db, scenario.ids["i1"]) == []


def test_cause_source_fix_is_read_as_of_a_date(scenario):
    assert not ranked(scenario, as_of=date(2026, 1, 15))["K3"]["fixed_at_source"]


def test_the_cause_graph_links_each_issue_to_its_page_and_colours_it_by_warning(scenario):
    inputs = gs.load_cause_inputs(scenario.db, Scope(), AS_OF)
    ranking = gs.cause_ranking(scenario.db, Scope(), AS_OF, inputs=inputs)
    dot = cause_dot(ranking, inputs.states, top=2, lang="en")
    i2 = scenario.ids["i2"]
    assert f'URL="issue?id={i2}&lang=en"' in dot
    line = next(x for x in dot.splitlines() if x.strip().startswith(f"i{i2} "))
    assert 'fillcolor="#f8d0cf"' in line  # red: overdue
    assert f'c{scenario.ids["K1"]} -- i{i2};' in dot
    assert f'c{scenario.ids["K3"]} ' not in dot  # only the top 2 causes
    assert dot.count("-- i") == 4  # K1: i1 i2; K2: i1 i3 (i1 drawn once, linked twice)
    assert gs.dot_issue_ids(ranking, 2, 10) == sorted([scenario.ids[i] for i in
                                                       ("i1", "i2", "i3")])


def test_the_cause_graph_escapes_quotes_and_summarises_many_issues():
    ranking = [{"cause_id": 1, "code": "K9", "title": 'a "quoted" cause', "open_issues": 5,
                "recurring": False, "fixed_at_source": False, "open_issue_ids": [1, 2, 3, 4, 5]}]
    states = {i: {"code": f"C1.1.{i}", "title": "t", "warning": "green"} for i in range(1, 6)}
    dot = cause_dot(ranking, states, max_issues_per_cause=2, more_label="+{n}")
    assert '\\"quoted\\"' in dot
    assert 'label="+3"' in dot and dot.count("shape=ellipse") == 2


# --- measure dependencies ------------------------------------------------------------------


def test_an_issue_waiting_on_another_issues_late_measure_is_blocked(scenario):
    got = gs.blocked(scenario.db, Scope(), AS_OF)
    assert [b["code"] for b in got] == [scenario.code[scenario.ids["i1"]]]  # not i3: late alone
    b = got[0]
    assert (b["deadline"], b["own_finish"], b["earliest_finish"], b["days_late"]) \
        == ("2026-12-31", "2026-12-20", "2027-01-15", 15)
    assert b["chain"] == [scenario.code[scenario.ids["i1"]], scenario.code[scenario.ids["i3"]]]
    assert b["root"]["measure_id"] == scenario.ids["m3"]


def test_a_dependency_outside_the_scope_is_counted_but_not_named(scenario):
    got = gs.blocked(scenario.db, scope_for(scenario.db, scenario.actors["manager"]), AS_OF)
    assert [b["chain"] for b in got] == [[scenario.code[scenario.ids["i1"]], "*"]]
    assert got[0]["root"]["outside_scope"] and got[0]["root"]["issue_code"] is None


def test_blocked_issues_are_judged_with_the_dependencies_of_that_date(scenario):
    # Something is recorded after these dates, so states and dependencies come from history.
    assert gs.blocked(scenario.db, Scope(), date(2026, 1, 7)) == []  # before m1 → m3
    assert len(gs.blocked(scenario.db, Scope(), date(2026, 1, 9))) == 1


def test_loading_only_candidate_measures_gives_the_same_answer_as_loading_all(scenario):
    db = scenario.db
    every = db.conn.execute("SELECT id, issue_id, deadline, status, completed_on FROM measures")
    ms = [dict(zip(("id", "issue_id", "deadline", "status", "completed_on"), r)) for r in every]
    issues_ = [{"id": r[0], "code": r[1], "deadline": r[2], "status": r[3]} for r in
               db.conn.execute("SELECT id, code, deadline, status FROM issues")]
    edges = db.conn.execute("SELECT measure_id, depends_on_id FROM measure_deps").fetchall()
    full = dependency_model.blocked_issues(issues_, ms, [tuple(e) for e in edges], AS_OF)
    assert [b.issue_id for b in full] == [b["issue_id"] for b in gs.blocked(db, Scope(), AS_OF)]


def test_measure_dependencies_name_what_waits_and_what_is_waited_for(scenario):
    ids = scenario.ids
    deps = gs.measure_dependencies(scenario.db, ids["i1"], as_of=AS_OF)
    assert [d["id"] for d in deps] == [ids["m1"]]
    d = deps[0]
    assert [x["id"] for x in d["waits_for"]] == [ids["m3"]]
    assert d["waits_for"][0]["issue_code"] == scenario.code[ids["i3"]]
    assert d["waited_by"] == [] and d["earliest_finish"] == "2027-01-15"
    back = gs.measure_dependencies(scenario.db, ids["i3"])
    assert [x["id"] for x in back[0]["waited_by_all"]] == [ids["m1"]]
    assert gs.measure_dependencies(scenario.db, ids["i5"]) == []


# --- escalation ----------------------------------------------------------------------------

# i2 is due 2026-09-30. Working days after it on the seeded 2026 calendar: 1–7 Oct are the
# National Day holiday, Saturday 10 Oct is a make-up working day. So 8, 9, 10, 12–16, 19 Oct
# make 9 by 19 Oct, 10 on 20 Oct (the letter; 21 Oct without the make-up day), and 20 on
# 3 Nov (the summons).
@pytest.mark.parametrize("as_of, step, days, target", [
    ("2026-10-01", "reminder", 0, ("rect_a", "A")),
    ("2026-10-08", "reminder", 1, ("rect_a", "A")),
    ("2026-10-19", "reminder", 9, ("rect_a", "A")),
    ("2026-10-20", "letter", 10, ("head_a", "A")),
    ("2026-11-02", "letter", 19, ("head_a", "A")),
    ("2026-11-03", "summons", 20, ("head_r", "R")),
])
def test_escalation_step_follows_working_days_across_national_day(scenario, as_of, step, days,
                                                                   target):
    dues = gs.escalations_due(scenario.db, Scope(), date.fromisoformat(as_of))
    assert [(d["issue_id"], d["step"], d["overdue_working_days"]) for d in dues] \
        == [(scenario.ids["i2"], step, days)]
    person, unit = target
    assert (dues[0]["target_person_id"], dues[0]["target_unit_id"]) \
        == (scenario.people[person], scenario.units[unit])


def test_nothing_escalates_on_the_deadline_itself(scenario):
    assert gs.escalations_due(scenario.db, Scope(), date(2026, 9, 30)) == []


def test_thresholds_come_from_settings(scenario):
    scenario.db.conn.execute("UPDATE settings SET value = '5' WHERE key = "
                             "'escalation.letter_days'")
    dues = gs.escalations_due(scenario.db, Scope(), date(2026, 10, 15))  # 7 working days
    assert dues[0]["step"] == "letter"


def test_record_escalations_writes_rows_and_history_and_is_idempotent(scenario):
    db, lead, ids = scenario.db, scenario.actors["lead"], scenario.ids
    as_of, at = date(2026, 10, 20), scenario.at("2026-10-20", 15)
    written = escalation_service.record_escalations(db, lead, as_of, at)
    assert [(w["issue_id"], w["step"], w["note"]) for w in written] \
        == [(ids["i2"], "letter", "skipped: reminder")]
    row = db.conn.execute("SELECT step, target_person_id, target_unit_id, as_of, recorded_by "
                          "FROM escalations").fetchall()
    assert row == [("letter", scenario.people["head_a"], scenario.units["A"], "2026-10-20",
                    lead.user_id)]
    hist = db.conn.execute("SELECT field, new, actor, action FROM history WHERE entity = "
                           "'escalation' ORDER BY seq").fetchall()
    fields = {f: v for f, v, _, _ in hist}
    assert fields["step"] == "letter" and fields["issue_id"] == str(ids["i2"])
    assert {(a, act) for _, _, a, act in hist} == {("lead", "escalation.record")}
    n = db.conn.execute("SELECT COUNT(*) FROM history").fetchone()[0]
    assert escalation_service.record_escalations(db, lead, as_of, at) == []
    assert db.conn.execute("SELECT COUNT(*) FROM history").fetchone()[0] == n
    assert gs.escalations_due(db, Scope(), as_of) == []
    later = gs.escalations_due(db, Scope(), date(2026, 11, 3))
    assert [(d["step"], d["skipped"]) for d in later] == [("summons", ["reminder"])]


def test_record_escalations_records_only_the_chosen_steps_still_due(scenario):
    db, lead = scenario.db, scenario.actors["lead"]
    stale = [{"issue_id": scenario.ids["i1"], "step": "reminder"}]  # i1 is not overdue
    assert escalation_service.record_escalations(db, lead, date(2026, 10, 20), scenario.at("2026-10-20"),
                                 stale) == []
    assert db.conn.execute("SELECT COUNT(*) FROM escalations").fetchone()[0] == 0


@pytest.mark.parametrize("who", ["rect", "manager", "admin"])
def test_only_a_lead_records_escalations(scenario, who):
    with pytest.raises(NotPermitted):
        escalation_service.record_escalations(scenario.db, scenario.actors[who], date(2026, 10, 20),
                              scenario.at("2026-10-20"))
    assert scenario.db.conn.execute("SELECT COUNT(*) FROM escalations").fetchone()[0] == 0


def test_the_chase_list_holds_what_the_users_own_person_must_chase(scenario):
    rect, lead = scenario.actors["rect"], scenario.actors["lead"]
    mine = gs.chase_list_for(scenario.db, rect, date(2026, 10, 19))
    assert [(d["issue_id"], d["step"]) for d in mine] == [(scenario.ids["i2"], "reminder")]
    assert gs.chase_list_for(scenario.db, rect, date(2026, 10, 20)) == []  # the letter: 孙经理
    assert gs.chase_list_for(scenario.db, lead, date(2026, 10, 20)) == []
    assert gs.chase_list_for(scenario.db, scenario.actors["manager"], date(2026, 10, 20)) == []


def test_a_rectifier_of_another_city_sees_no_escalation_of_city_a(scenario):
    scope = scope_for(scenario.db, scenario.actors["rect_b"])
    assert gs.escalations_due(scenario.db, scope, date(2026, 10, 20)) == []


def test_an_unknown_unit_is_refused(scenario):
    with pytest.raises(ValidationFailed):
        scope_for(scenario.db, scenario.actors["lead"], unit_code="ZZ")


def test_units_in_scope_follow_the_actor(scenario):
    codes = [u["code"] for u in gs.units_in_scope(scenario.db, scenario.actors["manager"])]
    assert codes == ["A", "A1"]
    assert [u["code"] for u in gs.units_in_scope(scenario.db, scenario.actors["lead"])][0] == "R"
