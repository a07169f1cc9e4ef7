"""Services for units, people, assignment (四个到人), deadlines and the working-day calendar.
Each function is one intent: permission → validation → one transaction → history."""
from __future__ import annotations

from datetime import date

import sqlite_utils

from audit.model import Actor, NotPermitted, Status, ValidationFailed
from audit.model import text_value as _text
from audit.rules_model import IssueDeadlineMisfit, measures_after
from audit.service import accept_rule_warning, check_version, require
from audit.store import org
from audit.store.db import write_transaction
from audit.store.form_tokens import settle_form_token, spend_form_token
from audit.store.history import Recorder
from audit.store.rows import get_row, insert, update
from audit.time_model import parse_date
from owners import store
from owners.model import assignment_values, is_responsible

UNIT_LEVELS = ("region", "city", "county")


# --- units and people -------------------------------------------------------------------


def create_unit(db: sqlite_utils.Database, actor: Actor | None, *, code: str, name: str,
                level: str, parent_code: str | None = None,
                at: str, form_token: str | None = None) -> int:
    """Add a unit under its parent; returns its id. `actor` None is the system (init)."""
    if actor is not None:
        require(actor, "org.edit")
    code = _text(code, "code", required=True, max_len=40).strip()
    name = _text(name, "name", required=True, max_len=100).strip()
    if level not in UNIT_LEVELS:
        raise ValidationFailed("level", f"must be one of {', '.join(UNIT_LEVELS)}")
    parent_id = None
    with write_transaction(db):
        spend_form_token(db, form_token, actor, "unit.create", at)
        if parent_code:
            parent = org.unit_by_code(db, parent_code)
            if parent is None:
                raise ValidationFailed("parent_code", f"no unit with code {parent_code!r}")
            parent_id = parent["id"]
            if actor is not None:
                require(actor, "org.edit", unit_id=parent_id, what="unit")
        elif level != "region":
            raise ValidationFailed("parent_code", "required for a city or county unit")
        elif org.root_unit(db) is not None:
            raise ValidationFailed("level", "there is already a region unit")
        if org.unit_by_code(db, code):
            raise ValidationFailed("code", f"unit code {code!r} already exists")
        rec = Recorder(db, actor, at, "unit.create")
        uid = insert(db, rec, "units", "unit",
                     {"code": code, "name": name, "level": level, "parent_id": parent_id})
        rec.flush()
        settle_form_token(db, form_token, uid)
    return uid


def create_person(db: sqlite_utils.Database, actor: Actor | None, *, name: str, unit_id: int,
                  title: str = "", phone: str = "", at: str, form_token: str | None = None) -> int:
    """Add a person to a unit; returns the id."""
    if actor is not None:
        require(actor, "org.edit", unit_id=unit_id, what="person")
    name = _text(name, "name", required=True, max_len=100).strip()
    with write_transaction(db):
        spend_form_token(db, form_token, actor, "person.create", at)
        get_row(db, "units", unit_id, "unit")
        if store.person_by_name(db, name, unit_id):
            raise ValidationFailed("name", f"{name!r} already exists in this unit")
        rec = Recorder(db, actor, at, "person.create")
        pid = insert(db, rec, "people", "person",
                     {"name": name, "unit_id": unit_id, "title": _text(title, "title"),
                      "phone": _text(phone, "phone", max_len=40)})
        rec.flush()
        settle_form_token(db, form_token, pid)
    return pid


def set_unit_head(db: sqlite_utils.Database, actor: Actor | None, unit_id: int,
                  person_id: int, *, at: str) -> None:
    """Name the head of a unit (the target of supervision letters)."""
    if actor is not None:
        require(actor, "org.edit", unit_id=unit_id, what="unit")
    with write_transaction(db):
        unit = get_row(db, "units", unit_id, "unit")
        get_row(db, "people", person_id, "person")
        rec = Recorder(db, actor, at, "unit.set_head")
        update(db, rec, "units", "unit", unit, {"head_person_id": person_id}, bump=False)
        rec.flush()


# --- assignment (四个到人) and deadlines --------------------------------------------------


def assign_issue(db: sqlite_utils.Database, actor: Actor, issue_id: int, *,
                 version: int | None, responsible_person_id: int | None = None,
                 supervisor_person_id: int | None = None, unit_id: int | None = None,
                 deadline: str | date | None = None, accept_reason: str | None = None,
                 at: str) -> dict:
    """Assign the responsible person, supervising leader, unit and deadline of an issue.
    The first deadline becomes the original one; once work has started a deadline only moves
    by `extend_deadline`, so that the on-time rate stays honest. Returns the changed fields.
    Raises IssueDeadlineMisfit when the deadline set falls before the deadline of one of its
    open measures (deadlines that fit), unless a lead accepts it with `accept_reason`
    (recorded)."""
    with write_transaction(db):
        issue = get_row(db, "issues", issue_id, "issue")
        require(actor, "issue.assign", unit_id=issue["unit_id"], what=issue["code"])
        check_version(db, "issue", issue, version)
        values = assignment_values(
            issue, responsible_person_id=responsible_person_id,
            supervisor_person_id=supervisor_person_id, deadline=deadline,
            active_people=store.active_people_among(db, [responsible_person_id,
                                                         supervisor_person_id]))
        if unit_id is not None:
            get_row(db, "units", unit_id, "unit")
            if not actor.in_scope(unit_id):
                raise NotPermitted("the new unit is outside your scope", reason="scope")
            values["unit_id"] = unit_id
        rec = Recorder(db, actor, at, "issue.assign")
        if values.get("deadline") and values["deadline"] != issue["deadline"]:
            late = measures_after(values["deadline"], store.measure_deadlines(db, issue_id))
            if late:
                accept_rule_warning(db, rec, actor, IssueDeadlineMisfit(values["deadline"], late),
                                    accept_reason, issue_id=issue_id, at=at)
        changed = update(db, rec, "issues", "issue", issue, values)
        rec.flush()
    return changed


def _extension_values(issue: dict, new_deadline: str | date, reason: str) -> tuple[date, str]:
    """The new deadline and reason of an extension or a request for one, checked against the
    issue as it is under the lock (a deadline to move, not closed or ended, moved later)."""
    reason = _text(reason, "reason", required=True, max_len=5000)
    new = parse_date(new_deadline, "new_deadline")
    if new is None:
        raise ValidationFailed("new_deadline", "required")
    if not issue["deadline"]:
        raise ValidationFailed("deadline", "the issue has no deadline yet: assign one first")
    if issue["status"] in (Status.CLOSED.value, Status.ENDED.value):
        raise ValidationFailed("status", "a closed or ended issue cannot be extended")
    if new.isoformat() <= issue["deadline"]:
        raise ValidationFailed("new_deadline",
                               f"must be after the current deadline {issue['deadline']}")
    return new, reason


def extend_deadline(db: sqlite_utils.Database, actor: Actor, issue_id: int, *,
                    version: int | None, new_deadline: str | date, reason: str,
                    at: str, form_token: str | None = None
                    ) -> int:
    """Extend an issue's deadline (延期): keeps the original, records the approver (the acting
    audit lead) and the reason. Returns the extension id."""
    with write_transaction(db):
        spend_form_token(db, form_token, actor, "deadline.extend", at)
        issue = get_row(db, "issues", issue_id, "issue")
        require(actor, "deadline.extend", unit_id=issue["unit_id"], what=issue["code"])
        check_version(db, "issue", issue, version)
        new, reason = _extension_values(issue, new_deadline, reason)
        rec = Recorder(db, actor, at, "deadline.extend")
        ext_id = insert(db, rec, "extensions", "extension", {
            "issue_id": issue_id, "original_deadline": issue["original_deadline"],
            "old_deadline": issue["deadline"], "new_deadline": new.isoformat(),
            "approved_by": actor.user_id, "reason": reason, "at": at})
        update(db, rec, "issues", "issue", issue, {"deadline": new.isoformat()})
        rec.flush()
        settle_form_token(db, form_token, ext_id)
    return ext_id


def request_extension(db: sqlite_utils.Database, actor: Actor, issue_id: int, *,
                      version: int | None, new_deadline: str | date, reason: str, at: str
                      ) -> int:
    """Ask for an extension (申请延期): the issue's rectifier (or a lead) names the new deadline
    and why; a lead decides (decide_extension_request). One request waits per issue. Returns
    the request id."""
    with write_transaction(db):
        issue = get_row(db, "issues", issue_id, "issue")
        require(actor, "deadline.request", unit_id=issue["unit_id"],
                owns=is_responsible(actor, issue), what=issue["code"])
        check_version(db, "issue", issue, version)
        new, reason = _extension_values(issue, new_deadline, reason)
        if store.pending_extension_request(db, issue_id):
            raise ValidationFailed("new_deadline", "a request already waits for a decision",
                                   rule="request_pending")
        rec = Recorder(db, actor, at, "deadline.request")
        rid = insert(db, rec, "extension_requests", "extension_request", {
            "issue_id": issue_id, "requested_by": actor.user_id, "requested_at": at,
            "current_deadline": issue["deadline"], "new_deadline": new.isoformat(),
            "reason": reason})
        rec.flush()
    return rid


def decide_extension_request(db: sqlite_utils.Database, actor: Actor, issue_id: int, *,
                             version: int | None, approve: bool, note: str = "", at: str
                             ) -> int | None:
    """A lead approves or refuses the issue's waiting extension request. Approval extends the
    deadline as extend_deadline does (the request's reason, this lead as approver), in the same
    transaction; a refusal needs a note. Returns the extension id (None when refused)."""
    with write_transaction(db):
        issue = get_row(db, "issues", issue_id, "issue")
        require(actor, "deadline.extend", unit_id=issue["unit_id"], what=issue["code"])
        check_version(db, "issue", issue, version)
        req = store.pending_extension_request(db, issue_id)
        if req is None:
            raise ValidationFailed("extension_request", "no request waits for a decision",
                                   rule="no_request")
        note = _text(note, "decision_note", required=not approve, max_len=5000)
        ext_id = None
        if approve:
            ext_id = extend_deadline(db, actor, issue_id, version=version,
                                     new_deadline=req["new_deadline"], reason=req["reason"],
                                     at=at)
        rec = Recorder(db, actor, at, "deadline.decide")
        update(db, rec, "extension_requests", "extension_request", req, {
            "status": "approved" if approve else "refused", "decided_by": actor.user_id,
            "decided_at": at, "decision_note": note, "extension_id": ext_id})
        rec.flush()
    return ext_id


# --- the working-day calendar -------------------------------------------------------------


