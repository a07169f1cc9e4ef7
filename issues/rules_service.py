"""Rules made or revised because of the findings (建章立制): recording one. The review pack's
整改成效 counts them. Permission → validation → one transaction → history."""
from __future__ import annotations

import sqlite_utils

from audit.model import Actor, ValidationFailed
from audit.model import text_value as _text
from audit.service import require
from audit.store.db import write_transaction
from audit.store.history import Recorder
from audit.store.rows import get_row, insert
from audit.time_model import parse_date

RULE_KINDS: tuple[str, ...] = ("made", "revised")


def add_rule(db: sqlite_utils.Database, actor: Actor, *, unit_id: int, title: str, kind: str,
             issued_on: str, issue_id: int | None = None, cause_id: int | None = None,
             at: str) -> int:
    """Record a rule made (制定) or revised (修订) by a unit, optionally for an issue or a root
    cause; returns its id. Raises NotFound for an unknown unit, issue or cause, NotPermitted
    outside the actor's scope, ValidationFailed for a blank title, an unknown kind or a date
    that is not YYYY-MM-DD."""
    get_row(db, "units", unit_id, "unit")
    require(actor, "catalogue.edit", unit_id=unit_id, what=str(unit_id))
    if issue_id is not None:
        get_row(db, "issues", issue_id, "issue")
    if cause_id is not None:
        get_row(db, "causes", cause_id, "cause")
    title = _text(title, "title", required=True, max_len=500).strip()
    if kind not in RULE_KINDS:
        raise ValidationFailed("kind", f"must be one of {', '.join(RULE_KINDS)}")
    day = parse_date(issued_on, "issued_on")
    if day is None:
        raise ValidationFailed("issued_on", "required")
    rec = Recorder(db, actor, at, "rule.add")
    with write_transaction(db):
        rule_id = insert(db, rec, "rules", "rule", {
            "unit_id": unit_id, "issue_id": issue_id, "cause_id": cause_id, "title": title,
            "kind": kind, "issued_on": day.isoformat(), "recorded_by": actor.user_id,
            "recorded_at": at})
        rec.flush()
    return rule_id
