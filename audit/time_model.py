"""Time: history timestamps in Asia/Shanghai, dates, and working days on China's official
calendar (with make-up working days, 调休). Only pages and the CLI read the clock (`now_text`,
`today`); everything below takes `at` (a timestamp string) or `as_of` (a date) as an argument."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

import pendulum

from audit.model import ValidationFailed

TIMEZONE = "Asia/Shanghai"


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


# --- working days -------------------------------------------------------------------------

@dataclass(frozen=True)
class Calendar:
    """Days that differ from the Monday–Friday rule, and the years whose schedule is published."""

    holidays: frozenset[date] = frozenset()      # weekdays that are not working days
    make_up_days: frozenset[date] = frozenset()  # weekend days that are working days (调休)
    published_years: frozenset[int] = field(default_factory=frozenset)

    def is_working_day(self, d: date) -> bool:
        """Is `d` a working day?"""
        if d in self.make_up_days:
            return True
        if d in self.holidays:
            return False
        return d.weekday() < 5

    def is_published(self, year: int) -> bool:
        """Has the official schedule for `year` been loaded (or confirmed by an admin)?"""
        return year in self.published_years


def add_working_days(cal: Calendar, start: date, n: int) -> date:
    """The date `n` working days after `start` (n >= 0; n = 0 returns `start`)."""
    if n < 0:
        raise ValueError("n must be >= 0")
    d, left = start, n
    while left > 0:
        d += timedelta(days=1)
        if cal.is_working_day(d):
            left -= 1
    return d


def working_days_between(cal: Calendar, start: date, end: date) -> int:
    """Working days in (start, end]; negative when end is before start."""
    if end < start:
        return -working_days_between(cal, end, start)
    count, d = 0, start
    while d < end:
        d += timedelta(days=1)
        if cal.is_working_day(d):
            count += 1
    return count


def unpublished_years(cal: Calendar, days: list[date]) -> list[int]:
    """The years among `days` with no published schedule (deadlines there need a warning)."""
    return sorted({d.year for d in days if not cal.is_published(d.year)})
