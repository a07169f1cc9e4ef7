"""The check after closure (整改成效回头看): when a struck-off item is looked at again, and
what a check decides. Pure: dates and plain values in, dates and values out."""
from __future__ import annotations

import calendar
from datetime import date

from audit.model import Status, TransitionNotAllowed, ValidationFailed

DEFAULT_MONTHS = 6
OUTCOMES = ("held", "reopened")   # the fix held / the finding came back: reopened


def add_months(day: date, months: int) -> date:
    """The same day `months` later (the month's last day when it has fewer days)."""
    month0 = day.month - 1 + months
    year, month = day.year + month0 // 12, month0 % 12 + 1
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def recheck_due(closed_on: date, rectification_type: str, months: dict[str, int]) -> str:
    """The check date of an item struck off on `closed_on` (ISO), from the months configured
    for its rectification type (DEFAULT_MONTHS when none)."""
    return add_months(closed_on, months.get(rectification_type, DEFAULT_MONTHS)).isoformat()


def is_recheck_due(issue: dict, as_of: date) -> bool:
    """Is the closed item's check due on `as_of` (its check date reached, not done yet)?"""
    return (issue["status"] == Status.CLOSED.value and bool(issue.get("recheck_due"))
            and issue["recheck_due"] <= as_of.isoformat())


def check_recheck(issue: dict, outcome: str, reason: str) -> None:
    """A check may be recorded: the item is closed and has a check pending; reopening needs its
    reason (TransitionNotAllowed, ValidationFailed)."""
    if outcome not in OUTCOMES:
        raise ValidationFailed("outcome", f"must be one of {', '.join(OUTCOMES)}")
    if issue["status"] != Status.CLOSED.value or not issue.get("recheck_due"):
        raise TransitionNotAllowed(f"{issue['code']}: no check after closure is pending",
                                   key="error.recheck_none", code=issue["code"],
                                   move="recheck", status=issue["status"])
    if outcome == "reopened" and not reason.strip():
        raise ValidationFailed("reason", "a reason is required to reopen at a check")


def recheck_values(issue: dict, outcome: str, reason: str) -> dict:
    """The issue columns a check writes: the check done; when reopened, 整改中 again with the
    reason, the verification cleared and one more recurrence counted."""
    values: dict = {"recheck_due": None}
    if outcome == "reopened":
        values.update(status=Status.IN_PROGRESS.value, status_reason=reason, closed_by=None,
                      closed_at=None, submitted_by=None, submitted_at=None, checked_by=None,
                      checked_at=None, recurrences=int(issue.get("recurrences") or 0) + 1)
    return values
