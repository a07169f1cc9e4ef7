"""Two-level verification (逐级审核) and the check after closure (整改成效回头看), on the
hand-built programme with fixed dates: 初审 by a city lead, 复核销号 by a regional lead, with
segregation of duties at both levels and both in history; the one-level flow unchanged when the
setting is off; the check date set at 销号 from the months of the item's rectification type; a
check that finds the fix held, and one that reopens the item and counts a recurrence."""
from __future__ import annotations

import pytest

from audit import accounts_service, calendar_service, login_service
from audit.model import NotPermitted, Status, TransitionNotAllowed, ValidationFailed
from issues import recurrence_views, service as issues, store, work_views
from issues.model import Move, verification_level
from issues.recheck_model import add_months
from tests.programme import PASSWORD, build

from datetime import date


def two_level(p, on: bool = True) -> None:
    calendar_service.set_setting(p.db, p.actors["admin"], "verification.two_level",
                                 "1" if on else "0", at=p.at("2026-01-02"))


def city_lead(p):
    """A lead of city A (scope: A and its county), not a regional lead."""
    uid = accounts_service.create_user(p.db, None, "lead_a", PASSWORD, "lead",
                                       unit_id=p.units["A"], person_id=p.people["head_a"],
                                       at=p.at("2026-01-02"))
    return login_service.actor_for(p.db, uid)


def submitted_issue(p, title="合同未经法律审核") -> int:
    iid = p.new_issue(title)
    p.assign(iid, deadline="2026-03-31")
    p.measure(iid, deadline="2026-03-20")
    p.start(iid)
    p.make_closable(iid, day="2026-02-10")
    p.submit(iid, "2026-02-10")
    return iid


def history(p, iid: int, field: str) -> list[tuple]:
    return [tuple(r) for r in p.db.conn.execute(
        "SELECT action, actor, old, new FROM history WHERE entity = 'issue' AND entity_id = ? "
        "AND field = ? ORDER BY seq", (iid, field))]


def test_with_the_setting_off_one_lead_strikes_off_as_before_and_there_is_no_first_check(tmp_path):
    p = build(tmp_path)
    iid = submitted_issue(p)
    assert Move.CHECK not in issues.allowed_moves(p.db, p.actors["lead"], iid)
    with pytest.raises(TransitionNotAllowed):
        issues.move_issue(p.db, p.actors["lead"], iid, Move.CHECK, version=p.version(iid),
                          at=p.at("2026-02-11"))
    p.close(iid, "2026-02-11")
    assert p.status(iid) == Status.CLOSED.value


def test_a_city_lead_checks_first_and_a_regional_lead_strikes_off(tmp_path):
    p = build(tmp_path)
    two_level(p)
    lead_a = city_lead(p)
    iid = submitted_issue(p)
    [row] = work_views.verify_queue(p.db, lead_a, date(2026, 2, 11))
    assert row["level"] == "first"
    # 复核 before 初审 is refused, even for a regional lead
    with pytest.raises(TransitionNotAllowed) as refused:
        p.close(iid, "2026-02-11")
    assert refused.value.key == "error.verify_first_needed"
    assert issues.allowed_moves(p.db, lead_a, iid) == [Move.CHECK, Move.RETURN, Move.END]
    issues.move_issue(p.db, lead_a, iid, Move.CHECK, version=p.version(iid),
                      at=p.at("2026-02-11"))
    assert p.status(iid) == Status.SUBMITTED.value
    [row] = work_views.verify_queue(p.db, p.actors["lead"], date(2026, 2, 12))
    assert row["level"] == "second" and row["checked_by_name"] == "lead_a"
    # the city lead may neither check again nor strike off
    assert Move.CHECK not in issues.allowed_moves(p.db, lead_a, iid)
    assert Move.CLOSE not in issues.allowed_moves(p.db, lead_a, iid)
    with pytest.raises(NotPermitted) as refused:
        issues.move_issue(p.db, lead_a, iid, Move.CLOSE, version=p.version(iid),
                          at=p.at("2026-02-12"))
    assert refused.value.key == "error.verify_second_level"
    p.close(iid, "2026-02-12")
    assert p.status(iid) == Status.CLOSED.value
    assert history(p, iid, "checked_by") == [("workflow.check", "lead_a", None,
                                              str(lead_a.user_id))]
    assert history(p, iid, "closed_by")[-1][:2] == ("workflow.close", "lead")


def test_the_regional_lead_who_did_the_first_check_may_not_strike_off(tmp_path):
    p = build(tmp_path)
    two_level(p)
    iid = submitted_issue(p)
    issues.move_issue(p.db, p.actors["lead"], iid, Move.CHECK, version=p.version(iid),
                      at=p.at("2026-02-11"))
    assert Move.CLOSE not in issues.allowed_moves(p.db, p.actors["lead"], iid)
    with pytest.raises(NotPermitted) as refused:
        p.close(iid, "2026-02-12")
    assert refused.value.key == "error.verify_segregation"
    p.close(iid, "2026-02-12", actor="lead2")
    assert p.status(iid) == Status.CLOSED.value


def test_the_submitter_may_not_do_the_first_check(tmp_path):
    p = build(tmp_path)
    two_level(p)
    iid = p.new_issue()
    p.assign(iid, deadline="2026-03-31")
    p.measure(iid, deadline="2026-03-20")
    p.start(iid)
    p.make_closable(iid, day="2026-02-10")
    p.submit(iid, "2026-02-10", actor="lead")
    assert Move.CHECK not in issues.allowed_moves(p.db, p.actors["lead"], iid)
    with pytest.raises(NotPermitted) as refused:
        issues.move_issue(p.db, p.actors["lead"], iid, Move.CHECK, version=p.version(iid),
                          at=p.at("2026-02-11"))
    assert refused.value.key == "error.verify_segregation"


def test_a_return_at_the_second_level_sends_the_item_back_to_the_first(tmp_path):
    p = build(tmp_path)
    two_level(p)
    lead_a = city_lead(p)
    iid = submitted_issue(p)
    issues.move_issue(p.db, lead_a, iid, Move.CHECK, version=p.version(iid),
                      at=p.at("2026-02-11"))
    issues.move_issue(p.db, p.actors["lead"], iid, Move.RETURN, version=p.version(iid),
                      reason="佐证材料不全", at=p.at("2026-02-12"))
    assert store.issue_facts(p.db, iid).checked_by is None
    p.submit(iid, "2026-02-13")
    assert verification_level(store.issue_facts(p.db, iid), True) == "first"


def test_striking_off_sets_the_check_date_from_the_months_of_the_rectification_type(tmp_path):
    p = build(tmp_path)
    calendar_service.set_setting(p.db, p.actors["admin"], "recheck.months.staged", "3",
                                 at=p.at("2026-01-02"))
    a = submitted_issue(p)
    b = submitted_issue(p, "合同未约定违约责任")
    issues.edit_issue(p.db, p.actors["lead"], b, version=p.version(b),
                      rectification_type="staged", at=p.at("2026-02-10", 13))
    p.close(a, "2026-08-31")
    p.close(b, "2026-08-31")
    due = dict(p.db.conn.execute("SELECT id, recheck_due FROM issues"))
    assert due[a] == "2027-02-28" and due[b] == "2026-11-30"   # shorter months: last day
    assert add_months(date(2024, 1, 31), 1) == date(2024, 2, 29)


def test_a_check_that_finds_the_fix_held_ends_the_check(tmp_path):
    p = build(tmp_path)
    iid = submitted_issue(p)
    p.close(iid, "2026-02-11")
    lead = p.actors["lead"]
    assert recurrence_views.rechecks(p.db, lead, date(2026, 8, 10)) == []
    [due] = recurrence_views.rechecks(p.db, lead, date(2026, 8, 11))
    assert due["code"] == "C1.1.1" and due["recheck_due"] == "2026-08-11"
    assert recurrence_views.flag_counts(p.db, lead, date(2026, 8, 11))["recheck_due"] == 1
    issues.record_recheck(p.db, lead, iid, version=p.version(iid), outcome="held",
                          at=p.at("2026-08-12"))
    assert p.status(iid) == Status.CLOSED.value
    assert recurrence_views.rechecks(p.db, lead, date(2026, 8, 12)) == []
    assert history(p, iid, "recheck_due")[-1] == ("recheck.held", "lead", "2026-08-11", None)
    with pytest.raises(TransitionNotAllowed):
        issues.record_recheck(p.db, lead, iid, version=p.version(iid), outcome="held",
                              at=p.at("2026-08-13"))


def test_a_check_that_finds_the_finding_back_reopens_the_item_as_a_recurrence(tmp_path):
    p = build(tmp_path)
    iid = submitted_issue(p)
    p.close(iid, "2026-02-11")
    lead = p.actors["lead"]
    with pytest.raises(ValidationFailed):
        issues.record_recheck(p.db, lead, iid, version=p.version(iid), outcome="reopened",
                              at=p.at("2026-08-12"))
    with pytest.raises(NotPermitted):
        issues.record_recheck(p.db, p.actors["rect"], iid, version=p.version(iid),
                              outcome="reopened", reason="又发现", at=p.at("2026-08-12"))
    assert issues.record_recheck(p.db, lead, iid, version=p.version(iid), outcome="reopened",
                                 reason="抽查发现合同仍未经法律审核",
                                 at=p.at("2026-08-12")) == Status.IN_PROGRESS
    row = p.db.conn.execute("SELECT status, status_reason, recurrences, recheck_due, closed_by "
                            "FROM issues WHERE id = ?", (iid,)).fetchone()
    assert tuple(row) == ("in_progress", "抽查发现合同仍未经法律审核", 1, None, None)
    assert history(p, iid, "status")[-1] == ("recheck.reopened", "lead", "closed",
                                             "in_progress")
    assert recurrence_views.issue_flags(p.db, [iid])[iid]["recurring"]
    counts = recurrence_views.flag_counts(p.db, lead, date(2026, 8, 12))
    assert counts["recurrences"] == 1 and counts["recurring"] == 1
    # The day before the check: closed, its check due, not yet come back.
    before = recurrence_views.flag_counts(p.db, lead, date(2026, 8, 11))
    assert (before["recurrences"], before["recurring"], before["recheck_due"]) == (0, 0, 1)
    assert recurrence_views.badges(
        recurrence_views.issue_flags(p.db, [iid], date(2026, 8, 11))[iid]) == []
    assert recurrence_views.badges(recurrence_views.issue_flags(p.db, [iid])[iid]) == [
        "recurring", "reopened"]


def test_the_verification_settings_refuse_values_that_are_not_a_switch_or_months(tmp_path):
    p = build(tmp_path)
    with pytest.raises(ValidationFailed):
        calendar_service.set_setting(p.db, p.actors["admin"], "verification.two_level", "yes",
                                     at=p.at("2026-01-02"))
    with pytest.raises(ValidationFailed):
        calendar_service.set_setting(p.db, p.actors["admin"], "recheck.months.immediate", "0",
                                     at=p.at("2026-01-02"))


def test_the_demo_has_one_check_due_and_one_recurrence_to_confirm_and_still_verifies(demo_path):
    from audit.demo import demo_actor
    from audit.store import live_check
    from audit.store.db import open_database
    from tests.conftest import AS_OF
    db = open_database(demo_path)
    lead = demo_actor(db, "lead")
    [due] = recurrence_views.rechecks(db, lead, AS_OF)
    assert due["due"] and due["recheck_due"] < AS_OF.isoformat()
    [pending] = recurrence_views.pending_recurrences(db, lead)
    assert pending["earlier_id"] == due["id"]
    counts = recurrence_views.flag_counts(db, lead, AS_OF)
    assert counts["recheck_due"] == 1 and counts["recurrence_pending"] == 1
    check = live_check.check_live_tables(db)
    assert check.ok, [m.describe() for m in check.examples]
    db.conn.close()


def test_a_lead_moves_a_check_date_but_not_before_the_strike_off(tmp_path):
    p = build(tmp_path)
    iid = submitted_issue(p)
    with pytest.raises(TransitionNotAllowed):
        issues.schedule_recheck(p.db, p.actors["lead"], iid, version=p.version(iid),
                                due="2026-03-01", at=p.at("2026-02-11"))
    p.close(iid, "2026-02-11")
    with pytest.raises(ValidationFailed):
        issues.schedule_recheck(p.db, p.actors["lead"], iid, version=p.version(iid),
                                due="2026-02-10", at=p.at("2026-02-12"))
    assert issues.schedule_recheck(p.db, p.actors["lead"], iid, version=p.version(iid),
                                   due="2026-05-11", at=p.at("2026-02-12")) == "2026-05-11"
    assert [r["code"] for r in recurrence_views.rechecks(p.db, p.actors["lead"],
                                                         date(2026, 5, 11))] == ["C1.1.1"]


# --- a ledger import under two-level verification ---------------------------------------------


def closed_ledger(p, iid: int) -> bytes:
    """A ledger row saying the issue is struck off (已销号), nothing else to change."""
    from tests.ledger_factory import table, xlsx_bytes
    from tests.test_issues_importer import ledger_row
    code, title, unit = p.db.conn.execute(
        "SELECT i.code, i.title, u.name FROM issues i JOIN units u ON u.id = i.unit_id "
        "WHERE i.id = ?", (iid,)).fetchone()
    return xlsx_bytes(table(ledger_row(1, 问题编号=code, 问题描述=title, 责任单位=unit,
                                       整改状态="已销号", 整改措施="", 责任人="",
                                       整改时限="2026-03-31")))


def import_closed(p, iid: int, actor, day: str):
    from issues.import_service import apply_import, plan_import
    from tests.ledger_factory import read_ledger
    plan = plan_import(p.db, actor, read_ledger(closed_ledger(p, iid), "回收台账.xlsx"), None,
                       filename="回收台账.xlsx")
    [row] = plan.rows
    apply_import(p.db, actor, plan, p.at(day))
    return row


def test_an_imported_closed_status_waits_for_the_first_check_instead_of_refusing_the_file(
        tmp_path):
    """A returned ledger saying 已销号 used to plan a strike-off the workflow then refused
    (初审 first), failing the whole file; it now stops at 待验收 and says why."""
    p = build(tmp_path)
    two_level(p)
    lead_a = city_lead(p)
    iid = submitted_issue(p)
    row = import_closed(p, iid, p.actors["lead"], "2026-02-11")
    assert (row.moves, row.missing, row.status_after) == ([], ["first_check"],
                                                          Status.SUBMITTED.value)
    assert p.status(iid) == Status.SUBMITTED.value
    issues.move_issue(p.db, lead_a, iid, Move.CHECK, version=p.version(iid),
                      at=p.at("2026-02-12"))
    # The city lead who did the 初审 may not strike off by import either.
    row = import_closed(p, iid, lead_a, "2026-02-12")
    assert row.missing == ["second_level"] and p.status(iid) == Status.SUBMITTED.value
    # A regional lead, after the 初审: struck off by the import, both levels recorded.
    row = import_closed(p, iid, p.actors["lead"], "2026-02-13")
    assert row.moves == [Move.CLOSE] and row.missing == []
    assert p.db.conn.execute("SELECT status, checked_by, closed_by FROM issues WHERE id = ?",
                             (iid,)).fetchone() == (Status.CLOSED.value, lead_a.user_id,
                                                    p.actors["lead"].user_id)


def test_the_batch_verifies_each_item_at_the_level_it_waits_at(tmp_path):
    """验收's batch under two-level verification: a city lead's batch does the 初审 of each, a
    second batch by the same lead is refused (复核销号 is a regional lead's), a regional lead's
    strikes them off."""
    from issues import batch_service
    p = build(tmp_path)
    two_level(p)
    lead_a = city_lead(p)
    ids = [submitted_issue(p, title) for title in ("合同未经法律审核", "合同未按期续签")]

    def picked():
        return [batch_service.Picked(i, p.version(i), f"#{i}") for i in ids]

    done = batch_service.strike_off(p.db, lead_a, picked(), checked=True,
                                    at=p.at("2026-02-11"))
    assert [(o.done, o.result) for o in done] == [(True, Move.CHECK), (True, Move.CHECK)]
    assert [p.status(i) for i in ids] == [Status.SUBMITTED.value] * 2
    again = batch_service.strike_off(p.db, lead_a, picked(), checked=True,
                                     at=p.at("2026-02-11", 11))
    assert [(o.done, o.error.key) for o in again] == [(False, "error.verify_second_level")] * 2
    closed = batch_service.strike_off(p.db, p.actors["lead"], picked(), checked=True,
                                      at=p.at("2026-02-12"))
    assert [(o.done, o.result) for o in closed] == [(True, Move.CLOSE), (True, Move.CLOSE)]
    assert [tuple(r) for r in p.db.conn.execute(
        f"SELECT status, checked_by, closed_by FROM issues WHERE id IN ({ids[0]}, {ids[1]})")
        ] == [(Status.CLOSED.value, lead_a.user_id, p.actors["lead"].user_id)] * 2


# --- items struck off before the check after closure existed ----------------------------------


def close_as_an_older_release(p, iid: int, day: str) -> None:
    """销号 as the releases before the check after closure wrote it: the same move's columns
    and history, without recheck_due (a database migrated since holds such items)."""
    from audit.store.db import write_transaction
    from audit.store.history import Recorder
    from audit.store.rows import get_row, update
    from issues.model import move_values
    lead, at = p.actors["lead"], p.at(day)
    with write_transaction(p.db):
        issue = get_row(p.db, "issues", iid, "issue")
        rec = Recorder(p.db, lead, at, "workflow.close")
        update(p.db, rec, "issues", "issue", issue, move_values(Move.CLOSE, lead, "", at))
        rec.flush()


def test_items_struck_off_before_the_check_existed_are_given_their_check_date(tmp_path):
    from audit.store import history as chain
    from audit.store.live_check import check_live_tables
    p = build(tmp_path)
    lead = p.actors["lead"]
    old = submitted_issue(p, "合同未经法律审核")
    close_as_an_older_release(p, old, "2026-02-11")
    checked = submitted_issue(p, "合同未按期续签")
    p.close(checked, "2026-02-11")
    issues.record_recheck(p.db, lead, checked, version=p.version(checked), outcome="held",
                          at=p.at("2026-08-12"))
    # Both have no check date now; only the one never scheduled is offered one.
    assert [r["id"] for r in recurrence_views.unscheduled_rechecks(p.db, lead)] == [old]
    with pytest.raises(NotPermitted):
        issues.schedule_missing_rechecks(p.db, p.actors["rect"], at=p.at("2026-08-13"))
    code = p.db.conn.execute("SELECT code FROM issues WHERE id = ?", (old,)).fetchone()[0]
    assert issues.schedule_missing_rechecks(p.db, lead, at=p.at("2026-08-13")) == [code]
    # The 销号 day plus the six months of an immediate item, as striking it off now would.
    [due] = recurrence_views.rechecks(p.db, lead, date(2026, 8, 13))
    assert (due["id"], due["recheck_due"]) == (old, "2026-08-11")
    assert history(p, old, "recheck_due") == [("recheck.schedule", "lead", None, "2026-08-11")]
    assert issues.schedule_missing_rechecks(p.db, lead, at=p.at("2026-08-14")) == []
    assert recurrence_views.unscheduled_rechecks(p.db, lead) == []
    assert check_live_tables(p.db).ok and chain.verify(p.db).ok
