"""The steps every service shares: check permission and scope, check the edit's version, check a
text field. (The changes of one intent go to history through audit.store.history.Recorder, in
the same transaction.)"""
from __future__ import annotations

import sqlite_utils

from audit.model import Actor, NotPermitted, StaleEdit, grant
from audit.store import history


def require(actor: Actor, action: str, *, unit_id: int | None = None, owns: bool = True,
            what: str = "") -> None:
    """Raise NotPermitted unless the actor's role may do `action` here: in scope, and on its
    own item when the role's grant is 'own'."""
    level = grant(action, actor.role)
    if level is None:
        raise NotPermitted(f"{actor.username} ({actor.role.value}) may not {action}",
                           action=action, role=actor.role.value, what=what)
    if unit_id is not None and not actor.in_scope(unit_id):
        raise NotPermitted(f"{what or 'item'} is outside {actor.username}'s scope",
                           action=action, role=actor.role.value, what=what, reason="scope")
    if level == "own" and not owns:
        raise NotPermitted(f"{what or 'item'} is not assigned to {actor.username}",
                           action=action, role=actor.role.value, what=what, reason="own")


def check_version(db: sqlite_utils.Database, entity: str, row: dict, expected: int | None
                  ) -> None:
    """Refuse an edit made from a stale version, naming who changed the row and when.
    `expected` None means the caller edits without a version (CLI batch, import)."""
    if expected is None or int(expected) == int(row["version"]):
        return
    last = history.last_change(db, entity, row["id"])
    raise StaleEdit(entity, row["id"], int(expected), int(row["version"]),
                    last["actor"] if last else None, last["at"] if last else None)




def accept_rule_warning(db: sqlite_utils.Database, rec, actor: Actor, warning, reason: str | None,
                        *, issue_id: int | None = None, measure_id: int | None = None,
                        at: str) -> None:
    """Go past a rule warning (audit.rules_model.RuleWarning) inside the caller's transaction:
    re-raise it without a reason; with one, check that the actor may accept (rule.accept) and
    record the acceptance (rule_acceptances and history)."""
    from audit.model import text_value
    from audit.store.rows import insert
    if not (reason or "").strip():
        raise warning
    require(actor, "rule.accept", what=warning.rule)
    insert(db, rec, "rule_acceptances", "acceptance", {
        "rule": warning.rule, "issue_id": issue_id, "measure_id": measure_id,
        "detail": warning.message, "reason": text_value(reason, "reason", required=True,
                                                        max_len=5000).strip(),
        "accepted_by": actor.user_id, "at": at})
