"""Reminders as pure rules over plain rows: who gets what, under which key, when to try again,
and how user text is kept from becoming markup.

What goes out (exports.remind_service turns it into outbox rows):
- a **digest** per person, daily or weekly as the person chose: my overdue items, what is due
  within N working days, what was returned to me, what waits for my verification, the
  escalation steps addressed to me. By e-mail; and one **group digest** per robot (a line per
  person, @-mentioning them) in the group chat of their unit;
- **events**, derived from history records since the last run: returned (with the reason),
  struck off, deadline extended, newly assigned (an issue, or a measure);
- **escalation steps** recorded by the audit lead (提醒 / 督办函 / 约谈).

Every message has a key: the same fact on the same day to the same place always gives the same
key, and the outbox refuses a key twice, so a run started again never plans a message twice.
Standard library only (plus the pure escalation rules of owners.escalation_model).
"""
from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Iterable, Mapping

from audit.model import AuditError
from audit.time_model import Calendar, add_working_days, working_days_between
from owners.escalation_model import (
    STEPS,
    IssueForEscalation,
    ReviewThresholds,
    Thresholds,
    UnitNode,
    due_escalations,
)

SMTP = "smtp"
WECOM, DINGTALK, FEISHU = "wecom", "dingtalk", "feishu"
ROBOT_KINDS: tuple[str, ...] = (WECOM, DINGTALK, FEISHU)
CHANNEL_KINDS: tuple[str, ...] = (SMTP, *ROBOT_KINDS)
DIGEST_CHOICES: tuple[str, ...] = ("daily", "weekly", "off")
LANGS: tuple[str, ...] = ("zh", "en")
SECURITY_CHOICES: tuple[str, ...] = ("starttls", "ssl", "none")

# The digest's sections, in the order a reader meets them.
OVERDUE, DUE_SOON, RETURNED, TO_VERIFY, ESCALATION = (
    "overdue", "due_soon", "returned", "to_verify", "escalation")
SECTIONS: tuple[str, ...] = (OVERDUE, DUE_SOON, RETURNED, TO_VERIFY, ESCALATION)

# Events, and the history actions they are read from.
EV_RETURNED, EV_STRUCK_OFF, EV_EXTENDED, EV_ASSIGNED, EV_MEASURE_ASSIGNED = (
    "returned", "struck_off", "extended", "assigned", "measure_assigned")
EVENT_KINDS: tuple[str, ...] = (EV_RETURNED, EV_STRUCK_OFF, EV_EXTENDED, EV_ASSIGNED,
                                EV_MEASURE_ASSIGNED)
EVENT_ACTIONS: tuple[str, ...] = ("workflow.return", "workflow.close", "deadline.extend",
                                  "issue.assign", "measure.add", "measure.edit")
STEP_ACTION = "escalation.record"

# Outbox statuses. 'sending' is a claim taken at the point of no return (just before the last
# byte leaves); a run that finds one left by a killed run marks it 'unconfirmed' instead of
# sending it again (the receiver most likely has it), and the admin page lists it.
PENDING, SENDING, SENT, FAILED, UNCONFIRMED = (
    "pending", "sending", "sent", "failed", "unconfirmed")
STATUSES: tuple[str, ...] = (PENDING, SENDING, SENT, FAILED, UNCONFIRMED)

OPEN = frozenset({"not_started", "in_progress", "submitted"})
BACKOFF_BASE_MINUTES = 5
BACKOFF_CAP_MINUTES = 24 * 60


class RemindBusy(AuditError):
    """Another reminder run is under way (it holds the run lock)."""

    key = "error.remind_busy"


# What became of one attempt to send (see verdict).
V_SENT, V_RETRY, V_GIVE_UP, V_UNCONFIRMED, V_UNREACHABLE, V_ABANDONED = (
    "sent", "retry", "give_up", "unconfirmed", "unreachable", "abandoned")


def verdict(channel: str, final_sent: bool, code: int | None, robot_error: str | None = None,
            abandoned: bool = False) -> str:
    """What an attempt's outcome means for the message:
    - abandoned: someone else took it (leave it alone);
    - unreachable: it never left (no connection, no login): try again later, and try nothing
      more on that channel in this run;
    - unconfirmed: its last bytes left but no reply came: the receiver may have it, so it is
      not sent again without a person deciding;
    - sent: accepted (SMTP 2xx; HTTP 2xx with the vendor's errcode/code 0);
    - give_up: refused for good (SMTP 5xx; HTTP 4xx other than 408 and 429);
    - retry: refused for now (SMTP 4xx, HTTP 408/429/5xx, a vendor error code)."""
    if abandoned:
        return V_ABANDONED
    if code is None:
        return V_UNCONFIRMED if final_sent else V_UNREACHABLE
    if channel == SMTP:
        if 200 <= code < 300:
            return V_SENT if final_sent else V_RETRY
        return V_GIVE_UP if code >= 500 else V_RETRY
    if 200 <= code < 300:
        return V_SENT if final_sent and robot_error is None else V_RETRY
    if 400 <= code < 500 and code not in (408, 429):
        return V_GIVE_UP
    return V_RETRY


# --- keeping user text text -----------------------------------------------------------------

# Robot markdown (DingTalk, WeCom, Feishu lark_md) is each vendor's own subset, and none of them
# documents an escape character. Instead, every character that can open markup, a link or a
# mention is replaced by its full-width form, which every renderer shows as plain text (and
# which Chinese text uses anyway).
_ROBOT_MAP = str.maketrans({
    "[": "［", "]": "］", "(": "（", ")": "）", "<": "＜", ">": "＞", "*": "＊", "_": "＿",
    "#": "＃", "`": "｀", "~": "～", "|": "｜", "@": "＠", "!": "！", "\\": "＼", "&": "＆",
})
_URLISH = re.compile(r"(?i)(://|\bwww\.|\bmailto:)")
_SPACES = re.compile(r"\s+")


def one_line(text: object) -> str:
    """Text on one line: every run of white space (newlines included) becomes one space."""
    return _SPACES.sub(" ", "" if text is None else str(text)).strip()


def robot_text(text: object) -> str:
    """User text for a robot message: one line, no character that could start markup, a link,
    an @-mention or an HTML tag, and no bare address a client would turn into a link."""
    s = one_line(text).translate(_ROBOT_MAP)
    return _URLISH.sub(lambda m: m.group(0).replace(":", "：").replace(".", "．"), s)


def redact(text: str, secrets: Iterable[str]) -> str:
    """An error text with every secret (and every URL query, where webhook tokens live) cut
    out, so that it can be stored, shown and logged."""
    out = str(text)
    for s in sorted((s for s in secrets if s and len(s) >= 4), key=len, reverse=True):
        out = out.replace(s, "***")
    return re.sub(r"\?[^\s'\"<>]*", "?***", out)


# --- keys, schedule and back-off --------------------------------------------------------------


def first_working_day_of_week(cal: Calendar, day: date) -> bool:
    """Is `day` a working day with no working day before it in its ISO week?"""
    if not cal.is_working_day(day):
        return False
    monday = day - timedelta(days=day.weekday())
    d = monday
    while d < day:
        if cal.is_working_day(d):
            return False
        d += timedelta(days=1)
    return True


def digest_period(preference: str, as_of: date, cal: Calendar) -> str | None:
    """The period a digest sent on `as_of` covers ('2026-11-23' daily, '2026-W48' weekly, on the
    week's first working day), or None when the person gets no digest that day."""
    if not cal.is_working_day(as_of):
        return None
    if preference == "daily":
        return as_of.isoformat()
    if preference == "weekly" and first_working_day_of_week(cal, as_of):
        year, week, _ = as_of.isocalendar()
        return f"{year}-W{week:02d}"
    return None


def digest_key(period: str, person_id: int) -> str:
    """The key of a person's e-mail digest for a period."""
    return f"digest:{period}:person:{person_id}:email"


def group_digest_key(day: date, channel_id: int) -> str:
    """The key of a robot's group digest for a day."""
    return f"digest:{day.isoformat()}:robot:{channel_id}"


def event_key(seq: int, kind: str, *, person_id: int | None = None,
              channel_id: int | None = None) -> str:
    """The key of an event's message: to a person by e-mail, or to a robot."""
    where = f"person:{person_id}:email" if person_id is not None else f"robot:{channel_id}"
    return f"event:{seq}:{kind}:{where}"


def step_key(escalation_id: int, *, person_id: int | None = None,
             channel_id: int | None = None) -> str:
    """The key of an escalation step's message: to a person by e-mail, or to a robot."""
    where = f"person:{person_id}:email" if person_id is not None else f"robot:{channel_id}"
    return f"step:{escalation_id}:{where}"


def backoff_minutes(attempts: int) -> int:
    """Minutes to wait after the `attempts`-th failed attempt: 5, 10, 20, 40, … up to a day."""
    if attempts < 1:
        return 0
    return min(BACKOFF_BASE_MINUTES * 2 ** (attempts - 1), BACKOFF_CAP_MINUTES)


def gives_up(attempts: int, max_attempts: int) -> bool:
    """After this many failed attempts, is the message given up (status 'failed')?"""
    return attempts >= max(1, max_attempts)


def overdue_days(cal: Calendar, deadline: date | None, as_of: date) -> int:
    """Working days an item with this deadline is overdue on `as_of` (0 when it is not)."""
    if deadline is None or deadline >= as_of:
        return 0
    return working_days_between(cal, deadline, as_of)


def previous_working_day(cal: Calendar, day: date) -> date:
    """The last working day before `day` (at most a month back)."""
    d = day - timedelta(days=1)
    for _ in range(31):
        if cal.is_working_day(d):
            return d
        d -= timedelta(days=1)
    return d


# --- the facts, as plain rows -------------------------------------------------------------------


@dataclass(frozen=True)
class Person:
    """A person and how to reach them."""

    id: int
    name: str
    unit_id: int
    email: str = ""
    mobile: str = ""
    digest: str = "daily"
    lang: str = "zh"
    active: bool = True


@dataclass(frozen=True)
class Issue:
    """What reminders need of an issue. `last_move` is the workflow action of its latest status
    change ('return', 'reopen', …), None when it never moved."""

    id: int
    code: str
    title: str
    unit_id: int
    status: str
    responsible_person_id: int | None = None
    deadline: date | None = None
    original_deadline: date | None = None
    status_reason: str = ""
    last_move: str | None = None
    submitted_by: int | None = None


@dataclass(frozen=True)
class Measure:
    """An unfinished measure of an open issue."""

    id: int
    issue_id: int
    title: str
    owner_person_id: int | None
    deadline: date | None


@dataclass(frozen=True)
class Lead:
    """An active audit lead's account: who may verify what. `scope` None is the whole region."""

    user_id: int
    person_id: int
    scope: frozenset[int] | None = None


@dataclass(frozen=True)
class Step:
    """An escalation step: recorded (with its id) or only reached."""

    issue_id: int
    step: str
    target_person_id: int | None
    target_unit_id: int | None = None
    escalation_id: int | None = None
    overdue_working_days: int = 0


@dataclass(frozen=True)
class Item:
    """One line of a digest: an issue, or one of its measures (`measure` holds its title)."""

    issue_id: int
    code: str
    title: str
    deadline: date | None = None
    days: int = 0          # working days overdue (overdue) or left (due soon)
    measure: str = ""
    reason: str = ""
    step: str = ""


@dataclass(frozen=True)
class Digest:
    """A person's digest: section name → items (empty sections left out)."""

    person_id: int
    sections: Mapping[str, tuple[Item, ...]]

    def counts(self) -> dict[str, int]:
        """Items per section, every section named (0 when empty)."""
        return {s: len(self.sections.get(s, ())) for s in SECTIONS}

    def is_empty(self) -> bool:
        """Does the digest hold nothing to tell?"""
        return not any(self.sections.values())


@dataclass(frozen=True)
class HistoryRecord:
    """A history record as remind_store reads it."""

    seq: int
    at: str
    op: str
    action: str
    entity: str
    entity_id: int | None
    field: str
    old: str | None
    new: str | None
    actor_id: int | None = None


@dataclass(frozen=True)
class Event:
    """Something that happened to a person's item, to tell them about."""

    seq: int
    kind: str
    issue_id: int
    person_id: int
    at: str
    reason: str = ""
    deadline: date | None = None
    measure_id: int | None = None
    measure: str = ""


# --- digests ----------------------------------------------------------------------------------


def code_key(code: str) -> tuple:
    """Codes in natural order (C2.10 after C2.9)."""
    return tuple((0, int(p), "") if p.isdigit() else (1, 0, p)
                 for p in re.split(r"(\d+)", code) if p)


def _in_scope(scope: frozenset[int] | None, unit_id: int) -> bool:
    return scope is None or unit_id in scope


def compose_digests(people: Iterable[Person], issues: Iterable[Issue],
                    measures: Iterable[Measure], leads: Iterable[Lead],
                    steps: Iterable[Step], cal: Calendar, as_of: date, due_days: int
                    ) -> dict[int, Digest]:
    """Each active person's digest as of `as_of` (people with nothing to tell left out).
    - overdue: open issues the person is responsible for, and unfinished measures the person
      owns, whose deadline is before `as_of` (with working days overdue);
    - due soon: deadline from `as_of` to `due_days` working days after it (days left);
    - returned: the person's issues in progress whose latest move was a return (the reason);
    - to verify: issues submitted in the scope of the person's lead account, not submitted by
      that account itself (segregation of duties);
    - escalation: the highest step addressed to the person per open issue (`steps`: recorded
      and reached ones alike)."""
    issues = [i for i in issues if i.status in OPEN]
    by_id = {i.id: i for i in issues}
    cutoff = add_working_days(cal, as_of, max(0, due_days))
    out: dict[int, dict[str, list[Item]]] = defaultdict(lambda: defaultdict(list))

    def place(person: int | None, issue: Issue, deadline: date | None, measure: str = "") -> None:
        if person is None or deadline is None:
            return
        if deadline < as_of:
            out[person][OVERDUE].append(Item(issue.id, issue.code, issue.title, deadline,
                                             working_days_between(cal, deadline, as_of),
                                             measure=measure))
        elif deadline <= cutoff:
            out[person][DUE_SOON].append(Item(issue.id, issue.code, issue.title, deadline,
                                              working_days_between(cal, as_of, deadline),
                                              measure=measure))

    for i in issues:
        place(i.responsible_person_id, i, i.deadline)
        if (i.responsible_person_id is not None and i.status == "in_progress"
                and i.last_move == "return"):
            out[i.responsible_person_id][RETURNED].append(
                Item(i.id, i.code, i.title, i.deadline, reason=i.status_reason))
    for m in measures:
        issue = by_id.get(m.issue_id)
        if issue is not None:
            place(m.owner_person_id, issue, m.deadline, m.title)
    seen_verify: set[tuple[int, int]] = set()
    for lead in leads:
        for i in issues:
            if (i.status == "submitted" and _in_scope(lead.scope, i.unit_id)
                    and i.submitted_by != lead.user_id
                    and (lead.person_id, i.id) not in seen_verify):
                seen_verify.add((lead.person_id, i.id))
                out[lead.person_id][TO_VERIFY].append(Item(i.id, i.code, i.title, i.deadline))
    highest: dict[tuple[int, int], Step] = {}
    for s in steps:
        if s.target_person_id is None or s.issue_id not in by_id or s.step not in STEPS:
            continue
        k = (s.target_person_id, s.issue_id)
        if k not in highest or STEPS.index(s.step) > STEPS.index(highest[k].step):
            highest[k] = s
    for (person, issue_id), s in highest.items():
        i = by_id[issue_id]
        out[person][ESCALATION].append(Item(i.id, i.code, i.title, i.deadline,
                                            s.overdue_working_days, step=s.step))
    active = {p.id for p in people if p.active}
    digests = {}
    for person, sections in out.items():
        if person not in active:
            continue
        sections[OVERDUE].sort(key=lambda it: (-it.days, code_key(it.code), it.measure))
        sections[DUE_SOON].sort(key=lambda it: (it.deadline, code_key(it.code), it.measure))
        for s in (RETURNED, TO_VERIFY, ESCALATION):
            sections[s].sort(key=lambda it: code_key(it.code))
        digests[person] = Digest(person, {s: tuple(sections[s]) for s in SECTIONS
                                          if sections.get(s)})
    return digests


def reached_steps(issues: Iterable[Issue], units: Iterable[UnitNode], cal: Calendar,
                  as_of: date, thresholds: Thresholds, recorded: Iterable[Step], *,
                  consecutive_reds: Mapping[int, int] | None = None,
                  review: ReviewThresholds = ReviewThresholds()) -> list[Step]:
    """The recorded steps of open issues plus the steps reached but not yet recorded
    (owners.escalation_model.due_escalations), with working days overdue where known. A step
    is reached by working days overdue (`thresholds`) or by red meetings in a row
    (`consecutive_reds`: issue id → count, against `review`), whichever is higher."""
    recorded = list(recorded)
    done = {(s.issue_id, s.step) for s in recorded}
    dues = due_escalations(
        [IssueForEscalation(i.id, i.code, i.unit_id, i.responsible_person_id, i.deadline,
                            i.status) for i in issues if i.status in OPEN],
        list(units), cal, as_of, thresholds, done, consecutive_reds=consecutive_reds,
        review=review)
    return recorded + [Step(d.issue_id, d.step, d.target_person_id, d.target_unit_id, None,
                            d.overdue_working_days) for d in dues]


# --- events -------------------------------------------------------------------------------------


def _int(text: str | None) -> int | None:
    try:
        return int(text) if text not in (None, "") else None
    except ValueError:
        return None


def _day(text: str | None) -> date | None:
    try:
        return date.fromisoformat(text[:10]) if text else None
    except ValueError:
        return None


def derive_events(records: Iterable[HistoryRecord], issues: Mapping[int, Issue],
                  measure_issue: Mapping[int, tuple[int, str]],
                  user_person: Mapping[int, int]) -> list[Event]:
    """The events in `records` (every record of each operation, oldest first), one per
    operation and recipient, never to the person who acted:
    - workflow.return → returned, to the responsible person, with the reason;
    - workflow.close → struck off, to the responsible person;
    - deadline.extend → extended, to the responsible person, with the new deadline and reason;
    - issue.assign with a new responsible person → assigned, to that person;
    - measure.add / measure.edit with a new owner → measure assigned, to that owner.
    `measure_issue` maps measure id → (issue id, measure title)."""
    ops: dict[str, list[HistoryRecord]] = defaultdict(list)
    for r in records:
        ops[r.op].append(r)
    out: list[Event] = []
    for recs in ops.values():
        recs.sort(key=lambda r: r.seq)
        action = recs[0].action
        actor_person = user_person.get(recs[0].actor_id) if recs[0].actor_id else None

        def value(entity: str, fld: str) -> HistoryRecord | None:
            return next((r for r in recs if r.entity == entity and r.field == fld), None)

        found: list[Event] = []
        if action in ("workflow.return", "workflow.close"):
            st = value("issue", "status")
            if st is not None and st.entity_id in issues:
                reason = value("issue", "status_reason")
                issue = issues[st.entity_id]
                found.append(Event(st.seq, EV_RETURNED if action == "workflow.return"
                                   else EV_STRUCK_OFF, issue.id,
                                   issue.responsible_person_id, st.at,  # type: ignore[arg-type]
                                   reason=(reason.new or "") if reason else ""))
        elif action == "deadline.extend":
            dl = value("issue", "deadline")
            if dl is not None and dl.entity_id in issues:
                reason = value("extension", "reason")
                issue = issues[dl.entity_id]
                found.append(Event(dl.seq, EV_EXTENDED, issue.id,
                                   issue.responsible_person_id,  # type: ignore[arg-type]
                                   dl.at, reason=(reason.new or "") if reason else "",
                                   deadline=_day(dl.new)))
        elif action == "issue.assign":
            rp = value("issue", "responsible_person_id")
            if rp is not None and rp.entity_id in issues and _int(rp.new) is not None:
                found.append(Event(rp.seq, EV_ASSIGNED, rp.entity_id, _int(rp.new),  # type: ignore[arg-type]
                                   rp.at, deadline=issues[rp.entity_id].deadline))
        elif action in ("measure.add", "measure.edit"):
            for r in recs:
                if (r.entity == "measure" and r.field == "owner_person_id"
                        and _int(r.new) is not None and r.entity_id in measure_issue):
                    issue_id, title = measure_issue[r.entity_id]  # type: ignore[index]
                    if issue_id in issues:
                        dl = next((x for x in recs if x.entity == "measure"
                                   and x.entity_id == r.entity_id and x.field == "deadline"),
                                  None)
                        found.append(Event(r.seq, EV_MEASURE_ASSIGNED, issue_id,
                                           _int(r.new), r.at,  # type: ignore[arg-type]
                                           deadline=_day(dl.new) if dl else None,
                                           measure_id=r.entity_id, measure=title))
        out.extend(e for e in found
                   if e.person_id is not None and e.person_id != actor_person)
    out.sort(key=lambda e: e.seq)
    return out


def step_ids(records: Iterable[HistoryRecord]) -> list[int]:
    """The escalation rows recorded in `records` (one 'escalation.record' per step)."""
    return sorted({r.entity_id for r in records if r.action == STEP_ACTION
                   and r.entity == "escalation" and r.field == "step"
                   and r.entity_id is not None})


# --- validating what an administrator types ----------------------------------------------


_BASE_URL = re.compile(r"^https?://[A-Za-z0-9.\-]+(:\d{1,5})?(/[A-Za-z0-9._~\-/]*)?$")


def valid_base_url(url: str) -> bool:
    """Is `url` an http(s) address with nothing in it that could break out of a link?"""
    return url == "" or bool(_BASE_URL.match(url))


_EMAIL = re.compile(r"^[A-Za-z0-9._%+\-]+@[A-Za-z0-9.\-]+\.[A-Za-z]{2,}$")
_MOBILE = re.compile(r"^1\d{10}$")


def valid_email(address: str) -> bool:
    """Is `address` a plain e-mail address (empty allowed: no e-mail)?"""
    return address == "" or bool(_EMAIL.match(address))


def valid_mobile(number: str) -> bool:
    """Is `number` a mainland mobile number of 11 digits (empty allowed)?"""
    return number == "" or bool(_MOBILE.match(number))
