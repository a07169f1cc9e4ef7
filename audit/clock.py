"""Time in Asia/Shanghai. Only pages and the CLI read the clock; everything below takes `at`
(a timestamp string) or `as_of` (a date) as an argument."""
from __future__ import annotations

from datetime import date, datetime, timedelta

import pendulum

from audit.config import TIMEZONE


def now_text() -> str:
    """The current time as a history timestamp ('YYYY-MM-DDTHH:MM:SS+08:00')."""
    return stamp(pendulum.now(TIMEZONE))


def today() -> date:
    """Today's date in Asia/Shanghai."""
    return pendulum.now(TIMEZONE).date()


def stamp(moment: datetime) -> str:
    """A datetime as a history timestamp, converted to Asia/Shanghai."""
    local = pendulum.instance(moment).in_timezone(TIMEZONE)
    return local.strftime("%Y-%m-%dT%H:%M:%S+08:00")


def at_day(day: date, hour: int = 9, minute: int = 0) -> str:
    """A timestamp on a given day (used by the demo and tests to place events in time)."""
    return f"{day.isoformat()}T{hour:02d}:{minute:02d}:00+08:00"


def end_of(day: date) -> str:
    """The exclusive upper bound of a day: events with `at <` this happened on or before it."""
    return f"{(day + timedelta(days=1)).isoformat()}T00:00:00+08:00"


def day_of(at: str) -> date:
    """The calendar day of a history timestamp."""
    return date.fromisoformat(at[:10])


def parse_date(text: str | date | None, field: str = "date") -> date | None:
    """An ISO date (YYYY-MM-DD) or None; raises ValidationFailed naming the field."""
    from audit.errors import ValidationFailed
    if text is None or text == "":
        return None
    if isinstance(text, datetime):
        return text.date()
    if isinstance(text, date):
        return text
    try:
        return date.fromisoformat(str(text).strip())
    except ValueError:
        raise ValidationFailed(field, f"not a date (YYYY-MM-DD): {text!r}") from None
