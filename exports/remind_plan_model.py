"""Where each message goes: a person's e-mail, the group robot of their unit (or of the
nearest unit above that has one), with whom to @-mention, and the links that lead back to the
tracker. Pure: the plans are plain data the service renders and puts in the outbox."""
from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date
from typing import Iterable, Mapping, Sequence

from audit.time_model import Calendar
from exports.remind_model import (
    OPEN,
    SMTP,
    Digest,
    Event,
    Issue,
    Person,
    Step,
    digest_key,
    digest_period,
    event_key,
    group_digest_key,
    step_key,
)
from owners.escalation_model import LETTER, STEPS, SUMMONS, UnitNode, unit_chains


@dataclass(frozen=True)
class Planned:
    """One message to put in the outbox. `content` is a Digest, a GroupDigest, an Event or a
    Step; `channel` is the channel kind ('smtp' or a robot kind)."""

    key: str
    kind: str               # digest | event | escalation
    channel_id: int
    channel: str
    content: object
    lang: str = "zh"
    person_id: int | None = None
    unit_id: int | None = None
    issue_id: int | None = None
    mentions: tuple[str, ...] = ()


@dataclass(frozen=True)
class GroupLine:
    """One person's line in a group digest."""

    person_id: int
    name: str
    mobile: str
    counts: Mapping[str, int]


@dataclass(frozen=True)
class GroupDigest:
    """A robot's digest for its group chat: one line per person with something to do."""

    channel_id: int
    day: date
    lines: tuple[GroupLine, ...]


@dataclass(frozen=True)
class Robot:
    """A configured robot channel."""

    id: int
    kind: str
    lang: str = "zh"


@dataclass(frozen=True)
class Reach:
    """What can carry messages: the mail server (its id, or None) and the robots, each unit's
    own robot (None: use the one of the nearest unit above that has one)."""

    smtp_id: int | None
    robots: Mapping[int, Robot] = field(default_factory=dict)
    unit_robot: Mapping[int, int | None] = field(default_factory=dict)


# --- where each message goes ----------------------------------------------------------------


def robot_of(unit_id: int | None, chains: Mapping[int, Sequence[int]], reach: Reach
             ) -> Robot | None:
    """The robot of a unit's group chat: its own, else the nearest unit above that has one."""
    if unit_id is None:
        return None
    for u in chains.get(unit_id, (unit_id,)):
        cid = reach.unit_robot.get(u)
        if cid is not None and cid in reach.robots:
            return reach.robots[cid]
    return None


def _mobiles(*people: Person | None) -> tuple[str, ...]:
    return tuple(dict.fromkeys(p.mobile for p in people if p is not None and p.mobile))


def plan_digests(digests: Mapping[int, Digest], people: Mapping[int, Person], reach: Reach,
                 units: Iterable[UnitNode], cal: Calendar, as_of: date) -> list[Planned]:
    """The digests due today: each by e-mail to a person with an address, and one group digest
    per robot listing the people of its units (by the person's own preference)."""
    chains = unit_chains(units)
    out: list[Planned] = []
    groups: dict[int, list[GroupLine]] = defaultdict(list)
    for pid in sorted(digests):
        d, p = digests[pid], people.get(pid)
        if p is None or not p.active or d.is_empty():
            continue
        period = digest_period(p.digest, as_of, cal)
        if period is None:
            continue
        if p.email and reach.smtp_id is not None:
            out.append(Planned(digest_key(period, pid), "digest", reach.smtp_id, SMTP, d,
                               p.lang, person_id=pid, unit_id=p.unit_id))
        robot = robot_of(p.unit_id, chains, reach)
        if robot is not None:
            groups[robot.id].append(GroupLine(pid, p.name, p.mobile, d.counts()))
    for cid in sorted(groups):
        robot = reach.robots[cid]
        lines = tuple(groups[cid])
        out.append(Planned(group_digest_key(as_of, cid), "digest", cid, robot.kind,
                           GroupDigest(cid, as_of, lines), robot.lang,
                           mentions=tuple(dict.fromkeys(x.mobile for x in lines if x.mobile))))
    return out


def plan_events(events: Iterable[Event], issues: Mapping[int, Issue],
                people: Mapping[int, Person], reach: Reach, units: Iterable[UnitNode]
                ) -> list[Planned]:
    """Each event to its person by e-mail, and to the robot of the issue's unit."""
    chains = unit_chains(units)
    out: list[Planned] = []
    for e in events:
        p, issue = people.get(e.person_id), issues.get(e.issue_id)
        if p is None or not p.active or issue is None:
            continue
        if p.email and reach.smtp_id is not None:
            out.append(Planned(event_key(e.seq, e.kind, person_id=p.id), "event",
                               reach.smtp_id, SMTP, e, p.lang, person_id=p.id,
                               unit_id=issue.unit_id, issue_id=issue.id))
        robot = robot_of(issue.unit_id, chains, reach)
        if robot is not None:
            out.append(Planned(event_key(e.seq, e.kind, channel_id=robot.id), "event",
                               robot.id, robot.kind, e, robot.lang, person_id=p.id,
                               unit_id=issue.unit_id, issue_id=issue.id,
                               mentions=_mobiles(p)))
    return out


def step_recipients(step: Step, issue: Issue, heads: Mapping[int, int | None]) -> list[int]:
    """Who a recorded step is sent to: its target; for a summons (约谈) also the head of the
    issue's unit, who is the one summoned."""
    out = [step.target_person_id] if step.target_person_id is not None else []
    if step.step == SUMMONS:
        head = heads.get(issue.unit_id)
        if head is not None and head not in out:
            out.append(head)
    return out


def plan_steps(steps: Iterable[Step], issues: Mapping[int, Issue],
               people: Mapping[int, Person], reach: Reach, units: Iterable[UnitNode]
               ) -> list[Planned]:
    """Each recorded step of a still open issue: by e-mail to its recipients (the 督办函 goes
    with it), and to the robot of the unit concerned (the target unit for a letter, the
    issue's unit otherwise)."""
    units = list(units)
    chains = unit_chains(units)
    heads = {u.id: u.head_person_id for u in units}
    out: list[Planned] = []
    for s in steps:
        issue = issues.get(s.issue_id)
        if (issue is None or issue.status not in OPEN or s.escalation_id is None
                or s.step not in STEPS):
            continue
        recipients = [people[pid] for pid in step_recipients(s, issue, heads)
                      if pid in people and people[pid].active]
        for p in recipients:
            if p.email and reach.smtp_id is not None:
                out.append(Planned(step_key(s.escalation_id, person_id=p.id), "escalation",
                                   reach.smtp_id, SMTP, s, p.lang, person_id=p.id,
                                   unit_id=issue.unit_id, issue_id=issue.id))
        where = s.target_unit_id if s.step == LETTER and s.target_unit_id else issue.unit_id
        robot = robot_of(where, chains, reach)
        if robot is not None:
            out.append(Planned(step_key(s.escalation_id, channel_id=robot.id), "escalation",
                               robot.id, robot.kind, s, robot.lang,
                               person_id=s.target_person_id, unit_id=where, issue_id=issue.id,
                               mentions=_mobiles(*recipients)))
    return out


def page_link(base_url: str, path: str, lang: str, **query: int) -> str:
    """The address of a page of the tracker in the reader's language (?lang=, which the app
    keeps), '' without a base URL."""
    if not base_url:
        return ""
    params = [f"{k}={int(v)}" for k, v in query.items()] + [f"lang={lang}"]
    return f"{base_url.rstrip('/')}/{path}?" + "&".join(params)


def issue_link(base_url: str, issue_id: int, lang: str) -> str:
    """The address of an issue's page (the issue page reads ?id=)."""
    return page_link(base_url, "issue", lang, id=issue_id)
