"""What the Word review pack reads: the figures and chart rows the dashboard shows
(audit.dashboard_views.dashboard_data), the issues as the Excel ledger reads them
(issues.ledger_views.gather_issues), per-issue facts the lists print (severity, type,
amounts, the 屡审屡犯 and 共性问题 flags), units with their branches (every unit of the scope,
with zeros), what rectification achieved (amounts, rules, accountability), root causes and
escalations (issues.graph_views), and the changes over a period from history and the
extensions table, gathered into exports.pack_model.PackData before a line is written."""
from __future__ import annotations

import datetime as dt
import json
from collections import Counter, defaultdict
from typing import Sequence

import sqlite_utils

from audit import messages, rules_views
from audit.dashboard_views import dashboard_data, unit_groups
from audit.model import Actor, NotFound, Status
from audit.store import history, org
from audit.time_model import Calendar, end_of
from audit.views import Scope, amber_cutoff
from issues.ledger_views import Gathered, IssueSummary, gather_issues
from exports.pack_model import (
    PackData,
    PackOptions,
    Progress,
    _t,
    decide_attachments,
)
from issues import graph_views
from issues.graph_model import is_common, is_recurring
from issues.model import warning_colour

def scope_label(db: sqlite_utils.Database, actor: Actor | None, lang: str, *,
                unit_code: str | None, category_codes: Sequence[str], stream: str | None) -> str:
    """The scope in words: unit (or the actor's units), categories, work stream."""
    parts = []
    if unit_code:
        unit = org.unit_by_code(db, unit_code)
        parts.append(_t(lang, "report.scope_unit", unit=unit["name"] if unit else unit_code))
    elif actor is not None and actor.scope_unit_ids is not None:
        unit = db.conn.execute("SELECT name FROM units WHERE id = ?",
                               (actor.unit_id,)).fetchone()
        parts.append(_t(lang, "report.scope_unit", unit=unit[0]) if unit
                     else _t(lang, "report.scope_units"))
    else:
        parts.append(_t(lang, "report.scope_all"))
    if category_codes:
        names = dict(db.conn.execute("SELECT code, name FROM categories"))
        parts.append(_t(lang, "report.scope_categories", categories=_t(lang, "report.list_sep")
                        .join(names.get(c, c) for c in category_codes)))
    if stream:
        row = db.conn.execute("SELECT name, name_en FROM streams WHERE code = ?",
                              (stream,)).fetchone()
        name = messages.name_of({"name": row[0], "name_en": row[1]}, lang) if row else stream
        parts.append(_t(lang, "report.scope_stream", stream=name))
    return _t(lang, "report.scope_sep").join(parts)


def _past_deadline(r: IssueSummary, as_of: dt.date) -> bool:
    """Is the item past its own deadline? (It may be red or amber for a late milestone only:
    audit.rules_model; the overdue and due-soon lists count days from the deadline.)"""
    return bool(r.deadline) and r.deadline[:10] < as_of.isoformat()


def _status_counts(items: list[IssueSummary]) -> dict:
    c = Counter(r.status for r in items)
    n = len(items)
    return {"issues": n, "closed": c["closed"], "ended": c["ended"],
            "in_progress": c["in_progress"], "submitted": c["submitted"],
            "not_started": c["not_started"],
            "open": c["in_progress"] + c["submitted"] + c["not_started"],
            "overdue": sum(1 for r in items if r.warning == "red"),
            "due_soon": sum(1 for r in items if r.warning == "amber"),
            "closure_rate": c["closed"] / n if n else None}


class WorkingDays:
    """Working days between dates on one calendar, by a table of running counts built once
    (the 40,000-issue programme's 20,000 overdue issues would otherwise walk day by day)."""

    def __init__(self, cal: Calendar, first: dt.date, last: dt.date) -> None:
        self.first = first
        self.counts = [0]
        d = first
        while d < last:
            d += dt.timedelta(days=1)
            self.counts.append(self.counts[-1] + (1 if cal.is_working_day(d) else 0))

    def between(self, start: dt.date, end: dt.date) -> int:
        """Working days in (start, end], as audit.time_model.working_days_between counts."""
        if end < start:
            return -self.between(end, start)
        i, j = (start - self.first).days, (end - self.first).days
        return self.counts[j] - self.counts[i]


def _people_names(db: sqlite_utils.Database) -> dict[str, str]:
    """Login name → the person's name (or the account's display name): people, not logins."""
    out = {}
    for username, person, display in db.conn.execute(
            "SELECT u.username, p.name, u.display_name FROM users u "
            "LEFT JOIN people p ON p.id = u.person_id"):
        out[username] = person or display or ""
    return out


def _changes(db: sqlite_utils.Database, by_id: dict[int, IssueSummary], since: dt.date,
             as_of: dt.date, names: dict[str, str]) -> dict[str, list[dict]]:
    """Issues struck off, newly overdue, returned and extended in (since, as_of]; who acted
    as a person's name."""
    start, end = end_of(since), end_of(as_of)
    struck: dict[int, dict] = {}
    returned: dict[int, dict] = {}
    reasons: dict[tuple[str, int], str] = {}
    # One range scan on history's time index (the unary + keeps SQLite from choosing the
    # entity index, which reads every issue record ever written: 30 s on 2.4 M records); the
    # reason of a return is a record of the same op.
    for entity_id, at, actor, op, fld, old, new in db.conn.execute(
            "SELECT entity_id, at, actor, op, field, old, new FROM history "
            "WHERE at >= ? AND at < ? AND +entity = 'issue' "
            "AND +field IN ('status', 'status_reason') ORDER BY seq", (start, end)):
        if entity_id not in by_id:
            continue
        if fld == "status_reason":
            reasons[(op, entity_id)] = new or ""
        elif new == "closed":
            struck[entity_id] = {"issue_id": entity_id, "at": at,
                                 "actor": names.get(actor, "")}
        elif old == "submitted" and new == "in_progress":
            returned[entity_id] = {"issue_id": entity_id, "at": at,
                                   "actor": names.get(actor, ""), "op": op}
    for r in returned.values():
        r["reason"] = reasons.get((r.pop("op"), r["issue_id"]), "")
    extended = []
    for x in db.conn.execute(
            "SELECT x.issue_id, x.original_deadline, x.old_deadline, x.new_deadline, x.reason, "
            "x.at, u.username FROM extensions x JOIN users u ON u.id = x.approved_by "
            "WHERE x.at >= ? AND x.at < ? ORDER BY x.at", (start, end)):
        if x[0] in by_id:
            extended.append({"issue_id": x[0], "original_deadline": x[1], "old_deadline": x[2],
                             "new_deadline": x[3], "reason": x[4], "at": x[5],
                             "approved_by": names.get(x[6], "")})
    newly = [{"issue_id": r.id} for r in by_id.values()
             if r.warning == "red" and r.deadline and since.isoformat() <= r.deadline
             < as_of.isoformat()]
    newly.sort(key=lambda d: (by_id[d["issue_id"]].deadline, by_id[d["issue_id"]].code))
    return {"struck_off": sorted(struck.values(), key=lambda d: d["at"]),
            "newly_overdue": newly,
            "returned": sorted(returned.values(), key=lambda d: d["at"]),
            "extended": extended}


def issue_facts(db: sqlite_utils.Database, found: Gathered, open_ids: set[int]
                ) -> dict[int, dict]:
    """Per issue: severity, rectification type, amount involved and the unit (as recorded on the
    pack's date, from the gathered states), amounts corrected and recovered and the progress
    note (as they are), the years of the audits that found it (its sources as recorded then)
    and the units of it and of the findings merged into it (并轨), and from those its 屡审屡犯
    and 共性问题 flags."""
    ids = [st["id"] for st in found.states]
    params = {"ids": json.dumps(ids)}
    live = {r[0]: r[1:] for r in db.conn.execute(
        "SELECT id, amount_corrected, amount_recovered, progress FROM issues "
        "WHERE id IN (SELECT value FROM json_each(:ids))", params)}
    years = {r["id"]: r["year"] for r in found.audits.values()}
    facts: dict[int, dict] = {}
    for st in found.states:
        iid = st["id"]
        corrected, recovered, progress = live[iid]
        sources = found.links["issue_sources"].get(iid)
        facts[iid] = {"severity": st["severity"], "type": st["rectification_type"],
                      "amount": float(st["amount"] or 0.0), "corrected": corrected or 0.0,
                      "recovered": recovered or 0.0, "progress": progress or "",
                      "years": {years[int(x)] for x in sources.split(",")} if sources else set(),
                      "units": {int(st["unit_id"])}, "open": iid in open_ids}
    for survivor, unit in db.conn.execute(
            "SELECT merged_into_id, unit_id FROM issues WHERE merged_into_id IN "
            "(SELECT value FROM json_each(:ids))", params):
        facts[survivor]["units"].add(unit)
    for fa in facts.values():
        fa["recurring"] = is_recurring(fa["years"])
        fa["common"] = is_common(fa["units"])
    return facts


def unit_rows(db: sqlite_utils.Database, scope: Scope, records: list[IssueSummary],
              lang: str) -> tuple[list[dict], str]:
    """One row per unit one level below the top of the scope, each counted with its branches,
    every unit listed (zeros where it has no issue), the top unit's own issues as a row of
    their own (本级); and the note saying so."""
    groups = unit_groups(db, scope)
    names = dict(db.conn.execute("SELECT id, name FROM units"))
    order = {r[0]: i for i, r in enumerate(db.conn.execute(
        "SELECT id FROM units ORDER BY level <> 'region', level <> 'city', code"))}
    by_group: dict[int, list[IssueSummary]] = defaultdict(list)
    for r in records:
        by_group[groups.get(r.unit_id, (r.unit_id, ""))[0]].append(r)
    parent = dict(db.conn.execute("SELECT id, parent_id FROM units"))
    roots = [u for u in groups if parent.get(u) not in groups]
    members = {g for g, _ in groups.values()}
    rows = []
    for g in sorted(members, key=lambda u: order.get(u, 0)):
        name = names.get(g, "")
        if len(roots) == 1 and g == roots[0] and len(members) > 1:
            # the top unit's own issues: its branches have rows of their own
            name = _t(lang, "pack.v.own_level", unit=name)
        rows.append({"unit_id": g, "name": name, **_status_counts(by_group.get(g, []))})
    note = _t(lang, "pack.n.units")
    return rows, note


def outcomes(db: sqlite_utils.Database, scope: Scope, ids: list[int],
             facts: dict[int, dict]) -> dict:
    """What rectification achieved in scope: amounts corrected and recovered (and on how many
    issues), rules made and revised by the scope's units, people held accountable (records that
    name one), the economic penalties, and the issues where accountability was found not to
    apply."""
    params = {"ids": json.dumps(ids)}
    people = accountable = not_applicable = 0
    penalty = 0.0
    for na, n, issues_n, pen in db.conn.execute(
            "SELECT not_applicable, COUNT(*), COUNT(DISTINCT issue_id), SUM(penalty_amount) "
            "FROM accountability WHERE issue_id IN (SELECT value FROM json_each(:ids)) "
            "GROUP BY not_applicable", params):
        if na:
            not_applicable = issues_n
        else:
            people, accountable, penalty = n, issues_n, float(pen or 0)
    units = scope.unit_ids
    rules = [{"title": title, "kind": kind, "issued_on": day, "unit": name}
             for title, kind, day, name, unit_id in db.conn.execute(
                 "SELECT r.title, r.kind, r.issued_on, u.name, r.unit_id FROM rules r "
                 "JOIN units u ON u.id = r.unit_id ORDER BY r.issued_on DESC, r.id")
             if units is None or unit_id in units]
    return {"corrected": sum(f["corrected"] for f in facts.values()),
            "recovered": sum(f["recovered"] for f in facts.values()),
            "amount_issues": sum(1 for f in facts.values() if f["corrected"] or f["recovered"]),
            "rules": rules, "rules_made": sum(1 for r in rules if r["kind"] == "made"),
            "rules_revised": sum(1 for r in rules if r["kind"] == "revised"),
            "people": people, "accountable_issues": accountable, "penalty": penalty,
            "not_applicable": not_applicable}


_TYPES = ("immediate", "staged", "continuous")
_SEVERITIES = ("high", "medium", "low")


def _by_type(records: list[IssueSummary], facts: dict[int, dict]) -> list[dict]:
    """Status counts per rectification type and per severity (kind, key, counts…)."""
    out = []
    for kind, field, keys in (("type", "type", _TYPES), ("severity", "severity", _SEVERITIES)):
        for key in keys:
            items = [r for r in records if facts[r.id][field] == key]
            out.append({"kind": kind, "key": key, **_status_counts(items)})
    return out


def _streams(found: Gathered) -> dict:
    """Issues per work stream (as recorded on the pack's date), and how many are in both
    (counted once in the programme)."""
    links = found.links["issue_streams"]
    per = [{found.streams[int(x)] for x in text.split(",")}
           for text in (links.get(st["id"]) for st in found.states) if text]
    return {"cleanup": sum(1 for v in per if "cleanup" in v),
            "audit": sum(1 for v in per if "audit" in v),
            "both": sum(1 for v in per if len(v) > 1), "total": len(per)}


def report_settings(db: sqlite_utils.Database) -> dict[str, str]:
    """The pack's settings (audit.report_settings_service), '' where unset."""
    return {k: v for k, v in db.conn.execute(
        "SELECT key, value FROM settings WHERE key LIKE 'report.%'")}


def gather(db: sqlite_utils.Database, scope: Scope, *, as_of: dt.date, since: dt.date,
           lang: str, label: str, user: str = "", on_progress: Progress | None = None,
           rows_for_charts: dict | None = None, options: PackOptions | None = None
           ) -> PackData:
    """Everything the pack prints, for `scope` as of `as_of`, changes counted from `since`.
    `rows_for_charts`: chart_rows(db, scope, as_of, lang), when the caller has them already.
    `user` is not printed (people's names are, never login names). Raises NotFound naming a
    unit code that `options.attachment_unit` does not know."""
    options = options or PackOptions()
    anchor = history.anchor(db)
    found = gather_issues(db, scope, as_of, on_progress)
    # The pack counts and lists overdue and due-soon items by their deadlines (as its figures
    # do); a milestone's colour shows in the ledger, the dashboard's lists and the meetings.
    today, cutoff = as_of.isoformat(), amber_cutoff(db, as_of).isoformat()
    records = [found.summary({**s, "warning": warning_colour(
        Status(s["status"]), s["deadline"], today, cutoff).value}) for s in found.states]
    by_id = {r.id: r for r in records}
    ids = list(by_id)
    open_ids = {r.id for r in records if r.status in ("not_started", "in_progress", "submitted")}
    facts = issue_facts(db, found, open_ids)
    cal = org.load_calendar(db)
    window = int(org.setting(db, "warning.amber_working_days", "10"))
    earliest = min((dt.date.fromisoformat(r.deadline[:10]) for r in records if r.deadline),
                   default=as_of)
    latest = max((dt.date.fromisoformat(r.deadline[:10]) for r in records if r.deadline),
                 default=as_of)
    days = WorkingDays(cal, min(earliest, as_of), max(latest, as_of))
    by_cat: dict[str, list[IssueSummary]] = defaultdict(list)
    for r in records:
        by_cat[r.category_code].append(r)
    cat_rows = [{"name": items[0].category_name, "code": code, **_status_counts(items)}
                for code, items in by_cat.items()]
    units, unit_note = unit_rows(db, scope, records, lang)
    overdue = [{"issue_id": r.id,
                "working_days": days.between(dt.date.fromisoformat(r.deadline[:10]), as_of)}
               for r in records if r.warning == "red" and _past_deadline(r, as_of)]
    overdue.sort(key=lambda d: (-d["working_days"], by_id[d["issue_id"]].code))
    due_soon = [{"issue_id": r.id,
                 "working_days": days.between(as_of, dt.date.fromisoformat(r.deadline[:10]))}
                for r in records if r.warning == "amber" and r.deadline
                and not _past_deadline(r, as_of)]
    due_soon.sort(key=lambda d: (d["working_days"], by_id[d["issue_id"]].code))
    names = _people_names(db)
    changes = _changes(db, by_id, since, as_of, names)
    # The graphs read the same issue rows (a state query of their own each, otherwise).
    causes = graph_views.cause_ranking(db, scope, as_of, inputs=graph_views.load_cause_inputs(
        db, scope, as_of, rows=found.states))
    escalations = graph_views.escalations_due(db, scope, as_of, rows=found.states)
    root = org.root_unit(db)
    if rows_for_charts is None:
        rows_for_charts = chart_rows(db, scope, as_of, lang)
    settings = report_settings(db)
    attachments = decide_attachments(options, len(records))
    if attachments == "none":
        attachment_ids: list[int] = []
    elif attachments == "open":
        attachment_ids = [r.id for r in records if r.id in open_ids]
    elif attachments == "overdue":
        attachment_ids = [r.id for r in records if r.warning == "red"]
    elif attachments == "unit":
        unit = org.unit_by_code(db, options.attachment_unit or "")
        if unit is None:
            raise NotFound(f"unit {options.attachment_unit} not found", entity="unit",
                           id=options.attachment_unit)
        inside = _descendants(db, unit["id"])
        attachment_ids = [r.id for r in records if r.unit_id in inside]
    else:
        attachment_ids = ids
    projection = dict(rows_for_charts.get("projection") or {})
    projection["deadline"] = rows_for_charts.get("burnup_deadline")
    return PackData(
        lang=lang, as_of=as_of, since=since, scope_label=label, settings=settings,
        organisation=root["name"] if root else "", figures=rows_for_charts["figures"],
        window=window, records=records, found=found, facts=facts, by_category=cat_rows,
        by_unit=units, unit_note=unit_note, by_type=_by_type(records, facts),
        streams=_streams(found), overdue=overdue, due_soon=due_soon, changes=changes,
        causes=causes, escalations=escalations, outcomes=outcomes(db, scope, ids, facts),
        projection=projection,
        chart_rows={k: v for k, v in rows_for_charts.items() if k != "figures"},
        anchor=anchor, attachments=attachments, attachment_ids=attachment_ids,
        people_names=names, type_share=rules_views.type_share(db, scope, as_of))


def _descendants(db: sqlite_utils.Database, unit_id: int) -> set[int]:
    """A unit and every unit below it."""
    children: dict[int, list[int]] = defaultdict(list)
    for uid, parent in db.conn.execute("SELECT id, parent_id FROM units"):
        children[parent].append(uid)
    out, stack = set(), [unit_id]
    while stack:
        u = stack.pop()
        out.add(u)
        stack.extend(children.get(u, ()))
    return out


def chart_rows(db: sqlite_utils.Database, scope: Scope, as_of: dt.date, lang: str) -> dict:
    """The rows of every dashboard chart and the figures, from audit.dashboard.dashboard_data:
    the pack draws exactly what the dashboard shows, from the same state table."""
    d = dashboard_data(db, scope, as_of, lang=lang)
    out = {k: d[k] for k in ("figures", "status_by_category", "status_by_stream", "heatmap",
                             "warning_by_unit", "ageing", "on_time_by_month",
                             "workload_by_owner", "focus_progress", "cause_ranking")}
    out["burnup"] = d["burnup"]["weeks"]
    out["burnup_deadline"] = d["burnup"]["deadline"]
    out["projection"] = d["burnup"]["projection"]
    return out
