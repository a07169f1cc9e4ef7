"""Signing in: passwords, sign-in with throttling, and the actor a session acts as.

Passwords are hashed with argon2id (argon2-cffi defaults). Sign-in throttling lives in the users
table (a browser session can be thrown away, the database cannot): after LOCKOUT_THRESHOLD
consecutive failures the account is locked for LOCKOUT_MINUTES. Every failed sign-in raises the
same LoginFailed, whatever the cause. History records the lock-out and each successful sign-in,
not every single failure, so that someone hammering the form cannot flood the audit trail; the
failure count is kept on the user row and shown to the administrator. Nothing here reads the
clock: every write takes `at`."""
from __future__ import annotations

import os
import threading
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import lru_cache

import sqlite_utils
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from audit.model import Actor, LoginFailed, NotFound, Role
from audit.store import history, org
from audit.store import users as store
from audit.store.db import write_transaction

PASSWORD_HIDDEN = "***"   # what history shows for a password (see accounts_service)


LOCKOUT_THRESHOLD = 5
LOCKOUT_MINUTES = 15

_hasher = PasswordHasher()
# Each argon2 check holds 64 MiB for ~0.1 s: a burst of sign-ins waits its turn here instead of
# multiplying the server's memory. Process-wide on purpose (it bounds the process, not a user).
HASH_CONCURRENCY = max(1, int(os.environ.get("AUDIT_HASH_CONCURRENCY", "2")))
_HASHING = threading.BoundedSemaphore(HASH_CONCURRENCY)


@dataclass(frozen=True)
class LoginResult:
    """A successful sign-in: the actor and the stamps the session re-checks on every rerun."""

    actor: Actor
    password_changed_at: str


def hash_password(password: str) -> str:
    """The argon2id hash of a password (PHC string, '$argon2id$…')."""
    with _HASHING:
        return _hasher.hash(password)


def verify_password(password_hash: str, password: str) -> bool:
    """Does the password match the hash? False (never an exception) on a mismatch or bad hash."""
    with _HASHING:
        try:
            return _hasher.verify(password_hash, password)
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            return False


@lru_cache(maxsize=1)
def _dummy_hash() -> str:
    """A hash to verify against for unknown users, so that timing does not reveal names."""
    return hash_password("not-a-real-account-password")


def _parse(at: str) -> datetime:
    """An ISO timestamp as a datetime; ValueError when it is not one."""
    return datetime.fromisoformat(at)


def _plus_minutes(at: str, minutes: int) -> str:
    """`at` moved by some minutes, in the same ISO form and offset."""
    return (_parse(at) + timedelta(minutes=minutes)).isoformat(timespec="seconds")


def is_locked(locked_until: str | None, at: str) -> bool:
    """Is an account with this `locked_until` still locked at `at`?"""
    return bool(locked_until) and _parse(at) < _parse(locked_until)


def login(db: sqlite_utils.Database, username: str, password: str, at: str) -> LoginResult:
    """Check a sign-in; return the actor and session stamps. Raises LoginFailed with one and the
    same message for an unknown name, a wrong password, a disabled or a locked account.

    The password is checked outside the write lock (argon2 takes ~0.1 s and 64 MiB); what it
    means is decided inside it, against the account as it is then: a lock set by a parallel
    attempt meanwhile refuses this one, right password or not, and a password changed
    meanwhile makes the check count for nothing."""
    _parse(at)
    name = (username or "").strip()
    row = store.user_row_by_name(db, name) if name else None
    # Always pay for one argon2 verification, so the answer time does not tell which case it is.
    ok = verify_password(row["password_hash"] if row else _dummy_hash(), password or "")
    refused = LoginFailed("login failed")
    if row is None:
        raise refused
    new_hash = hash_password(password) if ok and _hasher.check_needs_rehash(
        row["password_hash"]) else None
    with write_transaction(db):
        now = _user_row(db, row["id"])
        if not now["active"] or now["password_hash"] != row["password_hash"]:
            accepted = False
        elif is_locked(now["locked_until"], at):
            # Attempts while locked neither count nor extend the lock: the lock has a known end.
            accepted = False
        elif not ok:
            _count_failure(db, now, at)
            accepted = False
        else:
            _record_success(db, now, new_hash, at)
            accepted = True
    if not accepted:
        raise refused
    stamp = store.password_stamp(db, row["id"])
    return LoginResult(actor_for(db, row["id"]), stamp)


def authenticate(db: sqlite_utils.Database, username: str, password: str, at: str) -> Actor:
    """Check a sign-in and return the Actor; raises LoginFailed (see login)."""
    return login(db, username, password, at).actor


def record_failure(db: sqlite_utils.Database, user_id: int, at: str) -> None:
    """Count a failed attempt (a sign-in, or a wrong current password when changing it); the
    attempt that reaches the threshold locks the account."""
    with write_transaction(db):
        _count_failure(db, _user_row(db, user_id), at)


def _count_failure(db: sqlite_utils.Database, row: dict, at: str) -> None:
    """One more failure on the account as read under the lock (inside the caller's
    transaction)."""
    user_id = row["id"]
    failures = row["failed_logins"] + 1
    if failures < LOCKOUT_THRESHOLD:
        store.set_login_state(db, user_id, failed_logins=failures,
                              locked_until=row["locked_until"])
        return
    until = _plus_minutes(at, LOCKOUT_MINUTES)
    # The count restarts, so that after the lock ends a new series of failures locks again.
    store.set_login_state(db, user_id, failed_logins=0, locked_until=until)
    history.append(db, at=at, actor_id=user_id, actor=row["username"], op=history.new_op(),
                   action="login.locked",
                   changes=[history.Change("login", user_id, "failed_logins",
                                           row["failed_logins"], failures),
                            history.Change("login", user_id, "locked_until",
                                           row["locked_until"], until)])


def _record_success(db: sqlite_utils.Database, row: dict, new_hash: str | None, at: str
                    ) -> None:
    """Record the sign-in, reset the failure count, and store an upgraded hash (inside the
    caller's transaction, on the account as read under the lock)."""
    if new_hash:
        store.set_password_hash(db, row["id"], new_hash)
    store.set_login_state(db, row["id"], failed_logins=0, locked_until=None)
    changes = [history.Change("login", row["id"], "failed_logins", row["failed_logins"], 0)]
    if new_hash:
        changes.append(history.Change("login", row["id"], "password", PASSWORD_HIDDEN,
                                      "***rehashed***"))
    history.append(db, at=at, actor_id=row["id"], actor=row["username"],
                   op=history.new_op(), action="login.succeeded", changes=changes)


def scope_of(db: sqlite_utils.Database, unit_id: int | None) -> frozenset[int] | None:
    """A unit and all units below it; None (the whole region) for no unit."""
    if unit_id is None:
        return None
    return org.subtree_ids(db, unit_id)


def actor_for(db: sqlite_utils.Database, user_id: int) -> Actor:
    """The Actor for a user as the database has it now (role, unit, scope).
    Raises NotFound. Does not check `active`: see session_still_valid."""
    row = _user_row(db, user_id)
    return Actor(user_id=row["id"], username=row["username"], role=Role(row["role"]),
                 person_id=row["person_id"], unit_id=row["unit_id"],
                 scope_unit_ids=scope_of(db, row["unit_id"]))


def is_active(db: sqlite_utils.Database, user_id: int) -> bool:
    """Does the account exist and may it sign in?"""
    row = store.session_row(db, user_id)
    return row is not None and bool(row["active"])


def session_still_valid(db: sqlite_utils.Database, user_id: int, role: Role | str,
                        password_changed_at: str) -> bool:
    """Does a session opened with this role and password stamp still stand? False when the user
    is gone or disabled, or the role or the password changed since."""
    row = store.session_row(db, user_id)
    if row is None or not row["active"]:
        return False
    return (row["role"] == getattr(role, "value", role)
            and row["password_changed_at"] == password_changed_at)


def _user_row(db: sqlite_utils.Database, user_id: int) -> dict:
    """The full users row, or NotFound."""
    row = store.user_row(db, user_id)
    if row is None:
        raise NotFound(f"user {user_id} not found", entity="user", entity_id=user_id)
    return row
