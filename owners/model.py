"""The rules of units and assignment (四个到人), pure: the unit tree, and what an assignment of
a responsible person, a supervising leader and a deadline writes on an issue."""
from __future__ import annotations

from collections.abc import Container

from audit.model import Status, ValidationFailed
from audit.time_model import parse_date


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


def assignment_values(issue: dict, *, responsible_person_id: int | None,
                      supervisor_person_id: int | None, deadline,
                      active_people: Container[int]) -> dict:
    """The issue columns an assignment writes: the people (each an active person) and the
    deadline. The first deadline becomes the original one; once work has started a deadline
    only moves by an extension (延期), so that the on-time rate stays honest. ValidationFailed
    names the field."""
    if issue["status"] in (Status.CLOSED.value, Status.ENDED.value):
        raise ValidationFailed("status", "a closed or ended issue cannot be reassigned; "
                                         "reopen it first")
    values: dict = {}
    for field, person_id in (("responsible_person_id", responsible_person_id),
                             ("supervisor_person_id", supervisor_person_id)):
        if person_id is not None:
            if person_id not in active_people:
                raise ValidationFailed(field, f"no active person with id {person_id}")
            values[field] = person_id
    if deadline not in (None, ""):
        d = parse_date(deadline, "deadline").isoformat()
        if issue["original_deadline"] is None or issue["status"] == Status.NOT_STARTED.value:
            values["deadline"] = d
            values["original_deadline"] = d
        elif d != issue["deadline"]:
            raise ValidationFailed("deadline", "work has started: use a deadline extension "
                                               "(延期) to move the deadline")
    return values


def is_responsible(actor, issue: dict) -> bool:
    """Is the actor's person the issue's responsible person (整改责任人)? (The same test as
    issues.model.owns_issue, which this package cannot import.)"""
    return actor.person_id is not None and issue["responsible_person_id"] == actor.person_id

