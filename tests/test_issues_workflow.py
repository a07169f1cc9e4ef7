"""Workflow rules in the service layer: every (status, move, role) triple, 四个到人, 三不放过,
segregation of duties, reasons, stale edits."""
from __future__ import annotations

import pytest

from audit.model import (
    AssignmentIncomplete,
    AuditError,
    ClosureBlocked,
    DependencyCycle,
    NotPermitted,
    StaleEdit,
    TransitionNotAllowed,
    ValidationFailed,
)
from issues import service as issues
from issues.model import Move
from tests.programme import build

STATUSES = ["not_started", "in_progress", "submitted", "closed", "ended"]
ROLES = ["admin", "lead", "rect", "rect_b", "manager"]

# Worked out from DOMAIN.md by hand: who may make which move from which status. `rect` is the
# issue's responsible person; `rect_b` a rectifier of another unit; `lead` did not submit it.
ALLOWED = {
    ("not_started", "start"): {"lead", "rect"},
    ("not_started", "end"): {"lead"},
    ("in_progress", "submit"): {"lead", "rect"},
    ("in_progress", "end"): {"lead"},
    ("submitted", "close"): {"lead"},
    ("submitted", "return"): {"lead"},
    ("submitted", "end"): {"lead"},
    ("closed", "reopen"): {"lead"},
    ("ended", "reopen"): {"lead"},
}
TARGET = {"start": "in_progress", "submit": "submitted", "close": "closed",
          "return": "in_progress", "reopen": "in_progress", "end": "ended"}


@pytest.fixture
def prog(tmp_path):
    return build(tmp_path)


def issue_in(prog, status: str) -> int:
    iid = prog.new_issue()
    prog.assign(iid, deadline="2026-06-30")
    prog.measure(iid, deadline="2026-06-15")
    if status == "not_started":
        return iid
    prog.start(iid)
    if status == "in_progress":
        return iid
    if status == "ended":
        issues.move_issue(prog.db, prog.actors["lead"], iid, Move.END,
                          version=prog.version(iid), reason="业务已撤销", at=prog.at("2026-02-01"))
        return iid
    prog.make_closable(iid, day="2026-02-01")
    prog.submit(iid, "2026-02-02")
    if status == "submitted":
        return iid
    prog.close(iid, "2026-02-03", actor="lead2")
    return iid


def history_count(prog) -> int:
    return prog.db.conn.execute("SELECT COUNT(*) FROM history").fetchone()[0]


@pytest.mark.parametrize("status", STATUSES)
@pytest.mark.parametrize("move", [m.value for m in Move])
@pytest.mark.parametrize("role", ROLES)
def test_each_move_is_allowed_only_from_its_status_for_its_roles(prog, status, move, role):
    iid = issue_in(prog, status)
    before, records = prog.version(iid), history_count(prog)
    expected = role in ALLOWED.get((status, move), set())
    call = lambda: issues.move_issue(prog.db, prog.actors[role], iid, move, version=before,  # noqa
                                     reason="按规定处理", at=prog.at("2026-03-01"))
    if expected:
        assert call().value == TARGET[move]
        assert prog.status(iid) == TARGET[move]
        assert history_count(prog) > records
    else:
        with pytest.raises((NotPermitted, TransitionNotAllowed)):
            call()
        assert prog.status(iid) == status
        assert prog.version(iid) == before
        assert history_count(prog) == records
    shown = {m.value for m in issues.allowed_moves(prog.db, prog.actors[role], iid)} \
        if not expected else None
    if shown is not None:
        assert move not in shown


def test_allowed_moves_lists_what_the_user_may_press(prog):
    iid = issue_in(prog, "submitted")
    assert {m.value for m in issues.allowed_moves(prog.db, prog.actors["lead"], iid)} == \
        {"close", "return", "end"}
    assert issues.allowed_moves(prog.db, prog.actors["rect"], iid) == []
    assert issues.allowed_moves(prog.db, prog.actors["manager"], iid) == []


@pytest.mark.parametrize("missing", ["responsible_person", "measure", "measure_owner",
                                     "measure_deadline", "issue_deadline"])
def test_work_cannot_start_until_four_to_person_is_met(prog, missing):
    iid = prog.new_issue()
    lead = prog.actors["lead"]
    from owners import service as owners
    kwargs = {"responsible_person_id": prog.people["rect_a"], "deadline": "2026-06-30"}
    if missing == "responsible_person":
        kwargs.pop("responsible_person_id")
    if missing == "issue_deadline":
        kwargs.pop("deadline")
    owners.assign_issue(prog.db, lead, iid, version=prog.version(iid), at=prog.at("2026-01-06"),
                        **kwargs)
    if missing != "measure":
        issues.add_measure(prog.db, lead, iid, title="措施",
                           owner_person_id=None if missing == "measure_owner"
                           else prog.people["owner_a"],
                           deadline=None if missing == "measure_deadline" else "2026-06-01",
                           at=prog.at("2026-01-06"))
    with pytest.raises(AssignmentIncomplete) as err:
        prog.start(iid)
    assert err.value.missing == [missing]
    assert prog.status(iid) == "not_started"


@pytest.mark.parametrize("skip", ["root_cause", "accountability", "measures_done",
                                  "measure_evidence"])
def test_an_item_cannot_be_struck_off_until_three_no_let_go_is_met(prog, skip):
    iid = prog.new_issue()
    prog.assign(iid, deadline="2026-06-30")
    mid = prog.measure(iid, deadline="2026-06-01")
    prog.start(iid)
    rect, db = prog.actors["rect"], prog.db
    if skip != "root_cause":
        issues.record_root_cause(db, rect, iid, new_cause_title="制度缺失", at=prog.at("2026-02-01"))
    if skip != "accountability":
        issues.record_accountability(db, rect, iid, person_name="某某", action="诫勉谈话",
                                     at=prog.at("2026-02-01"))
    if skip != "measure_evidence":
        from issues.evidence_service import attach_evidence
        from tests.programme import MAX_UPLOAD, PDF
        attach_evidence(db, rect, iid, filename="a.pdf", data=PDF, evidence_root=prog.evidence_root,
                        max_bytes=MAX_UPLOAD, measure_id=mid, at=prog.at("2026-02-01"))
    if skip != "measures_done":
        issues.set_measure_status(db, rect, mid, version=prog.mversion(mid), status="done",
                                  at=prog.at("2026-02-01"))
    prog.submit(iid, "2026-02-02")
    with pytest.raises(ClosureBlocked) as err:
        prog.close(iid, "2026-02-03")
    assert err.value.missing == [skip]
    assert prog.status(iid) == "submitted"


def test_lead_cannot_strike_off_its_own_submission(prog):
    iid = issue_in(prog, "in_progress")
    prog.make_closable(iid, day="2026-02-01", actor="lead")
    prog.submit(iid, "2026-02-02", actor="lead")
    with pytest.raises(NotPermitted, match="may not strike it off"):
        prog.close(iid, "2026-02-03", actor="lead")
    assert Move.CLOSE not in issues.allowed_moves(prog.db, prog.actors["lead"], iid)
    prog.close(iid, "2026-02-03", actor="lead2")
    assert prog.status(iid) == "closed"


def test_lead_who_owns_a_measure_cannot_strike_off(prog):
    iid = prog.new_issue()
    prog.assign(iid, deadline="2026-06-30")
    prog.measure(iid, deadline="2026-06-01", owner="lead_p")
    prog.start(iid)
    prog.make_closable(iid, day="2026-02-01", actor="lead2")
    prog.submit(iid, "2026-02-02")
    with pytest.raises(NotPermitted):
        prog.close(iid, "2026-02-03", actor="lead")


@pytest.mark.parametrize("move,status", [("return", "submitted"), ("reopen", "closed"),
                                         ("end", "in_progress")])
def test_return_reopen_and_end_need_a_reason(prog, move, status):
    iid = issue_in(prog, status)
    with pytest.raises(ValidationFailed) as err:
        issues.move_issue(prog.db, prog.actors["lead"], iid, move, version=prog.version(iid),
                          reason="   ", at=prog.at("2026-03-01"))
    assert err.value.field == "reason"
    assert prog.status(iid) == status


def test_reopening_clears_the_strike_off_and_keeps_the_reason(prog):
    iid = issue_in(prog, "closed")
    issues.move_issue(prog.db, prog.actors["lead"], iid, "reopen", version=prog.version(iid),
                      reason="复查发现问题反弹", at=prog.at("2026-03-01"))
    row = prog.db.conn.execute("SELECT status, closed_by, closed_at, status_reason FROM issues "
                               "WHERE id = ?", (iid,)).fetchone()
    assert row == ("in_progress", None, None, "复查发现问题反弹")


def test_a_stale_edit_is_refused_naming_who_changed_it_and_when(prog):
    iid = prog.new_issue()
    old_version = prog.version(iid)
    issues.edit_issue(prog.db, prog.actors["lead2"], iid, version=old_version,
                      title="合同未经法律审核（修订）", at=prog.at("2026-01-10", 9, 30))
    with pytest.raises(StaleEdit) as err:
        issues.edit_issue(prog.db, prog.actors["lead"], iid, version=old_version,
                          title="另一个标题", at=prog.at("2026-01-10", 9, 31))
    assert err.value.changed_by == "lead2"
    assert err.value.changed_at == "2026-01-10T09:30:00+08:00"
    title = prog.db.conn.execute("SELECT title FROM issues WHERE id = ?", (iid,)).fetchone()[0]
    assert title == "合同未经法律审核（修订）"


def test_rectifier_changes_only_its_own_items_and_measures(prog):
    mine = prog.new_issue()
    prog.assign(mine, deadline="2026-06-30")
    theirs = prog.new_issue("另一个问题", unit="A")
    prog.assign(theirs, deadline="2026-06-30", responsible="owner_a")
    other_measure = prog.measure(theirs, deadline="2026-06-01", owner="owner_a")
    rect = prog.actors["rect"]
    issues.add_measure(prog.db, rect, mine, title="我的措施", owner_person_id=prog.people["rect_a"],
                       deadline="2026-06-01", at=prog.at("2026-01-08"))
    with pytest.raises(NotPermitted):
        issues.add_measure(prog.db, rect, theirs, title="x", at=prog.at("2026-01-08"))
    with pytest.raises(NotPermitted):
        issues.set_measure_status(prog.db, rect, other_measure, version=1, status="done",
                                  at=prog.at("2026-01-08"))
    with pytest.raises(NotPermitted):
        issues.update_progress(prog.db, rect, theirs, version=prog.version(theirs),
                               progress="x", at=prog.at("2026-01-08"))


def test_a_rectifier_outside_the_scope_cannot_touch_the_item(prog):
    iid = prog.new_issue()
    prog.assign(iid, deadline="2026-06-30", responsible="rect_b")  # person of B, item in A
    with pytest.raises(NotPermitted, match="scope"):
        issues.update_progress(prog.db, prog.actors["rect_b"], iid, version=prog.version(iid),
                               progress="x", at=prog.at("2026-01-08"))


@pytest.mark.parametrize("call", [
    lambda p, iid: issues.edit_issue(p.db, p.actors["manager"], iid, version=None, title="x",
                                     at=p.at("2026-01-08")),
    lambda p, iid: issues.update_progress(p.db, p.actors["manager"], iid, version=None,
                                          progress="x", at=p.at("2026-01-08")),
    lambda p, iid: issues.add_measure(p.db, p.actors["manager"], iid, title="x",
                                      at=p.at("2026-01-08")),
    lambda p, iid: issues.record_root_cause(p.db, p.actors["manager"], iid,
                                            new_cause_title="x", at=p.at("2026-01-08")),
    lambda p, iid: issues.record_accountability(p.db, p.actors["manager"], iid,
                                                not_applicable=True, reason="x",
                                                at=p.at("2026-01-08")),
])
def test_a_manager_changes_nothing(prog, call):
    iid = prog.new_issue()
    records = history_count(prog)
    with pytest.raises(NotPermitted):
        call(prog, iid)
    assert history_count(prog) == records


def test_a_dependency_that_would_make_a_cycle_is_refused_naming_the_cycle(prog):
    a, b, c = prog.new_issue("甲"), prog.new_issue("乙"), prog.new_issue("丙")
    ma, mb, mc = (prog.measure(i, deadline="2026-05-01") for i in (a, b, c))
    lead = prog.actors["lead"]
    issues.add_dependency(prog.db, lead, ma, mb, at=prog.at("2026-01-08"))
    issues.add_dependency(prog.db, lead, mb, mc, at=prog.at("2026-01-08"))
    records = history_count(prog)
    with pytest.raises(DependencyCycle) as err:
        issues.add_dependency(prog.db, lead, mc, ma, at=prog.at("2026-01-08"))
    assert err.value.cycle == [f"C1.1.3/M{mc}", f"C1.1.1/M{ma}", f"C1.1.2/M{mb}",
                               f"C1.1.3/M{mc}"]
    assert history_count(prog) == records
    with pytest.raises(DependencyCycle):
        issues.add_dependency(prog.db, lead, ma, ma, at=prog.at("2026-01-08"))


def test_measures_cannot_change_once_submitted(prog):
    iid = issue_in(prog, "submitted")
    with pytest.raises(ValidationFailed) as err:
        issues.add_measure(prog.db, prog.actors["lead"], iid, title="x", at=prog.at("2026-03-01"))
    assert err.value.field == "status"


def test_every_refusal_is_an_audit_error_with_a_message_key(prog):
    iid = prog.new_issue()
    with pytest.raises(AuditError) as err:
        prog.start(iid)
    assert err.value.key == "error.assignment_incomplete"
