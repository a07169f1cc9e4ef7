"""Reads for units, people and the calendar. Parameters only; plain dicts out."""
from __future__ import annotations

from datetime import date

import sqlite_utils

from audit.db import one, rows
from owners.model import Calendar


def unit_by_code(db: sqlite_utils.Database, code: str) -> dict | None:
    """The unit with this code, or None."""
    return one(db, "SELECT * FROM units WHERE code = ?", (code,))


def unit_by_name(db: sqlite_utils.Database, name: str) -> list[dict]:
    """Units with exactly this name (may be several: the caller must ask when ambiguous)."""
    return rows(db, "SELECT * FROM units WHERE name = ?", (name,))


def all_units(db: sqlite_utils.Database) -> list[dict]:
    """Every unit, parents before children where possible (ordered by level then code)."""
    return rows(db, "SELECT * FROM units ORDER BY CASE level WHEN 'region' THEN 0 "
                    "WHEN 'city' THEN 1 ELSE 2 END, code")


def subtree_ids(db: sqlite_utils.Database, unit_id: int) -> frozenset[int]:
    """A unit and all its descendants."""
    cur = db.conn.execute(
        "WITH RECURSIVE t(id) AS (SELECT ? UNION SELECT u.id FROM units u JOIN t "
        "ON u.parent_id = t.id) SELECT id FROM t", (unit_id,))
    return frozenset(r[0] for r in cur.fetchall())


def chain_to_root(db: sqlite_utils.Database, unit_id: int) -> list[dict]:
    """The unit and its ancestors, nearest first (the escalation chain)."""
    return rows(db, "WITH RECURSIVE t(id, depth) AS (SELECT ?, 0 UNION ALL "
                    "SELECT u.parent_id, t.depth + 1 FROM units u JOIN t ON u.id = t.id "
                    "WHERE u.parent_id IS NOT NULL) "
                    "SELECT units.* FROM t JOIN units ON units.id = t.id ORDER BY t.depth",
                (unit_id,))


def root_unit(db: sqlite_utils.Database) -> dict | None:
    """The region (the unit with no parent)."""
    return one(db, "SELECT * FROM units WHERE parent_id IS NULL ORDER BY id LIMIT 1")


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


def load_calendar(db: sqlite_utils.Database) -> Calendar:
    """The working-day calendar as stored (admin corrections included)."""
    hol, make_up = set(), set()
    for day, working in db.conn.execute("SELECT day, is_working FROM calendar_days"):
        (make_up if working else hol).add(date.fromisoformat(day))
    years = {r[0] for r in db.conn.execute("SELECT year FROM calendar_years WHERE published=1")}
    return Calendar(frozenset(hol), frozenset(make_up), frozenset(years))


def setting(db: sqlite_utils.Database, key: str, default: str | None = None) -> str | None:
    """A settings value, or `default`."""
    r = one(db, "SELECT value FROM settings WHERE key = ?", (key,))
    return r["value"] if r else default
