"""Reads of the org tree (units, the region and its branches), the working-day calendar and the
settings: what every package needs to know of the programme's shape. Parameters only; plain
dicts out."""
from __future__ import annotations

from datetime import date

import sqlite_utils

from audit.store.db import one, rows
from audit.time_model import Calendar


def unit_by_code(db: sqlite_utils.Database, code: str) -> dict | None:
    """The unit with this code, or None."""
    return one(db, "SELECT * FROM units WHERE code = ?", (code,))


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


def put_calendar_day(db: sqlite_utils.Database, day: str, *, is_working: bool, name: str,
                     source: str, replace: bool) -> None:
    """A day that differs from the Monday–Friday rule; `replace` False keeps an existing row
    (an administrator's correction survives a later seeding)."""
    verb = "INSERT OR REPLACE" if replace else "INSERT OR IGNORE"
    db.conn.execute(f"{verb} INTO calendar_days (day, is_working, name, source) "
                    "VALUES (?, ?, ?, ?)", (day, int(is_working), name, source))


def drop_calendar_day(db: sqlite_utils.Database, day: str) -> None:
    db.conn.execute("DELETE FROM calendar_days WHERE day = ?", (day,))


def calendar_day(db: sqlite_utils.Database, day: str) -> dict | None:
    """The stored row of a day (is_working, name, source), or None."""
    return one(db, "SELECT is_working, name, source FROM calendar_days WHERE day = ?", (day,))


def put_calendar_year(db: sqlite_utils.Database, year: int, *, published: bool, source: str
                      ) -> None:
    db.conn.execute("INSERT OR REPLACE INTO calendar_years (year, published, source) "
                    "VALUES (?, ?, ?)", (year, int(published), source))


def set_setting_value(db: sqlite_utils.Database, key: str, value: str) -> None:
    db.conn.execute("UPDATE settings SET value = ? WHERE key = ?", (value, key))


def checkpoint(db: sqlite_utils.Database) -> None:
    """Fold the write-ahead log into the main file (before the file is renamed or copied)."""
    db.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
