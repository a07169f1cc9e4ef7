"""Random sequences of service calls by random users (hypothesis state machine). Whatever they
do: nothing reaches 已销号 without 三不放过, nobody acts outside role or scope, the history chain
always verifies, and replaying history reproduces the current state."""
from __future__ import annotations

import os
import tempfile
from datetime import date, timedelta
from pathlib import Path

from hypothesis import HealthCheck, event, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule

from audit.model import AuditError, Role, Status
from audit.store import history
from issues import service as issues
from issues import store
from issues.evidence_service import attach_evidence
from issues.model import Move, missing_for_closure
from owners import service as owners
from tests.programme import MAX_UPLOAD, PDF, build

USERS = ["admin", "lead", "lead2", "rect", "rect_b", "manager"]
PEOPLE = ["rect_a", "owner_a", "rect_b", "lead_p"]
UNITS = ["A", "A1", "B"]
STEPS = int(os.environ.get("AUDIT_FUZZ_STEPS", "30"))
EXAMPLES = int(os.environ.get("AUDIT_FUZZ_EXAMPLES", "15"))


class Programme(RuleBasedStateMachine):
    """The services under random use."""

    @initialize()
    def setup(self):
        self.folder = tempfile.mkdtemp(prefix="fuzz-")
        self.p = build(Path(self.folder))
        self.minute = 0
        self.issue_ids: list[int] = [
            issues.create_issue(self.p.db, self.p.actors["lead"], aspect_id=self.p.aspects["C1.1"],
                                title=f"初始问题{u}", unit_id=self.p.units[u], at=self.at())
            for u in UNITS]
        self.measure_ids: list[int] = []

    def at(self) -> str:
        self.minute += 7
        moment = date(2026, 2, 1) + timedelta(days=self.minute // 600)
        return f"{moment.isoformat()}T{8 + (self.minute // 60) % 10:02d}:{self.minute % 60:02d}:00+08:00"

    def attempt(self, who: str, call, *, unit_id: int | None, own: bool | None = None,
                action: str = "") -> bool:
        """Run a service call; when it succeeds, check the actor was entitled to it."""
        actor = self.p.actors[who]
        try:
            call(actor)
        except AuditError as exc:
            event(f"refused {action}: {type(exc).__name__}")
            return False
        event(f"done {action}")
        assert actor.role != Role.MANAGER, f"a manager succeeded at {action}"
        if unit_id is not None:
            assert actor.in_scope(unit_id), f"{who} acted outside its scope ({action})"
        if actor.role == Role.RECTIFIER and own is not None:
            assert own, f"{who} changed an item not assigned to it ({action})"
        return True

    def issue(self, data) -> dict:
        iid = data.draw(st.sampled_from(self.issue_ids))
        return self.p.db.conn.execute("SELECT * FROM issues WHERE id = ?", (iid,)).fetchone(), iid

    def row(self, table: str, rid: int) -> dict:
        from audit.store.db import one
        return one(self.p.db, f"SELECT * FROM {table} WHERE id = ?", (rid,))

    # --- rules ----------------------------------------------------------------------------

    @rule(who=st.sampled_from(USERS), unit=st.sampled_from(UNITS))
    def create_issue(self, who, unit):
        p = self.p
        created = []
        ok = self.attempt(who, lambda a: created.append(issues.create_issue(
            p.db, a, aspect_id=p.aspects["C1.1"], title="随机问题", unit_id=p.units[unit],
            at=self.at())), unit_id=p.units[unit], action="create")
        if ok:
            self.issue_ids.extend(created)

    @rule(data=st.data(), who=st.sampled_from(USERS), person=st.sampled_from(PEOPLE),
          days=st.integers(1, 200), stale=st.booleans())
    def assign(self, data, who, person, days, stale):
        if not self.issue_ids:
            return
        _, iid = self.issue(data)
        row = self.row("issues", iid)
        version = row["version"] - 1 if stale else row["version"]
        self.attempt(who, lambda a: owners.assign_issue(
            self.p.db, a, iid, version=version, responsible_person_id=self.p.people[person],
            deadline=(date(2026, 2, 1) + timedelta(days=days)).isoformat(), at=self.at()),
            unit_id=row["unit_id"], action="assign")
        if stale:
            assert self.row("issues", iid)["version"] == row["version"] or not stale

    @rule(data=st.data(), who=st.sampled_from(USERS), person=st.sampled_from(PEOPLE + [None]),
          days=st.one_of(st.none(), st.integers(1, 200)))
    def add_measure(self, data, who, person, days):
        if not self.issue_ids:
            return
        _, iid = self.issue(data)
        row = self.row("issues", iid)
        actor = self.p.actors[who]
        own = actor.person_id is not None and row["responsible_person_id"] == actor.person_id
        made = []
        if self.attempt(who, lambda a: made.append(issues.add_measure(
                self.p.db, a, iid, title="随机措施",
                owner_person_id=self.p.people[person] if person else None,
                deadline=None if days is None else
                (date(2026, 2, 1) + timedelta(days=days)).isoformat(), at=self.at())),
                unit_id=row["unit_id"], own=own, action="add_measure"):
            self.measure_ids.extend(made)

    @rule(data=st.data(), who=st.sampled_from(USERS), evidence=st.booleans(),
          status=st.sampled_from(["done", "doing", "todo"]))
    def work_on_measure(self, data, who, evidence, status):
        if not self.measure_ids:
            return
        mid = data.draw(st.sampled_from(self.measure_ids))
        m = self.row("measures", mid)
        row = self.row("issues", m["issue_id"])
        actor = self.p.actors[who]
        own = actor.person_id is not None and actor.person_id in (
            m["owner_person_id"], row["responsible_person_id"])
        if evidence:
            self.attempt(who, lambda a: attach_evidence(
                self.p.db, a, row["id"], filename="佐证.pdf", data=PDF, max_bytes=MAX_UPLOAD,
                evidence_root=self.p.evidence_root, measure_id=mid, at=self.at()),
                unit_id=row["unit_id"], own=own, action="evidence")
        self.attempt(who, lambda a: issues.set_measure_status(
            self.p.db, a, mid, version=self.row("measures", mid)["version"], status=status,
            at=self.at()), unit_id=row["unit_id"], own=own, action="measure_status")

    @rule(data=st.data(), who=st.sampled_from(USERS), not_applicable=st.booleans())
    def cause_and_accountability(self, data, who, not_applicable):
        if not self.issue_ids:
            return
        _, iid = self.issue(data)
        row = self.row("issues", iid)
        actor = self.p.actors[who]
        own = actor.person_id is not None and row["responsible_person_id"] == actor.person_id
        self.attempt(who, lambda a: issues.record_root_cause(
            self.p.db, a, iid, new_cause_title="根源", at=self.at()),
            unit_id=row["unit_id"], own=own, action="cause")
        self.attempt(who, lambda a: issues.record_accountability(
            self.p.db, a, iid, not_applicable=not_applicable, reason="制度原因",
            person_name="某人", action="批评教育", at=self.at()),
            unit_id=row["unit_id"], own=own, action="accountability")

    @rule(data=st.data(), who=st.sampled_from(USERS), move=st.sampled_from(list(Move)),
          reason=st.sampled_from(["", "原因说明"]))
    def move(self, data, who, move, reason):
        if not self.issue_ids:
            return
        _, iid = self.issue(data)
        row = self.row("issues", iid)
        actor = self.p.actors[who]
        own = actor.person_id is not None and row["responsible_person_id"] == actor.person_id
        facts = store.issue_facts(self.p.db, iid)
        done = self.attempt(who, lambda a: issues.move_issue(
            self.p.db, a, iid, move, version=row["version"], reason=reason, at=self.at()),
            unit_id=row["unit_id"], own=own, action=f"move {move.value}")
        if done and move == Move.CLOSE:
            assert actor.role == Role.LEAD
            assert facts.submitted_by != actor.user_id
            assert not any(m.owner_person_id == actor.person_id for m in facts.measures)
        if done and move in (Move.RETURN, Move.REOPEN, Move.END):
            assert reason.strip()

    @rule(data=st.data(), who=st.sampled_from(USERS), days=st.integers(1, 120))
    def extend(self, data, who, days):
        if not self.issue_ids:
            return
        _, iid = self.issue(data)
        row = self.row("issues", iid)
        if not row["deadline"]:
            return
        new = (date.fromisoformat(row["deadline"]) + timedelta(days=days)).isoformat()
        if self.attempt(who, lambda a: owners.extend_deadline(
                self.p.db, a, iid, version=row["version"], new_deadline=new, reason="延期原因",
                at=self.at()), unit_id=row["unit_id"], action="extend"):
            assert self.p.actors[who].role == Role.LEAD
            assert self.row("issues", iid)["original_deadline"] == row["original_deadline"]

    @rule(data=st.data())
    def advance(self, data):
        """The right person takes the natural next step, so that random interference meets
        issues in every state."""
        if not self.issue_ids:
            return
        _, iid = self.issue(data)
        p, db = self.p, self.p.db
        row = self.row("issues", iid)
        in_b = row["unit_id"] == p.units["B"]
        rect = "rect_b" if in_b else "rect"
        lead = p.actors["lead"]
        try:
            if row["status"] == "not_started":
                if not row["responsible_person_id"] or not row["deadline"]:
                    owners.assign_issue(db, lead, iid, version=row["version"],
                                        responsible_person_id=p.people[
                                            "rect_b" if in_b else "rect_a"],
                                        deadline="2026-09-30", at=self.at())
                for m in store.issue_facts(db, iid).measures:
                    if m.owner_person_id is None or not m.deadline:
                        issues.edit_measure(db, lead, m.id, version=None, at=self.at(),
                                            owner_person_id=p.people["owner_a"],
                                            deadline="2026-09-01", accept_reason="推进")
                if not store.issue_facts(db, iid).measures:
                    self.measure_ids.append(issues.add_measure(
                        db, lead, iid, title="措施", owner_person_id=p.people["owner_a"],
                        deadline="2026-09-01", accept_reason="推进", at=self.at()))
                issues.move_issue(db, p.actors[rect], iid, Move.START,
                                  version=self.row("issues", iid)["version"], at=self.at())
                event("advanced: started")
            elif row["status"] == "in_progress":
                actor = p.actors["lead2"]
                facts = store.issue_facts(db, iid)
                if not facts.cause_count:
                    issues.record_root_cause(db, actor, iid, new_cause_title="根源", at=self.at())
                if not facts.accountability_recorded:
                    issues.record_accountability(db, actor, iid, not_applicable=True,
                                                 reason="制度原因", at=self.at())
                for m in facts.measures:
                    if m.evidence_count == 0:
                        attach_evidence(db, actor, iid, filename="佐证.pdf", data=PDF,
                                        max_bytes=MAX_UPLOAD, evidence_root=p.evidence_root,
                                        measure_id=m.id, at=self.at())
                    if m.status != "done":
                        issues.set_measure_status(db, actor, m.id,
                                                  version=self.row("measures", m.id)["version"],
                                                  status="done", at=self.at())
                issues.move_issue(db, p.actors[rect], iid, Move.SUBMIT,
                                  version=self.row("issues", iid)["version"], at=self.at())
                event("advanced: submitted")
            elif row["status"] == "submitted":
                issues.move_issue(db, lead, iid, Move.CLOSE, version=row["version"],
                                  at=self.at())
                event("advanced: closed")
        except AuditError as exc:
            event(f"advance refused: {type(exc).__name__}")

    # --- invariants ------------------------------------------------------------------------

    @invariant()
    def closed_items_meet_three_no_let_go(self):
        if not hasattr(self, "p"):
            return
        for (iid,) in self.p.db.conn.execute("SELECT id FROM issues WHERE status = 'closed'"):
            facts = store.issue_facts(self.p.db, iid)
            assert facts.status == Status.CLOSED
            assert missing_for_closure(facts) == [], iid

    @invariant()
    def the_chain_verifies_and_replays_to_the_current_state(self):
        if not hasattr(self, "p"):
            return
        assert history.verify(self.p.db).ok
        replayed = history.replay(self.p.db, "issue")
        for row in self.p.db.conn.execute("SELECT id, status, deadline, original_deadline, "
                                          "responsible_person_id FROM issues"):
            state = replayed[row[0]]
            assert (state.get("status"), state.get("deadline"), state.get("original_deadline"),
                    state.get("responsible_person_id")) == tuple(
                history.as_history_text(v) for v in row[1:])

    def teardown(self):
        if hasattr(self, "p"):
            self.p.db.conn.close()


Programme.TestCase.settings = settings(
    max_examples=EXAMPLES, stateful_step_count=STEPS, deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
test_services_under_random_use_keep_every_rule = Programme.TestCase
