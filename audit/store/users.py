"""The SQL of accounts and sign-in. The password hash leaves this module only through
`user_row` (for the sign-in and password services); every listing uses the public columns."""
from __future__ import annotations

from typing import Any

import sqlite_utils

from audit.store.db import one, quote, rows, scalar

# Columns a caller may see; the hash never leaves through these.
_PUBLIC_COLUMNS = ("u.id, u.username, u.display_name, u.role, u.unit_id, un.code AS unit_code, "
                   "un.name AS unit_name, u.person_id, p.name AS person_name, u.active, "
                   "u.failed_logins, u.locked_until, u.password_changed_at, u.created_at, "
                   "u.version")
_PUBLIC_FROM = ("users u LEFT JOIN units un ON un.id = u.unit_id "
                "LEFT JOIN people p ON p.id = u.person_id")


def user_row(db: sqlite_utils.Database, user_id: int) -> dict | None:
    """The full users row (hash included), or None."""
    return one(db, "SELECT * FROM users WHERE id = ?", (user_id,))


def user_row_by_name(db: sqlite_utils.Database, username: str) -> dict | None:
    """The full users row of a user name (case-insensitive), or None."""
    return one(db, "SELECT * FROM users WHERE username = ? COLLATE NOCASE", (username,))


def username_taken(db: sqlite_utils.Database, username: str) -> bool:
    """Is the user name (case-insensitive) already an account's?"""
    return scalar(db, "SELECT 1 FROM users WHERE username = ? COLLATE NOCASE",
                  (username,)) is not None


def unit_id_by_code(db: sqlite_utils.Database, code: str) -> int | None:
    """The id of the unit with this code, or None."""
    return scalar(db, "SELECT id FROM units WHERE code = ?", (code,))


def unit_exists(db: sqlite_utils.Database, unit_id: int) -> bool:
    return scalar(db, "SELECT 1 FROM units WHERE id = ?", (unit_id,)) is not None


def person_exists(db: sqlite_utils.Database, person_id: int) -> bool:
    return scalar(db, "SELECT 1 FROM people WHERE id = ?", (person_id,)) is not None


def active_admins(db: sqlite_utils.Database) -> int:
    """How many enabled administrators there are."""
    return int(scalar(db, "SELECT count(*) FROM users WHERE role = 'admin' AND active = 1"))


def insert_user(db: sqlite_utils.Database, *, username: str, display_name: str,
                password_hash: str, role: str, unit_id: int | None, person_id: int | None,
                at: str) -> int:
    """A new, active account with no failures; returns its id."""
    cur = db.conn.execute(
        "INSERT INTO users (username, display_name, password_hash, role, unit_id, person_id,"
        " active, failed_logins, locked_until, password_changed_at, created_at, version)"
        " VALUES (?, ?, ?, ?, ?, ?, 1, 0, NULL, ?, ?, 1)",
        (username, display_name, password_hash, role, unit_id, person_id, at, at))
    return int(cur.lastrowid)


def update_user_versioned(db: sqlite_utils.Database, user_id: int, version: int,
                          values: dict[str, Any]) -> bool:
    """Update columns of a user and bump its version, only if the version is still `version`;
    False when another writer changed the row first."""
    sets = ", ".join(f"{quote(col)} = ?" for col in values)
    cur = db.conn.execute(
        f"UPDATE users SET {sets}, version = version + 1 WHERE id = ? AND version = ?",
        (*values.values(), user_id, version))
    return cur.rowcount == 1


def set_login_state(db: sqlite_utils.Database, user_id: int, *, failed_logins: int,
                    locked_until: str | None) -> None:
    """The failure count and lock of an account (not versioned: sign-ins are not edits)."""
    db.conn.execute("UPDATE users SET failed_logins = ?, locked_until = ? WHERE id = ?",
                    (failed_logins, locked_until, user_id))


def set_password_hash(db: sqlite_utils.Database, user_id: int, password_hash: str) -> None:
    """Replace an outdated hash of the same password (a rehash at sign-in)."""
    db.conn.execute("UPDATE users SET password_hash = ? WHERE id = ?", (password_hash, user_id))


def session_row(db: sqlite_utils.Database, user_id: int) -> dict | None:
    """What an open session is re-checked against: active, role, password stamp."""
    return one(db, "SELECT active, role, password_changed_at FROM users WHERE id = ?",
               (user_id,))


def password_stamp(db: sqlite_utils.Database, user_id: int) -> str | None:
    return scalar(db, "SELECT password_changed_at FROM users WHERE id = ?", (user_id,))


def public_user(db: sqlite_utils.Database, user_id: int) -> dict | None:
    """One user's public columns (with unit code and name, person name), or None."""
    return one(db, f"SELECT {_PUBLIC_COLUMNS} FROM {_PUBLIC_FROM} WHERE u.id = ?", (user_id,))


def public_users(db: sqlite_utils.Database) -> list[dict]:
    """Every user's public columns, by user name."""
    return rows(db, f"SELECT {_PUBLIC_COLUMNS} FROM {_PUBLIC_FROM} "
                    "ORDER BY u.username COLLATE NOCASE")


def unit_rows(db: sqlite_utils.Database) -> list[dict]:
    """Every unit (id, code, name, level): region first, then by code (a county's code extends
    its city's, so cities are followed by their counties)."""
    return rows(db, "SELECT id, code, name, level FROM units ORDER BY level <> 'region', code")


def active_people(db: sqlite_utils.Database) -> list[dict]:
    """Active people (id, name, unit_id, unit_name), by unit then name."""
    return rows(db, "SELECT p.id, p.name, p.unit_id, u.name AS unit_name FROM people p "
                    "JOIN units u ON u.id = p.unit_id WHERE p.active = 1 "
                    "ORDER BY u.level <> 'region', u.code, p.name")


def unit_name(db: sqlite_utils.Database, unit_id: int) -> str | None:
    return scalar(db, "SELECT name FROM units WHERE id = ?", (unit_id,))


def user_count(db: sqlite_utils.Database) -> int:
    return int(scalar(db, "SELECT count(*) FROM users"))


def names_of(db: sqlite_utils.Database, user_id: int) -> dict | None:
    """username and display_name of a user, or None."""
    return one(db, "SELECT username, display_name FROM users WHERE id = ?", (user_id,))


def setting_value(db: sqlite_utils.Database, key: str) -> str | None:
    return scalar(db, "SELECT value FROM settings WHERE key = ?", (key,))


def put_setting(db: sqlite_utils.Database, key: str, value: str) -> None:
    """Insert or replace a settings row."""
    db.conn.execute("INSERT INTO settings (key, value) VALUES (?, ?) "
                    "ON CONFLICT(key) DO UPDATE SET value = excluded.value", (key, value))


def first_active_admin(db: sqlite_utils.Database) -> int | None:
    """The id of the longest-standing active administrator, or None."""
    return scalar(db, "SELECT id FROM users WHERE role = 'admin' AND active = 1 "
                      "ORDER BY id LIMIT 1")
