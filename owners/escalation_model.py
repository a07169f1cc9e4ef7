"""Escalation of overdue items (挂账督办) up the unit tree, as pure rules over plain data.

The ladder: a reminder (提醒) to the responsible person as soon as an open item is overdue, a
supervision letter (督办函) to the head of the responsible unit, a summons interview (约谈) by the
regional leadership (the head of the root unit). Thresholds are working days overdue on China's
official calendar (owners.model.Calendar), from settings escalation.*_days.

"Repeatedly red" is counted review by review too: each review meeting (推进会) keeps every
item's colour (audit.rules_views.red_counts), and an item red at the latest N meetings in a row
reaches a step by that count (ReviewThresholds, settings escalation.letter_reds, 2, and
escalation.summons_reds, 3; the first red meeting is the reminder). An item is red at a meeting
for its deadline or for a late milestone (audit.rules_model), so the count reaches items the
working days overdue never would. The step due is the higher of the two ladders.
"""
from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, fields
from datetime import date
from typing import Any, Iterable, Mapping

from audit.model import OPEN_STATUSES, AuditError
from audit.time_model import Calendar, working_days_between

REMINDER, LETTER, SUMMONS = "reminder", "letter", "summons"
STEPS: tuple[str, ...] = (REMINDER, LETTER, SUMMONS)  # the ladder, lowest first


class UnitTreeBroken(AuditError):
    """The units' parent links loop or point at a unit that does not exist."""

    key = "error.unit_tree"

    def __init__(self, unit_id: int, reason: str):
        super().__init__(f"unit {unit_id}: {reason}", unit_id=unit_id, reason=reason)
        self.unit_id = unit_id


@dataclass(frozen=True)
class Thresholds:
    """Working days overdue at which each step is reached (a step at 0: as soon as overdue)."""

    reminder: int = 0
    letter: int = 10
    summons: int = 20

    def __post_init__(self) -> None:
        if not 0 <= self.reminder <= self.letter <= self.summons:
            raise ValueError("thresholds must satisfy 0 <= reminder <= letter <= summons")

    def ladder(self) -> list[tuple[str, int]]:
        """(step, threshold), lowest first."""
        return [(REMINDER, self.reminder), (LETTER, self.letter), (SUMMONS, self.summons)]


def thresholds_from_settings(settings: Mapping[str, Any]) -> Thresholds:
    """Thresholds from the settings table (key → value); missing keys keep the defaults."""
    d = Thresholds()
    return Thresholds(
        reminder=int(settings.get("escalation.reminder_days", d.reminder)),
        letter=int(settings.get("escalation.letter_days", d.letter)),
        summons=int(settings.get("escalation.summons_days", d.summons)))


def thresholds_from_reviews(letter_reviews: int, summons_reviews: int,
                            review_every_working_days: int) -> Thresholds:
    """A "red at N consecutive reviews" rule in working days overdue: the first red review
    sends the reminder; the letter follows at the `letter_reviews`-th red review in a row."""
    r = review_every_working_days
    return Thresholds(reminder=0, letter=(letter_reviews - 1) * r,
                      summons=(summons_reviews - 1) * r)


@dataclass(frozen=True)
class ReviewThresholds:
    """Consecutive red meetings at which each step is reached (0 turns a step off)."""

    letter: int = 2
    summons: int = 3

    def __post_init__(self) -> None:
        if self.letter < 0 or self.summons < 0 or (self.letter and self.summons
                                                   and self.summons < self.letter):
            raise ValueError("review thresholds must satisfy 0 <= letter <= summons")


def review_thresholds_from_settings(settings: Mapping[str, Any]) -> ReviewThresholds:
    """ReviewThresholds from the settings table; missing keys keep the defaults."""
    d = ReviewThresholds()
    return ReviewThresholds(letter=int(settings.get("escalation.letter_reds", d.letter)),
                            summons=int(settings.get("escalation.summons_reds", d.summons)))


def step_for_reds(consecutive_reds: int, review: ReviewThresholds = ReviewThresholds()
                  ) -> str | None:
    """The step an item red at the latest `consecutive_reds` meetings in a row has reached:
    None at 0, the reminder from the first, the letter and the summons at their counts."""
    if consecutive_reds <= 0:
        return None
    if review.summons and consecutive_reds >= review.summons:
        return SUMMONS
    if review.letter and consecutive_reds >= review.letter:
        return LETTER
    return REMINDER


def higher_step(a: str | None, b: str | None) -> str | None:
    """The higher of two steps of the ladder (None is below every step)."""
    if a is None or b is None:
        return a or b
    return a if STEPS.index(a) >= STEPS.index(b) else b


def escalation_step(overdue_working_days: int | None, thresholds: Thresholds = Thresholds()
                    ) -> str | None:
    """The highest step an overdue item has reached, or None. `overdue_working_days` is for an
    item already overdue (0 = overdue since fewer than one working day); None or negative
    means not overdue."""
    if overdue_working_days is None or overdue_working_days < 0:
        return None
    reached = None
    for step, at in thresholds.ladder():
        if overdue_working_days >= at:
            reached = step
    return reached


@dataclass(frozen=True)
class UnitNode:
    """A unit of the tree (region → city → county) and its head (负责人)."""

    id: int
    parent_id: int | None
    head_person_id: int | None = None


@dataclass(frozen=True)
class IssueForEscalation:
    """What escalation needs of one issue; dates may be ISO strings."""

    id: int
    code: str
    unit_id: int
    responsible_person_id: int | None
    deadline: date | None
    status: str


@dataclass(frozen=True)
class Target:
    """Who must act on a step, and in which unit."""

    person_id: int | None
    unit_id: int


def _coerce(cls: type, x: Any) -> Any:
    if isinstance(x, cls):
        return x
    kw = {f.name: x[f.name] for f in fields(cls) if f.name in x}
    if "deadline" in kw and kw["deadline"] is not None and not isinstance(kw["deadline"], date):
        kw["deadline"] = date.fromisoformat(str(kw["deadline"])[:10]) if kw["deadline"] else None
    return cls(**kw)


def unit_chains(units: Iterable[UnitNode | Mapping]) -> dict[int, list[int]]:
    """unit id → the chain from that unit up to its root (the unit first, the root last).
    Memoised parent walk, O(units). Raises UnitTreeBroken on a loop or a missing parent."""
    parent = {u.id: u.parent_id for u in (_coerce(UnitNode, x) for x in units)}
    chains: dict[int, list[int]] = {}
    for start in parent:
        path, seen, u = [], set(), start
        while u is not None and u not in chains:
            if u in seen:
                raise UnitTreeBroken(start, "the parent links loop")
            if u not in parent:
                raise UnitTreeBroken(path[-1] if path else start, f"parent {u} does not exist")
            seen.add(u)
            path.append(u)
            u = parent[u]
        tail = chains[u] if u is not None else []
        for i, v in enumerate(path):
            chains[v] = path[i:] + tail
    return chains


def escalation_target(chain: list[int], heads: Mapping[int, int | None],
                      responsible_person_id: int | None, step: str) -> Target:
    """Who a step goes to. `chain` runs from the issue's unit up to the root; `heads` maps unit
    id → head person id.
    - reminder: the responsible person; without one, the head of the issue's unit;
    - letter: the head of the responsible unit; when that is the responsible person (or the unit
      has no head) the next unit up that has a different head, so nobody writes to themselves;
    - summons: the head of the root unit (regional leadership)."""
    if not chain:
        raise ValueError("chain must hold at least the issue's unit")
    if step == REMINDER:
        if responsible_person_id is not None:
            return Target(responsible_person_id, chain[0])
        return Target(heads.get(chain[0]), chain[0])
    if step == LETTER:
        for u in chain:
            h = heads.get(u)
            if h is not None and h != responsible_person_id:
                return Target(h, u)
        return Target(None, chain[0])
    if step == SUMMONS:
        return Target(heads.get(chain[-1]), chain[-1])
    raise ValueError(f"unknown escalation step {step!r}")


@dataclass(frozen=True)
class EscalationDue:
    """A step an overdue open issue has reached and that is not yet recorded. `skipped` names
    lower steps never recorded: the higher step supersedes them."""

    issue_id: int
    code: str
    step: str
    overdue_working_days: int
    deadline: date
    target_person_id: int | None
    target_unit_id: int
    unit_id: int
    skipped: tuple[str, ...] = ()
    consecutive_reds: int = 0     # red at the latest meetings in a row (0: not counted)


def _overdue_working_days(cal: Calendar, deadlines: set[date], as_of: date) -> dict[date, int]:
    """deadline → working days in (deadline, as_of], for every deadline before as_of. Counted
    with working_days_between over the gaps between consecutive distinct deadlines, so the cost
    is the span of days once, not once per issue."""
    out: dict[date, int] = {}
    acc, prev = 0, as_of
    for d in sorted((d for d in deadlines if d < as_of), reverse=True):
        acc += working_days_between(cal, d, prev)
        out[d] = acc
        prev = d
    return out


def due_escalations(issues: Iterable[IssueForEscalation | Mapping],
                    units: Iterable[UnitNode | Mapping], calendar: Calendar, as_of: date,
                    thresholds: Thresholds = Thresholds(),
                    already_recorded: set[tuple[int, str]] | frozenset = frozenset(),
                    consecutive_reds: Mapping[int, int] | None = None,
                    review: ReviewThresholds = ReviewThresholds()) -> list[EscalationDue]:
    """For every open issue overdue as of `as_of` (deadline before it), or red at the latest
    meetings in a row (`consecutive_reds`: issue id → count), the highest step it has reached
    on either ladder, unless that step is already recorded (then nothing is due for it), with
    who must act. Sorted by most working days overdue, then code. An issue neither overdue nor
    red at a meeting never escalates. Raises UnitTreeBroken when an issue's unit chain cannot
    be built."""
    units = [_coerce(UnitNode, u) for u in units]
    chains = unit_chains(units)
    heads = {u.id: u.head_person_id for u in units}
    reds = consecutive_reds or {}
    candidates = [i for i in (_coerce(IssueForEscalation, x) for x in issues)
                  if i.status in OPEN_STATUSES and ((i.deadline is not None
                                                     and i.deadline < as_of)
                                                    or reds.get(i.id, 0) > 0)]
    wd = _overdue_working_days(calendar, {i.deadline for i in candidates
                                          if i.deadline is not None}, as_of)
    out = []
    for i in candidates:
        days = wd.get(i.deadline) if i.deadline is not None else None
        step = higher_step(escalation_step(days, thresholds),
                           step_for_reds(reds.get(i.id, 0), review))
        if step is None or (i.id, step) in already_recorded:
            continue
        if i.unit_id not in chains:
            raise UnitTreeBroken(i.unit_id, f"issue {i.code} is in a unit that does not exist")
        t = escalation_target(chains[i.unit_id], heads, i.responsible_person_id, step)
        lower = STEPS[:STEPS.index(step)]
        out.append(EscalationDue(
            issue_id=i.id, code=i.code, step=step, overdue_working_days=days or 0,
            deadline=i.deadline, target_person_id=t.person_id,  # type: ignore[arg-type]
            target_unit_id=t.unit_id, unit_id=i.unit_id,
            skipped=tuple(s for s in lower if (i.id, s) not in already_recorded),
            consecutive_reds=reds.get(i.id, 0)))
    out.sort(key=lambda e: (-e.overdue_working_days, -e.consecutive_reds, e.code))
    return out


def chase_list(dues: Iterable[EscalationDue]) -> dict[int | None, list[EscalationDue]]:
    """"What I must chase": person id → the escalations that person must act on, in the order
    given. Key None collects steps with nobody to send them to (a unit without a head)."""
    out: dict[int | None, list[EscalationDue]] = defaultdict(list)
    for e in dues:
        out[e.target_person_id].append(e)
    return dict(out)
