"""Findings that come back (屡审屡犯): after an import, each new finding is matched against the
items that were there before (struck off, ended, or found by an earlier year's audit) and the
strongest match is flagged as a possible recurrence; a person confirms or rejects the flag.
Permission → validation → one transaction → history."""
from __future__ import annotations

import sqlite_utils

from audit.model import Actor, ValidationFailed
from audit.service import check_version, require
from audit.store.db import write_transaction
from audit.store.history import Recorder
from audit.store.rows import get_row, update
from issues import recurrence_views
from issues.recurrence_model import decision_values


def flag_recurrences(db: sqlite_utils.Database, actor: Actor, new_ids: list[int], *, at: str
                     ) -> dict[int, tuple[int, float]]:
    """Flag each of `new_ids` (issues just registered) whose wording matches an earlier item
    as its possible recurrence (recurrence_status 'pending', the earlier item and the score);
    returns new id → (earlier id, score). Inside the caller's transaction when there is one
    (the import's), else in its own."""
    require(actor, "ledger.import")
    with write_transaction(db):
        matches = recurrence_views.recurrence_matches(db, new_ids)
        if not matches:
            return {}
        rec = Recorder(db, actor, at, "recurrence.flag")
        for iid, (earlier, score) in sorted(matches.items()):
            issue = get_row(db, "issues", iid, "issue")
            update(db, rec, "issues", "issue", issue, {
                "recurrence_of_id": earlier, "recurrence_score": score,
                "recurrence_status": "pending"})
        rec.flush()
    return matches


def flag_recurrence(db: sqlite_utils.Database, actor: Actor, issue_id: int, *,
                    earlier_id: int, version: int | None, at: str) -> None:
    """Flag an issue by hand as the possible recurrence of an earlier item (a person noticed
    it), for another to confirm or reject. Audit leads in scope; ValidationFailed for the issue
    itself or an item merged away."""
    with write_transaction(db):
        issue = get_row(db, "issues", issue_id, "issue")
        require(actor, "catalogue.edit", unit_id=issue["unit_id"], what=issue["code"])
        check_version(db, "issue", issue, version)
        earlier = get_row(db, "issues", earlier_id, "issue")
        if earlier_id == issue_id or earlier["merged_into_id"]:
            raise ValidationFailed("recurrence_of_id", "choose another item that still stands")
        rec = Recorder(db, actor, at, "recurrence.flag")
        update(db, rec, "issues", "issue", issue, {
            "recurrence_of_id": earlier_id, "recurrence_score": None,
            "recurrence_status": "pending"})
        rec.flush()


def decide_recurrence(db: sqlite_utils.Database, actor: Actor, issue_id: int, *,
                      version: int | None, decision: str, at: str) -> None:
    """A person's decision on a possible recurrence: 'confirmed' (屡审屡犯: the issue is flagged
    recurring) or 'rejected' (another finding). Audit leads in scope. Raises NotPermitted,
    StaleEdit, TransitionNotAllowed (no flag waits), ValidationFailed."""
    with write_transaction(db):
        issue = get_row(db, "issues", issue_id, "issue")
        require(actor, "catalogue.edit", unit_id=issue["unit_id"], what=issue["code"])
        check_version(db, "issue", issue, version)
        values = decision_values(issue, decision)
        rec = Recorder(db, actor, at, f"recurrence.{decision}")
        update(db, rec, "issues", "issue", issue, values)
        rec.flush()
