"""What the Word review pack reads: the figures and chart rows the dashboard shows
(audit.dashboard_views.dashboard_data), the issues as the Excel ledger reads them
(exports.ledger_export.gather_issues), root causes and escalations (issues.graph_views), and
the changes over a period from history and the extensions table, gathered into
exports.pack_model.PackData before a line of the pack is written."""
from __future__ import annotations

import datetime as dt
from collections import Counter, defaultdict
from typing import Sequence

import sqlite_utils

from audit import messages
from audit.dashboard_views import dashboard_data, unit_groups
from audit.model import Actor
from audit.store import history, org
from audit.time_model import end_of, working_days_between
from audit.views import Scope
from exports.ledger_export import IssueSummary, gather_issues
from exports.pack_model import PackData, Progress, _t
from issues import graph_views


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
                        .join(f"{c} {names.get(c, '')}".strip() for c in category_codes)))
    if stream:
        row = db.conn.execute("SELECT name, name_en FROM streams WHERE code = ?",
                              (stream,)).fetchone()
        name = messages.name_of({"name": row[0], "name_en": row[1]}, lang) if row else stream
        parts.append(_t(lang, "report.scope_stream", stream=name))
    return _t(lang, "report.scope_sep").join(parts)


def _status_counts(items: list[IssueSummary]) -> dict:
    c = Counter(r.status for r in items)
    n = len(items)
    return {"issues": n, "closed": c["closed"], "ended": c["ended"],
            "in_progress": c["in_progress"], "submitted": c["submitted"],
            "not_started": c["not_started"],
            "overdue": sum(1 for r in items if r.warning == "red"),
            "due_soon": sum(1 for r in items if r.warning == "amber"),
            "closure_rate": c["closed"] / n if n else None}


def _changes(db: sqlite_utils.Database, by_id: dict[int, IssueSummary], since: dt.date,
             as_of: dt.date) -> dict[str, list[dict]]:
    """Issues struck off, newly overdue, returned and extended in (since, as_of]."""
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
            struck[entity_id] = {"issue_id": entity_id, "at": at, "actor": actor}
        elif old == "submitted" and new == "in_progress":
            returned[entity_id] = {"issue_id": entity_id, "at": at, "actor": actor, "op": op}
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
                             "approved_by": x[6]})
    newly = [{"issue_id": r.id} for r in by_id.values()
             if r.warning == "red" and r.deadline and r.deadline >= since.isoformat()]
    newly.sort(key=lambda d: (by_id[d["issue_id"]].deadline, by_id[d["issue_id"]].code))
    return {"struck_off": sorted(struck.values(), key=lambda d: d["at"]),
            "newly_overdue": newly,
            "returned": sorted(returned.values(), key=lambda d: d["at"]),
            "extended": extended}


def gather(db: sqlite_utils.Database, scope: Scope, *, as_of: dt.date, since: dt.date,
           lang: str, label: str, user: str, on_progress: Progress | None = None,
           rows_for_charts: dict | None = None) -> PackData:
    """Everything the pack prints, for `scope` as of `as_of`, changes counted from `since`.
    `rows_for_charts`: chart_rows(db, scope, as_of, lang), when the caller has them already."""
    anchor = history.anchor(db)
    found = gather_issues(db, scope, as_of, on_progress)
    records = [found.summary(s) for s in found.states]
    by_id = {r.id: r for r in records}
    cal = org.load_calendar(db)
    window = int(org.setting(db, "warning.amber_working_days", "10"))
    rollup = unit_groups(db, scope)  # the dashboard's units: one level below the scope's top
    by_cat: dict[str, list[IssueSummary]] = defaultdict(list)
    by_unit: dict[tuple[int, str], list[IssueSummary]] = defaultdict(list)
    for r in records:
        by_cat[r.category_code].append(r)
        by_unit[rollup[r.unit_id]].append(r)
    cat_rows = [{"name": f"{items[0].category_code} {items[0].category_name}",
                 **_status_counts(items)} for items in by_cat.values()]
    unit_rows = [{"name": key[1], **_status_counts(items)}
                 for key, items in sorted(by_unit.items(), key=lambda kv: kv[0][0])]
    overdue = [{"issue_id": r.id, "days": (as_of - dt.date.fromisoformat(r.deadline)).days}
               for r in records if r.warning == "red"]
    overdue.sort(key=lambda d: (-d["days"], by_id[d["issue_id"]].code))
    due_soon = [{"issue_id": r.id,
                 "working_days": working_days_between(cal, as_of,
                                                      dt.date.fromisoformat(r.deadline))}
                for r in records if r.warning == "amber"]
    due_soon.sort(key=lambda d: (d["working_days"], by_id[d["issue_id"]].code))
    changes = _changes(db, by_id, since, as_of)
    # The graphs read the same issue rows (a state query of their own each, otherwise).
    causes = graph_views.cause_ranking(db, scope, as_of, inputs=graph_views.load_cause_inputs(
        db, scope, as_of, rows=found.states))
    escalations = graph_views.escalations_due(db, scope, as_of, rows=found.states)
    root = org.root_unit(db)
    if rows_for_charts is None:
        rows_for_charts = chart_rows(db, scope, as_of, lang)
    # The dashboard's figures are audit.figures' over the same state table: no second pass.
    figs = rows_for_charts["figures"]
    data = PackData(
        lang=lang, as_of=as_of, since=since, scope_label=label,
        organisation=root["name"] if root else "", user=user, figures=figs, window=window,
        records=records, found=found, by_category=cat_rows, by_unit=unit_rows, overdue=overdue,
        due_soon=due_soon, changes=changes, causes=causes, escalations=escalations,
        chart_rows={k: v for k, v in rows_for_charts.items() if k != "figures"}, anchor=anchor)
    return data


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


