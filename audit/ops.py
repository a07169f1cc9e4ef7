"""The steps every service shares: check permission and scope, check the edit's version,
write, and record history in the same transaction."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import sqlite_utils

from audit import history
from audit.db import one
from audit.errors import NotFound, NotPermitted, StaleEdit, ValidationFailed
from audit.history import Change
from audit.model import Actor, grant


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


def get_row(db: sqlite_utils.Database, table: str, row_id: int, label: str | None = None
            ) -> dict:
    """A row by id, or NotFound naming it."""
    row = one(db, f"SELECT * FROM {table} WHERE id = ?", (row_id,))
    if row is None:
        raise NotFound(f"{label or table} {row_id} not found", entity=label or table, id=row_id)
    return row


def check_version(db: sqlite_utils.Database, entity: str, row: dict, expected: int | None
                  ) -> None:
    """Refuse an edit made from a stale version, naming who changed the row and when.
    `expected` None means the caller edits without a version (CLI batch, import)."""
    if expected is None or int(expected) == int(row["version"]):
        return
    last = history.last_change(db, entity, row["id"])
    raise StaleEdit(entity, row["id"], int(expected), int(row["version"]),
                    last["actor"] if last else None, last["at"] if last else None)


@dataclass
class Recorder:
    """Collects the changes of one service call and writes them to history at the end."""

    db: sqlite_utils.Database
    actor: Actor | None
    at: str
    action: str
    op: str = field(default_factory=history.new_op)
    changes: list[Change] = field(default_factory=list)

    def add(self, entity: str, entity_id: int | None, fld: str, old: Any, new: Any) -> None:
        """Note one field change."""
        self.changes.append(Change(entity, entity_id, fld, old, new))

    def created(self, entity: str, entity_id: int, values: dict) -> None:
        """Note a new row: one record per column that holds a value (empty text included, so
        that replaying history gives back the row exactly)."""
        for k, v in values.items():
            if k in ("id", "version") or v is None:
                continue
            self.add(entity, entity_id, k, None, v)

    def flush(self) -> int:
        """Append the collected changes to history (inside the caller's transaction)."""
        n = history.append(self.db, at=self.at,
                           actor_id=self.actor.user_id if self.actor else None,
                           actor=self.actor.username if self.actor else "system",
                           op=self.op, action=self.action, changes=self.changes)
        self.changes = []
        return n


def insert(db: sqlite_utils.Database, rec: Recorder, table: str, entity: str, values: dict
           ) -> int:
    """Insert a row and record its creation; return its id."""
    cols = ", ".join(values)
    marks = ", ".join("?" for _ in values)
    cur = db.conn.execute(f"INSERT INTO {table} ({cols}) VALUES ({marks})",
                          tuple(values.values()))
    new_id = cur.lastrowid
    # Record the row as stored, column defaults included.
    rec.created(entity, new_id, one(db, f"SELECT * FROM {table} WHERE id = ?", (new_id,)))
    return new_id


def update(db: sqlite_utils.Database, rec: Recorder, table: str, entity: str, row: dict,
           values: dict, *, bump: bool = True) -> dict:
    """Update the columns that really change, record each, bump the version (checked against
    the row as read, so a concurrent writer cannot be overwritten); return the changes."""
    changed = {k: v for k, v in values.items() if row.get(k) != v}
    if not changed:
        return {}
    sets = ", ".join(f"{k} = ?" for k in changed)
    params: list[Any] = list(changed.values())
    if bump and "version" in row:
        sets += ", version = version + 1"
        cur = db.conn.execute(f"UPDATE {table} SET {sets} WHERE id = ? AND version = ?",
                              (*params, row["id"], row["version"]))
        if cur.rowcount != 1:
            _raise_stale(db, table, entity, row)
    else:
        db.conn.execute(f"UPDATE {table} SET {sets} WHERE id = ?", (*params, row["id"]))
    for k, v in changed.items():
        rec.add(entity, row["id"], k, row.get(k), v)
    return changed



def bump_version(db: sqlite_utils.Database, table: str, entity: str, row: dict) -> None:
    """Raise the version of a row whose children or links changed (not its own columns), with
    the same stale check as `update`."""
    cur = db.conn.execute(f"UPDATE {table} SET version = version + 1 WHERE id = ? AND version = ?",
                          (row["id"], row["version"]))
    if cur.rowcount != 1:
        _raise_stale(db, table, entity, row)


def _raise_stale(db: sqlite_utils.Database, table: str, entity: str, row: dict) -> None:
    """Another writer changed the row since it was read: say who and when."""
    current = one(db, f"SELECT version FROM {table} WHERE id = ?", (row["id"],))
    last = history.last_change(db, entity, row["id"])
    raise StaleEdit(entity, row["id"], int(row["version"]),
                    int(current["version"]) if current else -1,
                    last["actor"] if last else None, last["at"] if last else None)


def text_value(value: Any, field: str, *, required: bool = False, max_len: int = 200_000) -> str:
    """A text field as stored (exactly as typed); ValidationFailed naming the field when it is
    required and blank, or too long."""
    value = "" if value is None else str(value)
    if required and not value.strip():
        raise ValidationFailed(field, "required")
    if len(value) > max_len:
        raise ValidationFailed(field, f"longer than {max_len} characters")
    return value
