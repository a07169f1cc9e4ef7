"""The Word review pack (审阅材料): figures in prose, charts, status tables, overdue and due-soon
lists, changes over a period, root causes, escalations, and an appendix with each issue's
问题清单 / 任务清单 / 责任清单, for a scope as of a date, in Chinese or English.

Built in four named steps — gather (figures and rows), charts (PNG images), sections (the
document), save (atomic) — each reported through `on_progress(step, done, total)`. The charts
render in a child process from the moment their rows are gathered, while the rest is gathered
and the sections are written (placeholders are filled at the end), so the charts step
finishes after the sections. A failure raises ExportFailed naming the step and leaves no file
behind. Every label comes from the message catalogue (exports/messages.py); user
data (titles, names) is printed as entered and cleaned of XML-forbidden characters by
exports.docx_base at the boundary.

Sources: figures and chart rows from audit.dashboard.dashboard_data (what the dashboard shows,
drawn with the same audit.charts builders); root causes and escalations from
issues.graph_service; per-issue rows from issues.ledger_views.gather_issues (shared with the
Excel ledger); changes over the period from history and the extensions table.
"""
from __future__ import annotations

import datetime as dt
import os
from collections import Counter, defaultdict
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from itertools import groupby
from typing import Any, Callable, Iterator, Sequence

import sqlite_utils

from audit import charts, messages
from audit.dashboard_views import dashboard_data, unit_groups
from audit.model import Actor, ExportFailed
from audit.store import history, org
from audit.time_model import end_of, working_days_between
from audit.views import Scope
from exports.docx_base import PackWriter, format_date
from issues.ledger_views import Gathered, IssueDetails, IssueSummary, gather_issues
from issues.store import ledger_vocabulary

Progress = Callable[[str, int, int], None]
STEPS: tuple[str, ...] = ("gather", "charts", "sections", "save")
DEFAULT_SINCE_DAYS = 14
CHART_WIDTH_PX = 600
CHART_WIDTH_CM = 15.0
# The body lists (sections 4–7) show this many rows at most; the appendix is always complete.
LIST_LIMIT = 500
WORKLOAD_TOP = 15
CAUSES_TOP = 10


# --- gathered data ----------------------------------------------------------------------------


@dataclass
class PackData:
    """Everything the pack prints, gathered before a line of it is written."""

    lang: str
    as_of: dt.date
    since: dt.date
    scope_label: str
    organisation: str
    user: str
    figures: dict
    window: int
    records: list[IssueSummary]
    found: Gathered  # what the appendix prints of each issue: Gathered.details
    by_category: list[dict]
    by_unit: list[dict]
    overdue: list[dict]
    due_soon: list[dict]
    changes: dict[str, list[dict]]
    causes: list[dict]
    escalations: list[dict]
    chart_rows: dict[str, Any]
    anchor: tuple[int, str]


def _t(lang: str, key: str, **params: Any) -> str:
    return messages.t(key, lang, **params)


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
        parts.append(_t(lang, "report.scope_stream",
                        stream=ledger_vocabulary(db).stream_name(stream, lang)))
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
    from issues import graph_views
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


# --- the summary in prose ------------------------------------------------------------------------


def _pct(x: float | None) -> str:
    return "—" if x is None else f"{x * 100:.1f}%"


def money(amount: float, lang: str) -> str:
    """An amount as a reader writes it: 万元 in Chinese, yuan in English."""
    if lang == "zh":
        return f"{amount / 10000:,.2f}万元"
    return f"¥{amount:,.2f}"


def summary_paragraphs(data: PackData) -> list[str]:
    """The overview as sentences chosen by the figures (no blanks, no "0 overdue (0%)")."""
    lang, f = data.lang, data.figures
    t = lambda key, **p: _t(lang, key, **p)  # noqa: E731
    date = format_date(data.as_of, lang)
    if not f["issues"]:
        return [t("report.p.empty", date=date, scope=data.scope_label)]
    paras = []
    first = t("report.p.scale", date=date, scope=data.scope_label, issues=f["issues"],
              categories=f["categories"], aspects=f["aspects"])
    if f["amount_involved"]:
        first += t("report.p.scale_amount", amount=money(f["amount_involved"], lang))
    first += t("report.p.scale_end")
    second = (t("report.p.closed", closed=f["closed"], closure_rate=_pct(f["closure_rate"]))
              if f["closed"] else t("report.p.closed_none"))
    if f["ended"]:
        second += t("report.p.ended", ended=f["ended"])
    if f["open"]:
        parts = [t(f"report.p.part_{k}", n=f[k])
                 for k in ("in_progress", "submitted", "not_started") if f[k]]
        second += t("report.p.open", open=f["open"], parts=t("report.p.sep").join(parts))
    else:
        second += t("report.p.all_done")
    if f["closed"] and f["amount_rectified"]:
        second += t("report.p.amount_rectified", amount=money(f["amount_rectified"], lang))
    paras.append(first + second)

    timely = (t("report.p.on_time", rate=_pct(f["on_time_rate"]), due=f["on_time_due"],
                on_time=f["on_time"]) if f["on_time_due"] else t("report.p.on_time_none"))
    if f["overdue"] and data.overdue:
        worst = next(r for r in data.records if r.id == data.overdue[0]["issue_id"])
        timely += t("report.p.overdue", overdue=f["overdue"], code=worst.code, title=worst.title,
                    days=data.overdue[0]["days"])
    else:
        timely += t("report.p.overdue_none")
    timely += (t("report.p.due_soon", due_soon=f["due_soon"], window=data.window)
               if f["due_soon"] else t("report.p.due_soon_none", window=data.window))
    assigned = t("report.p.assigned", rate=_pct(f["fully_assigned_rate"]),
                 n=f["fully_assigned"])
    gap = f["issues"] - f["fully_assigned"]
    assigned += (t("report.p.assigned_gap", gap=gap) if gap else t("report.p.assigned_all"))
    paras.append(timely + assigned)

    c = data.changes
    since = format_date(data.since, lang)
    counts = {k: len(v) for k, v in c.items()}
    if any(counts.values()):
        done = [t(f"report.p.change_{k}", n=n) for k, n in counts.items() if n]
        absent = [t(f"report.p.nochange_{k}") for k, n in counts.items() if not n]
        sentence = t("report.p.changes", since=since, parts=t("report.p.sep").join(done))
        if absent:
            joined = (t("report.p.sep").join(absent[:-1]) + t("report.p.or") + absent[-1]
                      if len(absent) > 1 else absent[0])
            sentence += t("report.p.changes_absent", parts=joined)
        paras.append(sentence + t("report.p.scale_end"))
    else:
        paras.append(t("report.p.changes_none", since=since))

    ranked = [r for r in data.causes if r["open_issues"]]
    if ranked:
        top = ranked[0]
        cause = t("report.p.causes", n=len(data.causes), title=top["title"],
                  open=top["open_issues"])
        if top["recurring"]:
            cause += t("report.p.causes_recurring")
        cause += t("report.p.causes_end")
    elif data.causes:
        cause = t("report.p.causes_all_closed")
    else:
        cause = t("report.p.causes_none")
    if data.escalations:
        steps = Counter(e["step"] for e in data.escalations)
        parts = [t("report.p.step_n", step=t(f"report.step.{s}"), n=steps[s])
                 for s in ("summons", "letter", "reminder") if steps[s]]
        cause += t("report.p.escalations", n=len(data.escalations),
                   parts=t("report.p.sep").join(parts))
    else:
        cause += t("report.p.escalations_none")
    paras.append(cause)
    return paras


def figure_rows(data: PackData) -> list[tuple[str, str, str]]:
    """The figures table: (figure, value, definition or numerator / denominator)."""
    lang, f = data.lang, data.figures
    t = lambda key, **p: _t(lang, key, **p)  # noqa: E731

    def ratio(rate_key: str, num: int, den: int) -> tuple[str, str, str]:
        note = (t("report.n.count_of", num=num, den=den) + "；" if lang == "zh" else
                t("report.n.count_of", num=num, den=den) + "; ")
        if not den:
            return (t(f"report.f.{rate_key}"), t("report.v.na"), t("report.n.no_denominator"))
        return (t(f"report.f.{rate_key}"), _pct(f[rate_key]), note + t(f"report.n.{rate_key}"))

    rows = [(t(f"report.f.{k}"), str(f[k]), "")
            for k in ("issues", "categories", "aspects", "closed", "ended", "open")]
    rows.append(ratio("closure_rate", f["closed"], f["issues"]))
    rows.append(ratio("on_time_rate", f["on_time"], f["on_time_due"]))
    rows += [(t("report.f.overdue"), str(f["overdue"]), ""),
             (t("report.f.due_soon"), str(f["due_soon"]), "")]
    rows.append(ratio("fully_assigned_rate", f["fully_assigned"], f["issues"]))
    rows += [(t("report.f.amount_involved"), f"{f['amount_involved']:,.2f}", ""),
             (t("report.f.amount_rectified"), f"{f['amount_rectified']:,.2f}", "")]
    return rows


# --- charts -------------------------------------------------------------------------------------


def chart_specs(rows: dict[str, Any], lang: str) -> list[tuple[str, Any]]:
    """(caption, Altair chart) for each dashboard chart (rows: chart_rows), built by
    audit.charts' builders."""
    lab = charts.labels(lang)
    return [
        (lab["title_burnup"], charts.burnup(rows["burnup"], rows.get("burnup_deadline"),
                                            rows.get("projection"), lang=lang)),
        (lab["title_status_by_category"], charts.status_by_category(rows["status_by_category"],
                                                                    lang)),
        (lab["title_status_by_stream"], charts.status_by_stream(rows["status_by_stream"], lang)),
        (lab["title_warning_by_unit"], charts.warning_by_unit(rows["warning_by_unit"], lang)),
        (lab["title_heatmap_open"], charts.heatmap_unit_category(rows["heatmap"], "open", lang)),
        (lab["title_ageing"], charts.ageing(rows["ageing"], lang)),
        (lab["title_on_time_by_month"], charts.on_time_by_month(rows["on_time_by_month"], lang)),
        (lab["title_workload_by_owner"], charts.workload_by_owner(rows["workload_by_owner"],
                                                                  WORKLOAD_TOP, lang)),
        (lab["title_focus_progress"], charts.focus_progress(rows["focus_progress"], lang)),
        (lab["title_cause_ranking"], charts.cause_ranking(rows["cause_ranking"], CAUSES_TOP,
                                                          lang)),
    ]


def chart_dicts(rows: dict[str, Any], lang: str) -> list[tuple[str, dict]]:
    """(caption, Vega-Lite dict at print size) per chart."""
    # The numbered caption under the picture carries the title; a second one inside the image
    # would repeat it. The builders' output is valid: skip Altair's schema validation.
    return [(caption, charts.for_print(chart, CHART_WIDTH_PX).properties(title="")
             .to_dict(validate=False)) for caption, chart in chart_specs(rows, lang)]


def start_charts(rows: dict[str, Any], lang: str, pool: ThreadPoolExecutor
                 ) -> list[tuple[str, Future]]:
    """Start rendering every chart; (caption, future PNG bytes) in order. They render in a
    child process (exports.chart_images.render_pngs), waited for on one of `pool`'s threads:
    vl-convert holds the GIL while it renders, so on a thread of this process the region's
    charts would stall the writing of the sections for seconds."""
    from exports.chart_images import render_pngs
    captions, specs = zip(*chart_dicts(rows, lang))
    batch = pool.submit(render_pngs, list(specs), scale=2)
    return [(caption, _nth(batch, i)) for i, caption in enumerate(captions)]


def _nth(batch: Future, i: int) -> Future:
    """A future of the i-th item of a future list."""
    item: Future = Future()

    def settle(done: Future) -> None:
        if done.exception() is not None:
            item.set_exception(done.exception())
        else:
            item.set_result(done.result()[i])
    batch.add_done_callback(settle)
    return item


# --- writing ------------------------------------------------------------------------------------


class _Numbering:
    """Running numbers of tables and figures for captions."""

    def __init__(self) -> None:
        self.tables = 0
        self.figures = 0


@dataclass
class PackStats:
    """What a build wrote: tables (columns, rows each) and pictures."""

    tables: list[tuple[int, int]] = field(default_factory=list)
    pictures: int = 0

    @property
    def rows(self) -> int:
        """Body rows in all tables (header rows not counted)."""
        return sum(n for _, n in self.tables)


class _Pack:
    """Writes the sections of one pack onto a PackWriter."""

    def __init__(self, data: PackData, writer: PackWriter) -> None:
        self.d = data
        self.w = writer
        self.lang = data.lang
        self.n = _Numbering()
        self.stats = PackStats()
        self.by_id = {r.id: r for r in data.records}
        self._fixed: dict[str, str] = {}
        self.pending: list[tuple[Any, Future, float, float]] = []
        self._statuses = {st: messages.label("status", st, data.lang) for st in charts.STATUS_ORDER}

    def t(self, key: str, **params: Any) -> str:
        if params:
            return _t(self.lang, key, **params)
        # Fixed labels are asked for once per row of a 40,000-issue appendix: look them up once.
        try:
            return self._fixed[key]
        except KeyError:
            text = self._fixed[key] = _t(self.lang, key)
            return text

    def table(self, title: str, headers: Sequence[str], rows: list[Sequence[object]],
              widths: Sequence[float], align: Sequence[str] | None = None,
              empty_key: str = "report.p.none", **empty: Any) -> None:
        """A numbered caption and a table, or a sentence saying there is nothing to list."""
        if not rows:
            self.w.paragraph(self.t(empty_key, **empty))
            return
        self.n.tables += 1
        self.w.caption(self.t("report.caption.table", n=self.n.tables, title=title))
        self.w.table(headers, rows, widths, align=align)  # type: ignore[arg-type]
        self.stats.tables.append((len(headers), len(rows)))

    def limited(self, items: list[dict]) -> list[dict]:
        """The first LIST_LIMIT items; a note says when more exist."""
        if len(items) > LIST_LIMIT:
            self.w.paragraph(self.t("report.p.truncated", shown=LIST_LIMIT, total=len(items)))
        return items[:LIST_LIMIT]

    def c(self, *keys: str) -> list[str]:
        return [self.t(f"report.c.{k}") for k in keys]

    def status(self, s: str) -> str:
        return self._statuses.get(s) or messages.label("status", s, self.lang)

    def date(self, iso: str | None) -> str:
        return iso[:10] if iso else self.t("report.v.none")

    # sections

    def cover(self) -> None:
        d = self.d
        lines = [self.t("report.cover_scope", scope=d.scope_label),
                 self.t("report.cover_period", since=format_date(d.since, self.lang),
                        as_of=format_date(d.as_of, self.lang))]
        self.w.cover(self.t("report.title"), lines, as_of=d.as_of, organisation=d.organisation)

    def summary(self) -> None:
        self.w.heading(self.t("report.h.summary"), 1)
        for p in summary_paragraphs(self.d):
            self.w.paragraph(p)
        self.table(self.t("report.t.figures"), self.c("figure", "value", "note"),
                   figure_rows(self.d), [4.6, 2.6, 8.4], align=["left", "right", "left"])

    def charts(self, images: Sequence[tuple[str, bytes | Future]]) -> None:
        self.w.heading(self.t("report.h.charts"), 1)
        self.w.paragraph(self.t("report.p.charts_intro", date=format_date(self.d.as_of,
                                                                          self.lang)))
        for caption, png in images:
            self.n.figures += 1
            text = self.t("report.caption.figure", n=self.n.figures, title=caption)
            if isinstance(png, bytes):
                self.w.picture(png, CHART_WIDTH_CM, caption=text)
            else:
                # A placeholder paragraph now, the picture once rendered (place_pictures).
                p, max_width, max_height = self.w.picture_slot(text)
                self.pending.append((p, png, max_width, max_height))
            self.stats.pictures += 1

    def place_pictures(self, on_progress: Progress | None) -> None:
        """Wait for each chart and put it in its placeholder, sized as PackWriter.picture does:
        the requested width, within the text area, short enough to leave room for the caption."""
        for i, (p, future, max_width, max_height) in enumerate(self.pending, 1):
            self.w.place_picture(p, future.result(), CHART_WIDTH_CM, max_width, max_height)
            if on_progress:
                on_progress("charts", i, len(self.pending))

    def breakdown(self) -> None:
        self.w.heading(self.t("report.h.breakdown"), 1)
        keys = ("issues", "closed", "ended", "in_progress", "submitted", "not_started",
                "overdue", "due_soon")
        align = ["left"] + ["right"] * (len(keys) + 1)
        widths = [3.6] + [1.3] * len(keys) + [1.6]

        def rows(items: list[dict]) -> list[list[object]]:
            return [[r["name"], *(r[k] for k in keys), _pct(r["closure_rate"])] for r in items]
        self.table(self.t("report.t.by_category"), self.c("category", *keys, "closure_rate"),
                   rows(self.d.by_category), widths, align)
        self.table(self.t("report.t.by_unit"), self.c("unit", *keys, "closure_rate"),
                   rows(self.d.by_unit), widths, align)

    def lists(self) -> None:
        d, r_ = self.d, self.by_id
        self.w.heading(self.t("report.h.lists"), 1)
        self.w.heading(self.t("report.h.overdue"), 2)
        rows = [[r_[o["issue_id"]].code, r_[o["issue_id"]].title, r_[o["issue_id"]].unit_name,
                 r_[o["issue_id"]].responsible or self.t("report.v.nobody"),
                 self.date(r_[o["issue_id"]].deadline), o["days"],
                 self.status(r_[o["issue_id"]].status)] for o in self.limited(d.overdue)]
        self.table(self.t("report.t.overdue"),
                   self.c("code", "title", "unit", "responsible", "deadline", "days_overdue",
                          "status"), rows, [2.4, 8.6, 3.6, 2.6, 2.4, 1.8, 2.0],
                   ["left"] * 5 + ["right", "left"], "report.p.none_overdue",
                   date=format_date(d.as_of, self.lang))
        self.w.heading(self.t("report.h.due_soon", days=d.window), 2)
        rows = [[r_[o["issue_id"]].code, r_[o["issue_id"]].title, r_[o["issue_id"]].unit_name,
                 r_[o["issue_id"]].responsible or self.t("report.v.nobody"),
                 self.date(r_[o["issue_id"]].deadline), o["working_days"],
                 self.status(r_[o["issue_id"]].status)] for o in self.limited(d.due_soon)]
        self.table(self.t("report.t.due_soon"),
                   self.c("code", "title", "unit", "responsible", "deadline",
                          "working_days_left", "status"), rows,
                   [2.4, 8.6, 3.6, 2.6, 2.4, 1.8, 2.0], ["left"] * 5 + ["right", "left"],
                   "report.p.none_due_soon", window=d.window)

    def changes(self) -> None:
        d, r_ = self.d, self.by_id
        c = d.changes
        self.w.heading(self.t("report.h.changes", since=format_date(d.since, self.lang)), 1)
        self.w.heading(self.t("report.h.struck_off"), 2)
        self.table(self.t("report.t.struck_off"),
                   self.c("code", "title", "unit", "closed_on", "closed_by"),
                   [[r_[x["issue_id"]].code, r_[x["issue_id"]].title,
                     r_[x["issue_id"]].unit_name, x["at"][:10], x["actor"]]
                    for x in self.limited(c["struck_off"])], [2.4, 11, 4, 2.6, 3])
        self.w.heading(self.t("report.h.newly_overdue"), 2)
        self.table(self.t("report.t.newly_overdue"),
                   self.c("code", "title", "unit", "responsible", "deadline", "days_overdue"),
                   [[r_[x["issue_id"]].code, r_[x["issue_id"]].title,
                     r_[x["issue_id"]].unit_name,
                     r_[x["issue_id"]].responsible or self.t("report.v.nobody"),
                     self.date(r_[x["issue_id"]].deadline),
                     (d.as_of - dt.date.fromisoformat(r_[x["issue_id"]].deadline)).days]
                    for x in self.limited(c["newly_overdue"])],
                   [2.4, 9.6, 3.8, 2.6, 2.4, 1.8], ["left"] * 5 + ["right"])
        self.w.heading(self.t("report.h.returned"), 2)
        self.table(self.t("report.t.returned"),
                   self.c("code", "title", "unit", "returned_on", "reason"),
                   [[r_[x["issue_id"]].code, r_[x["issue_id"]].title,
                     r_[x["issue_id"]].unit_name, x["at"][:10], x["reason"]]
                    for x in self.limited(c["returned"])], [2.4, 7, 3.6, 2.4, 8])
        self.w.heading(self.t("report.h.extended"), 2)
        self.table(self.t("report.t.extended"),
                   self.c("code", "title", "original_deadline", "new_deadline", "approved_by",
                          "reason"),
                   [[r_[x["issue_id"]].code, r_[x["issue_id"]].title,
                     self.date(x["original_deadline"]), self.date(x["new_deadline"]),
                     x["approved_by"], x["reason"]] for x in self.limited(c["extended"])],
                   [2.4, 6.4, 2.4, 2.4, 2.4, 8])

    def causes(self) -> None:
        self.w.heading(self.t("report.h.causes"), 1)
        yes, no = self.t("report.v.yes"), self.t("report.v.no")
        rows = [[i, f"{c['code']} {c['title']}", c["open_issues"], c["total_issues"],
                 c["overdue"], f"{c['amount_open'] / 10000:,.2f}" if self.lang == "zh"
                 else f"{c['amount_open'] / 1000:,.1f}",
                 yes if c["recurring"] else no,
                 f"{c['source_measures_done']}/{c['source_measures_total']}"]
                for i, c in enumerate(self.limited(self.d.causes), 1)]
        self.table(self.t("report.t.causes"),
                   self.c("rank", "cause", "open_issues", "total_issues", "overdue",
                          "amount_open", "recurring", "source_measures"), rows,
                   [1.2, 10, 2, 2, 1.6, 2.8, 1.8, 2.6],
                   ["right", "left", "right", "right", "right", "right", "center", "center"],
                   "report.p.none_causes")

    def escalations(self) -> None:
        self.w.heading(self.t("report.h.escalations"), 1)
        r_ = self.by_id
        rows = []
        for e in self.limited(self.d.escalations):
            rec = r_.get(e["issue_id"])
            target = (self.t("report.v.owner_unit", person=e["target_person"],
                             unit=e["target_unit"] or "")
                      if e["target_person"] else (e["target_unit"] or self.t("report.v.nobody")))
            rows.append([e["code"], rec.title if rec else "", e["unit"] or "",
                         self.date(e["deadline"]), e["overdue_working_days"],
                         self.t(f"report.step.{e['step']}"), target])
        self.table(self.t("report.t.escalations"),
                   self.c("code", "title", "unit", "deadline", "overdue_working_days", "step",
                          "target"), rows, [2.4, 7.4, 3.4, 2.4, 2, 2.2, 4.4],
                   ["left"] * 4 + ["right", "left", "left"], "report.p.none_escalations")

    def appendix(self, on_progress: Progress | None, done: int, total: int) -> None:
        d = self.d
        self.w.page_break()
        self.w.heading(self.t("report.h.appendix"), 1)
        self.w.paragraph(self.t("report.p.appendix_intro", issues=len(d.records)))
        # Records are in ledger order, so each category's issues are one run of them: only
        # one category's details are held at a time.
        runs = groupby(zip(d.records, d.found.states), key=lambda rs: rs[0].category_code)
        sep = "；" if self.lang == "zh" else "; "
        none, nobody = self.t("report.v.none"), self.t("report.v.nobody")
        owners_sep = self.t("report.list_sep")
        for n, (code, run) in enumerate(runs, 1):
            items: list[tuple[IssueSummary, IssueDetails]] = [
                (r, d.found.details(s)) for r, s in run]
            if n > 1:
                self.w.page_break()  # each category starts a page: they are read one by one
            self.w.heading(self.t("report.h.appendix_category", n=n, code=code,
                                  name=items[0][0].category_name), 2)
            self.w.heading(self.t("report.h.problems"), 3)
            self.table(self.t("report.t.problems", code=code),
                       self.c("code", "aspect", "title", "description", "sources", "amount",
                              "status"),
                       [[r.code, x.aspect_name, r.title, x.description,
                         sep.join(f"{s['year']} {s['name']}" for s in x.sources) or none,
                         f"{x.amount:,.2f}", self.status(r.status)] for r, x in items],
                       [2.2, 2.4, 4.4, 7.4, 3.8, 2.4, 1.7],
                       ["left"] * 5 + ["right", "left"])
            self.w.heading(self.t("report.h.tasks"), 3)
            self.table(self.t("report.t.tasks", code=code),
                       self.c("code", "title", "measures", "deadline", "progress"),
                       [[r.code, r.title, "\n".join(self._measure(i, m) for i, m in
                                                    enumerate(x.measures, 1)) or none,
                         self.date(r.deadline), x.progress or none] for r, x in items],
                       [2.4, 5, 10, 2.2, 5])
            self.w.heading(self.t("report.h.responsibilities"), 3)
            self.table(self.t("report.t.responsibilities", code=code),
                       self.c("code", "unit", "responsible", "supervisor", "measure_owners",
                              "causes", "accountability"),
                       [[r.code, r.unit_name, r.responsible or nobody, x.supervisor or none,
                         owners_sep.join(dict.fromkeys(m[1] for m in x.measures if m[1]))
                         or none,
                         sep.join(c["title"] for c in x.causes) or none,
                         sep.join(self._accountability(*a) for a in x.accountability) or none]
                        for r, x in items],
                       [2.4, 3.4, 2.2, 2.2, 3.4, 5.4, 6])
            if on_progress:
                on_progress("sections", done + n, total)

    def _measure(self, i: int, m: tuple) -> str:
        # Called for each of the region's 200,000 measures: labels come from the fixed cache.
        title, owner, deadline, status = m
        t = self.t
        owner = owner or t("report.v.nobody")
        state = t("report.measure_status." + status)
        deadline = deadline[:10] if deadline else t("report.v.none")
        if self.lang == "zh":
            return f"{i}. {title}（{owner}；{deadline}；{state}）"
        return f"{i}. {title} ({owner}; {deadline}; {state})"

    def _accountability(self, not_applicable: bool, person_name: str, action: str,
                        reason: str) -> str:
        if not_applicable:
            return self.t("report.v.not_applicable", reason=reason)
        return self.t("report.v.accountability", person=person_name, action=action)

    def anchor(self) -> None:
        seq, digest = self.d.anchor
        self.w.heading(self.t("report.h.anchor"), 1)
        self.w.paragraph(self.t("report.p.anchor", anchor=f"{seq}:{digest}"))
        self.w.paragraph(self.t("report.p.generated", user=self.d.user,
                                date=format_date(self.d.as_of, self.lang)))


def write_pack(data: PackData, images: Sequence[tuple[str, bytes | Future]],
               on_progress: Progress | None = None) -> tuple[PackWriter, PackStats, _Pack]:
    """The whole document, not yet saved: portrait front matter, then a landscape section for
    the wide lists and the appendix. Charts still rendering (futures) get placeholders that
    `_Pack.place_pictures` fills."""
    lang = data.lang
    writer = PackWriter(lang, header_text=_t(lang, "report.header",
                                              date=format_date(data.as_of, lang)))
    pack = _Pack(data, writer)
    n_categories = len({r.category_code for r in data.records})
    total = 6 + n_categories
    steps: list[Callable[[], None]] = [
        pack.cover, pack.summary, lambda: pack.charts(images), pack.breakdown,
        lambda: (writer.landscape_section(), pack.lists(), pack.changes()),
        lambda: (pack.causes(), pack.escalations())]
    for i, step in enumerate(steps, 1):
        step()
        if on_progress:
            on_progress("sections", i, total)
    pack.appendix(on_progress, len(steps), total)
    pack.anchor()
    if on_progress:
        on_progress("sections", total, total)
    return writer, pack.stats, pack


@contextmanager
def _step(name: str) -> Iterator[None]:
    """Run one step; any failure becomes ExportFailed naming it."""
    try:
        yield
    except ExportFailed:
        raise
    except Exception as ex:
        raise ExportFailed("report", name, ex) from ex


def build_pack(db: sqlite_utils.Database, scope: Scope, out: str | os.PathLike[str], *,
               as_of: dt.date, since: dt.date | None = None, lang: str = "zh", label: str = "",
               user: str = "", on_progress: Progress | None = None) -> dict:
    """Build the review pack for `scope` (already narrowed to the actor) and save it to `out`
    atomically. `since` defaults to 14 days before `as_of`. Returns {path, issues, tables,
    rows, pictures, anchor}. Raises ExportFailed naming the failed step (no file is left) and
    ValueError for a `since` after `as_of` or an unknown language."""
    if lang not in ("zh", "en"):
        raise ValueError(f"lang must be 'zh' or 'en', not {lang!r}")
    since = since or as_of - dt.timedelta(days=DEFAULT_SINCE_DAYS)
    if since > as_of:
        raise ValueError(f"since ({since}) is after as_of ({as_of})")
    pool = ThreadPoolExecutor(max_workers=1)  # waits for the chart process
    try:
        # The charts' rows first, so that they render in their own process while the rest is
        # gathered and the sections are written.
        with _step("gather"):
            rows_for_charts = chart_rows(db, scope, as_of, lang)
        with _step("charts"):
            pending = start_charts(rows_for_charts, lang, pool)
        with _step("gather"):
            data = gather(db, scope, as_of=as_of, since=since, lang=lang,
                          label=label or _t(lang, "report.scope_all"), user=user,
                          on_progress=on_progress, rows_for_charts=rows_for_charts)
        if on_progress:
            on_progress("charts", 0, len(pending))
        with _step("sections"):
            writer, stats, pack = write_pack(data, pending, on_progress)
        with _step("charts"):
            pack.place_pictures(on_progress)
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
    with _step("save"):
        if on_progress:
            on_progress("save", 0, 1)
        path = writer.save(out)
        if on_progress:
            on_progress("save", 1, 1)
    seq, digest = data.anchor
    return {"path": str(path), "issues": len(data.records), "tables": len(stats.tables),
            "rows": stats.rows, "table_shapes": stats.tables, "pictures": stats.pictures,
            "anchor": f"{seq}:{digest}", "figures": data.figures}
