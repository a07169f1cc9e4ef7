"""A reminder run as of a date, or a dry run that only shows what would go out.

A run, in order (exports.remind_model says what, remind_format how it looks, remind_io sends):
1. nothing at all on a non-working day of the stored calendar (the run is logged as skipped);
2. messages a killed run left half-sent ('sending') become 'unconfirmed': listed, not resent;
3. plan: digests due today, events from history since the last run, escalation steps recorded
   since; each message gets its key; the new ones go into the outbox with their payload, in one
   transaction with the run's log row (a key already there is skipped: planned at most once);
4. send every pending message that is due, oldest first: the claim ('sending', history) is
   committed just before the message's last bytes leave (see remind_io), the outcome after the
   reply: sent, retry later with back-off (5, 10, 20 … minutes), failed after
   `remind.max_attempts`, or unconfirmed when no reply came. Every step is in history: to whom,
   which channel, what (key and subject), the outcome and the error (secrets cut out).
The secrets of a channel are read only here, just before sending, and any error text is
stored with them cut out.
"""
from __future__ import annotations

from contextlib import nullcontext
from datetime import date, datetime, timedelta
from typing import Callable, Mapping

import sqlite_utils

from audit.messages import t
from audit.model import Actor
from audit.service import require
from audit.store import history, org
from audit.store.db import database_file, write_transaction
from audit.store.history import Recorder
from audit.time_model import Calendar, at_day
from exports import letter_service
from exports import remind_format as fmt
from exports import remind_io as io
from exports import remind_model as m
from exports import remind_plan_model as pm
from exports import remind_store as store
from audit.rules_views import consecutive_reds_now
from owners.escalation_model import (
    UnitNode,
    review_thresholds_from_settings,
    thresholds_from_settings,
)
from owners.model import descendants

# --- a run: what it reads --------------------------------------------------------------------


def _day(text: str | None) -> date | None:
    return date.fromisoformat(text[:10]) if text else None


def _issue(r: Mapping) -> m.Issue:
    action = r.get("last_action") or ""
    return m.Issue(r["id"], r["code"], r["title"], r["unit_id"], r["status"],
                   r["responsible_person_id"], _day(r["deadline"]), _day(r["original_deadline"]),
                   r["status_reason"] or "",
                   action.split(".", 1)[1] if action.startswith("workflow.") else None,
                   r["submitted_by"])


class _Context:
    """Everything one run plans from, read once."""

    def __init__(self, db: sqlite_utils.Database, as_of: date, cal: Calendar):
        self.as_of, self.cal = as_of, cal
        self.settings = store.settings(db)
        self.base_url = self.settings.get("remind.base_url", "")
        self.due_days = int(self.settings.get("remind.due_days") or 5)
        self.reply_days = int(self.settings.get("remind.reply_days") or 5)
        self.office = self.settings.get("remind.issuing_office") or letter_service.DEFAULT_OFFICE
        self.max_attempts = int(self.settings.get("remind.max_attempts") or 6)
        units = store.units(db)
        self.unit_names = {u["id"]: u["name"] for u in units}
        self.unit_nodes = [UnitNode(u["id"], u["parent_id"], u["head_person_id"]) for u in units]
        children: dict[int, list[int]] = {}
        for u in units:
            if u["parent_id"] is not None:
                children.setdefault(u["parent_id"], []).append(u["id"])
        self.people = {p["id"]: m.Person(p["id"], p["name"], p["unit_id"], p["email"],
                                         p["mobile"], p["digest"], p["lang"], bool(p["active"]))
                       for p in store.people(db)}
        self.open_issues = [_issue(r) for r in store.open_issues(db)]
        self.measures = [m.Measure(r["id"], r["issue_id"], r["title"], r["owner_person_id"],
                                   _day(r["deadline"])) for r in store.open_measures(db)]
        self.leads = [m.Lead(r["user_id"], r["person_id"],
                             None if r["unit_id"] is None
                             else frozenset(descendants(children, r["unit_id"])))
                      for r in store.leads(db)]
        by_id = {i.id: i for i in self.open_issues}
        self.recorded = [m.Step(r["issue_id"], r["step"], r["target_person_id"],
                                r["target_unit_id"], r["id"],
                                m.overdue_days(cal, by_id[r["issue_id"]].deadline, as_of))
                         for r in store.recorded_steps(db, as_of.isoformat())
                         if r["issue_id"] in by_id]
        self.thresholds = thresholds_from_settings(self.settings)
        # Red at review meetings in a row climbs the ladder too (settings escalation.*_reds).
        self.review = review_thresholds_from_settings(self.settings)
        self.consecutive_reds = consecutive_reds_now(db, as_of)
        smtp = store.smtp_channel(db)
        self.smtp = smtp if smtp and smtp["active"] else None
        robots = {c["id"]: pm.Robot(c["id"], c["kind"], c["config"].get("lang", "zh"))
                  for c in store.channels(db) if c["kind"] in m.ROBOT_KINDS and c["active"]}
        self.robot_names = {c["id"]: c["name"] for c in store.channels(db)}
        self.reach = pm.Reach(self.smtp["id"] if self.smtp else None, robots,
                             {u["id"]: u["robot_channel_id"] for u in units})
        # Events and steps: history since the last planning run, up to the end of as_of.
        since = store.last_watermark(db)
        if since is None:
            start = m.previous_working_day(cal, as_of) + timedelta(days=1)
            since = store.first_seq_from(db, at_day(start, 0))
        self.upto = max(store.history_upto(db, as_of), since)
        records = [m.HistoryRecord(**r) for r in store.event_records(db, since, self.upto)]
        measure_ids = {r.entity_id for r in records if r.entity == "measure" and r.entity_id}
        self.measure_issue = store.measures_by_id(db, measure_ids)
        step_rows = store.steps_by_id(db, m.step_ids(records))
        issue_ids = ({r.entity_id for r in records if r.entity == "issue" and r.entity_id}
                     | {v[0] for v in self.measure_issue.values()}
                     | {r["issue_id"] for r in step_rows})
        self.issues = {**{i.id: i for i in (_issue(r) for r in store.issues_by_id(db, issue_ids))},
                       **by_id}
        self.events = m.derive_events(records, self.issues, self.measure_issue,
                                      store.user_people(db))
        self.new_steps = [
            m.Step(r["issue_id"], r["step"], r["target_person_id"], r["target_unit_id"], r["id"],
                   m.overdue_days(cal, self.issues[r["issue_id"]].deadline,
                                  date.fromisoformat(r["as_of"])))
            for r in step_rows if r["issue_id"] in self.issues]

    def digests(self) -> dict[int, m.Digest]:
        """Every active person's digest as of the run's date (whether due today or not)."""
        steps = m.reached_steps(self.open_issues, self.unit_nodes, self.cal, self.as_of,
                                self.thresholds, self.recorded,
                                consecutive_reds=self.consecutive_reds, review=self.review)
        return m.compose_digests(self.people.values(), self.open_issues, self.measures,
                                 self.leads, steps, self.cal, self.as_of, self.due_days)

    def plan(self) -> list[pm.Planned]:
        """Every message this run would put in the outbox (keys not yet checked)."""
        return (pm.plan_digests(self.digests(), self.people, self.reach, self.unit_nodes,
                               self.cal, self.as_of)
                + pm.plan_events(self.events, self.issues, self.people, self.reach,
                                self.unit_nodes)
                + pm.plan_steps(self.new_steps, self.issues, self.people, self.reach,
                               self.unit_nodes))


# --- a run: what it writes ---------------------------------------------------------------------


def _card(db: sqlite_utils.Database, ctx: _Context, p: pm.Planned) -> fmt.Card:
    c, lang = p.content, p.lang
    person = ctx.people.get(p.person_id) if p.person_id is not None else None
    name = person.name if person else ""
    if isinstance(c, m.Digest):
        return fmt.digest_card(c, name, lang, base_url=ctx.base_url, as_of=ctx.as_of,
                               due_days=ctx.due_days)
    if isinstance(c, pm.GroupDigest):
        return fmt.group_card(c, lang, base_url=ctx.base_url)
    if isinstance(c, m.Event):
        return fmt.event_card(c, ctx.issues[c.issue_id], name, lang, base_url=ctx.base_url)
    assert isinstance(c, m.Step)
    issue = ctx.issues[c.issue_id]
    attached = p.channel == m.SMTP  # only an e-mail carries the letter itself
    if c.step == "letter":
        letter = letter_service.letter_facts(db, c.escalation_id, lang, ctx.cal)  # type: ignore[arg-type]
        facts = fmt.StepFacts(name, letter.addressee_unit, letter.office, letter.number,
                              letter.reply_by, attached)
    else:
        facts = fmt.StepFacts(name, ctx.unit_names.get(issue.unit_id, ""), ctx.office, "",
                              None, attached)
    return fmt.step_card(c, issue, facts, lang, base_url=ctx.base_url)


def _render(db: sqlite_utils.Database, ctx: _Context, p: pm.Planned, at: str, anchor: str
            ) -> tuple[str, str, bytes]:
    """(recipient, subject, payload) of a planned message."""
    card = _card(db, ctx, p)
    if p.channel == m.SMTP:
        person = ctx.people[p.person_id]  # type: ignore[index]
        cfg = ctx.smtp["config"]  # type: ignore[index]
        attachments = []
        if isinstance(p.content, m.Step) and p.content.step == "letter":
            filename, data = letter_service.letter_bytes(db, p.content.escalation_id,  # type: ignore[arg-type]
                                                         p.lang, ctx.cal)
            attachments.append((filename, data, fmt.DOCX_MIME))
        payload = fmt.email_bytes(card, key=p.key, sender=cfg["sender"],
                                  sender_name=cfg.get("sender_name") or t("app.title", p.lang),
                                  to=person.email, to_name=person.name, at=at,
                                  attachments=attachments, anchor=anchor)
        return person.email, m.one_line(card.title), payload
    return (ctx.robot_names.get(p.channel_id, ""), m.one_line(card.title),
            fmt.robot_body(p.channel, card, p.mentions))


def _summary(p: pm.Planned, recipient: str, subject: str) -> dict:
    return {"key": p.key, "kind": p.kind, "channel": p.channel, "recipient": recipient,
            "subject": subject}


def _plan(db: sqlite_utils.Database, actor: Actor, ctx: _Context, at: str) -> tuple[int, int]:
    """Put the new messages in the outbox with the run's log row, in one transaction; returns
    (run id, messages added)."""
    planned = ctx.plan()
    known = store.existing_keys(db, [p.key for p in planned])
    fresh = [p for p in planned if p.key not in known]
    anchor = history.anchor_text(db)
    rendered = [(p, *_render(db, ctx, p, at, anchor)) for p in fresh]
    rec = Recorder(db, actor, at, "remind.plan")
    added = 0
    with write_transaction(db):
        run_id = store.insert_run(db, {"started_at": at, "as_of": ctx.as_of.isoformat(),
                                       "working_day": 1, "history_seq": ctx.upto})
        rec.add("remind_run", run_id, history.ROW, None,
                {"started_at": at, "as_of": ctx.as_of.isoformat(), "working_day": 1,
                 "history_seq": ctx.upto})
        for p, recipient, subject, payload in rendered:
            values = {"key": p.key, "kind": p.kind, "channel_id": p.channel_id,
                      "person_id": p.person_id, "unit_id": p.unit_id, "issue_id": p.issue_id,
                      "recipient": recipient, "subject": subject, "payload": payload,
                      "status": m.PENDING, "next_attempt_at": at, "created_at": at,
                      "created_run_id": run_id}
            mid = store.insert_message(db, values)
            if mid is None:
                continue  # planned meanwhile by another run: at most once
            added += 1
            rec.add("remind_message", mid, history.ROW, None,
                    {k: v for k, v in values.items() if k != "payload" and v is not None}
                    | {"channel": p.channel})
        store.update_run(db, run_id, {"planned": added})
        rec.flush()
    return run_id, added


def _recover(db: sqlite_utils.Database, actor: Actor, at: str) -> int:
    """Messages a killed run left claimed become 'unconfirmed' (not sent again)."""
    stuck = store.messages_with_status(db, m.SENDING)
    if not stuck:
        return 0
    rec = Recorder(db, actor, at, "remind.recover")
    with write_transaction(db):
        for msg in store.messages_with_status(db, m.SENDING):
            note = "interrupted after the message's last bytes left; not sent again"
            store.set_message(db, msg["id"], {"status": m.UNCONFIRMED, "last_error": note})
            rec.add("remind_message", msg["id"], "status", m.SENDING, m.UNCONFIRMED)
            rec.add("remind_message", msg["id"], "last_error", msg["last_error"], note)
        rec.flush()
    return len(stuck)


def _claim(db: sqlite_utils.Database, actor: Actor, at: str, msg: dict) -> None:
    """The point of no return: commit the claim, or stop the message (io.Abandon)."""
    rec = Recorder(db, actor, at, "remind.send")
    with write_transaction(db):
        if not store.claim(db, msg["id"]):
            raise io.Abandon()
        rec.add("remind_message", msg["id"], "status", m.PENDING, m.SENDING)
        rec.add("remind_message", msg["id"], "attempts", msg["attempts"], msg["attempts"] + 1)
        rec.flush()


def _later(at: str, minutes: int) -> str:
    return (datetime.fromisoformat(at) + timedelta(minutes=minutes)).isoformat(
        timespec="seconds")


def _outcome(db: sqlite_utils.Database, actor: Actor, at: str, msg: dict, verdict: str,
             error: str, run_id: int, max_attempts: int) -> str:
    """Record what became of an attempt; returns the message's new status."""
    if verdict == m.V_ABANDONED:
        return ""
    rec = Recorder(db, actor, at, "remind.send")
    with write_transaction(db):
        now = store.message(db, msg["id"])
        old_status, attempts = now["status"], now["attempts"]  # type: ignore[index]
        values: dict = {}
        if old_status == m.PENDING:  # it never reached the claim: count the attempt here
            attempts += 1
            values["attempts"] = attempts
        if verdict == m.V_SENT:
            values.update(status=m.SENT, sent_at=at, sent_run_id=run_id, last_error="")
        elif verdict == m.V_UNCONFIRMED:
            values.update(status=m.UNCONFIRMED, last_error=error)
        elif verdict == m.V_GIVE_UP or m.gives_up(attempts, max_attempts):
            values.update(status=m.FAILED, last_error=error)
        else:
            values.update(status=m.PENDING, last_error=error,
                          next_attempt_at=_later(at, m.backoff_minutes(attempts)))
        store.set_message(db, msg["id"], values)
        for k, v in values.items():
            if k in ("status", "attempts", "last_error", "next_attempt_at"):
                old = {"status": old_status, "attempts": now["attempts"],  # type: ignore[index]
                       "last_error": now["last_error"],  # type: ignore[index]
                       "next_attempt_at": now["next_attempt_at"]}[k]  # type: ignore[index]
                if old != v:
                    rec.add("remind_message", msg["id"], k, old, v)
        rec.flush()
    return values["status"]


def _smtp_config(cfg: Mapping, secrets: Mapping[str, str]) -> io.SmtpConfig:
    return io.SmtpConfig(cfg["host"], int(cfg["port"]), cfg.get("security", "starttls"),
                         cfg.get("username", ""), secrets.get("password", ""),
                         cfg.get("ca_file", ""))


def _send_due(db: sqlite_utils.Database, actor: Actor, at: str, run_id: int,
              now_ms: Callable[[], int], max_attempts: int,
              on_message: Callable[[dict, str], None] | None) -> dict[str, int]:
    """Send every due pending message, oldest first; returns counts per new status."""
    counts = {m.SENT: 0, m.PENDING: 0, m.FAILED: 0, m.UNCONFIRMED: 0}
    down: set[int] = set()
    mail: io.MailSession | None = None
    channels = {c["id"]: c for c in store.channels(db)}
    try:
        for msg in store.due_messages(db, at):
            ch = channels.get(msg["channel_id"])
            if ch is None or not ch["active"] or msg["channel_id"] in down:
                continue
            secrets = store.channel_secrets(db, ch["id"])
            body = store.payload(db, msg["id"])

            def before_final(msg: dict = msg) -> None:
                _claim(db, actor, at, msg)

            robot_error = None
            if ch["kind"] == m.SMTP:
                if mail is None:
                    mail = io.MailSession(_smtp_config(ch["config"], secrets))
                d = mail.send(ch["config"]["sender"], msg["recipient"], body, before_final)
            else:
                url, signed = fmt.signed_request(ch["kind"], secrets.get("webhook", ""),
                                                 secrets.get("sign_secret", ""), body, now_ms())
                # The key travels as a header too (the vendors ignore it): a receiver's log
                # can then tell one message from another.
                d = io.post_json(url, signed, before_final,
                                 headers={"X-Audit-Reminder-Key": msg["key"]})
                if d.code is not None and 200 <= d.code < 300:
                    robot_error = fmt.robot_reply_error(ch["kind"], d.reply)
            verdict = m.verdict(ch["kind"], d.final_sent, d.code, robot_error, d.abandoned)
            error = m.redact(robot_error or d.error, secrets.values())
            status = _outcome(db, actor, at, msg, verdict, error, run_id, max_attempts)
            if status:
                counts[status] = counts.get(status, 0) + 1
            if verdict == m.V_UNREACHABLE:
                down.add(ch["id"])
            if on_message is not None and status:
                on_message(msg, status)
    finally:
        if mail is not None:
            mail.close()
    return counts


def preview_digests(db: sqlite_utils.Database, actor: Actor, as_of: date) -> dict[int, dict]:
    """Each person's digest as of `as_of`, whatever their preference: person id → {name,
    counts, sections: {section: [{issue_id, code, title, measure, deadline, days, reason,
    step}]}}. Raises NotPermitted."""
    require(actor, "remind.configure")
    ctx = _Context(db, as_of, org.load_calendar(db))
    out = {}
    for pid, d in sorted(ctx.digests().items()):
        out[pid] = {"name": ctx.people[pid].name, "counts": d.counts(), "sections": {
            s: [{"issue_id": it.issue_id, "code": it.code, "title": it.title,
                 "measure": it.measure, "deadline": it.deadline.isoformat() if it.deadline
                 else None, "days": it.days, "reason": it.reason, "step": it.step}
                for it in items] for s, items in d.sections.items()}}
    return out


def lock_path(db: sqlite_utils.Database) -> str:
    """Where a run's lock file lives (beside the database file; '' for a database in memory)."""
    path = database_file(db)
    return path + ".remind.lock" if path else ""


def _dry_run(db: sqlite_utils.Database, as_of: date, cal: Calendar, at: str) -> list[dict]:
    """What a run would send now: the new messages it would plan, then the pending ones due."""
    ctx = _Context(db, as_of, cal)
    planned = ctx.plan()
    known = store.existing_keys(db, [p.key for p in planned])
    out = []
    for p in planned:
        if p.key in known:
            continue
        recipient = (ctx.people[p.person_id].email if p.channel == m.SMTP  # type: ignore[index]
                     else ctx.robot_names.get(p.channel_id, ""))
        out.append(_summary(p, recipient, m.one_line(_card(db, ctx, p).title)))
    kinds = {c["id"]: c["kind"] for c in store.channels(db)}
    out += [{"key": r["key"], "kind": r["kind"], "channel": kinds.get(r["channel_id"], ""),
             "recipient": r["recipient"], "subject": r["subject"]}
            for r in store.due_messages(db, at)]
    return out


def _run(db: sqlite_utils.Database, actor: Actor, as_of: date, cal: Calendar, at: str,
         now_ms: Callable[[], int], on_message: Callable[[dict, str], None] | None,
         result: dict) -> dict:
    if not result["working_day"]:
        rec = Recorder(db, actor, at, "remind.plan")
        with write_transaction(db):
            values = {"started_at": at, "finished_at": at, "as_of": as_of.isoformat(),
                      "working_day": 0, "note": "non-working day"}
            result["run_id"] = store.insert_run(db, values)
            rec.add("remind_run", result["run_id"], history.ROW, None, values)
            rec.flush()
        return result
    result["recovered"] = _recover(db, actor, at)
    ctx = _Context(db, as_of, cal)
    run_id, added = _plan(db, actor, ctx, at)
    counts = _send_due(db, actor, at, run_id, now_ms, ctx.max_attempts, on_message)
    result.update(run_id=run_id, planned=added, sent=counts[m.SENT], retry=counts[m.PENDING],
                  failed=counts[m.FAILED],
                  unconfirmed=counts[m.UNCONFIRMED] + result["recovered"])
    rec = Recorder(db, actor, at, "remind.finish")
    with write_transaction(db):
        values = {"finished_at": at, "sent": result["sent"],
                  "failed": result["failed"] + result["retry"],
                  "unconfirmed": result["unconfirmed"]}
        store.update_run(db, run_id, values)
        for k, v in values.items():
            rec.add("remind_run", run_id, k, None, v)
        rec.flush()
    return result


def run_reminders(db: sqlite_utils.Database, actor: Actor, as_of: date, *, at: str,
                  now_ms: Callable[[], int], dry_run: bool = False,
                  on_message: Callable[[dict, str], None] | None = None) -> dict:
    """Run the reminders as of `as_of` (`at`: now, for history and retries; `now_ms`: the
    clock the robot signatures need). Returns {as_of, working_day, dry_run, run_id, planned,
    sent, retry, failed, unconfirmed, recovered, messages (a dry run's: what would go out)}.
    A dry run reads only. Raises NotPermitted, RemindBusy (another run holds the lock)."""
    require(actor, "remind.run")
    cal = org.load_calendar(db)
    result = {"as_of": as_of.isoformat(), "working_day": cal.is_working_day(as_of),
              "dry_run": dry_run, "run_id": None, "planned": 0, "sent": 0, "retry": 0,
              "failed": 0, "unconfirmed": 0, "recovered": 0, "messages": []}
    if dry_run:
        if result["working_day"]:
            result["messages"] = _dry_run(db, as_of, cal, at)
            result["planned"] = len(result["messages"])
        return result
    path = lock_path(db)
    try:
        with io.run_lock(path) if path else nullcontext():
            return _run(db, actor, as_of, cal, at, now_ms, on_message, result)
    except io.RunBusy as ex:
        raise m.RemindBusy(str(ex), path=str(ex.path)) from None
