"""Services for the rectification types' own records (audit.rules_model, docs/RULES.md): the
milestones of a staged item (分阶段整改), the stage goal and periodic report dates of a
continuous one (持续整改), and the default deadline of an immediate one (立行立改)."""
from __future__ import annotations

from datetime import date

import sqlite_utils

from audit.model import Actor, ValidationFailed
from audit.model import text_value as _text
from audit.rules_model import CONTINUOUS, IMMEDIATE, MILESTONE_KINDS, STAGED, report_dates
from audit.service import check_version, require
from audit.store import org
from audit.store.db import write_transaction
from audit.store.history import Recorder
from audit.store.rows import get_row, insert, update
from audit.time_model import Calendar, add_working_days, day_of, parse_date
from issues.model import check_editable, owns_issue

# Which rectification type each kind of milestone belongs to.
KIND_TYPES = {"milestone": STAGED, "goal": CONTINUOUS, "report": CONTINUOUS}


def default_deadline(db: sqlite_utils.Database, rectification_type: str, as_of: date,
                     cal: Calendar | None = None) -> date | None:
    """The deadline an immediate item (立行立改) is given by default: `as_of` plus
    rectify.immediate_working_days (10) working days; None for the other types."""
    if rectification_type != IMMEDIATE:
        return None
    from audit.rules_views import immediate_days
    return add_working_days(cal or org.load_calendar(db), as_of, immediate_days(db))


def _issue_for_milestones(db, actor: Actor, issue_id: int, kind: str) -> dict:
    issue = get_row(db, "issues", issue_id, "issue")
    require(actor, "milestone.edit", unit_id=issue["unit_id"], owns=owns_issue(actor, issue),
            what=issue["code"])
    if issue["merged_into_id"]:
        raise ValidationFailed("merged_into_id", f"{issue['code']} was merged")
    check_editable(issue)
    if kind not in MILESTONE_KINDS:
        raise ValidationFailed("kind", f"must be one of {', '.join(MILESTONE_KINDS)}")
    if issue["rectification_type"] != KIND_TYPES[kind]:
        raise ValidationFailed("kind", f"{issue['code']} is {issue['rectification_type']}: a "
                                       f"{kind} belongs to a {KIND_TYPES[kind]} item",
                               rule="rule.milestone_type")
    return issue


def add_milestone(db: sqlite_utils.Database, actor: Actor, issue_id: int, *, due_on: str | date,
                  deliverable: str, kind: str = "milestone", at: str) -> int:
    """Add a milestone (阶段节点: a date and its deliverable) to a staged item, or a stage goal
    or report date to a continuous one; returns its id. Its date never changes afterwards (a
    new one is added instead), so that past warnings stay as they were. Raises
    ValidationFailed for a missing date or deliverable, or a kind the item's type lacks."""
    due = parse_date(due_on, "due_on")
    if due is None:
        raise ValidationFailed("due_on", "required")
    deliverable = _text(deliverable, "deliverable", required=True, max_len=2000).strip()
    with write_transaction(db):
        _issue_for_milestones(db, actor, issue_id, kind)
        rec = Recorder(db, actor, at, "milestone.add")
        mid = insert(db, rec, "milestones", "milestone", {
            "issue_id": issue_id, "kind": kind, "due_on": due.isoformat(),
            "deliverable": deliverable, "created_by": actor.user_id, "created_at": at})
        rec.flush()
    return mid


def schedule_reports(db: sqlite_utils.Database, actor: Actor, issue_id: int, *,
                     first: str | date, every_months: int, count: int, deliverable: str,
                     at: str) -> list[int]:
    """Add `count` periodic report dates (定期报告) to a continuous item, every `every_months`
    months from `first`, in one transaction; returns their ids."""
    start = parse_date(first, "first")
    if start is None:
        raise ValidationFailed("first", "required")
    days = report_dates(start, int(every_months), int(count))
    deliverable = _text(deliverable, "deliverable", required=True, max_len=2000).strip()
    with write_transaction(db):
        _issue_for_milestones(db, actor, issue_id, "report")
        rec = Recorder(db, actor, at, "milestone.reports")
        ids = [insert(db, rec, "milestones", "milestone", {
            "issue_id": issue_id, "kind": "report", "due_on": d.isoformat(),
            "deliverable": deliverable, "created_by": actor.user_id, "created_at": at})
            for d in days]
        rec.flush()
    return ids


def complete_milestone(db: sqlite_utils.Database, actor: Actor, milestone_id: int, *,
                       version: int | None, evidence: str, done_on: str | date | None = None,
                       at: str) -> None:
    """Mark a milestone done (on `done_on`, by default the day of `at`, not in the future) with
    what shows it (佐证: a document number, a file name). Raises ValidationFailed without
    evidence or when already done."""
    evidence = _text(evidence, "evidence", required=True, max_len=2000).strip()
    with write_transaction(db):
        ms = get_row(db, "milestones", milestone_id, "milestone")
        _issue_for_milestones(db, actor, ms["issue_id"], ms["kind"])
        check_version(db, "milestone", ms, version)
        if ms["done_on"]:
            raise ValidationFailed("done_on", f"already done on {ms['done_on']}")
        d = parse_date(done_on, "done_on") or day_of(at)
        if d > day_of(at):
            raise ValidationFailed("done_on", "cannot be in the future")
        rec = Recorder(db, actor, at, "milestone.complete")
        update(db, rec, "milestones", "milestone", ms,
               {"done_on": d.isoformat(), "evidence": evidence})
        rec.flush()
