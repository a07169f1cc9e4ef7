"""The workflow of an issue: statuses, the allowed moves, and the guards for 四个到人 and
三不放过. Pure: plain data in, missing conditions or exceptions out."""
from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from enum import Enum

from audit.model import Role


class Status(str, Enum):
    NOT_STARTED = "not_started"   # 未启动
    IN_PROGRESS = "in_progress"   # 整改中
    SUBMITTED = "submitted"       # 待验收
    CLOSED = "closed"             # 已销号
    ENDED = "ended"               # 特殊原因终结 (counted apart from closed)


OPEN_STATUSES = frozenset({Status.NOT_STARTED, Status.IN_PROGRESS, Status.SUBMITTED})


class Move(str, Enum):
    START = "start"      # 未启动 → 整改中 (needs 四个到人)
    SUBMIT = "submit"    # 整改中 → 待验收
    CLOSE = "close"      # 待验收 → 已销号 (销号: needs 三不放过 and segregation of duties)
    RETURN = "return"    # 退回: 待验收 → 整改中, with a reason
    REOPEN = "reopen"    # 重新打开: 已销号/终结 → 整改中, with a reason
    END = "end"          # 特殊原因终结: any open → 终结, audit lead, with a reason


@dataclass(frozen=True)
class Transition:
    move: Move
    source: frozenset[Status]
    target: Status
    needs_reason: bool
    permission: str


TRANSITIONS: dict[Move, Transition] = {
    Move.START: Transition(Move.START, frozenset({Status.NOT_STARTED}), Status.IN_PROGRESS,
                           False, "workflow.start"),
    Move.SUBMIT: Transition(Move.SUBMIT, frozenset({Status.IN_PROGRESS}), Status.SUBMITTED,
                            False, "workflow.submit"),
    Move.CLOSE: Transition(Move.CLOSE, frozenset({Status.SUBMITTED}), Status.CLOSED,
                           False, "workflow.close"),
    Move.RETURN: Transition(Move.RETURN, frozenset({Status.SUBMITTED}), Status.IN_PROGRESS,
                            True, "workflow.return"),
    Move.REOPEN: Transition(Move.REOPEN, frozenset({Status.CLOSED, Status.ENDED}),
                            Status.IN_PROGRESS, True, "workflow.reopen"),
    Move.END: Transition(Move.END, frozenset(OPEN_STATUSES), Status.ENDED, True,
                         "workflow.end"),
}


def highest_child_number(parent_code: str, codes: Iterable[str]) -> int:
    """The highest n among `codes` of the form <parent_code>.n (0 when none): the next free
    child code (C3 → C3.n, C3.2 → C3.2.n) is n + 1."""
    prefix = parent_code + "."
    return max((int(c[len(prefix):]) for c in codes
                if c.startswith(prefix) and c[len(prefix):].isdigit()), default=0)


def moves_from(status: Status) -> list[Move]:
    """The moves that exist from a status (before role and guards are considered)."""
    return [m for m, t in TRANSITIONS.items() if status in t.source]


@dataclass(frozen=True)
class MeasureFacts:
    """What the guards need to know of one measure."""

    id: int
    owner_person_id: int | None
    deadline: str | None
    status: str
    evidence_count: int


@dataclass(frozen=True)
class IssueFacts:
    """What the guards need to know of one issue."""

    code: str
    status: Status
    responsible_person_id: int | None
    deadline: str | None
    measures: tuple[MeasureFacts, ...]
    cause_count: int
    accountability_recorded: bool
    submitted_by: int | None


def missing_for_assignment(f: IssueFacts) -> list[str]:
    """四个到人: what is missing before work may start (message keys, empty when complete)."""
    missing: list[str] = []
    if f.responsible_person_id is None:
        missing.append("responsible_person")
    if not f.measures:
        missing.append("measure")
    if any(m.owner_person_id is None for m in f.measures):
        missing.append("measure_owner")
    if any(not m.deadline for m in f.measures):
        missing.append("measure_deadline")
    if not f.deadline:
        missing.append("issue_deadline")
    return missing


def is_fully_assigned(f: IssueFacts) -> bool:
    """Does the issue meet 四个到人?"""
    return not missing_for_assignment(f)


def missing_for_closure(f: IssueFacts) -> list[str]:
    """三不放过: what is missing before the item may be struck off (message keys)."""
    missing: list[str] = []
    if f.cause_count == 0:
        missing.append("root_cause")
    if not f.accountability_recorded:
        missing.append("accountability")
    if not f.measures:
        missing.append("measure")
    if any(m.status != "done" for m in f.measures):
        missing.append("measures_done")
    if any(m.evidence_count == 0 for m in f.measures):
        missing.append("measure_evidence")
    return missing


def may_strike_off(f: IssueFacts, user_id: int, person_id: int | None) -> bool:
    """Segregation of duties: not the one who submitted it, not an owner of one of its measures."""
    if f.submitted_by == user_id:
        return False
    if person_id is not None and any(m.owner_person_id == person_id for m in f.measures):
        return False
    return True


def role_may_move(move: Move, role: Role) -> bool:
    """Does the role hold the permission for this move at all?"""
    from audit.model import grant
    return grant(TRANSITIONS[move].permission, role) is not None


class Warning(str, Enum):
    RED = "red"        # overdue
    AMBER = "amber"    # due within the amber window (10 working days)
    GREEN = "green"
    NONE = "none"      # closed or ended: no warning


def warning_colour(status: Status, deadline: str | None, today: str, amber_cutoff: str
                   ) -> Warning:
    """Red/amber/green as DOMAIN.md defines them. Dates are ISO strings; `amber_cutoff` is the
    date 10 working days after `today` (see owners.model.add_working_days)."""
    if status in (Status.CLOSED, Status.ENDED):
        return Warning.NONE
    if not deadline:
        return Warning.GREEN
    if deadline < today:
        return Warning.RED
    if deadline <= amber_cutoff:
        return Warning.AMBER
    return Warning.GREEN
