"""User accounts: one function per intent (check permission → validate → one write transaction
→ history). Signing in is audit.login_service.

Neither a password nor its hash is ever written to history: the field 'password' is recorded
with markers only. Nothing here reads the clock: every write takes `at` (ISO, '+08:00', see
audit/store/history.py)."""
from __future__ import annotations

import re
from typing import Any

import sqlite_utils

from audit.login_service import _parse, hash_password, record_failure, verify_password
from audit.model import (
    Actor,
    NotFound,
    NotPermitted,
    Role,
    StaleEdit,
    ValidationFailed,
    can,
)
from audit.store import history
from audit.store import users as store
from audit.store.db import write_transaction
from audit.store.form_tokens import settle_form_token, spend_form_token

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


class _Keep:
    """Marks an argument of update_user as "leave unchanged"."""

    def __repr__(self) -> str:
        return "KEEP"


KEEP: Any = _Keep()


# --- passwords --------------------------------------------------------------------------------


# --- time ---------------------------------------------------------------------------------------


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
        found = store.unit_id_by_code(db, str(unit_code).strip())
        if found is None or (unit_id is not None and unit_id != found):
            raise ValidationFailed("unit", "no such unit", rule="unknown_unit")
        return int(found)
    if unit_id is None:
        return None
    if not store.unit_exists(db, unit_id):
        raise ValidationFailed("unit", "no such unit", rule="unknown_unit")
    return int(unit_id)


def _check_person(db: sqlite_utils.Database, person_id: int | None) -> int | None:
    """The person id (or None), or ValidationFailed('person')."""
    if person_id is None:
        return None
    if not store.person_exists(db, person_id):
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
    row = store.user_row(db, user_id)
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


def _write_user(db: sqlite_utils.Database, row: dict, values: dict, *, actor: Actor | None,
                at: str, action: str, recorded: dict[str, tuple[Any, Any]] | None = None
                ) -> None:
    """Version-checked update of one user plus its history, inside the caller's transaction."""
    if not store.update_user_versioned(db, row["id"], row["version"], values):
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
                person_id: int | None = None, display_name: str = "",
                at: str, form_token: str | None = None) -> int:
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
        spend_form_token(db, form_token, actor, "user.create", at)
        if store.username_taken(db, name):
            raise ValidationFailed("username", "already taken", rule="taken")
        user_id = store.insert_user(db, username=name, display_name=display,
                                    password_hash=password_hash, role=role.value, unit_id=unit,
                                    person_id=person, at=at)
        actor_id, actor_label = _actor_name(actor)
        fields = {"username": name, "display_name": display, "role": role.value,
                  "unit_id": unit, "person_id": person, "active": 1,
                  "password": PASSWORD_SET, "password_changed_at": at, "created_at": at}
        history.append(db, at=at, actor_id=actor_id, actor=actor_label, op=history.new_op(),
                       action="user.create",
                       changes=[history.Change("user", user_id, f, None, v)
                                for f, v in fields.items()])
        settle_form_token(db, form_token, user_id)
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
            if row["active"] and store.active_admins(db) <= 1:
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
            if row["role"] == Role.ADMIN.value and store.active_admins(db) <= 1:
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
        record_failure(db, row["id"], at)
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


# --- sessions -----------------------------------------------------------------------------------


# --- reading ------------------------------------------------------------------------------------

def get_user(db: sqlite_utils.Database, actor: Actor | None, user_id: int) -> dict:
    """One user (never the hash); administrators only, within scope. Raises NotPermitted,
    NotFound."""
    _require_admin(actor)
    row = store.public_user(db, user_id)
    if row is None:
        raise NotFound(f"user {user_id} not found", entity="user", entity_id=user_id)
    _target_in_scope(actor, row)
    return row


def list_users(db: sqlite_utils.Database, actor: Actor | None) -> list[dict]:
    """Every user the administrator may manage (never the hash), by user name.
    Raises NotPermitted for anyone but an administrator."""
    _require_admin(actor)
    found = store.public_users(db)
    if actor is None or actor.scope_unit_ids is None:
        return found
    return [r for r in found if r["unit_id"] in actor.scope_unit_ids]


def unit_choices(db: sqlite_utils.Database, actor: Actor | None) -> list[dict]:
    """Units an administrator may give a user (id, code, name, level): region first, then
    by code (a county's code extends its city's, so cities are followed by their counties)."""
    _require_admin(actor)
    found = store.unit_rows(db)
    if actor is None or actor.scope_unit_ids is None:
        return found
    return [r for r in found if r["id"] in actor.scope_unit_ids]


def person_choices(db: sqlite_utils.Database, actor: Actor | None) -> list[dict]:
    """Active people an account may be linked to (id, name, unit_id, unit_name)."""
    _require_admin(actor)
    found = store.active_people(db)
    if actor is None or actor.scope_unit_ids is None:
        return found
    return [r for r in found if r["unit_id"] in actor.scope_unit_ids]


def unit_name(db: sqlite_utils.Database, unit_id: int | None) -> str | None:
    """A unit's name (for the signed-in banner), None for no unit."""
    if unit_id is None:
        return None
    return store.unit_name(db, unit_id)


def user_count(db: sqlite_utils.Database) -> int:
    """How many accounts exist (the CLI's `init` creates the first administrator when none)."""
    return store.user_count(db)


def display_name_of(db: sqlite_utils.Database, user_id: int) -> str:
    """The name to greet a user with: display name, else user name."""
    row = store.names_of(db, user_id)
    if row is None:
        return ""
    return row["display_name"] or row["username"]


# --- the demo flag --------------------------------------------------------------------------------

DEMO_SETTING = "demo"


def is_demo_database(db: sqlite_utils.Database) -> bool:
    """Was this database built as a demo (settings 'demo' = '1')? Only then does the sign-in page
    show the demo accounts."""
    return store.setting_value(db, DEMO_SETTING) == "1"


def mark_demo_database(db: sqlite_utils.Database, at: str) -> None:
    """Set settings 'demo' = '1' (with history) unless it is already set."""
    with write_transaction(db):
        old = store.setting_value(db, DEMO_SETTING)
        if old == "1":
            return
        store.put_setting(db, DEMO_SETTING, "1")
        history.append(db, at=at, actor_id=None, actor=SYSTEM, op=history.new_op(),
                       action="setting.update",
                       changes=[history.Change("setting", None, DEMO_SETTING, old, "1")])
