"""What the Word review pack prints, as plain data (`PackData`, gathered by
exports/pack_views.py), and the rules that turn its figures into words: the summary's
sentences chosen by the figures, the figures table, amounts as a reader writes them. No
database, no document: exports/pack_format.py writes these onto the page."""
from __future__ import annotations

import datetime as dt
from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Callable

from audit import messages
from exports.docx_format import format_date

Progress = Callable[[str, int, int], None]
STEPS: tuple[str, ...] = ("gather", "charts", "sections", "save")
DEFAULT_SINCE_DAYS = 14
CHART_WIDTH_PX = 600
CHART_WIDTH_CM = 15.0
# The body lists (sections 4–7) show this many rows at most; the appendix is always complete.
LIST_LIMIT = 500
WORKLOAD_TOP = 15
CAUSES_TOP = 10

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
    records: list[Any]  # exports.ledger_export.IssueSummary, one per issue in ledger order
    found: Any  # exports.ledger_export.Gathered: what the appendix prints of each issue
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



def _pct(x: float | None) -> str:
    return "—" if x is None else f"{x * 100:.1f}%"


def money(amount: float, lang: str) -> str:
    """An amount as a reader writes it: 万元 in Chinese, yuan in English."""
    return _t(lang, "report.money", amount=amount / float(_t(lang, "report.money_divisor")))


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
        note = t("report.n.count_of", num=num, den=den) + t("report.scope_sep")
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



@dataclass
class PackStats:
    """What a build wrote: tables (columns, rows each) and pictures."""

    tables: list[tuple[int, int]] = field(default_factory=list)
    pictures: int = 0

    @property
    def rows(self) -> int:
        """Body rows in all tables (header rows not counted)."""
        return sum(n for _, n in self.tables)


