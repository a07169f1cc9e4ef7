"""Working days on China's official calendar (with make-up working days, 调休), and the unit tree
rules. Pure: standard library only."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta


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


def descendants(children: dict[int, list[int]], root: int) -> set[int]:
    """A unit and every unit below it."""
    out, stack = set(), [root]
    while stack:
        u = stack.pop()
        if u in out:
            continue
        out.add(u)
        stack.extend(children.get(u, []))
    return out
