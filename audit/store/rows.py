"""Reads and writes of one row by id that every service shares: the row or NotFound, an insert
recorded as a creation, an update of the columns that change checked against the version read
(a concurrent writer is never overwritten), and the version bump of a row whose children
changed."""
from __future__ import annotations

from typing import Any

import sqlite_utils

from audit.model import NotFound, StaleEdit
from audit.store import history
from audit.store.db import one
from audit.store.history import Recorder


def get_row(db: sqlite_utils.Database, table: str, row_id: int, label: str | None = None
            ) -> dict:
    """A row by id, or NotFound naming it."""
    row = one(db, f"SELECT * FROM {table} WHERE id = ?", (row_id,))
    if row is None:
        raise NotFound(f"{label or table} {row_id} not found", entity=label or table, id=row_id)
    return row


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
