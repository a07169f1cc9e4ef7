"""Services for the working-day calendar (China's official holidays and make-up working days,
corrected by an administrator) and the programme's settings. Each function is one intent:
permission → validation → one transaction → history."""
from __future__ import annotations

from datetime import date, timedelta

import sqlite_utils

from audit.model import Actor, ValidationFailed
from audit.model import text_value as _text
from audit.service import require
from audit.store import org
from audit.store.db import write_transaction
from audit.store.history import Recorder
from audit.time_model import parse_date


def seed_calendar(db: sqlite_utils.Database, years: range | list[int], *, at: str) -> list[int]:
    """Load China's official holidays and make-up working days from the `holidays` package.
    A year is marked published only when the package knows its make-up days (an unpublished
    year comes back rule-based, without them). Returns the years marked published."""
    import holidays as holidays_pkg

    published: list[int] = []
    with write_transaction(db):
        rec = Recorder(db, None, at, "calendar.seed")
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
                org.put_calendar_day(db, day.isoformat(), is_working=False, name=name,
                                     source="holidays", replace=False)
            for day in make_up:
                org.put_calendar_day(db, day.isoformat(), is_working=True, name="调休上班",
                                     source="holidays", replace=False)
            org.put_calendar_year(db, year, published=is_published, source="holidays")
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
    with write_transaction(db):
        old = org.calendar_day(db, d.isoformat())
        rec = Recorder(db, actor, at, "calendar.set_day")
        if bool(is_working) == default_working:
            org.drop_calendar_day(db, d.isoformat())
        else:
            org.put_calendar_day(db, d.isoformat(), is_working=bool(is_working),
                                 name=_text(name, "name"), source="admin", replace=True)
        rec.add("calendar", int(d.strftime("%Y%m%d")), "is_working",
                None if old is None else old["is_working"], int(bool(is_working)))
        rec.flush()


def set_year_published(db: sqlite_utils.Database, actor: Actor, year: int, published: bool,
                       *, at: str) -> None:
    """An admin confirms (or withdraws) that a year's official schedule is entered."""
    require(actor, "calendar.edit")
    if not 1990 <= int(year) <= 2100:
        raise ValidationFailed("year", "out of range")
    with write_transaction(db):
        rec = Recorder(db, actor, at, "calendar.set_year")
        org.put_calendar_year(db, int(year), published=bool(published), source="admin")
        rec.add("calendar", int(year), "published", None, int(published))
        rec.flush()


def set_setting(db: sqlite_utils.Database, actor: Actor, key: str, value: str, *, at: str
                ) -> None:
    """Change a setting (escalation thresholds, warning window)."""
    require(actor, "settings.edit")
    with write_transaction(db):
        old = org.setting(db, key)
        if old is None:
            raise ValidationFailed("key", f"unknown setting {key!r}")
        if key.endswith(("_days", "_reds", "_items", "_percent")) and not str(value).isdigit():
            raise ValidationFailed(key, "must be a whole number")
        if key == "rectify.cap_percent" and int(value) > 100:
            raise ValidationFailed(key, "must be a percentage from 0 to 100")
        if key == "verification.two_level" and str(value) not in ("0", "1"):
            raise ValidationFailed(key, "must be 0 (one level) or 1 (two levels)")
        if key.startswith("recheck.months.") and not (str(value).isdigit()
                                                       and 1 <= int(value) <= 60):
            raise ValidationFailed(key, "must be a whole number of months from 1 to 60")
        rec = Recorder(db, actor, at, "setting.set")
        org.set_setting_value(db, key, str(value))
        rec.add("setting", None, key, old, str(value))
        rec.flush()
