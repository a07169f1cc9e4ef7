"""The rules rectification offices apply (docs/RULES.md), as pure functions over plain data:
the cap on staged + continuous items, deadlines that fit, milestones in the warning colour, and
repeated warnings at review meetings (推进会).

- 整改类型: 立行立改 (immediate: a short default deadline, `rectify.immediate_working_days`
  working days), 分阶段整改 (staged: milestones), 持续整改 (continuous: a stage goal and report
  dates, kept as milestones of kind 'goal' and 'report').
- The cap (`rectify.cap_percent`, 30%): staged + continuous items may be at most that share of
  the items in scope; an assignment that would pass it (more than the share, not equal) is
  warned, and goes through only when a lead accepts it with a reason. A programme with fewer
  than `rectify.cap_min_items` (10) items is not warned (its share means little yet).
- Milestones in the warning: an open staged or continuous item with a milestone (any kind) not
  done by its date is amber from the day after; red once it is
  `rectify.milestone_red_working_days` (5) working days late. The item's own deadline keeps its
  rule (red when passed, amber within the amber window).
- Deadlines that fit: a measure due after its issue's deadline, or after the milestone it
  serves, is warned when the deadline is set (accepted with a reason, recorded).
- Repeated warnings: 红灯次数 is how many recorded meetings saw the item red; 连续红灯 how many
  of the latest meetings in a row did (meetings where the item was not in scope are skipped).
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from fractions import Fraction
from typing import Iterable, Mapping, Sequence

from audit.model import AuditError, ValidationFailed
from audit.time_model import Calendar

IMMEDIATE, STAGED, CONTINUOUS = "immediate", "staged", "continuous"
LONG_TYPES: tuple[str, ...] = (STAGED, CONTINUOUS)   # the types the cap counts
MILESTONE_KINDS: tuple[str, ...] = ("milestone", "goal", "report")
DEFAULT_CAP_PERCENT = "30"


class RuleWarning(AuditError):
    """A rule the lead may go past with a written reason (the service's `accept_reason`)."""

    rule = ""


class CapExceeded(RuleWarning):
    """The share of staged + continuous items would pass the cap."""

    key = "error.cap_exceeded"
    rule = "cap"

    def __init__(self, check: "CapCheck"):
        super().__init__(f"staged + continuous items would be {check.long} of {check.total} "
                         f"({check.share:.0%}), above the cap of {float(check.cap):.0%}",
                         long=check.long, total=check.total, share=f"{check.share:.0%}",
                         cap=f"{float(check.cap):.0%}")
        self.check = check


class ImportCapExceeded(CapExceeded):
    """An import's new issues and type changes together would take the share of staged +
    continuous items past the cap (before → after, against the cap)."""

    key = "error.import_cap_exceeded"

    def __init__(self, before: "CapCheck", after: "CapCheck", filename: str = ""):
        super().__init__(after)
        self.message = (f"importing {filename or 'the ledger'} would take staged + continuous "
                        f"items from {before.long} of {before.total} ({before.share:.0%}) to "
                        f"{after.long} of {after.total} ({after.share:.0%}), above the cap of "
                        f"{float(after.cap):.0%}")
        self.args = (self.message,)
        self.params.update(before_long=before.long, before_total=before.total,
                           before_share=f"{before.share:.0%}", file=filename)
        self.before = before


class DeadlineMisfit(RuleWarning):
    """A measure's deadline falls after its issue's deadline or its milestone's date."""

    rule = "deadline_fit"

    def __init__(self, misfits: list[tuple[str, str]], deadline: str):
        what = "; ".join(f"{kind} {day}" for kind, day in misfits)
        kinds = "_".join(kind for kind, _ in misfits)
        days = dict(misfits)
        super().__init__(f"the measure's deadline {deadline} is after: {what}",
                         key=f"error.deadline_misfit.{kinds}", deadline=deadline,
                         issue_deadline=days.get("issue", ""),
                         milestone_due=days.get("milestone", ""))
        self.misfits = misfits


class IssueDeadlineMisfit(RuleWarning):
    """An issue's deadline, as it is set, falls before the deadlines of some of its open
    measures (the same rule as DeadlineMisfit, seen from the issue)."""

    key = "error.deadline_misfit.measures"
    rule = "deadline_fit"

    def __init__(self, deadline: str, measures: list[tuple[int, str]]):
        latest = max(day for _, day in measures)
        listed = ", ".join(f"M{mid} {day}" for mid, day in measures)
        super().__init__(f"the issue's deadline {deadline} is before the deadline of "
                         f"{len(measures)} of its measures: {listed}", deadline=deadline,
                         count=len(measures), latest=latest)
        self.measures = measures


def cap_value(text: str | None) -> Fraction:
    """The cap setting (a whole percentage, rectify.cap_percent) as an exact fraction (30 →
    3/10; empty: the default). Raises ValidationFailed unless it is a whole number 0–100."""
    raw = str(text if text not in (None, "") else DEFAULT_CAP_PERCENT).strip()
    if not raw.isdigit() or not 0 <= int(raw) <= 100:
        raise ValidationFailed("rectify.cap_percent", f"must be a whole percentage 0–100: "
                                                      f"{text!r}")
    return Fraction(int(raw), 100)


@dataclass(frozen=True)
class CapCheck:
    """Staged + continuous items (`long`) among `total` items, against `cap`."""

    long: int
    total: int
    cap: Fraction

    @property
    def share(self) -> float:
        """long / total (0 for no items)."""
        return self.long / self.total if self.total else 0.0

    @property
    def over(self) -> bool:
        """Is the share above the cap? Exactly at the cap is within it."""
        return self.long * self.cap.denominator > self.cap.numerator * self.total


def cap_after(types: Iterable[str], cap: Fraction, *, old: str | None, new: str) -> CapCheck:
    """The cap check after one item's type goes from `old` (None: a new item) to `new`, given
    the types of the items in scope before the change."""
    types = list(types)
    long = sum(1 for t in types if t in LONG_TYPES)
    total = len(types) + (1 if old is None else 0)
    long += (new in LONG_TYPES) - (old in LONG_TYPES if old is not None else 0)
    return CapCheck(long, total, cap)


def needs_cap_warning(types: Iterable[str], cap: Fraction, *, old: str | None, new: str,
                      min_items: int = 0) -> CapCheck | None:
    """The check to warn with when making an item `new` passes the cap (only a change that adds
    a staged or continuous item is warned; a change that lowers the share never is). While the
    programme has fewer than `min_items` items after the change the share means little (the
    first staged item of a catalogue being built is 100%): nothing is warned."""
    if new not in LONG_TYPES or (old in LONG_TYPES):
        return None
    check = cap_after(types, cap, old=old, new=new)
    return check if check.over and check.total >= min_items else None


def import_cap_check(types: Mapping[int, str], cap: Fraction, *, new: Iterable[str],
                     changes: Mapping[int, str]) -> tuple[CapCheck, CapCheck]:
    """The cap before and after an import: `types` the items in scope now (id → type), `new`
    the types of the issues it creates, `changes` the type it gives existing items (id → new
    type; an id not in `types`, e.g. a merged issue, counts for nothing)."""
    before = CapCheck(sum(1 for t in types.values() if t in LONG_TYPES), len(types), cap)
    after_types = dict(types)
    after_types.update({i: t for i, t in changes.items() if i in types})
    new = list(new)
    long = sum(1 for t in after_types.values() if t in LONG_TYPES) + \
        sum(1 for t in new if t in LONG_TYPES)
    return before, CapCheck(long, len(after_types) + len(new), cap)


def needs_import_cap_warning(types: Mapping[int, str], cap: Fraction, *, new: Iterable[str],
                             changes: Mapping[int, str], min_items: int = 0
                             ) -> tuple[CapCheck, CapCheck] | None:
    """(before, after) when an import must be warned: as for one item (needs_cap_warning), it
    is warned when it makes at least one item staged or continuous (a new one, or an existing
    one changed from another type) and the share after ALL its new issues and type changes is
    above the cap, with at least `min_items` items; an import that only lowers the share, or
    ends within the cap, is not warned whatever its rows do in between."""
    new = list(new)
    adds = any(t in LONG_TYPES for t in new) or any(
        t in LONG_TYPES and i in types and types[i] not in LONG_TYPES
        for i, t in changes.items())
    if not adds:
        return None
    before, after = import_cap_check(types, cap, new=new, changes=changes)
    return (before, after) if after.over and after.total >= min_items else None


def deadline_misfits(deadline: str | None, issue_deadline: str | None,
                     milestone_due: str | None) -> list[tuple[str, str]]:
    """What a measure's deadline (ISO) falls after: [('issue', date)] and/or
    [('milestone', date)]; empty when it fits or has no deadline."""
    if not deadline:
        return []
    out = []
    if issue_deadline and deadline > issue_deadline:
        out.append(("issue", issue_deadline))
    if milestone_due and deadline > milestone_due:
        out.append(("milestone", milestone_due))
    return out


def measures_after(deadline: str | None, measures: Iterable[tuple[int, str | None, str]]
                   ) -> list[tuple[int, str]]:
    """The open measures (id, deadline, status) due after an issue's `deadline` (ISO), as
    [(id, deadline)] by id: what setting that deadline is warned about. A done measure needs
    no more time and is left out; no deadline, nothing."""
    if not deadline:
        return []
    return sorted((mid, day) for mid, day, status in measures
                  if day and status != "done" and day > deadline)


def milestone_red_before(cal: Calendar, today: date, red_working_days: int) -> date:
    """The latest due date of an open milestone that is red on `today`: the largest day d
    before today with at least `red_working_days` working days in (d, today]."""
    if red_working_days < 0:
        raise ValueError("red_working_days must be >= 0")
    d, count = today, 0
    while True:
        if count >= red_working_days and d < today:
            return d
        if cal.is_working_day(d):
            count += 1
        d -= timedelta(days=1)


def milestone_warning(due_on: str, done_on: str | None, today: date, red_before: date) -> str:
    """A milestone's own colour on `today`: 'red' (late by the red threshold), 'amber' (late),
    'green' (not yet due) or 'none' (done by then)."""
    if done_on and done_on <= today.isoformat():
        return "none"
    if due_on <= red_before.isoformat():
        return "red"
    if due_on < today.isoformat():
        return "amber"
    return "green"


def item_warning(deadline_colour: str, milestone_colours: Iterable[str]) -> str:
    """An item's colour from its deadline's colour and its open milestones' colours: the
    worst of them (a closed or ended item stays 'none')."""
    if deadline_colour == "none":
        return "none"
    order = {"green": 0, "amber": 1, "red": 2, "none": -1}
    worst = deadline_colour
    for c in milestone_colours:
        if order[c] > order[worst]:
            worst = c
    return worst


@dataclass(frozen=True)
class RedCount:
    """An item's repeated warnings over the recorded meetings."""

    meetings: int      # meetings that had the item in scope
    reds: int          # 红灯次数
    consecutive: int   # 连续红灯: red at the latest meetings in a row
    ambers: int = 0


def red_count(colours: Sequence[str]) -> RedCount:
    """The counts from an item's colours at the meetings that had it in scope, oldest first."""
    consecutive = 0
    for c in reversed(colours):
        if c != "red":
            break
        consecutive += 1
    return RedCount(len(colours), sum(1 for c in colours if c == "red"), consecutive,
                    sum(1 for c in colours if c == "amber"))


def report_dates(first: date, every_months: int, count: int) -> list[date]:
    """`count` periodic report dates from `first`, every `every_months` months (a day past a
    month's end falls back to its last day). Raises ValidationFailed on a bad period or count."""
    if not 1 <= every_months <= 12:
        raise ValidationFailed("every_months", "must be 1 to 12")
    if not 1 <= count <= 60:
        raise ValidationFailed("count", "must be 1 to 60")
    out = []
    for n in range(count):
        m = first.month - 1 + n * every_months
        y, m = first.year + m // 12, m % 12 + 1
        day = first.day
        while True:
            try:
                out.append(date(y, m, day))
                break
            except ValueError:
                day -= 1
    return out
