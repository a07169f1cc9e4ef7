"""Services for units, people, assignment (四个到人), deadlines and the working-day calendar.
Each function is one intent: permission → validation → one transaction → history."""
from __future__ import annotations

from datetime import date, timedelta

import sqlite_utils

from audit.clock import parse_date
from audit.db import one, write_transaction
from audit.errors import NotPermitted, ValidationFailed
from audit.model import Actor
from audit.ops import text_value as _text
from audit.ops import Recorder, check_version, get_row, insert, require, update
from issues.model import Status
from owners import store
from owners.model import Calendar, unpublished_years

UNIT_LEVELS = ("region", "city", "county")




# --- units and people -------------------------------------------------------------------


def create_unit(db: sqlite_utils.Database, actor: Actor | None, *, code: str, name: str,
                level: str, parent_code: str | None = None, at: str) -> int:
    """Add a unit under its parent; returns its id. `actor` None is the system (init)."""
    if actor is not None:
        require(actor, "org.edit")
    code = _text(code, "code", required=True, max_len=40).strip()
    name = _text(name, "name", required=True, max_len=100).strip()
    if level not in UNIT_LEVELS:
        raise ValidationFailed("level", f"must be one of {', '.join(UNIT_LEVELS)}")
    parent_id = None
    if parent_code:
        parent = store.unit_by_code(db, parent_code)
        if parent is None:
            raise ValidationFailed("parent_code", f"no unit with code {parent_code!r}")
        parent_id = parent["id"]
        if actor is not None:
            require(actor, "org.edit", unit_id=parent_id, what="unit")
    elif level != "region":
        raise ValidationFailed("parent_code", "required for a city or county unit")
    elif store.root_unit(db) is not None:
        raise ValidationFailed("level", "there is already a region unit")
    if store.unit_by_code(db, code):
        raise ValidationFailed("code", f"unit code {code!r} already exists")
    rec = Recorder(db, actor, at, "unit.create")
    with write_transaction(db):
        uid = insert(db, rec, "units", "unit",
                     {"code": code, "name": name, "level": level, "parent_id": parent_id})
        rec.flush()
    return uid


def create_person(db: sqlite_utils.Database, actor: Actor | None, *, name: str, unit_id: int,
                  title: str = "", phone: str = "", at: str) -> int:
    """Add a person to a unit; returns the id."""
    if actor is not None:
        require(actor, "org.edit", unit_id=unit_id, what="person")
    name = _text(name, "name", required=True, max_len=100).strip()
    get_row(db, "units", unit_id, "unit")
    if store.person_by_name(db, name, unit_id):
        raise ValidationFailed("name", f"{name!r} already exists in this unit")
    rec = Recorder(db, actor, at, "person.create")
    with write_transaction(db):
        pid = insert(db, rec, "people", "person",
                     {"name": name, "unit_id": unit_id, "title": _text(title, "title"),
                      "phone": _text(phone, "phone", max_len=40)})
        rec.flush()
    return pid


def set_unit_head(db: sqlite_utils.Database, actor: Actor | None, unit_id: int,
                  person_id: int, *, at: str) -> None:
    """Name the head of a unit (the target of supervision letters)."""
    if actor is not None:
        require(actor, "org.edit", unit_id=unit_id, what="unit")
    unit = get_row(db, "units", unit_id, "unit")
    get_row(db, "people", person_id, "person")
    rec = Recorder(db, actor, at, "unit.set_head")
    with write_transaction(db):
        update(db, rec, "units", "unit", unit, {"head_person_id": person_id}, bump=False)
        rec.flush()


# --- assignment (四个到人) and deadlines --------------------------------------------------


def _active_person(db: sqlite_utils.Database, person_id: int | None, field: str) -> None:
    """Refuse a person id that does not name an active person (ValidationFailed on `field`)."""
    if person_id is None:
        return
    if one(db, "SELECT id FROM people WHERE id = ? AND active = 1", (person_id,)) is None:
        raise ValidationFailed(field, f"no active person with id {person_id}")


def assign_issue(db: sqlite_utils.Database, actor: Actor, issue_id: int, *,
                 version: int | None, responsible_person_id: int | None = None,
                 supervisor_person_id: int | None = None, unit_id: int | None = None,
                 deadline: str | date | None = None, at: str) -> dict:
    """Assign the responsible person, supervising leader, unit and deadline of an issue.
    The first deadline becomes the original one; once work has started a deadline only moves
    by `extend_deadline`, so that the on-time rate stays honest. Returns the changed fields."""
    issue = get_row(db, "issues", issue_id, "issue")
    require(actor, "issue.assign", unit_id=issue["unit_id"], what=issue["code"])
    check_version(db, "issue", issue, version)
    if issue["status"] in (Status.CLOSED.value, Status.ENDED.value):
        raise ValidationFailed("status", "a closed or ended issue cannot be reassigned; "
                                         "reopen it first")
    values: dict = {}
    if responsible_person_id is not None:
        _active_person(db, responsible_person_id, "responsible_person_id")
        values["responsible_person_id"] = responsible_person_id
    if supervisor_person_id is not None:
        _active_person(db, supervisor_person_id, "supervisor_person_id")
        values["supervisor_person_id"] = supervisor_person_id
    if unit_id is not None:
        get_row(db, "units", unit_id, "unit")
        if not actor.in_scope(unit_id):
            raise NotPermitted("the new unit is outside your scope", reason="scope")
        values["unit_id"] = unit_id
    if deadline not in (None, ""):
        d = parse_date(deadline, "deadline").isoformat()
        if issue["original_deadline"] is None or issue["status"] == Status.NOT_STARTED.value:
            values["deadline"] = d
            values["original_deadline"] = d
        elif d != issue["deadline"]:
            raise ValidationFailed("deadline", "work has started: use a deadline extension "
                                               "(延期) to move the deadline")
    rec = Recorder(db, actor, at, "issue.assign")
    with write_transaction(db):
        changed = update(db, rec, "issues", "issue", issue, values)
        rec.flush()
    return changed


def extend_deadline(db: sqlite_utils.Database, actor: Actor, issue_id: int, *,
                    version: int | None, new_deadline: str | date, reason: str, at: str
                    ) -> int:
    """Extend an issue's deadline (延期): keeps the original, records the approver (the acting
    audit lead) and the reason. Returns the extension id."""
    issue = get_row(db, "issues", issue_id, "issue")
    require(actor, "deadline.extend", unit_id=issue["unit_id"], what=issue["code"])
    check_version(db, "issue", issue, version)
    reason = _text(reason, "reason", required=True, max_len=5000)
    new = parse_date(new_deadline, "new_deadline")
    if new is None:
        raise ValidationFailed("new_deadline", "required")
    if not issue["deadline"]:
        raise ValidationFailed("deadline", "the issue has no deadline yet: assign one first")
    if issue["status"] in (Status.CLOSED.value, Status.ENDED.value):
        raise ValidationFailed("status", "a closed or ended issue cannot be extended")
    if new.isoformat() <= issue["deadline"]:
        raise ValidationFailed("new_deadline",
                               f"must be after the current deadline {issue['deadline']}")
    rec = Recorder(db, actor, at, "deadline.extend")
    with write_transaction(db):
        ext_id = insert(db, rec, "extensions", "extension", {
            "issue_id": issue_id, "original_deadline": issue["original_deadline"],
            "old_deadline": issue["deadline"], "new_deadline": new.isoformat(),
            "approved_by": actor.user_id, "reason": reason, "at": at})
        update(db, rec, "issues", "issue", issue, {"deadline": new.isoformat()})
        rec.flush()
    return ext_id


# --- the working-day calendar -------------------------------------------------------------


def seed_calendar(db: sqlite_utils.Database, years: range | list[int], *, at: str) -> list[int]:
    """Load China's official holidays and make-up working days from the `holidays` package.
    A year is marked published only when the package knows its make-up days (an unpublished
    year comes back rule-based, without them). Returns the years marked published."""
    import holidays as holidays_pkg

    published: list[int] = []
    rec = Recorder(db, None, at, "calendar.seed")
    with write_transaction(db):
        for year in years:
            cn = holidays_pkg.China(years=year)
            hol_days, make_up = [], []
            d = date(year, 1, 1)
            while d.year == year:
                working = cn.is_working_day(d)
                if d.weekday() < 5 and not working:
                    hol_days.append((d, cn.get(d) or ""))
                elif d.weekday() >= 5 and working:
                    make_up.append(d)
                d += timedelta(days=1)
            is_published = bool(make_up)
            for day, name in hol_days:
                db.conn.execute("INSERT OR IGNORE INTO calendar_days (day, is_working, name, "
                                "source) VALUES (?, 0, ?, 'holidays')", (day.isoformat(), name))
            for day in make_up:
                db.conn.execute("INSERT OR IGNORE INTO calendar_days (day, is_working, name, "
                                "source) VALUES (?, 1, '调休上班', 'holidays')",
                                (day.isoformat(),))
            db.conn.execute("INSERT OR REPLACE INTO calendar_years (year, published, source) "
                            "VALUES (?, ?, 'holidays')", (year, int(is_published)))
            rec.add("calendar", year, "published", None, int(is_published))
            if is_published:
                published.append(year)
        rec.flush()
    return published


def set_calendar_day(db: sqlite_utils.Database, actor: Actor, day: str | date, *,
                     is_working: bool, name: str = "", at: str) -> None:
    """An admin's correction of one day (a holiday or a make-up working day)."""
    require(actor, "calendar.edit")
    d = parse_date(day, "day")
    if d is None:
        raise ValidationFailed("day", "required")
    default_working = d.weekday() < 5
    old = one(db, "SELECT is_working FROM calendar_days WHERE day = ?", (d.isoformat(),))
    rec = Recorder(db, actor, at, "calendar.set_day")
    with write_transaction(db):
        if bool(is_working) == default_working:
            db.conn.execute("DELETE FROM calendar_days WHERE day = ?", (d.isoformat(),))
        else:
            db.conn.execute("INSERT OR REPLACE INTO calendar_days (day, is_working, name, "
                            "source) VALUES (?, ?, ?, 'admin')",
                            (d.isoformat(), int(bool(is_working)), _text(name, "name")))
        rec.add("calendar", int(d.strftime("%Y%m%d")), "is_working",
                None if old is None else old["is_working"], int(bool(is_working)))
        rec.flush()


def set_year_published(db: sqlite_utils.Database, actor: Actor, year: int, published: bool,
                       *, at: str) -> None:
    """An admin confirms (or withdraws) that a year's official schedule is entered."""
    require(actor, "calendar.edit")
    if not 1990 <= int(year) <= 2100:
        raise ValidationFailed("year", "out of range")
    rec = Recorder(db, actor, at, "calendar.set_year")
    with write_transaction(db):
        db.conn.execute("INSERT OR REPLACE INTO calendar_years (year, published, source) "
                        "VALUES (?, ?, 'admin')", (int(year), int(published)))
        rec.add("calendar", int(year), "published", None, int(published))
        rec.flush()


def deadline_warnings(cal: Calendar, deadlines: list[date]) -> list[int]:
    """Years among the deadlines with no published schedule: the app shows a warning."""
    return unpublished_years(cal, deadlines)


def set_setting(db: sqlite_utils.Database, actor: Actor, key: str, value: str, *, at: str
                ) -> None:
    """Change a setting (escalation thresholds, warning window)."""
    require(actor, "settings.edit")
    old = store.setting(db, key)
    if old is None:
        raise ValidationFailed("key", f"unknown setting {key!r}")
    if key.endswith("_days") and not str(value).isdigit():
        raise ValidationFailed(key, "must be a whole number of working days")
    rec = Recorder(db, actor, at, "setting.set")
    with write_transaction(db):
        db.conn.execute("UPDATE settings SET value = ? WHERE key = ?", (str(value), key))
        rec.add("setting", None, key, old, str(value))
        rec.flush()
