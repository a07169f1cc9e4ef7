"""What the Word review pack (整改情况汇报) prints, as plain data (`PackData`, gathered by
exports/pack_views.py), and the rules that turn its figures into words: the sentences of each
part chosen by the figures, the figures table, amounts and counts as a reader writes them, how
long the body's lists are and where the rest is. No database, no document:
exports/pack_format.py writes these onto the page.

Words that mean one thing: 屡审屡犯 is a finding made again by audits of different years, 共性问题
the same finding in several units (issues/graph_model.py); overdue days are working days on
China's calendar, counted from the day after the deadline to the as-of date."""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any, Callable

from audit import messages

Progress = Callable[[str, int, int], None]
STEPS: tuple[str, ...] = ("gather", "charts", "sections", "save")
DEFAULT_SINCE_DAYS = 14
CHART_WIDTH_PX = 620
CHART_WIDTH_CM = 15.0
# The body's lists show this many items at most, then "另有 M 项，详见附件…".
LIST_TOP = 10
CAUSES_TOP = 10
WORKLOAD_TOP = 15
# What the attachments (附件1–3) list: nothing, the open issues, the overdue ones, one unit's
# (with its branches), every issue, or — the default — every issue while the scope has at
# most AUTO_ALL issues, none beyond (a 40,000-issue programme's full lists belong in the Excel
# ledger).
ATTACHMENTS: tuple[str, ...] = ("auto", "none", "open", "overdue", "unit", "all")
AUTO_ALL = 300


@dataclass(frozen=True)
class PackOptions:
    """The reader's choices: what the attachments list (`ATTACHMENTS`; 'unit' needs
    `attachment_unit`, a unit code)."""

    attachments: str = "auto"
    attachment_unit: str | None = None

    def __post_init__(self) -> None:
        if self.attachments not in ATTACHMENTS:
            raise ValueError(f"attachments must be one of {', '.join(ATTACHMENTS)}, "
                             f"not {self.attachments!r}")
        if self.attachments == "unit" and not self.attachment_unit:
            raise ValueError("attachments 'unit' needs a unit code")


@dataclass
class PackData:
    """Everything the pack prints, gathered before a line of it is written."""

    lang: str
    as_of: dt.date
    since: dt.date
    scope_label: str
    settings: dict[str, str]
    organisation: str
    figures: dict
    window: int
    records: list[Any]  # issues.ledger_views.IssueSummary, one per issue in ledger order
    found: Any  # issues.ledger_views.Gathered: what the attachments print of each issue
    facts: dict[int, dict]  # issue id → severity, type, amounts, years, units, flags, note
    by_category: list[dict]
    by_unit: list[dict]
    unit_note: str
    by_type: list[dict]
    streams: dict
    overdue: list[dict]
    due_soon: list[dict]
    changes: dict[str, list[dict]]
    causes: list[dict]
    escalations: list[dict]
    outcomes: dict
    projection: dict
    chart_rows: dict[str, Any]
    anchor: tuple[int, str]
    attachments: str  # what the attachments list after 'auto' is decided
    attachment_ids: list[int] = field(default_factory=list)
    people_names: dict[str, str] = field(default_factory=dict)  # login → person's name
    # Staged + continuous items against the cap (audit.rules_views.type_share); {} when unknown.
    type_share: dict = field(default_factory=dict)


@dataclass
class PackStats:
    """What a build wrote: tables (columns, rows each) and pictures."""

    tables: list[tuple[int, int]] = field(default_factory=list)
    pictures: int = 0
    contents: int = 0

    @property
    def rows(self) -> int:
        """Body rows in all tables (header rows not counted)."""
        return sum(n for _, n in self.tables)


def _t(lang: str, key: str, **params: Any) -> str:
    return messages.t(key, lang, **params)


def _pct(x: float | None) -> str:
    return "—" if x is None else f"{x * 100:.1f}%"


def money(amount: float, lang: str) -> str:
    """An amount as a reader writes it: 万元 in Chinese, yuan in English."""
    return _t(lang, "report.money", amount=amount / float(_t(lang, "report.money_divisor")))


def totals(rows: list[dict]) -> dict:
    """The 合计 of status-count rows (pack_views' by category, by unit)."""
    keys = ("issues", "closed", "ended", "in_progress", "submitted", "not_started", "open",
            "overdue", "due_soon")
    out = {k: sum(r[k] for r in rows) for k in keys}
    out["closure_rate"] = out["closed"] / out["issues"] if out["issues"] else None
    return out


def decide_attachments(options: PackOptions, issues: int) -> str:
    """What the attachments list once 'auto' is decided: 'all' up to AUTO_ALL issues, else
    'none'."""
    if options.attachments != "auto":
        return options.attachments
    return "all" if issues <= AUTO_ALL else "none"


def rest_note(lang: str, shown: int, total: int, attachments: str, in_attachment: bool) -> str:
    """'另有 M 项，详见附件…' under a list cut to `shown` of `total` items; '' when nothing
    was cut. The rest is in the attachments when they list these items, else in the ledger."""
    if total <= shown:
        return ""
    where = "pack.rest.attachment" if in_attachment and attachments != "none" \
        else "pack.rest.ledger"
    return _t(lang, "pack.rest", more=total - shown, total=total, where=_t(lang, where))


# --- the words of each part ---------------------------------------------------------------


def _join(lang: str, parts: list[str]) -> str:
    return _t(lang, "report.p.sep").join(parts)


def background_paragraphs(data: PackData) -> list[str]:
    """一、基本情况: the programme's own text (settings) and the scope in figures."""
    lang, f = data.lang, data.figures
    t = lambda key, **p: _t(lang, key, **p)  # noqa: E731
    own = [line.strip() for line in (data.settings.get("report.background") or "").splitlines()
           if line.strip()]
    date = _date(data.as_of, lang)
    if not f["issues"]:
        return own + [t("report.p.empty", date=date, scope=data.scope_label)]
    first = t("report.p.scale", date=date, scope=data.scope_label, issues=f["issues"],
              categories=f["categories"], aspects=f["aspects"])
    if f["amount_involved"]:
        first += t("report.p.scale_amount", amount=money(f["amount_involved"], lang))
    first += t("report.p.scale_end")
    s = data.streams
    if s.get("total"):
        first += t("pack.p.streams", cleanup=s["cleanup"], audit=s["audit"], both=s["both"])
    flags = [fa for fa in data.facts.values()]
    recurring = sum(1 for fa in flags if fa["recurring"])
    common = sum(1 for fa in flags if fa["common"])
    first += t("pack.p.flags", recurring=recurring, common=common)
    by_type = {r["key"]: r["issues"] for r in data.by_type if r["kind"] == "type"}
    high = next((r["issues"] for r in data.by_type if r["kind"] == "severity"
                 and r["key"] == "high"), 0)
    first += t("pack.p.types", immediate=by_type.get("immediate", 0),
               staged=by_type.get("staged", 0), continuous=by_type.get("continuous", 0),
               high=high)
    first += cap_sentence(data)
    return own + [first]


def cap_sentence(data: PackData) -> str:
    """One sentence: staged + continuous items, their share and the cap ('' when unknown)."""
    s = data.type_share
    if not s or not s.get("issues"):
        return ""
    verdict = _t(data.lang, "pack.p.cap_over" if s["over"] else "pack.p.cap_within")
    return _t(data.lang, "pack.p.cap", long=s["long"], share=_pct(s["share"]), verdict=verdict,
              cap=_pct(s["cap"]))


def progress_paragraphs(data: PackData) -> list[str]:
    """二、整改进展 (一): closure, on time, 四个到人, in sentences chosen by the figures."""
    lang, f = data.lang, data.figures
    t = lambda key, **p: _t(lang, key, **p)  # noqa: E731
    if not f["issues"]:
        return []
    second = (t("report.p.closed", closed=f["closed"], closure_rate=_pct(f["closure_rate"]))
              if f["closed"] else t("report.p.closed_none"))
    if f["ended"]:
        second += t("report.p.ended", ended=f["ended"])
    if f["open"]:
        parts = [t(f"report.p.part_{k}", n=f[k])
                 for k in ("in_progress", "submitted", "not_started") if f[k]]
        second += t("report.p.open", open=f["open"], parts=_join(lang, parts))
    else:
        second += t("report.p.all_done")
    timely = (t("report.p.on_time", rate=_pct(f["on_time_rate"]), due=f["on_time_due"],
                on_time=f["on_time"]) if f["on_time_due"] else t("report.p.on_time_none"))
    if f["overdue"] and data.overdue:
        worst = data.overdue[0]
        rec = next(r for r in data.records if r.id == worst["issue_id"])
        timely += t("report.p.overdue", overdue=f["overdue"], unit=rec.unit_name,
                    title=rec.title, days=worst["working_days"])
    else:
        timely += t("report.p.overdue_none")
    timely += (t("report.p.due_soon", due_soon=f["due_soon"], window=data.window)
               if f["due_soon"] else t("report.p.due_soon_none", window=data.window))
    assigned = t("report.p.assigned", rate=_pct(f["fully_assigned_rate"]),
                 n=f["fully_assigned"])
    gap = f["issues"] - f["fully_assigned"]
    assigned += (t("report.p.assigned_gap", gap=gap) if gap else t("report.p.assigned_all"))
    return [second, timely, assigned]


def changes_paragraph(data: PackData) -> str:
    """二、(四) 本期变化: struck off, newly overdue, returned and extended since `since`."""
    lang = data.lang
    t = lambda key, **p: _t(lang, key, **p)  # noqa: E731
    since = _date(data.since, lang)
    counts = {k: len(v) for k, v in data.changes.items()}
    if not any(counts.values()):
        return t("report.p.changes_none", since=since)
    done = [t(f"report.p.change_{k}", n=n) for k, n in counts.items() if n]
    absent = [t(f"report.p.nochange_{k}") for k, n in counts.items() if not n]
    sentence = t("report.p.changes", since=since, parts=_join(lang, done))
    if absent:
        joined = (_join(lang, absent[:-1]) + t("report.p.or") + absent[-1]
                  if len(absent) > 1 else absent[0])
        sentence += t("report.p.changes_absent", parts=joined)
    return sentence + t("report.p.scale_end")


def outcome_paragraphs(data: PackData) -> list[str]:
    """三、整改成效: amounts corrected and recovered, rules made or revised, accountability,
    causes fixed at the source."""
    lang, o = data.lang, data.outcomes
    t = lambda key, **p: _t(lang, key, **p)  # noqa: E731
    out = []
    if o["corrected"] or o["recovered"]:
        out.append(t("pack.p.amounts", corrected=money(o["corrected"], lang),
                     recovered=money(o["recovered"], lang), issues=o["amount_issues"]))
    else:
        out.append(t("pack.p.amounts_none"))
    if o["rules_made"] or o["rules_revised"]:
        out.append(t("pack.p.rules", made=o["rules_made"], revised=o["rules_revised"]))
    else:
        out.append(t("pack.p.rules_none"))
    if o["people"]:
        text = t("pack.p.accountability", people=o["people"], issues=o["accountable_issues"])
        if o["penalty"]:
            text += t("pack.p.penalty", amount=money(o["penalty"], lang))
        text += t("pack.p.not_applicable", n=o["not_applicable"]) if o["not_applicable"] \
            else t("report.p.scale_end")
        out.append(text)
    else:
        out.append(t("pack.p.accountability_none", n=o["not_applicable"]))
    fixed = sum(1 for c in data.causes if c["fixed_at_source"])
    if data.causes:
        out.append(t("pack.p.fixed_at_source", fixed=fixed, causes=len(data.causes)))
    return out


def problem_paragraphs(data: PackData) -> dict[str, list[str]]:
    """四、存在的主要问题和困难: overdue (with the definition of overdue days), the projection
    against the programme deadline in words, causes not fixed at the source and how many open
    issues the top ones cover, 屡审屡犯 and 共性问题 apart."""
    lang, f = data.lang, data.figures
    t = lambda key, **p: _t(lang, key, **p)  # noqa: E731
    out: dict[str, list[str]] = {}
    if data.overdue:
        worst = data.overdue[0]
        rec = next(r for r in data.records if r.id == worst["issue_id"])
        over_60 = sum(1 for o in data.overdue if o["working_days"] > 60)
        out["overdue"] = [t("pack.p.overdue", overdue=len(data.overdue),
                            share=_pct(len(data.overdue) / f["open"] if f["open"] else None),
                            title=rec.title, unit=rec.unit_name, days=worst["working_days"],
                            over_60=over_60)]
    else:
        out["overdue"] = [t("pack.p.overdue_none", date=_date(data.as_of, lang))]
    p = data.projection
    deadline = p.get("deadline")
    if p.get("done"):
        out["projection"] = [t("pack.p.projection_done")]
    elif not p.get("at_this_rate") or not p.get("date"):
        out["projection"] = [t("pack.p.projection_stalled", remaining=p.get("remaining") or 0)]
    else:
        when = _date(dt.date.fromisoformat(p["date"]), lang)
        rate = f"{p['rate']:.1f}"
        if deadline and p["date"] > deadline:
            late = (dt.date.fromisoformat(p["date"]) - dt.date.fromisoformat(deadline)).days
            out["projection"] = [t("pack.p.projection_late", rate=rate, date=when,
                                   deadline=_date(dt.date.fromisoformat(deadline), lang),
                                   late=late, remaining=p["remaining"])]
        elif deadline:
            out["projection"] = [t("pack.p.projection_on_time", rate=rate, date=when,
                                   deadline=_date(dt.date.fromisoformat(deadline), lang),
                                   remaining=p["remaining"])]
        else:
            out["projection"] = [t("pack.p.projection_no_deadline", rate=rate, date=when,
                                   remaining=p["remaining"])]
    unfixed = [c for c in data.causes if c["open_issues"] and not c["fixed_at_source"]]
    if unfixed:
        top = unfixed[:5]
        covered = len({i for c in top for i in c["open_issue_ids"]})
        out["causes"] = [t("pack.p.causes", n=len(unfixed), top=len(top), title=top[0]["title"],
                           open=top[0]["open_issues"], covered=covered,
                           share=_pct(covered / f["open"] if f["open"] else None))]
    else:
        out["causes"] = [t("pack.p.causes_none")]
    facts = data.facts.values()
    recurring = sum(1 for fa in facts if fa["recurring"])
    common = sum(1 for fa in facts if fa["common"])
    open_recurring = sum(1 for fa in facts if fa["recurring"] and fa["open"])
    causes_recurring = sum(1 for c in data.causes if c["recurring"] and c["total_issues"])
    causes_common = sum(1 for c in data.causes if c["common"] and c["total_issues"])
    out["flags"] = [t("pack.p.recurring", issues=recurring, open=open_recurring,
                      causes=causes_recurring),
                    t("pack.p.common", issues=common, causes=causes_common)]
    return out


def next_paragraphs(data: PackData) -> dict[str, list[str]]:
    """五、下一步工作安排: what falls due before the next review, escalations due, and the
    standing requirements."""
    lang = data.lang
    t = lambda key, **p: _t(lang, key, **p)  # noqa: E731
    out: dict[str, list[str]] = {}
    out["due"] = [t("pack.p.due_soon", n=len(data.due_soon), window=data.window)
                  if data.due_soon else t("report.p.none_due_soon", window=data.window)]
    if data.escalations:
        steps: dict[str, int] = {}
        for e in data.escalations:
            steps[e["step"]] = steps.get(e["step"], 0) + 1
        parts = [t("report.p.step_n", step=t(f"report.step.{s}"), n=steps[s])
                 for s in ("summons", "letter", "reminder") if steps.get(s)]
        out["escalations"] = [t("report.p.escalations", n=len(data.escalations),
                                parts=_join(lang, parts))]
    else:
        out["escalations"] = [t("report.p.escalations_none")]
    out["plan"] = [t(f"pack.p.plan_{k}") for k in ("overdue", "source", "verify", "ledger")]
    return out


def figure_rows(data: PackData) -> list[tuple[str, str, str]]:
    """The figures table: (figure, value, definition or numerator / denominator)."""
    lang, f = data.lang, data.figures
    t = lambda key, **p: _t(lang, key, **p)  # noqa: E731

    def ratio(rate_key: str, num: int, den: int) -> tuple[str, str, str]:
        note = t("report.n.count_of", num=num, den=den) + t("report.scope_sep")
        if not den:
            return (t(f"report.f.{rate_key}"), t("report.v.na"), t("report.n.no_denominator"))
        return (t(f"report.f.{rate_key}"), _pct(f[rate_key]), note + t(f"report.n.{rate_key}"))

    rows = [(t(f"report.f.{k}"), str(f[k]), "")
            for k in ("issues", "categories", "aspects", "closed", "ended", "open")]
    rows.append(ratio("closure_rate", f["closed"], f["issues"]))
    rows.append(ratio("on_time_rate", f["on_time"], f["on_time_due"]))
    rows += [(t("report.f.overdue"), str(f["overdue"]), t("pack.n.overdue")),
             (t("report.f.due_soon"), str(f["due_soon"]),
              t("pack.n.due_soon", window=data.window))]
    rows.append(ratio("fully_assigned_rate", f["fully_assigned"], f["issues"]))
    rows += [(t("report.f.amount_involved"), f"{f['amount_involved']:,.2f}", ""),
             (t("report.f.amount_rectified"), f"{f['amount_rectified']:,.2f}",
              t("pack.n.amount_rectified"))]
    return rows


def _date(day: dt.date, lang: str) -> str:
    return messages.t("docx.date", lang, year=day.year, day=day.day,
                      month_name=messages.t(f"docx.month.{day.month}", lang))
