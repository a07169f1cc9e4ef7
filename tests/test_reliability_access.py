"""Access control, as a matrix: every action of audit.model.PERMISSIONS, mapped to a real service
call, × every role (and a lead and an administrator limited to unit A) × an item in scope and
owned, in scope and someone else's, and out of scope. The expected outcome comes from a hand
table written from DOMAIN.md's roles, not from PERMISSIONS; a refused call must write nothing."""
from __future__ import annotations

import os
import sqlite3
from dataclasses import dataclass, replace
from datetime import date
from pathlib import Path
from typing import Any, Callable

import pytest

from audit import accounts_service, calendar_service, login_service
from audit.backup_service import online_backup
from audit.model import PERMISSIONS, Actor, AuditError, LedgerRowError, NotPermitted
from audit.store import history
from exports import remind_run_service, remind_service
from issues import evidence_service, meeting_service, merge_service, rectify_service
from issues import service as issues
from issues.model import Move
from owners import service as owners
from tests.programme import MAX_UPLOAD, PDF, Programme, build
from issues import escalation_service, vocabulary_service

AT = "2026-11-23T10:00:00+08:00"

# Who may do what, written from DOMAIN.md's "Who uses it" (not copied from PERMISSIONS):
# the audit lead runs the programme, the rectifier works on its own items only, the manager
# reads, the administrator keeps users, units, calendar, settings and backups, and may build the
# catalogue, assign, merge and import.
A, O, N = "any", "own", None
HAND: dict[str, dict[str, str | None]] = {
    #                         admin lead  rectifier manager
    "catalogue.edit":        dict(admin=A, lead=A, rectifier=N, manager=N),
    "issue.assign":          dict(admin=A, lead=A, rectifier=N, manager=N),
    "issue.progress":        dict(admin=N, lead=A, rectifier=O, manager=N),
    "measure.add":           dict(admin=N, lead=A, rectifier=O, manager=N),
    "measure.edit":          dict(admin=N, lead=A, rectifier=O, manager=N),
    "measure.depend":        dict(admin=N, lead=A, rectifier=O, manager=N),
    "cause.record":          dict(admin=N, lead=A, rectifier=O, manager=N),
    "cause.edit":            dict(admin=N, lead=A, rectifier=N, manager=N),
    "accountability.record": dict(admin=N, lead=A, rectifier=O, manager=N),
    "evidence.attach":       dict(admin=N, lead=A, rectifier=O, manager=N),
    "workflow.start":        dict(admin=N, lead=A, rectifier=O, manager=N),
    "workflow.submit":       dict(admin=N, lead=A, rectifier=O, manager=N),
    "workflow.close":        dict(admin=N, lead=A, rectifier=N, manager=N),
    "workflow.check":        dict(admin=N, lead=A, rectifier=N, manager=N),
    "workflow.return":       dict(admin=N, lead=A, rectifier=N, manager=N),
    "workflow.reopen":       dict(admin=N, lead=A, rectifier=N, manager=N),
    "workflow.end":          dict(admin=N, lead=A, rectifier=N, manager=N),
    "deadline.extend":       dict(admin=N, lead=A, rectifier=N, manager=N),
    "deadline.request":      dict(admin=N, lead=A, rectifier=O, manager=N),
    "issue.merge":           dict(admin=A, lead=A, rectifier=N, manager=N),
    "ledger.import":         dict(admin=A, lead=A, rectifier=N, manager=N),
    "vocabulary.create":     dict(admin=N, lead=A, rectifier=N, manager=N),
    "escalation.record":     dict(admin=N, lead=A, rectifier=N, manager=N),
    "org.edit":              dict(admin=A, lead=N, rectifier=N, manager=N),
    "user.manage":           dict(admin=A, lead=N, rectifier=N, manager=N),
    "calendar.edit":         dict(admin=A, lead=N, rectifier=N, manager=N),
    "backup.run":            dict(admin=A, lead=N, rectifier=N, manager=N),
    "settings.edit":         dict(admin=A, lead=N, rectifier=N, manager=N),
    "remind.configure":      dict(admin=A, lead=N, rectifier=N, manager=N),
    "remind.run":            dict(admin=A, lead=N, rectifier=N, manager=N),
    "milestone.edit":        dict(admin=N, lead=A, rectifier=O, manager=N),
    "meeting.record":        dict(admin=N, lead=A, rectifier=N, manager=N),
    "rule.accept":           dict(admin=A, lead=A, rectifier=N, manager=N),
}
# Actions on no particular unit: scope does not apply.
UNSCOPED = {"cause.edit", "vocabulary.create", "calendar.edit", "backup.run", "settings.edit", "remind.configure",
            "remind.run"}

# The actors: every role, plus a lead and an administrator whose scope is unit A only.
ACTORS = ("admin", "admin_a", "lead", "lead_a", "rect", "manager")
ROLE_OF = {"admin": "admin", "admin_a": "admin", "lead": "lead", "lead_a": "lead",
           "rect": "rectifier", "manager": "manager"}
SCOPE_A = {"admin_a", "lead_a", "rect", "manager"}
# The items: in unit A with the rectifier `rect` responsible ("own"), in unit A with someone
# else responsible ("other"), and in unit B ("out").
TARGETS = ("own", "other", "out")
RESPONSIBLE = {"own": "rect_a", "other": "owner_a", "out": "rect_b"}
UNIT = {"own": "A", "other": "A", "out": "B"}


def expected(action: str, who: str, target: str) -> bool:
    """The hand rule: the role may do it, on an item in the actor's scope, and on its own item
    when the role only acts on its own."""
    grant = HAND[action][ROLE_OF[who]]
    if grant is None:
        return False
    if action not in UNSCOPED and target == "out" and who in SCOPE_A:
        return False
    if grant == O and target != "own":
        return False
    return True


class NothingDone(Exception):
    """The call returned without doing anything (a scope filter left nothing to do)."""


@dataclass
class Case:
    p: Programme
    actors: dict[str, Actor]
    ctx: dict[str, Any]


# --- preparing the item each action needs ------------------------------------------------------

def issue_for(p: Programme, target: str, *, assigned: bool = True, measures: int = 0,
              started: bool = False, submitted: bool = False, closed: bool = False,
              deadline: str = "2026-06-30", title: str = "权限测试问题") -> int:
    """An issue in the target's unit, walked by the region's leads as far as asked."""
    iid = p.new_issue(title, unit=UNIT[target])
    if assigned:
        p.assign(iid, deadline=deadline, responsible=RESPONSIBLE[target])
    owner = "rect_b" if target == "out" else "owner_a"
    for i in range(measures):
        p.measure(iid, deadline=deadline, owner=owner, title=f"措施{i}")
    if started:
        p.start(iid)
    if submitted:
        p.make_closable(iid, day="2026-03-01", actor="lead2")
        p.submit(iid, "2026-03-02", actor="lead2")
    if closed:
        p.close(iid, "2026-03-03", actor="lead")
    return iid


def prepare(action: str, p: Programme, target: str) -> dict[str, Any]:
    """The state the action needs; returns what the call needs to know."""
    ctx: dict[str, Any] = {}
    if action in ("workflow.start",):
        ctx["issue"] = issue_for(p, target, measures=1)
    elif action == "workflow.submit":
        ctx["issue"] = issue_for(p, target, measures=1, started=True)
        p.make_closable(ctx["issue"], day="2026-03-01", actor="lead2")
    elif action in ("workflow.close", "workflow.return"):
        ctx["issue"] = issue_for(p, target, measures=1, started=True, submitted=True)
    elif action == "workflow.check":
        # 初审 exists only with two-level verification switched on.
        p.db.conn.execute("UPDATE settings SET value = '1' WHERE key = 'verification.two_level'")
        ctx["issue"] = issue_for(p, target, measures=1, started=True, submitted=True)
    elif action == "workflow.reopen":
        ctx["issue"] = issue_for(p, target, measures=1, started=True, submitted=True,
                                 closed=True)
    elif action in ("measure.edit", "measure.depend"):
        ctx["issue"] = issue_for(p, target, measures=2)
        ctx["measures"] = [r[0] for r in p.db.conn.execute(
            "SELECT id FROM measures WHERE issue_id = ? ORDER BY id", (ctx["issue"],))]
    elif action == "issue.merge":
        ctx["issue"] = issue_for(p, target)
        ctx["other"] = issue_for(p, target, title="重复问题")
    elif action == "escalation.record":
        ctx["issue"] = issue_for(p, target, measures=1, started=True, deadline="2026-02-27")
    elif action == "cause.edit":
        ctx["cause"] = issues.create_cause(p.db, p.actors["lead"], title="共性根源", at=AT)
    elif action == "milestone.edit":
        ctx["issue"] = issue_for(p, target)
        issues.edit_issue(p.db, p.actors["lead"], ctx["issue"], version=v(p, ctx["issue"]),
                          rectification_type="staged", at=AT)
    elif action == "rule.accept":
        # A one-item programme is past the cap once the minimum size is 0.
        calendar_service.set_setting(p.db, p.actors["admin"], "rectify.cap_min_items", "0",
                                     at=AT)
        ctx["issue"] = issue_for(p, target)
    elif action == "user.manage":
        ctx["user"] = p.actors["rect_b" if target == "out" else "rect"].user_id
    else:
        ctx["issue"] = issue_for(p, target)
    return ctx


def v(p: Programme, iid: int) -> int:
    return p.version(iid)


def _escalate(p: Programme, a: Actor, c: dict) -> None:
    from datetime import date
    written = escalation_service.record_escalations(p.db, a, date(2026, 11, 23), AT)
    if not any(w["issue_id"] == c["issue"] for w in written):
        raise NothingDone("no escalation recorded for the item")


def _import(p: Programme, a: Actor, c: dict, target: str) -> None:
    from issues import import_service as importer
    from tests.ledger_factory import read_ledger
    from tests import ledger_factory as lf
    unit = "乙市分公司" if target == "out" else "甲市分公司"
    person = "王五" if target == "out" else "张三"
    data = lf.xlsx_bytes(lf.table(lf.row(
        1, 责任单位=unit, 责任人=person, 问题编号="", 问题描述="导入的问题。说明",
        整改措施=f"1. 完成合同清理（责任人：{person}；时限：2026-12-31）")))
    parsed = read_ledger(data, "ledger.xlsx")
    plan = importer.plan_import(p.db, a, parsed, "audit", filename="ledger.xlsx")
    importer.apply_import(p.db, a, plan, AT)


CALLS: dict[str, Callable[[Programme, Actor, dict, str], Any]] = {
    "catalogue.edit": lambda p, a, c, t: issues.edit_issue(
        p.db, a, c["issue"], version=v(p, c["issue"]), title="改后的标题", at=AT),
    "issue.assign": lambda p, a, c, t: owners.assign_issue(
        p.db, a, c["issue"], version=v(p, c["issue"]), deadline="2026-07-31", at=AT),
    "issue.progress": lambda p, a, c, t: issues.update_progress(
        p.db, a, c["issue"], version=v(p, c["issue"]), progress="已完成一半", at=AT),
    "measure.add": lambda p, a, c, t: issues.add_measure(
        p.db, a, c["issue"], title="新措施", owner_person_id=p.people[RESPONSIBLE[t]],
        deadline="2026-06-30", at=AT),
    "measure.edit": lambda p, a, c, t: issues.edit_measure(
        p.db, a, c["measures"][0], version=p.mversion(c["measures"][0]), progress="推进中",
        at=AT),
    "measure.depend": lambda p, a, c, t: issues.add_dependency(
        p.db, a, c["measures"][0], c["measures"][1], at=AT),
    "cause.record": lambda p, a, c, t: issues.record_root_cause(
        p.db, a, c["issue"], new_cause_title="制度缺失", at=AT),
    "cause.edit": lambda p, a, c, t: issues.add_cause_measure(
        p.db, a, c["cause"], title="修订制度", deadline="2026-12-31", at=AT),
    "accountability.record": lambda p, a, c, t: issues.record_accountability(
        p.db, a, c["issue"], not_applicable=True, reason="制度缺陷", at=AT),
    "evidence.attach": lambda p, a, c, t: evidence_service.attach_evidence(
        p.db, a, c["issue"], filename="佐证.pdf", data=PDF, evidence_root=p.evidence_root,
        max_bytes=MAX_UPLOAD, at=AT),
    "workflow.start": lambda p, a, c, t: issues.move_issue(
        p.db, a, c["issue"], Move.START, version=v(p, c["issue"]), at=AT),
    "workflow.submit": lambda p, a, c, t: issues.move_issue(
        p.db, a, c["issue"], Move.SUBMIT, version=v(p, c["issue"]), at=AT),
    "workflow.close": lambda p, a, c, t: issues.move_issue(
        p.db, a, c["issue"], Move.CLOSE, version=v(p, c["issue"]), at=AT),
    "workflow.check": lambda p, a, c, t: issues.move_issue(
        p.db, a, c["issue"], Move.CHECK, version=v(p, c["issue"]), at=AT),
    "workflow.return": lambda p, a, c, t: issues.move_issue(
        p.db, a, c["issue"], Move.RETURN, version=v(p, c["issue"]), reason="佐证不足", at=AT),
    "workflow.reopen": lambda p, a, c, t: issues.move_issue(
        p.db, a, c["issue"], Move.REOPEN, version=v(p, c["issue"]), reason="复查发现反弹",
        at=AT),
    "workflow.end": lambda p, a, c, t: issues.move_issue(
        p.db, a, c["issue"], Move.END, version=v(p, c["issue"]), reason="业务已撤销", at=AT),
    "deadline.extend": lambda p, a, c, t: owners.extend_deadline(
        p.db, a, c["issue"], version=v(p, c["issue"]), new_deadline="2026-09-30",
        reason="需跨年度采购", at=AT),
    "deadline.request": lambda p, a, c, t: owners.request_extension(
        p.db, a, c["issue"], version=v(p, c["issue"]), new_deadline="2026-09-30",
        reason="需跨年度采购", at=AT),
    "issue.merge": lambda p, a, c, t: merge_service.merge_issues(
        p.db, a, c["issue"], c["other"], survivor_version=v(p, c["issue"]),
        absorbed_version=v(p, c["other"]), at=AT),
    "ledger.import": lambda p, a, c, t: _import(p, a, c, t),
    "vocabulary.create": lambda p, a, c, t: vocabulary_service.create_value(
        p.db, a, "focus", "廉洁风险防控", at=AT),
    "escalation.record": lambda p, a, c, t: _escalate(p, a, c),
    "org.edit": lambda p, a, c, t: owners.create_person(
        p.db, a, name="新同事", unit_id=p.units[UNIT[t]], at=AT),
    "user.manage": lambda p, a, c, t: accounts_service.update_user(
        p.db, a, c["user"], display_name="改名", at=AT),
    "calendar.edit": lambda p, a, c, t: calendar_service.set_calendar_day(
        p.db, a, "2026-12-26", is_working=True, name="调休上班", at=AT),
    "backup.run": lambda p, a, c, t: online_backup(
        p.db, a, p.path.parent / f"backup-{a.username}-{t}.db", at=AT),
    "settings.edit": lambda p, a, c, t: calendar_service.set_setting(
        p.db, a, "warning.amber_working_days", "7", at=AT),
    "remind.configure": lambda p, a, c, t: remind_service.save_settings(
        p.db, a, {"remind.issuing_office": "审计部"}, at=AT),
    # A run with no channel sends nothing but records the run; refused to anyone but an admin.
    "remind.run": lambda p, a, c, t: remind_run_service.run_reminders(
        p.db, a, date(2026, 11, 23), at=AT, now_ms=lambda: 0),
    "milestone.edit": lambda p, a, c, t: rectify_service.add_milestone(
        p.db, a, c["issue"], due_on="2026-06-01", deliverable="阶段节点", at=AT),
    "meeting.record": lambda p, a, c, t: meeting_service.record_meeting(
        p.db, a, held_on="2026-11-23", title="推进会", unit_code=UNIT[t], at=AT),
    "rule.accept": lambda p, a, c, t: issues.edit_issue(
        p.db, a, c["issue"], version=v(p, c["issue"]), rectification_type="staged",
        accept_reason="集团公司要求分阶段整改", at=AT),
}


# --- the matrix ---------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def base(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Actor]]:
    """The test programme plus a lead and an administrator limited to unit A."""
    folder = tmp_path_factory.mktemp("access-base")
    p = build(folder)
    setup = "2026-01-01T08:00:00+08:00"
    for name, role in (("lead_a", "lead"), ("admin_a", "admin")):
        accounts_service.create_user(p.db, None, name, "correct horse 2", role, unit_id=p.units["A"],
                          at=setup)
    actors = {}
    for name in ACTORS:
        uid = p.db.conn.execute("SELECT id FROM users WHERE username = ?", (name,)).fetchone()[0]
        actors[name] = login_service.actor_for(p.db, uid)
    p.db.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    p.db.conn.close()
    return p.path, actors


def copy_programme(src: Path, folder: Path, template: Programme) -> Programme:
    """A fresh copy of a prepared database, with the template's names for ids."""
    from audit.store.db import open_database
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / "programme.db"
    s, d = sqlite3.connect(str(src)), sqlite3.connect(str(target))
    with d:
        s.backup(d)
    s.close()
    d.close()
    return replace(template, db=open_database(target), path=target,
                   evidence_root=folder / "evidence")


def outcome(p: Programme, action: str, actor: Actor, ctx: dict, target: str) -> str:
    """'allowed', 'refused' (nothing written), or 'error: …' for any other refusal."""
    before = history.anchor(p.db)
    try:
        CALLS[action](p, actor, ctx, target)
    except NotPermitted:
        assert history.anchor(p.db) == before, f"{action}: refused but history grew"
        return "refused"
    except NothingDone:
        assert history.anchor(p.db) == before
        return "refused"
    except LedgerRowError as ex:
        # The importer refuses a row outside the importer's scope naming the row and column.
        if "scope" in str(ex):
            assert history.anchor(p.db) == before
            return "refused"
        return f"error: {type(ex).__name__}: {ex}"
    except AuditError as ex:
        return f"error: {type(ex).__name__}: {ex}"
    assert history.anchor(p.db) != before, f"{action}: allowed but nothing recorded"
    return "allowed"


def test_the_hand_table_covers_every_action_of_the_permission_table() -> None:
    assert set(HAND) == set(PERMISSIONS)
    assert set(CALLS) == set(PERMISSIONS)


def test_every_action_by_every_role_in_and_out_of_scope_matches_the_hand_rules(
        base: tuple[Path, dict[str, Actor]], tmp_path: Path) -> None:
    base_path, actors = base
    (tmp_path / "names").mkdir()
    template = build(tmp_path / "names")  # ids are the same in every copy
    counts = {"allowed": 0, "refused": 0}
    mismatches: list[str] = []
    skipped: list[str] = []
    for action in PERMISSIONS:
        targets = ("own",) if action in UNSCOPED else TARGETS
        for target in targets:
            prepared = copy_programme(base_path, tmp_path / f"{action}-{target}", template)
            ctx = prepare(action, prepared, target)
            prepared.db.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            for who in ACTORS:
                p = copy_programme(prepared.path, tmp_path / f"{action}-{target}-{who}",
                                   template)
                got = outcome(p, action, actors[who], ctx, target)
                p.db.conn.close()
                want = "allowed" if expected(action, who, target) else "refused"
                if got != want:
                    mismatches.append(f"{action} by {who} on {target}: expected {want}, "
                                      f"got {got}")
                elif got in counts:
                    counts[got] += 1
            prepared.db.conn.close()
    assert mismatches == [], "\n".join(mismatches)
    print(f"\nACCESS matrix: {len(PERMISSIONS) - len(skipped)} actions x {len(ACTORS)} actors "
          f"x in scope own / in scope other's / out of scope: {counts['allowed']} allowed and "
          f"{counts['refused']} refused cases as the hand table says"
          + (f" (skipped: {', '.join(skipped)})" if skipped else ""))


# --- segregation of duties and ownership, named ---------------------------------------------------

def test_a_lead_cannot_strike_off_its_own_submission(tmp_path: Path) -> None:
    p = build(tmp_path)
    iid = p.new_issue("自己提交的问题")
    p.assign(iid, deadline="2026-06-30")
    p.measure(iid, deadline="2026-06-30", owner="owner_a")
    p.start(iid)
    p.make_closable(iid, day="2026-03-01", actor="lead")
    p.submit(iid, "2026-03-02", actor="lead")
    before = history.anchor(p.db)
    with pytest.raises(NotPermitted, match="may not strike it off"):
        p.close(iid, "2026-03-03", actor="lead")
    assert history.anchor(p.db) == before and p.status(iid) == "submitted"
    p.close(iid, "2026-03-03", actor="lead2")  # another lead may
    assert p.status(iid) == "closed"


def test_a_lead_who_owns_a_measure_cannot_strike_off_the_issue(tmp_path: Path) -> None:
    p = build(tmp_path)
    iid = p.new_issue("牵头人负责措施的问题")
    p.assign(iid, deadline="2026-06-30")
    p.measure(iid, deadline="2026-06-30", owner="lead_p")
    p.start(iid)
    p.make_closable(iid, day="2026-03-01", actor="lead2")
    p.submit(iid, "2026-03-02", actor="rect")
    with pytest.raises(NotPermitted):
        p.close(iid, "2026-03-03", actor="lead")
    assert p.status(iid) == "submitted"


def test_a_rectifier_cannot_touch_a_measure_of_someone_elses_issue_even_in_its_unit(
        tmp_path: Path) -> None:
    p = build(tmp_path)
    iid = p.new_issue("别人的问题")
    p.assign(iid, deadline="2026-06-30", responsible="owner_a")
    mid = p.measure(iid, deadline="2026-06-30", owner="owner_a")
    rect = p.actors["rect"]
    for call in (
            lambda: issues.edit_measure(p.db, rect, mid, version=p.mversion(mid),
                                        progress="x", at=AT),
            lambda: issues.set_measure_status(p.db, rect, mid, version=p.mversion(mid),
                                              status="done", at=AT),
            lambda: evidence_service.attach_evidence(
                p.db, rect, iid, filename="佐证.pdf", data=PDF, measure_id=mid,
                evidence_root=p.evidence_root, max_bytes=MAX_UPLOAD, at=AT),
            lambda: issues.update_progress(p.db, rect, iid, version=p.version(iid),
                                           progress="x", at=AT)):
        with pytest.raises(NotPermitted):
            call()
    assert not p.evidence_root.exists() or not any(p.evidence_root.rglob("*"))


# --- thousands of random steps (slow) ------------------------------------------------------------

@pytest.mark.slow
@pytest.mark.skipif(os.environ.get("AUDIT_SLOW") != "1",
                    reason="slow: set AUDIT_SLOW=1 (bench/fuzz.py runs the same)")
def test_thousands_of_random_service_calls_keep_every_rule() -> None:
    """The state machine of test_core_state_machine.py (nobody acts outside role or scope,
    三不放过 holds, the chain verifies and replays) at AUDIT_FUZZ_STEPS=100 ×
    AUDIT_FUZZ_EXAMPLES=60 unless set higher."""
    from bench.fuzz import fuzz
    result = fuzz(int(os.environ.get("AUDIT_FUZZ_STEPS", "100")),
                  int(os.environ.get("AUDIT_FUZZ_EXAMPLES", "60")))
    assert result["steps"] >= 1000
    print(f"\nFUZZ {result['examples']} examples, {result['steps']} steps, "
          f"{result['allowed']} allowed / {result['refused']} refused calls, "
          f"{result['seconds']:.0f} s: every invariant held")
