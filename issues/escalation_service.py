"""Recording the escalation steps that are due (挂账督办): the reminder, the supervision letter
(督办函), the summons (约谈), accountability — one row and its history per step."""
from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import date

import sqlite_utils

from audit.model import Actor
from audit.service import require
from audit.store.db import write_transaction
from audit.store.history import Recorder
from audit.views import scope_for
from issues import store
from issues.graph_views import _key, escalations_due
from owners.escalation_model import EscalationDue


def record_escalations(db: sqlite_utils.Database, actor: Actor, as_of: date, at: str,
                       dues: Iterable[EscalationDue | Mapping] | None = None) -> list[dict]:
    """Record the due escalation steps in the actor's scope (all of them, or those of `dues`
    that are still due), in one transaction: one escalations row and its history records per
    step. Idempotent: a step already recorded is skipped (UNIQUE(issue_id, step)). Returns the
    rows written. Raises NotPermitted for a role without escalation.record."""
    require(actor, "escalation.record")
    fresh = escalations_due(db, scope_for(db, actor), as_of)
    if dues is not None:
        keep = {_key(d) for d in dues}
        fresh = [d for d in fresh if (d["issue_id"], d["step"]) in keep]
    if not fresh:
        return []
    for d in fresh:
        require(actor, "escalation.record", unit_id=d["unit_id"], what=d["code"])
    rec = Recorder(db, actor, at, "escalation.record")
    written = []
    with write_transaction(db):
        # An issue may have been closed or given a later deadline since the list was drawn up.
        still = store.still_overdue(db, [d["issue_id"] for d in fresh], as_of)
        still_open = store.still_overdue(db, [d["issue_id"] for d in fresh], as_of,
                                         open_only=True)
        for d in fresh:
            # A step reached by red meetings needs the item open, not past its deadline.
            if d["issue_id"] not in (still_open if d.get("consecutive_reds") else still):
                continue
            values = {"issue_id": d["issue_id"], "step": d["step"],
                      "target_person_id": d["target_person_id"],
                      "target_unit_id": d["target_unit_id"], "as_of": as_of.isoformat(),
                      "note": _note(d),
                      "recorded_by": actor.user_id, "at": at}
            new_id = store.insert_escalation(db, values)
            if new_id is None:
                continue  # recorded meanwhile by someone else: nothing to add
            rec.created("escalation", new_id, values)
            written.append({**values, "id": new_id, "code": d["code"],
                            "overdue_working_days": d["overdue_working_days"]})
        if rec.changes:
            rec.flush()
    return written


def _note(d: Mapping) -> str:
    """The note of a step: the lower steps it skipped and the red meetings that reached it."""
    parts = []
    if d.get("consecutive_reds"):
        parts.append(f"red at {d['consecutive_reds']} meetings in a row")
    if d["skipped"]:
        parts.append("skipped: " + ", ".join(d["skipped"]))
    return "; ".join(parts)
