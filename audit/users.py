"""User accounts, passwords and sign-in: one function per intent (check permission → validate →
one write transaction → history).

Passwords are hashed with argon2id (argon2-cffi defaults). Neither a password nor its hash is
ever written to history: the field 'password' is recorded with markers only. Sign-in throttling
lives in the users table (a browser session can be thrown away, the database cannot): after
LOCKOUT_THRESHOLD consecutive failures the account is locked for LOCKOUT_MINUTES. Every failed
sign-in raises the same LoginFailed, whatever the cause. History records the lock-out and each
successful sign-in, not every single failure, so that someone hammering the form cannot flood
the audit trail; the failure count is kept on the user row and shown to the administrator.
Nothing here reads the clock: every write takes `at` (ISO, '+08:00', see audit/history.py)."""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import lru_cache
from typing import Any

import sqlite_utils
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from audit import history
from audit.db import one, rows, scalar, write_transaction
from audit.errors import LoginFailed, NotFound, NotPermitted, StaleEdit, ValidationFailed
from audit.model import Actor, Role, can

LOCKOUT_THRESHOLD = 5
LOCKOUT_MINUTES = 15
MIN_PASSWORD_LENGTH = 8
# argon2 pre-hashes long input, but a cap keeps a megabyte "password" from costing anything.
MAX_PASSWORD_LENGTH = 256
USERNAME_MIN, USERNAME_MAX = 2, 32
DISPLAY_NAME_MAX = 64
USERNAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
SYSTEM = "system"

# Markers recorded in history instead of a password or hash.
PASSWORD_SET = "***set***"
PASSWORD_CHANGED = "***changed***"
PASSWORD_HIDDEN = "***"

_hasher = PasswordHasher()

# Columns a caller may see; the hash never leaves this module.
_PUBLIC_COLUMNS = ("u.id, u.username, u.display_name, u.role, u.unit_id, un.code AS unit_code, "
                   "un.name AS unit_name, u.person_id, p.name AS person_name, u.active, "
                   "u.failed_logins, u.locked_until, u.password_changed_at, u.created_at, "
                   "u.version")
_PUBLIC_FROM = ("users u LEFT JOIN units un ON un.id = u.unit_id "
                "LEFT JOIN people p ON p.id = u.person_id")


class _Keep:
    """Marks an argument of update_user as "leave unchanged"."""

    def __repr__(self) -> str:
        return "KEEP"


KEEP: Any = _Keep()


@dataclass(frozen=True)
class LoginResult:
    """A successful sign-in: the actor and the stamps the session re-checks on every rerun."""

    actor: Actor
    password_changed_at: str


# --- passwords --------------------------------------------------------------------------------

def hash_password(password: str) -> str:
    """The argon2id hash of a password (PHC string, '$argon2id$…')."""
    return _hasher.hash(password)


def verify_password(password_hash: str, password: str) -> bool:
    """Does the password match the hash? False (never an exception) on a mismatch or bad hash."""
    try:
        return _hasher.verify(password_hash, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


@lru_cache(maxsize=1)
def _dummy_hash() -> str:
    """A hash to verify against for unknown users, so that timing does not reveal names."""
    return _hasher.hash("not-a-real-account-password")


# --- time ---------------------------------------------------------------------------------------

def _parse(at: str) -> datetime:
    """An ISO timestamp as a datetime; ValueError when it is not one."""
    return datetime.fromisoformat(at)


def _plus_minutes(at: str, minutes: int) -> str:
    """`at` moved by some minutes, in the same ISO form and offset."""
    return (_parse(at) + timedelta(minutes=minutes)).isoformat(timespec="seconds")


def is_locked(locked_until: str | None, at: str) -> bool:
    """Is an account with this `locked_until` still locked at `at`?"""
    return bool(locked_until) and _parse(at) < _parse(locked_until)


# --- validation -----------------------------------------------------------------------------------

def _check_username(username: str) -> str:
    """The cleaned user name, or ValidationFailed('username')."""
    name = (username or "").strip()
    if not name:
        raise ValidationFailed("username", "required", rule="required")
    if not (USERNAME_MIN <= len(name) <= USERNAME_MAX) or not USERNAME_RE.match(name):
        raise ValidationFailed("username", "invalid format", rule="username_format",
                               min=USERNAME_MIN, max=USERNAME_MAX)
    return name


def _check_password(password: str, username: str | None, field: str = "password") -> None:
    """Raise ValidationFailed(field) unless the password is acceptable."""
    if not password:
        raise ValidationFailed(field, "required", rule="required")
    if len(password) < MIN_PASSWORD_LENGTH:
        raise ValidationFailed(field, "too short", rule="too_short", min=MIN_PASSWORD_LENGTH)
    if len(password) > MAX_PASSWORD_LENGTH:
        raise ValidationFailed(field, "too long", rule="too_long", max=MAX_PASSWORD_LENGTH)
    if username and password.strip().lower() == username.strip().lower():
        raise ValidationFailed(field, "same as user name", rule="same_as_username")


def _check_role(role: Role | str) -> Role:
    """The role, or ValidationFailed('role')."""
    try:
        return Role(getattr(role, "value", role))
    except ValueError:
        raise ValidationFailed("role", "unknown role", rule="unknown_role") from None


def _check_display_name(display_name: str | None) -> str:
    """The cleaned display name, or ValidationFailed('display_name')."""
    name = (display_name or "").strip()
    if len(name) > DISPLAY_NAME_MAX:
        raise ValidationFailed("display_name", "too long", rule="too_long",
                               max=DISPLAY_NAME_MAX)
    return name


def _resolve_unit(db: sqlite_utils.Database, unit_id: int | None, unit_code: str | None
                  ) -> int | None:
    """The unit id named by id or code (None for the whole region), or ValidationFailed('unit')."""
    if unit_code not in (None, ""):
        found = scalar(db, "SELECT id FROM units WHERE code = ?", (str(unit_code).strip(),))
        if found is None or (unit_id is not None and unit_id != found):
            raise ValidationFailed("unit", "no such unit", rule="unknown_unit")
        return int(found)
    if unit_id is None:
        return None
    if scalar(db, "SELECT 1 FROM units WHERE id = ?", (unit_id,)) is None:
        raise ValidationFailed("unit", "no such unit", rule="unknown_unit")
    return int(unit_id)


def _check_person(db: sqlite_utils.Database, person_id: int | None) -> int | None:
    """The person id (or None), or ValidationFailed('person')."""
    if person_id is None:
        return None
    if scalar(db, "SELECT 1 FROM people WHERE id = ?", (person_id,)) is None:
        raise ValidationFailed("person", "no such person", rule="unknown_person")
    return int(person_id)


def _require_admin(actor: Actor | None) -> None:
    """Only an administrator (or trusted code acting as the system) manages users."""
    if actor is not None and not can("user.manage", actor.role):
        raise NotPermitted(f"{actor.username} may not manage users")


def _check_unit_in_scope(actor: Actor | None, unit_id: int | None) -> None:
    """An administrator limited to part of the tree cannot grant wider or other scopes."""
    if actor is None or actor.scope_unit_ids is None:
        return
    if unit_id is None or unit_id not in actor.scope_unit_ids:
        raise ValidationFailed("unit", "outside your scope", rule="out_of_scope")


def _actor_name(actor: Actor | None) -> tuple[int | None, str]:
    """(actor_id, actor name) as history records them."""
    return (None, SYSTEM) if actor is None else (actor.user_id, actor.username)


def _user_row(db: sqlite_utils.Database, user_id: int) -> dict:
    """The full users row (hash included: module-internal), or NotFound."""
    row = one(db, "SELECT * FROM users WHERE id = ?", (user_id,))
    if row is None:
        raise NotFound(f"user {user_id} not found", entity="user", entity_id=user_id)
    return row


def _target_in_scope(actor: Actor | None, row: dict) -> None:
    """NotPermitted when the user to be changed lies outside the administrator's scope."""
    if actor is None or actor.scope_unit_ids is None:
        return
    if row["unit_id"] is None or row["unit_id"] not in actor.scope_unit_ids:
        raise NotPermitted(f"user {row['id']} is outside {actor.username}'s scope")


def _check_version(db: sqlite_utils.Database, row: dict, expected_version: int | None) -> None:
    """StaleEdit when the row changed since the form showing it was drawn."""
    if expected_version is not None and expected_version != row["version"]:
        last = history.last_change(db, "user", row["id"]) or {}
        raise StaleEdit("user", row["id"], expected_version, row["version"],
                        last.get("actor"), last.get("at"))


def _active_admins(db: sqlite_utils.Database) -> int:
    """How many enabled administrators there are."""
    return int(scalar(db, "SELECT count(*) FROM users WHERE role = 'admin' AND active = 1"))


def _write_user(db: sqlite_utils.Database, row: dict, values: dict, *, actor: Actor | None,
                at: str, action: str, recorded: dict[str, tuple[Any, Any]] | None = None
                ) -> None:
    """Version-checked update of one user plus its history, inside the caller's transaction."""
    sets = ", ".join(f"{col} = ?" for col in values)
    cur = db.conn.execute(
        f"UPDATE users SET {sets}, version = version + 1 WHERE id = ? AND version = ?",
        (*values.values(), row["id"], row["version"]))
    if cur.rowcount != 1:
        current = _user_row(db, row["id"])
        last = history.last_change(db, "user", row["id"]) or {}
        raise StaleEdit("user", row["id"], row["version"], current["version"],
                        last.get("actor"), last.get("at"))
    if recorded is None:
        recorded = {col: (row[col], new) for col, new in values.items() if row[col] != new}
    actor_id, name = _actor_name(actor)
    history.append(db, at=at, actor_id=actor_id, actor=name, op=history.new_op(), action=action,
                   changes=[history.Change("user", row["id"], field, old, new)
                            for field, (old, new) in recorded.items()])


# --- accounts -----------------------------------------------------------------------------------

def create_user(db: sqlite_utils.Database, actor: Actor | None, username: str, password: str,
                role: Role | str, *, unit_id: int | None = None, unit_code: str | None = None,
                person_id: int | None = None, display_name: str = "", at: str) -> int:
    """Create an account and return its id. `actor` None is the system (init, demo builder);
    otherwise only an administrator may. Raises NotPermitted, ValidationFailed."""
    _require_admin(actor)
    _parse(at)
    name = _check_username(username)
    _check_password(password, name)
    role = _check_role(role)
    unit = _resolve_unit(db, unit_id, unit_code)
    _check_unit_in_scope(actor, unit)
    person = _check_person(db, person_id)
    display = _check_display_name(display_name)
    # Hash before the write lock: it takes ~0.1 s and needs no data.
    password_hash = hash_password(password)
    with write_transaction(db):
        if scalar(db, "SELECT 1 FROM users WHERE username = ? COLLATE NOCASE", (name,)):
            raise ValidationFailed("username", "already taken", rule="taken")
        cur = db.conn.execute(
            "INSERT INTO users (username, display_name, password_hash, role, unit_id, person_id,"
            " active, failed_logins, locked_until, password_changed_at, created_at, version)"
            " VALUES (?, ?, ?, ?, ?, ?, 1, 0, NULL, ?, ?, 1)",
            (name, display, password_hash, role.value, unit, person, at, at))
        user_id = int(cur.lastrowid)
        actor_id, actor_label = _actor_name(actor)
        fields = {"username": name, "display_name": display, "role": role.value,
                  "unit_id": unit, "person_id": person, "active": 1,
                  "password": PASSWORD_SET, "password_changed_at": at, "created_at": at}
        history.append(db, at=at, actor_id=actor_id, actor=actor_label, op=history.new_op(),
                       action="user.create",
                       changes=[history.Change("user", user_id, f, None, v)
                                for f, v in fields.items()])
    return user_id


def update_user(db: sqlite_utils.Database, actor: Actor | None, user_id: int, *,
                role: Role | str = KEEP, unit_id: int | None = KEEP,
                person_id: int | None = KEEP, display_name: str = KEEP, at: str,
                expected_version: int | None = None) -> None:
    """Change role, scope (unit; None = whole region), linked person or display name.
    Raises NotPermitted, NotFound, ValidationFailed, StaleEdit."""
    _require_admin(actor)
    _parse(at)
    values: dict[str, Any] = {}
    if role is not KEEP:
        values["role"] = _check_role(role).value
    if unit_id is not KEEP:
        values["unit_id"] = _resolve_unit(db, unit_id, None)
        _check_unit_in_scope(actor, values["unit_id"])
    if person_id is not KEEP:
        values["person_id"] = _check_person(db, person_id)
    if display_name is not KEEP:
        values["display_name"] = _check_display_name(display_name)
    with write_transaction(db):
        row = _user_row(db, user_id)
        _target_in_scope(actor, row)
        _check_version(db, row, expected_version)
        values = {k: v for k, v in values.items() if row[k] != v}
        if not values:
            return
        if row["role"] == Role.ADMIN.value and values.get("role", "admin") != "admin":
            if actor is not None and actor.user_id == user_id:
                raise ValidationFailed("role", "cannot demote yourself", rule="not_self")
            if row["active"] and _active_admins(db) <= 1:
                raise ValidationFailed("role", "last administrator", rule="last_admin")
        _write_user(db, row, values, actor=actor, at=at, action="user.update")


def set_role(db: sqlite_utils.Database, actor: Actor | None, user_id: int, role: Role | str, *,
             at: str, expected_version: int | None = None) -> None:
    """Change a user's role (see update_user)."""
    update_user(db, actor, user_id, role=role, at=at, expected_version=expected_version)


def set_scope(db: sqlite_utils.Database, actor: Actor | None, user_id: int,
              unit_id: int | None, *, at: str, expected_version: int | None = None) -> None:
    """Change a user's unit, hence scope; None = whole region (see update_user)."""
    update_user(db, actor, user_id, unit_id=unit_id, at=at, expected_version=expected_version)


def set_active(db: sqlite_utils.Database, actor: Actor | None, user_id: int, active: bool, *,
               at: str, expected_version: int | None = None) -> None:
    """Enable or disable an account; disabling ends its open sessions at their next rerun.
    Enabling also clears a lock-out. Raises NotPermitted, NotFound, ValidationFailed, StaleEdit."""
    _require_admin(actor)
    _parse(at)
    with write_transaction(db):
        row = _user_row(db, user_id)
        _target_in_scope(actor, row)
        _check_version(db, row, expected_version)
        if bool(row["active"]) == bool(active):
            return
        if not active:
            if actor is not None and actor.user_id == user_id:
                raise ValidationFailed("active", "cannot disable yourself", rule="not_self")
            if row["role"] == Role.ADMIN.value and _active_admins(db) <= 1:
                raise ValidationFailed("active", "last administrator", rule="last_admin")
            values = {"active": 0}
        else:
            values = {"active": 1, "failed_logins": 0, "locked_until": None}
        _write_user(db, row, values, actor=actor, at=at,
                    action="user.enable" if active else "user.disable")


def unlock(db: sqlite_utils.Database, actor: Actor | None, user_id: int, *, at: str) -> None:
    """Lift a lock-out and clear the failure count. Raises NotPermitted, NotFound."""
    _require_admin(actor)
    _parse(at)
    with write_transaction(db):
        row = _user_row(db, user_id)
        _target_in_scope(actor, row)
        values = {"failed_logins": 0, "locked_until": None}
        if all(row[k] == v for k, v in values.items()):
            return
        _write_user(db, row, values, actor=actor, at=at, action="user.unlock")


def reset_password(db: sqlite_utils.Database, actor: Actor | None, user_id: int,
                   new_password: str, *, at: str) -> None:
    """An administrator sets a new password; clears a lock-out and ends open sessions.
    Raises NotPermitted, NotFound, ValidationFailed."""
    _require_admin(actor)
    _parse(at)
    row = _user_row(db, user_id)
    _target_in_scope(actor, row)
    _check_password(new_password, row["username"], field="new_password")
    password_hash = hash_password(new_password)
    with write_transaction(db):
        row = _user_row(db, user_id)
        values = {"password_hash": password_hash, "password_changed_at": at,
                  "failed_logins": 0, "locked_until": None}
        recorded = {"password": (PASSWORD_HIDDEN, PASSWORD_CHANGED),
                    "password_changed_at": (row["password_changed_at"], at)}
        if row["failed_logins"] or row["locked_until"]:
            recorded["failed_logins"] = (row["failed_logins"], 0)
            recorded["locked_until"] = (row["locked_until"], None)
        _write_user(db, row, values, actor=actor, at=at, action="user.reset_password",
                    recorded=recorded)


def change_password(db: sqlite_utils.Database, actor: Actor, old_password: str,
                    new_password: str, *, at: str) -> str:
    """A user changes their own password; returns the new `password_changed_at` stamp (the
    caller's session must adopt it, other sessions of the user end).
    Raises NotFound, ValidationFailed (old_password wrong, new_password unacceptable)."""
    _parse(at)
    row = _user_row(db, actor.user_id)
    if not verify_password(row["password_hash"], old_password or ""):
        # Counts like a failed sign-in, so an unattended session cannot be used to guess.
        _record_failure(db, row["id"], at)
        raise ValidationFailed("old_password", "wrong password", rule="wrong_password")
    _check_password(new_password, row["username"], field="new_password")
    password_hash = hash_password(new_password)
    with write_transaction(db):
        row = _user_row(db, actor.user_id)
        _write_user(db, row, {"password_hash": password_hash, "password_changed_at": at},
                    actor=actor, at=at, action="user.change_password",
                    recorded={"password": (PASSWORD_HIDDEN, PASSWORD_CHANGED),
                              "password_changed_at": (row["password_changed_at"], at)})
    return at


# --- signing in -----------------------------------------------------------------------------------

def login(db: sqlite_utils.Database, username: str, password: str, at: str) -> LoginResult:
    """Check a sign-in; return the actor and session stamps. Raises LoginFailed with one and the
    same message for an unknown name, a wrong password, a disabled or a locked account."""
    _parse(at)
    name = (username or "").strip()
    row = one(db, "SELECT * FROM users WHERE username = ? COLLATE NOCASE", (name,)) if name \
        else None
    # Always pay for one argon2 verification, so the answer time does not tell which case it is.
    ok = verify_password(row["password_hash"] if row else _dummy_hash(), password or "")
    refused = LoginFailed("login failed")
    if row is None or not row["active"]:
        raise refused
    if is_locked(row["locked_until"], at):
        # Attempts while locked neither count nor extend the lock: the lock has a known end.
        raise refused
    if not ok:
        _record_failure(db, row["id"], at)
        raise refused
    _record_success(db, row, password, at)
    stamp = scalar(db, "SELECT password_changed_at FROM users WHERE id = ?", (row["id"],))
    return LoginResult(actor_for(db, row["id"]), stamp)


def authenticate(db: sqlite_utils.Database, username: str, password: str, at: str) -> Actor:
    """Check a sign-in and return the Actor; raises LoginFailed (see login)."""
    return login(db, username, password, at).actor


def _record_failure(db: sqlite_utils.Database, user_id: int, at: str) -> None:
    """Count a failed attempt; the attempt that reaches the threshold locks the account."""
    with write_transaction(db):
        row = _user_row(db, user_id)
        failures = row["failed_logins"] + 1
        if failures < LOCKOUT_THRESHOLD:
            db.conn.execute("UPDATE users SET failed_logins = ? WHERE id = ?", (failures, user_id))
            return
        until = _plus_minutes(at, LOCKOUT_MINUTES)
        # The count restarts, so that after the lock ends a new series of failures locks again.
        db.conn.execute("UPDATE users SET failed_logins = 0, locked_until = ? WHERE id = ?",
                        (until, user_id))
        history.append(db, at=at, actor_id=user_id, actor=row["username"], op=history.new_op(),
                       action="login.locked",
                       changes=[history.Change("login", user_id, "failed_logins",
                                               row["failed_logins"], failures),
                                history.Change("login", user_id, "locked_until",
                                               row["locked_until"], until)])


def _record_success(db: sqlite_utils.Database, row: dict, password: str, at: str) -> None:
    """Record the sign-in, reset the failure count, and upgrade an outdated hash."""
    rehash = _hasher.check_needs_rehash(row["password_hash"])
    new_hash = hash_password(password) if rehash else None
    with write_transaction(db):
        if new_hash:
            db.conn.execute("UPDATE users SET password_hash = ? WHERE id = ?",
                            (new_hash, row["id"]))
        db.conn.execute("UPDATE users SET failed_logins = 0, locked_until = NULL WHERE id = ?",
                        (row["id"],))
        changes = [history.Change("login", row["id"], "failed_logins", row["failed_logins"], 0)]
        if new_hash:
            changes.append(history.Change("login", row["id"], "password", PASSWORD_HIDDEN,
                                          "***rehashed***"))
        history.append(db, at=at, actor_id=row["id"], actor=row["username"],
                       op=history.new_op(), action="login.succeeded", changes=changes)


# --- sessions -----------------------------------------------------------------------------------

def scope_of(db: sqlite_utils.Database, unit_id: int | None) -> frozenset[int] | None:
    """A unit and all units below it; None (the whole region) for no unit."""
    if unit_id is None:
        return None
    found = db.conn.execute(
        "WITH RECURSIVE tree(id) AS (SELECT ? UNION SELECT u.id FROM units u "
        "JOIN tree ON u.parent_id = tree.id) SELECT id FROM tree", (unit_id,)).fetchall()
    return frozenset(r[0] for r in found)


def actor_for(db: sqlite_utils.Database, user_id: int) -> Actor:
    """The Actor for a user as the database has it now (role, unit, scope).
    Raises NotFound. Does not check `active`: see session_still_valid."""
    row = _user_row(db, user_id)
    return Actor(user_id=row["id"], username=row["username"], role=Role(row["role"]),
                 person_id=row["person_id"], unit_id=row["unit_id"],
                 scope_unit_ids=scope_of(db, row["unit_id"]))


def session_still_valid(db: sqlite_utils.Database, user_id: int, role: Role | str,
                        password_changed_at: str) -> bool:
    """Does a session opened with this role and password stamp still stand? False when the user
    is gone or disabled, or the role or the password changed since."""
    row = one(db, "SELECT active, role, password_changed_at FROM users WHERE id = ?",
              (user_id,))
    if row is None or not row["active"]:
        return False
    return (row["role"] == getattr(role, "value", role)
            and row["password_changed_at"] == password_changed_at)


# --- reading ------------------------------------------------------------------------------------

def get_user(db: sqlite_utils.Database, actor: Actor | None, user_id: int) -> dict:
    """One user (never the hash); administrators only, within scope. Raises NotPermitted,
    NotFound."""
    _require_admin(actor)
    row = one(db, f"SELECT {_PUBLIC_COLUMNS} FROM {_PUBLIC_FROM} WHERE u.id = ?", (user_id,))
    if row is None:
        raise NotFound(f"user {user_id} not found", entity="user", entity_id=user_id)
    _target_in_scope(actor, row)
    return row


def list_users(db: sqlite_utils.Database, actor: Actor | None) -> list[dict]:
    """Every user the administrator may manage (never the hash), by user name.
    Raises NotPermitted for anyone but an administrator."""
    _require_admin(actor)
    found = rows(db, f"SELECT {_PUBLIC_COLUMNS} FROM {_PUBLIC_FROM} "
                     "ORDER BY u.username COLLATE NOCASE")
    if actor is None or actor.scope_unit_ids is None:
        return found
    return [r for r in found if r["unit_id"] in actor.scope_unit_ids]


def unit_choices(db: sqlite_utils.Database, actor: Actor | None) -> list[dict]:
    """Units an administrator may give a user (id, code, name, level): region first, then
    by code (a county's code extends its city's, so cities are followed by their counties)."""
    _require_admin(actor)
    found = rows(db, "SELECT id, code, name, level FROM units "
                     "ORDER BY level <> 'region', code")
    if actor is None or actor.scope_unit_ids is None:
        return found
    return [r for r in found if r["id"] in actor.scope_unit_ids]


def person_choices(db: sqlite_utils.Database, actor: Actor | None) -> list[dict]:
    """Active people an account may be linked to (id, name, unit_id, unit_name)."""
    _require_admin(actor)
    found = rows(db, "SELECT p.id, p.name, p.unit_id, u.name AS unit_name FROM people p "
                     "JOIN units u ON u.id = p.unit_id WHERE p.active = 1 "
                     "ORDER BY u.level <> 'region', u.code, p.name")
    if actor is None or actor.scope_unit_ids is None:
        return found
    return [r for r in found if r["unit_id"] in actor.scope_unit_ids]


def unit_name(db: sqlite_utils.Database, unit_id: int | None) -> str | None:
    """A unit's name (for the signed-in banner), None for no unit."""
    if unit_id is None:
        return None
    return scalar(db, "SELECT name FROM units WHERE id = ?", (unit_id,))


def user_count(db: sqlite_utils.Database) -> int:
    """How many accounts exist (the CLI's `init` creates the first administrator when none)."""
    return int(scalar(db, "SELECT count(*) FROM users"))


def display_name_of(db: sqlite_utils.Database, user_id: int) -> str:
    """The name to greet a user with: display name, else user name."""
    row = one(db, "SELECT username, display_name FROM users WHERE id = ?", (user_id,))
    if row is None:
        return ""
    return row["display_name"] or row["username"]


# --- the demo flag --------------------------------------------------------------------------------

DEMO_SETTING = "demo"


def is_demo_database(db: sqlite_utils.Database) -> bool:
    """Was this database built as a demo (settings 'demo' = '1')? Only then does the sign-in page
    show the demo accounts."""
    return scalar(db, "SELECT value FROM settings WHERE key = ?", (DEMO_SETTING,)) == "1"


def mark_demo_database(db: sqlite_utils.Database, at: str) -> None:
    """Set settings 'demo' = '1' (with history) unless it is already set."""
    with write_transaction(db):
        old = scalar(db, "SELECT value FROM settings WHERE key = ?", (DEMO_SETTING,))
        if old == "1":
            return
        db.conn.execute("INSERT INTO settings (key, value) VALUES (?, '1') "
                        "ON CONFLICT(key) DO UPDATE SET value = excluded.value", (DEMO_SETTING,))
        history.append(db, at=at, actor_id=None, actor=SYSTEM, op=history.new_op(),
                       action="setting.update",
                       changes=[history.Change("setting", None, DEMO_SETTING, old, "1")])
