"""One-time form tokens: a form drawn on screen carries a token, and the service that creates
what the form describes spends it inside its own write transaction. A second submit of the same
drawing (a double click, a resent request) finds the token spent and records nothing; the
first submit's result is returned to it instead."""
from __future__ import annotations

import json
from typing import Any

import sqlite_utils

from audit.model import Actor, AlreadySubmitted


def spend_form_token(db: sqlite_utils.Database, token: str | None, actor: Actor | None,
                     form: str, at: str) -> None:
    """Mark `token` spent by this write; must run inside the write transaction (the row is
    rolled back with the rest when the write fails, so a refused submit keeps its token).
    Raises AlreadySubmitted, carrying the first result, when the token was spent before.
    No token (a CLI or an import) checks nothing."""
    if token is None:
        return
    found = db.conn.execute("SELECT form, result FROM form_tokens WHERE token = ?",
                            (token,)).fetchone()
    if found is not None:
        raise AlreadySubmitted(found[0], json.loads(found[1]) if found[1] else None)
    db.conn.execute("INSERT INTO form_tokens (token, user_id, form, spent_at) "
                    "VALUES (?, ?, ?, ?)", (str(token), actor.user_id if actor else None, form, at))


def settle_form_token(db: sqlite_utils.Database, token: str | None, result: Any) -> None:
    """Keep what the write produced (an id, a count) under its spent token, inside the same
    transaction: a second submit is answered with it."""
    if token is None:
        return
    db.conn.execute("UPDATE form_tokens SET result = ? WHERE token = ?",
                    (json.dumps(result), token))
