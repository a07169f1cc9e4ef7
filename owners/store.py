"""Reads for units, people and the calendar. Parameters only; plain dicts out."""
from __future__ import annotations

import sqlite_utils

from audit.store.db import rows


def unit_by_name(db: sqlite_utils.Database, name: str) -> list[dict]:
    """Units with exactly this name (may be several: the caller must ask when ambiguous)."""
    return rows(db, "SELECT * FROM units WHERE name = ?", (name,))


def person_by_name(db: sqlite_utils.Database, name: str, unit_id: int | None = None
                   ) -> list[dict]:
    """People with this name (in this unit when given)."""
    if unit_id is None:
        return rows(db, "SELECT * FROM people WHERE name = ?", (name,))
    return rows(db, "SELECT * FROM people WHERE name = ? AND unit_id = ?", (name, unit_id))


def people_in(db: sqlite_utils.Database, unit_ids: frozenset[int] | None) -> list[dict]:
    """People in the given units (all when None), with their unit's name."""
    sql = ("SELECT p.*, u.name AS unit_name, u.code AS unit_code FROM people p "
           "JOIN units u ON u.id = p.unit_id")
    if unit_ids is None:
        return rows(db, sql + " ORDER BY u.code, p.name")
    ids = ",".join(str(int(i)) for i in unit_ids) or "NULL"
    return rows(db, sql + f" WHERE p.unit_id IN ({ids}) ORDER BY u.code, p.name")


def active_people_among(db: sqlite_utils.Database, ids: list[int | None]) -> set[int]:
    """Those of `ids` that are active people."""
    wanted = [i for i in ids if i is not None]
    if not wanted:
        return set()
    marks = ",".join("?" for _ in wanted)
    return {r[0] for r in db.conn.execute(
        f"SELECT id FROM people WHERE active = 1 AND id IN ({marks})", wanted)}


def pending_extension_request(db: sqlite_utils.Database, issue_id: int) -> dict | None:
    """The issue's extension request waiting for a lead's decision, if any."""
    found = rows(db, "SELECT * FROM extension_requests WHERE issue_id = ? AND status = 'pending'",
                 (issue_id,))
    return found[0] if found else None


def measure_deadlines(db: sqlite_utils.Database, issue_id: int) -> list[tuple[int, str | None, str]]:
    """(id, deadline, status) of the issue's measures: what a new issue deadline is checked
    against (audit.rules_model.measures_after)."""
    return [(r[0], r[1], r[2]) for r in db.conn.execute(
        "SELECT id, deadline, status FROM measures WHERE issue_id = ? ORDER BY id", (issue_id,))]
