"""The workflow of an issue: statuses, the allowed moves, and the guards for 四个到人 and
三不放过. Pure: plain data in, missing conditions or exceptions out."""
from __future__ import annotations

from collections.abc import Container, Iterable
from dataclasses import dataclass
from datetime import date
from enum import Enum

from audit.model import (
    OPEN_STATUSES,
    Actor,
    AssignmentIncomplete,
    ClosureBlocked,
    NotPermitted,
    Role,
    Status,
    TransitionNotAllowed,
    ValidationFailed,
    text_value,
)
from audit.time_model import parse_date


class Move(str, Enum):
    START = "start"      # 未启动 → 整改中 (needs 四个到人)
    SUBMIT = "submit"    # 整改中 → 待验收
    CLOSE = "close"      # 待验收 → 已销号 (销号: needs 三不放过 and segregation of duties)
    CHECK = "check"      # 初审: 待验收 stays 待验收, passed on to 复核销号 (two-level verification)
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
    Move.CHECK: Transition(Move.CHECK, frozenset({Status.SUBMITTED}), Status.SUBMITTED,
                           False, "workflow.check"),
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
    checked_by: int | None = None   # who passed it at 初审 (two-level verification)


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


def closure_steps(f: IssueFacts) -> list[tuple[str, int | None, bool]]:
    """三不放过 as the rectifier's steps, in the order they are done: (step key, measure id or
    None, done?) for the root cause, the accountability, each measure (done with its evidence),
    and finally the submission; the same conditions as missing_for_closure."""
    steps: list[tuple[str, int | None, bool]] = [
        ("root_cause", None, f.cause_count > 0),
        ("accountability", None, f.accountability_recorded)]
    if not f.measures:
        steps.append(("measure", None, False))
    steps += [("measure_done", m.id, m.status == "done" and m.evidence_count > 0)
              for m in f.measures]
    steps.append(("submit", None, f.status not in (Status.NOT_STARTED, Status.IN_PROGRESS)))
    return steps


def may_strike_off(f: IssueFacts, user_id: int, person_id: int | None) -> bool:
    """Segregation of duties: not the one who submitted it, not an owner of one of its measures."""
    if f.submitted_by == user_id:
        return False
    if person_id is not None and any(m.owner_person_id == person_id for m in f.measures):
        return False
    return True


def may_first_check(f: IssueFacts, user_id: int, person_id: int | None) -> bool:
    """初审 of two-level verification: segregation of duties as for striking off, and only
    once (an item passed at 初审 waits for 复核)."""
    return f.checked_by is None and may_strike_off(f, user_id, person_id)


def may_second_check(f: IssueFacts, actor: Actor) -> bool:
    """复核销号 of two-level verification: the item passed 初审; a regional lead (scope: the
    whole region) who neither submitted it, owns one of its measures, nor did its 初审."""
    return (f.checked_by is not None and actor.scope_unit_ids is None
            and f.checked_by != actor.user_id
            and may_strike_off(f, actor.user_id, actor.person_id))


def verification_level(f: IssueFacts, two_level: bool) -> str:
    """Which level a submitted item waits at: 'single' (one-level verification), 'first'
    (初审) or 'second' (复核销号)."""
    if not two_level:
        return "single"
    return "first" if f.checked_by is None else "second"


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
    date 10 working days after `today` (see audit.time_model.add_working_days)."""
    if status in (Status.CLOSED, Status.ENDED):
        return Warning.NONE
    if not deadline:
        return Warning.GREEN
    if deadline < today:
        return Warning.RED
    if deadline <= amber_cutoff:
        return Warning.AMBER
    return Warning.GREEN


def owns_issue(actor: Actor, issue: dict) -> bool:
    """A rectifier's own issue: they are its responsible person."""
    return actor.person_id is not None and issue["responsible_person_id"] == actor.person_id


def owns_measure(actor: Actor, measure: dict, issue: dict | None) -> bool:
    """A rectifier's own measure: they own it, or they are responsible for its issue."""
    if actor.person_id is None:
        return False
    return measure["owner_person_id"] == actor.person_id or (
        issue is not None and issue["responsible_person_id"] == actor.person_id)


SEVERITIES = ("high", "medium", "low")


RECTIFICATION_TYPES = ("immediate", "staged", "continuous")


MEASURE_STATUSES = ("todo", "doing", "done")


AUDIT_LEVELS = ("group", "regional")


EDITABLE_STATUSES = (Status.NOT_STARTED.value, Status.IN_PROGRESS.value)


def amount_value(value, field: str) -> float:
    """An amount in yuan, rounded to the fen; ValidationFailed naming the field otherwise."""
    try:
        amount = round(float(value or 0), 2)
    except (TypeError, ValueError):
        raise ValidationFailed(field, f"not a number: {value!r}") from None
    if amount < 0 or amount != amount or amount > 1e13:
        raise ValidationFailed(field, "must be zero or more (yuan)")
    return amount


def choice_value(value: str, allowed: tuple[str, ...], field: str) -> str:
    """`value` if it is one of `allowed`; ValidationFailed naming the field otherwise."""
    if value not in allowed:
        raise ValidationFailed(field, f"must be one of {', '.join(allowed)}")
    return value


def completion_day(completed_on, today: date) -> date:
    """The day a measure marked done was completed: `completed_on` (a date or ISO text), or
    `today` when none is given. Raises ValidationFailed (field completed_on) for text that is
    not a date or a day after `today`."""
    d = parse_date(completed_on, "completed_on") or today
    if d > today:
        raise ValidationFailed("completed_on", "cannot be in the future",
                               rule="completed_future", date=d.isoformat())
    return d


def check_editable(issue: dict) -> None:
    """Measures, causes, accountability and evidence change only before submission."""
    if issue["status"] not in EDITABLE_STATUSES:
        raise ValidationFailed("status", f"{issue['code']} is {issue['status']}: measures and "
                                         "causes change only before submission (return or "
                                         "reopen it first)")


def codes_to_ids(mapping: dict[str, int], codes, field: str) -> list[int]:
    """The ids of codes (streams, focus points); ValidationFailed naming an unknown one."""
    out = []
    for c in codes or []:
        if c not in mapping:
            raise ValidationFailed(field, f"unknown code {c!r} (valid: {', '.join(mapping)})")
        out.append(mapping[c])
    return out


ISSUE_EDITABLE = ("title", "description", "severity", "amount_involved", "basis",
                  "recommendation", "rectification_type", "aspect_id",
                  # what rectification achieved (整改成效, the review pack)
                  "amount_corrected", "amount_recovered")


# An issue's link sets: history field → (link table, id column).
ISSUE_LINKS = {"sources": ("issue_sources", "audit_id"), "streams": ("issue_streams", "stream_id"),
               "focus": ("issue_focus", "focus_id"), "causes": ("issue_causes", "cause_id")}


# --- the values a new row is written with (the single and the bulk services alike) ---------


def child_code(parent_code: str, code: str | None, existing: Iterable[str], what: str, *,
               numbered: bool = True) -> str:
    """The code of a new child of `parent_code` (C3 → C3.n, C3.2 → C3.2.n): `code` as given, or
    the next free one; ValidationFailed when it does not extend the parent (with a number after
    it, when `numbered`) or is taken. `existing`: the codes under the parent."""
    taken = existing if isinstance(existing, (set, frozenset)) else set(existing)
    code = (code or f"{parent_code}.{highest_child_number(parent_code, taken) + 1}").strip()
    rest = code[len(parent_code) + 1:]
    if not code.startswith(parent_code + ".") or (numbered and not rest.isdigit()):
        raise ValidationFailed("code", f"an {what} of {parent_code} is coded "
                                       f"{parent_code}.n, not {code!r}")
    if code in taken:
        raise ValidationFailed("code", f"{what} {code} already exists")
    return code


def new_issue_values(*, code: str, aspect_id: int, title: str, unit_id: int, description: str,
                     severity: str, amount_involved, basis: str, recommendation: str,
                     rectification_type: str, at: str) -> dict:
    """The columns of a newly registered issue (未启动), each checked; ValidationFailed names
    the field."""
    return {
        "code": code, "aspect_id": aspect_id,
        "title": text_value(title, "title", required=True, max_len=2000),
        "description": text_value(description, "description"),
        "severity": choice_value(severity, SEVERITIES, "severity"),
        "unit_id": unit_id, "amount_involved": amount_value(amount_involved, "amount_involved"),
        "basis": text_value(basis, "basis"),
        "recommendation": text_value(recommendation, "recommendation"),
        "rectification_type": choice_value(rectification_type, RECTIFICATION_TYPES,
                                           "rectification_type"),
        "status": Status.NOT_STARTED.value, "created_at": at,
    }


def new_measure_values(*, title: str, owner_person_id: int | None, deadline,
                       known_people: Container[int], at: str, issue_id: int | None = None,
                       cause_id: int | None = None) -> dict:
    """The columns of a new measure (to do) of an issue or of a root cause, each checked: a
    title, an owner who exists (`known_people`), a deadline that is a date."""
    if owner_person_id is not None and owner_person_id not in known_people:
        raise ValidationFailed("owner_person_id", f"no person with id {owner_person_id}")
    d = parse_date(deadline, "deadline")
    values = {"issue_id": issue_id} if cause_id is None else {"cause_id": cause_id}
    values.update({"title": text_value(title, "title", required=True, max_len=5000),
                   "owner_person_id": owner_person_id,
                   "deadline": d.isoformat() if d else None, "status": "todo",
                   "created_at": at})
    return values


def move_values(move: Move, actor: Actor, reason: str, at: str) -> dict:
    """The issue columns a workflow move writes (status, reason, who submitted or struck off)."""
    values: dict = {"status": TRANSITIONS[move].target.value, "status_reason": reason}
    if move == Move.SUBMIT:
        values.update(submitted_by=actor.user_id, submitted_at=at)
    elif move == Move.CHECK:
        values.update(checked_by=actor.user_id, checked_at=at)
    elif move == Move.CLOSE:
        values.update(closed_by=actor.user_id, closed_at=at)
    elif move == Move.REOPEN:
        values.update(closed_by=None, closed_at=None, submitted_by=None, submitted_at=None,
                      checked_by=None, checked_at=None)
    elif move == Move.RETURN:
        values.update(submitted_by=None, submitted_at=None, checked_by=None, checked_at=None)
    return values


def guard_move(actor: Actor, move: Move, facts: IssueFacts, two_level: bool = False) -> None:
    """The workflow's guards on a move, for move_issue and bulk creation alike: 四个到人
    before 整改中, segregation of duties and 三不放过 before 已销号; with two-level
    verification (`two_level`) 初审 first (Move.CHECK), then 复核销号 by a regional lead who
    did not do the 初审."""
    if move == Move.START:
        missing = missing_for_assignment(facts)
        if missing:
            raise AssignmentIncomplete(facts.code, missing)
    if move == Move.CHECK:
        if not two_level:
            raise TransitionNotAllowed(f"{facts.code}: one-level verification has no 初审",
                                       key="error.verify_one_level",
                                       code=facts.code, move=move.value,
                                       status=facts.status.value)
        if facts.checked_by is not None:
            raise TransitionNotAllowed(f"{facts.code}: already passed 初审; it waits for 复核",
                                       key="error.verify_checked",
                                       code=facts.code, move=move.value,
                                       status=facts.status.value)
        if not may_strike_off(facts, actor.user_id, actor.person_id):
            raise NotPermitted(f"{actor.username} submitted {facts.code} or owns one of its "
                               "measures and may not check it", reason="segregation",
                               key="error.verify_segregation")
        missing = missing_for_closure(facts)
        if missing:
            raise ClosureBlocked(facts.code, missing)
    if move == Move.CLOSE and two_level:
        if facts.checked_by is None:
            raise TransitionNotAllowed(f"{facts.code}: 初审 comes before 复核销号",
                                       key="error.verify_first_needed",
                                       code=facts.code, move=move.value,
                                       status=facts.status.value)
        if actor.scope_unit_ids is not None:
            raise NotPermitted(f"{actor.username} is not a regional lead: 复核销号 is the "
                               "region's", reason="second_level",
                               key="error.verify_second_level")
        if facts.checked_by == actor.user_id:
            raise NotPermitted(f"{actor.username} did the 初审 of {facts.code} and may not "
                               "also strike it off", reason="segregation",
                               key="error.verify_segregation")
    if move == Move.CLOSE:
        if not may_strike_off(facts, actor.user_id, actor.person_id):
            raise NotPermitted(f"{actor.username} submitted {facts.code} or owns one of its "
                               "measures and may not strike it off", reason="segregation")
        missing = missing_for_closure(facts)
        if missing:
            raise ClosureBlocked(facts.code, missing)


def check_move(code: str, status: Status, move: Move, reason: str) -> None:
    """The move exists from `status`, and has its reason when it needs one
    (TransitionNotAllowed, ValidationFailed)."""
    t = TRANSITIONS[move]
    if status not in t.source:
        raise TransitionNotAllowed(f"{code}: cannot {move.value} from {status.value}",
                                   code=code, move=move.value, status=status.value)
    if t.needs_reason and not reason.strip():
        raise ValidationFailed("reason", f"a reason is required to {move.value}")
