"""The rectification rules through the services on a hand-built programme (docs/RULES.md): the
cap warned at its exact boundary and accepted with a recorded reason, milestones turning an item
amber and red on the right working days (and the past kept), measures whose deadline does not
fit, review meetings keeping each item's colour, red counts over three meetings and the
escalation step they trigger, the pack's "since" from the last meeting."""
from __future__ import annotations

from datetime import date

import pytest

from audit import rules_views
from audit.messages import error_text
from audit.model import NotFound, NotPermitted, ValidationFailed
from audit.rules_model import CapExceeded, DeadlineMisfit, IssueDeadlineMisfit
from audit.store import history
from audit.store.live_check import check_live_tables
from audit.store import org
from audit.views import Scope, issue_states
from exports.pack_service import default_since
from issues import escalation_service, graph_views, meeting_service, rectify_service
from issues import service as issues
from owners import service as owners
from tests.programme import build

D = date.fromisoformat


@pytest.fixture
def p(tmp_path):
    return build(tmp_path)


def new(p, rtype: str, n: int, *, accept: str | None = None) -> int:
    return issues.create_issue(p.db, p.actors["lead"], aspect_id=p.aspects["C1.1"],
                               title=f"问题{n}", unit_id=p.units["A"], rectification_type=rtype,
                               accept_reason=accept, at=p.at("2026-01-05", 9, n))


def count(p, table: str) -> int:
    return p.db.conn.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0]


def colour(p, iid: int, day: str) -> str:
    return next(s["warning"] for s in issue_states(p.db, Scope(), D(day)) if s["id"] == iid)


# --- the cap ------------------------------------------------------------------------------------


def test_the_cap_is_warned_only_past_thirty_percent_and_a_lead_accepts_with_a_reason(p):
    for n in range(7):
        new(p, "immediate", n)
    new(p, "staged", 7)
    new(p, "continuous", 8)
    new(p, "staged", 9)                      # 3 of 10: exactly at the cap, no warning
    assert count(p, "rule_acceptances") == 0
    before = count(p, "issues")
    with pytest.raises(CapExceeded) as refused:
        new(p, "staged", 10)                 # 4 of 11
    assert refused.value.params["long"] == 4 and refused.value.params["total"] == 11
    assert count(p, "issues") == before      # nothing written
    iid = new(p, "staged", 10, accept="集团公司要求分阶段整改")
    row = p.db.conn.execute("SELECT rule, issue_id, reason, accepted_by FROM rule_acceptances"
                            ).fetchone()
    assert row == ("cap", iid, "集团公司要求分阶段整改", p.actors["lead"].user_id)
    assert check_live_tables(p.db).ok


def test_making_an_item_continuous_past_the_cap_is_warned_on_edit(p):
    ids = [new(p, "immediate", n) for n in range(7)] + [new(p, "staged", n) for n in (7, 8, 9)]
    with pytest.raises(CapExceeded):
        issues.edit_issue(p.db, p.actors["lead"], ids[0], version=p.version(ids[0]),
                          rectification_type="continuous", at=p.at("2026-01-06"))
    assert p.db.conn.execute("SELECT rectification_type FROM issues WHERE id = ?",
                             (ids[0],)).fetchone()[0] == "immediate"
    share = rules_views.type_share(p.db, Scope(), D("2026-01-06"))
    assert (share["long"], share["issues"], share["over"]) == (3, 10, False)


def test_the_cap_is_shown_on_the_dashboard_and_in_the_pack_within_then_above(p, tmp_path,
                                                                            make_app):
    """3 of 10 staged: the dashboard's line and the pack's sentence say within the cap; one
    more staged item accepted past it, 4 of 11: both say above it."""
    import docx

    from audit.views import scope_for
    from exports.pack_service import build_pack
    from tests.conftest import open_page, shown, sign_in
    from tests.programme import PASSWORD

    def pack_text(name: str) -> str:
        out = tmp_path / name
        build_pack(p.db, scope_for(p.db, None), out, as_of=D("2026-01-06"), lang="zh",
                   user="lead")
        return "".join(par.text for par in docx.Document(out).paragraphs)

    def dashboard() -> str:
        p.db.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        app = open_page(sign_in(make_app(p.path), "lead", PASSWORD), "dashboard")
        assert not app.exception
        return " ".join(shown(m.value) for m in [*app.markdown, *app.caption])

    for n in range(7):
        new(p, "immediate", n)
    for n in (7, 8, 9):
        new(p, "staged", n)
    assert "分阶段整改和持续整改合计3个，占30.0%，未超过30.0%的上限。" in pack_text("within.docx")
    seen = dashboard()
    assert "分阶段整改 3 个、持续整改 0 个，合计占 30.0%（上限 30.0%）。" in seen
    assert "超过 30.0% 的上限" not in seen
    new(p, "staged", 10, accept="集团公司要求分阶段整改")
    assert "分阶段整改和持续整改合计4个，占36.4%，超过30.0%的上限。" in pack_text("above.docx")
    assert "分阶段整改和持续整改合计占 36.4%，超过 30.0% 的上限。" in dashboard()


def test_only_a_lead_may_go_past_a_rule(p):
    iid = p.new_issue()
    p.assign(iid, deadline="2026-03-31")
    rect = p.actors["rect"]
    with pytest.raises(NotPermitted):
        issues.add_measure(p.db, rect, iid, title="延后措施", deadline="2026-04-30",
                           accept_reason="想延后", at=p.at("2026-01-07"))


# --- milestones and the warning colour -----------------------------------------------------------


def staged_item(p) -> tuple[int, int]:
    """A staged item due at the end of the year with a milestone due Wed 30 Sep 2026."""
    iid = p.new_issue()
    lead = p.actors["lead"]
    issues.edit_issue(p.db, lead, iid, version=p.version(iid), rectification_type="staged",
                      at=p.at("2026-01-05", 11))
    p.assign(iid, deadline="2026-12-31")
    mid = rectify_service.add_milestone(p.db, lead, iid, due_on="2026-09-30",
                                        deliverable="完成合同清查", at=p.at("2026-09-01"))
    return iid, mid


def test_a_late_milestone_turns_the_item_amber_then_red_on_the_fifth_working_day_late(p):
    iid, _ = staged_item(p)
    cal = org.load_calendar(p.db)
    # The stored calendar has National Day 2026 and its make-up Saturday.
    assert not cal.is_working_day(D("2026-10-05")) and cal.is_working_day(D("2026-10-10"))
    assert colour(p, iid, "2026-09-30") == "green"
    assert colour(p, iid, "2026-10-01") == "amber"
    assert colour(p, iid, "2026-10-12") == "amber"   # 8, 9, 10 (Sat), 12: four days late
    assert colour(p, iid, "2026-10-13") == "red"     # the fifth working day late
    assert rules_views.issue_warning(p.db, iid, D("2026-10-13")) == "red"


def test_completing_the_milestone_clears_the_colour_from_that_day_only(p):
    iid, mid = staged_item(p)
    rectify_service.complete_milestone(p.db, p.actors["rect"], mid, version=1,
                                       evidence="清查报告", done_on="2026-10-14",
                                       at=p.at("2026-10-14", 15))
    assert colour(p, iid, "2026-10-13") == "red"
    assert colour(p, iid, "2026-10-14") == "green"
    shown = rules_views.milestones_of(p.db, iid, D("2026-10-14"))
    assert [(m["done_on"], m["evidence"], m["warning"]) for m in shown] == [
        ("2026-10-14", "清查报告", "none")]
    assert check_live_tables(p.db).ok and history.verify(p.db).ok


def test_a_milestone_added_later_does_not_change_the_past(p):
    iid, _ = staged_item(p)
    assert colour(p, iid, "2026-08-31") == "green"    # the milestone did not exist yet
    with pytest.raises(NotFound):
        rectify_service.complete_milestone(p.db, p.actors["lead"], 999, version=None,
                                           evidence="x", at=p.at("2026-10-01"))


def test_milestones_belong_to_staged_items_and_goals_and_reports_to_continuous_ones(p):
    iid = p.new_issue()
    with pytest.raises(ValidationFailed) as refused:
        rectify_service.add_milestone(p.db, p.actors["lead"], iid, due_on="2026-05-01",
                                      deliverable="节点", at=p.at("2026-01-06"))
    assert refused.value.field == "kind"
    issues.edit_issue(p.db, p.actors["lead"], iid, version=p.version(iid),
                      rectification_type="continuous", at=p.at("2026-01-06"))
    rectify_service.add_milestone(p.db, p.actors["lead"], iid, kind="goal",
                                  due_on="2026-12-31", deliverable="持证上岗率100%",
                                  at=p.at("2026-01-06"))
    ids = rectify_service.schedule_reports(p.db, p.actors["lead"], iid, first="2026-03-31",
                                           every_months=3, count=4, deliverable="季度报告",
                                           at=p.at("2026-01-06"))
    days = [m["due_on"] for m in rules_views.milestones_of(p.db, iid, D("2026-01-06"))
            if m["id"] in ids]
    assert days == ["2026-03-31", "2026-06-30", "2026-09-30", "2026-12-31"]
    # A report not sent on time is a late milestone too.
    assert colour(p, iid, "2026-04-01") == "amber"


# --- deadlines that fit -------------------------------------------------------------------------


def test_a_measure_due_after_its_issue_is_warned_when_set_and_accepted_with_a_reason(p):
    iid = p.new_issue()
    p.assign(iid, deadline="2026-03-31")
    lead = p.actors["lead"]
    with pytest.raises(DeadlineMisfit) as refused:
        issues.add_measure(p.db, lead, iid, title="系统改造", deadline="2026-04-30",
                           at=p.at("2026-01-07"))
    assert refused.value.params["issue_deadline"] == "2026-03-31"
    assert count(p, "measures") == 0
    mid = issues.add_measure(p.db, lead, iid, title="系统改造", deadline="2026-04-30",
                             accept_reason="需等待系统版本发布", at=p.at("2026-01-07"))
    assert p.db.conn.execute("SELECT rule, measure_id, reason FROM rule_acceptances"
                             ).fetchone() == ("deadline_fit", mid, "需等待系统版本发布")
    # Moving it later again is a new warning.
    with pytest.raises(DeadlineMisfit):
        issues.edit_measure(p.db, lead, mid, version=p.mversion(mid), deadline="2026-05-31",
                            at=p.at("2026-01-08"))
    issues.edit_measure(p.db, lead, mid, version=p.mversion(mid), deadline="2026-03-15",
                        at=p.at("2026-01-08"))  # fits: no warning
    assert count(p, "rule_acceptances") == 1


def test_a_measure_due_after_the_milestone_it_serves_is_warned(p):
    iid, ms = staged_item(p)
    lead = p.actors["lead"]
    with pytest.raises(DeadlineMisfit) as refused:
        issues.add_measure(p.db, lead, iid, title="补签合同", deadline="2026-10-15",
                           milestone_id=ms, at=p.at("2026-09-02"))
    assert refused.value.key == "error.deadline_misfit.milestone"
    mid = issues.add_measure(p.db, lead, iid, title="补签合同", deadline="2026-09-25",
                             milestone_id=ms, at=p.at("2026-09-02"))
    with pytest.raises(DeadlineMisfit):
        issues.edit_measure(p.db, lead, mid, version=p.mversion(mid), deadline="2026-10-09",
                            at=p.at("2026-09-03"))
    assert check_live_tables(p.db).ok


def test_an_issue_deadline_set_before_its_measures_deadlines_is_warned_when_set(p):
    """Deadlines that fit, seen from the issue: measures planned before the assignment, then a
    deadline that comes before two of them (the done one needs no more time)."""
    iid = p.new_issue()
    lead = p.actors["lead"]
    early = p.measure(iid, deadline="2026-03-20", title="清查合同")
    late = p.measure(iid, deadline="2026-06-30", title="系统改造")
    later = p.measure(iid, deadline="2026-07-15", title="制度修订")
    done = p.measure(iid, deadline="2026-08-31", title="已完成的培训")
    issues.set_measure_status(p.db, lead, done, version=p.mversion(done), status="done",
                              completed_on="2026-01-06", at=p.at("2026-01-06", 15))
    with pytest.raises(IssueDeadlineMisfit) as refused:
        p.assign(iid, deadline="2026-03-31")
    assert refused.value.measures == [(late, "2026-06-30"), (later, "2026-07-15")]
    assert refused.value.params == {"deadline": "2026-03-31", "count": 2,
                                    "latest": "2026-07-15"}
    assert "2 项措施" in error_text(refused.value, "zh")
    assert p.db.conn.execute("SELECT deadline, original_deadline FROM issues WHERE id = ?",
                             (iid,)).fetchone() == (None, None)     # nothing written
    assert count(p, "rule_acceptances") == 0
    # Within the measures' dates: no warning (the done one is not counted).
    p.assign(iid, deadline="2026-07-15")
    assert count(p, "rule_acceptances") == 0
    # Earlier again, with the lead's reason: set and recorded.
    owners.assign_issue(p.db, lead, iid, version=p.version(iid), deadline="2026-03-31",
                        accept_reason="领导小组要求一季度末完成，措施随后压缩",
                        at=p.at("2026-01-07"))
    assert p.db.conn.execute("SELECT deadline FROM issues WHERE id = ?",
                             (iid,)).fetchone()[0] == "2026-03-31"
    assert p.db.conn.execute("SELECT rule, issue_id, measure_id, reason FROM rule_acceptances"
                             ).fetchone() == ("deadline_fit", iid, None,
                                              "领导小组要求一季度末完成，措施随后压缩")
    assert early not in [m for m, _ in refused.value.measures]
    assert check_live_tables(p.db).ok and history.verify(p.db).ok


# --- review meetings, red counts and the escalation ladder -----------------------------------------


def test_red_counts_over_three_meetings_and_the_letter_at_two_reds_running(p):
    lead = p.actors["lead"]
    late = p.new_issue("逾期问题")
    p.assign(late, deadline="2026-03-31")
    fine = p.new_issue("正常问题")
    p.assign(fine, deadline="2026-12-31")

    def meet(day: str) -> dict:
        return meeting_service.record_meeting(p.db, lead, held_on=day, title="推进会",
                                              attendees="领导小组", decisions="限期整改",
                                              at=p.at(day, 17))

    first = meet("2026-03-20")               # not yet overdue: amber
    assert (first["items"], first["reds"]) == (2, 0)
    meet("2026-04-10")                       # red
    counts = rules_views.red_counts(p.db, D("2026-04-10"))
    assert (counts[late].reds, counts[late].consecutive) == (1, 1)
    assert counts[fine].reds == 0
    # One red meeting: the reminder (also reached by working days overdue).
    steps = {d["issue_id"]: d["step"] for d in
             graph_views.escalations_due(p.db, Scope(), D("2026-04-10"))}
    assert steps == {late: "reminder"}
    meet("2026-04-17")                       # red again: two in a row → 督办函
    counts = rules_views.red_counts(p.db, D("2026-04-17"))
    assert (counts[late].meetings, counts[late].reds, counts[late].consecutive) == (3, 2, 2)
    due = graph_views.escalations_due(p.db, Scope(), D("2026-04-17"))
    assert [(d["issue_id"], d["step"], d["consecutive_reds"]) for d in due] == [
        (late, "letter", 2)]
    written = escalation_service.record_escalations(p.db, lead, D("2026-04-17"),
                                                    p.at("2026-04-17", 18))
    assert [(w["issue_id"], w["step"]) for w in written] == [(late, "letter")]
    assert "2 meetings" in written[0]["note"]
    snap = p.db.conn.execute("SELECT COUNT(*) FROM meeting_warnings").fetchone()[0]
    assert snap == 6
    assert check_live_tables(p.db).ok and history.verify(p.db).ok


def test_the_letter_comes_from_the_meetings_when_the_day_ladder_is_slower(p):
    lead, admin = p.actors["lead"], p.actors["admin"]
    from audit.calendar_service import set_setting
    set_setting(p.db, admin, "escalation.letter_days", "40", at=p.at("2026-01-02"))
    set_setting(p.db, admin, "escalation.summons_days", "60", at=p.at("2026-01-02"))
    late = p.new_issue("逾期问题")
    p.assign(late, deadline="2026-03-31")
    for day in ("2026-04-03", "2026-04-10"):
        meeting_service.record_meeting(p.db, lead, held_on=day, title="推进会",
                                       at=p.at(day, 17))
    due = graph_views.escalations_due(p.db, Scope(), D("2026-04-10"))
    assert [(d["step"], d["overdue_working_days"]) for d in due] == [("letter", 7)]
    meeting_service.record_meeting(p.db, lead, held_on="2026-04-17", title="推进会",
                                   at=p.at("2026-04-17", 17))
    due = graph_views.escalations_due(p.db, Scope(), D("2026-04-17"))
    assert [d["step"] for d in due] == ["summons"]


def test_a_meeting_cannot_be_in_the_future_and_only_a_lead_records_one(p):
    with pytest.raises(ValidationFailed):
        meeting_service.record_meeting(p.db, p.actors["lead"], held_on="2026-05-02",
                                       title="推进会", at=p.at("2026-05-01"))
    for who in ("rect", "manager", "admin"):
        with pytest.raises(NotPermitted):
            meeting_service.record_meeting(p.db, p.actors[who], held_on="2026-05-01",
                                           title="推进会", at=p.at("2026-05-01"))
    assert count(p, "meetings") == 0


def test_a_city_meeting_keeps_only_the_citys_items(p):
    a = p.new_issue("甲市问题", unit="A")
    b = p.new_issue("乙市问题", unit="B")
    out = meeting_service.record_meeting(p.db, p.actors["lead"], held_on="2026-02-01",
                                         title="甲市推进会", unit_code="A",
                                         at=p.at("2026-02-01"))
    assert out["items"] == 1
    kept = {r[0] for r in p.db.conn.execute("SELECT issue_id FROM meeting_warnings")}
    assert kept == {a} and b not in kept


def test_the_packs_since_defaults_to_the_last_meeting_before_the_date(p):
    p.new_issue()
    assert default_since(p.db, D("2026-03-20")) == D("2026-03-06")   # 14 days back
    meeting_service.record_meeting(p.db, p.actors["lead"], held_on="2026-03-10",
                                   title="推进会", at=p.at("2026-03-10"))
    meeting_service.record_meeting(p.db, p.actors["lead"], held_on="2026-03-20",
                                   title="推进会", at=p.at("2026-03-20"))
    assert default_since(p.db, D("2026-03-20")) == D("2026-03-10")
    assert default_since(p.db, D("2026-03-25")) == D("2026-03-20")
