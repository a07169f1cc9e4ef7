"""Recording a review meeting (推进会): its date, scope, attendees and decisions, and the warning
colour of every item in its scope as of its date (meeting_warnings), so that repeated warnings
(红灯次数, 连续红灯) can be counted and fed to the escalation ladder (docs/RULES.md)."""
from __future__ import annotations

from datetime import date

import sqlite_utils

from audit.model import Actor, ValidationFailed
from audit.model import text_value as _text
from audit.service import require
from audit.store import org
from audit.store.db import write_transaction
from audit.store.form_tokens import settle_form_token, spend_form_token
from audit.store.history import Recorder
from audit.store.rows import insert
from audit.time_model import day_of, parse_date
from audit.views import issue_states, scope_for
from issues import store


def record_meeting(db: sqlite_utils.Database, actor: Actor, *, held_on: str | date, title: str,
                   attendees: str = "", decisions: str = "", unit_code: str | None = None,
                   scope_label: str = "", at: str, form_token: str | None = None) -> dict:
    """Record a meeting held on `held_on` (not after the day of `at`) for the items of
    `unit_code` (with its branches; None: the actor's whole scope) and keep each item's warning
    colour as of that date. Returns {id, items, reds}. Raises NotPermitted without
    meeting.record and ValidationFailed for a bad date, title or unit."""
    require(actor, "meeting.record")
    day = parse_date(held_on, "held_on")
    if day is None:
        raise ValidationFailed("held_on", "required")
    if day > day_of(at):
        raise ValidationFailed("held_on", "cannot be in the future")
    title = _text(title, "title", required=True, max_len=500).strip()
    attendees = _text(attendees, "attendees", max_len=5000).strip()
    decisions = _text(decisions, "decisions", max_len=20000).strip()
    scope = scope_for(db, actor, unit_code=unit_code or None)
    if unit_code:
        require(actor, "meeting.record", unit_id=org.unit_by_code(db, unit_code)["id"],
                what=unit_code)
    with write_transaction(db):
        # A second submit of the same form would count every red twice in the red counts.
        spend_form_token(db, form_token, actor, "meeting.record", at)
        # Read inside the lock: the colours are those of the state the meeting is recorded on.
        states = issue_states(db, scope, day)
        scope_unit = org.unit_by_code(db, unit_code)["id"] if unit_code else None
        colours = {s["id"]: s["warning"] for s in states}
        reds = sum(1 for c in colours.values() if c == "red")
        rec = Recorder(db, actor, at, "meeting.record")
        mid = insert(db, rec, "meetings", "meeting", {
            "held_on": day.isoformat(), "title": title, "scope_unit_id": scope_unit,
            "scope_label": _text(scope_label, "scope_label", max_len=500).strip(),
            "attendees": attendees, "decisions": decisions, "items": len(colours),
            "reds": reds, "recorded_by": actor.user_id, "recorded_at": at})
        store.insert_meeting_warnings(db, mid, sorted(colours.items()))
        rec.add("meeting", mid, "warnings", None, {str(i): c for i, c in colours.items()})
        rec.flush()
        out = {"id": mid, "items": len(colours), "reds": reds}
        settle_form_token(db, form_token, out)
    return out
