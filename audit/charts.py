"""Chart builders shared by the dashboard page and the Word review pack.

Each builder takes plain rows (dicts, mappings or dataclasses, the shape an SQL aggregation
returns) and a language, and returns an Altair chart: no Streamlit, no database, no clock.
The screen shows a chart as it comes (`width='container'`); the Word export passes it through
`for_print` and `exports.chart_images.chart_png`.

Every builder:
- labels axes, legends, tooltips and status/warning names in one language (`lang` 'zh'/'en'),
- uses the product palette (`STATUS_COLOURS`, `WARNING_COLOURS`) and the CJK font (`configure`),
- keeps nominal labels horizontal (long names go on a y axis),
- returns a valid "no data" chart for empty input, still carrying its selection parameter so
  that `st.altair_chart(chart, on_select="rerun")` accepts it,
- carries a point selection named in `SELECTIONS` for drill-down: the page reads
  `event.selection[SELECTIONS[builder].name]`, a list of dicts keyed by `.fields`.
"""
from __future__ import annotations

import dataclasses
import datetime as dt
import math
import statistics
from collections.abc import Iterable, Mapping
from enum import Enum
from fractions import Fraction
from types import MappingProxyType
from typing import Any, NamedTuple

import altair as alt

FONT = "Noto Sans CJK SC"

# Okabe-Ito based: distinguishable with the common colour-vision deficiencies and saturated
# enough for a washed-out projector. Statuses run grey → blues → green so "progress" reads as
# one direction; 'ended' is set apart (purple) because it is counted apart from closed.
STATUS_COLOURS: Mapping[str, str] = MappingProxyType({
    "not_started": "#999999",
    "in_progress": "#0072B2",
    "submitted": "#56B4E9",
    "closed": "#009E73",
    "ended": "#CC79A7",
})
STATUS_ORDER: tuple[str, ...] = ("not_started", "in_progress", "submitted", "closed", "ended")

# Vermillion rather than pure red so that red and green stay apart for red-green colour
# blindness; green is the same hue as 'closed' because both mean "fine".
WARNING_COLOURS: Mapping[str, str] = MappingProxyType({
    "red": "#D55E00",
    "amber": "#E69F00",
    "green": "#009E73",
    "none": "#BBBBBB",
})
WARNING_ORDER: tuple[str, ...] = ("red", "amber", "green", "none")

# Colours for series that are not statuses or warnings.
SCOPE_COLOUR = "#333333"
CLOSED_COLOUR = STATUS_COLOURS["closed"]
OVERDUE_COLOUR = WARNING_COLOURS["red"]
OPEN_COLOUR = "#56B4E9"
TRACK_COLOUR = "#DDDDDD"
DEADLINE_COLOUR = "#8B0000"


class Selection(NamedTuple):
    """The name of a builder's point selection and the data fields it returns."""

    name: str
    fields: tuple[str, ...]


SELECTIONS: Mapping[str, Selection] = MappingProxyType({
    "status_by_category": Selection("category_status", ("category", "status")),
    "status_by_stream": Selection("stream_status", ("stream", "status")),
    "heatmap_unit_category": Selection("unit_category", ("unit", "category")),
    "warning_by_unit": Selection("unit_warning", ("unit", "warning")),
    "ageing": Selection("ageing_bucket", ("bucket",)),
    "on_time_by_month": Selection("on_time_month", ("month",)),
    "workload_by_owner": Selection("owner", ("owner",)),
    "focus_progress": Selection("focus", ("focus",)),
    "cause_ranking": Selection("cause", ("cause",)),
})

_LABELS: Mapping[str, Mapping[str, str]] = MappingProxyType({
    "zh": MappingProxyType({
        "no_data": "暂无数据",
        "count": "问题数",
        "status": "状态",
        "warning": "预警",
        "category": "问题大类",
        "stream": "整改工作组",
        "unit": "责任单位",
        "owner": "责任人",
        "focus": "关注点",
        "cause": "问题根源",
        "bucket": "账龄",
        "month": "月份",
        "week": "周",
        "issues": "问题数",
        "series": "口径",
        "in_scope": "纳入整改",
        "closed": "已销号",
        "open": "未销号",
        "overdue": "逾期",
        "total": "问题总数",
        "rate": "按期整改率",
        "on_time": "按期销号",
        "due": "应销号",
        "amount": "涉及金额（万元）",
        "open_issues": "未销号问题",
        "closure_rate": "整改率",
        "deadline": "整改期限",
        "projected": "预计完成",
        "range": "区间",
        "earliest": "最早",
        "latest": "最晚",
        "no_latest": "慢速下无法估计最晚日期",
        "not_at_this_rate": "按当前速度无法完成",
        "all_closed": "已全部销号",
        "overall": "总体",
        "title_burnup": "整改进度（累计）",
        "title_status_by_category": "各大类问题整改状态",
        "title_status_by_stream": "各工作组问题整改状态",
        "title_heatmap_open": "各单位各大类未销号问题",
        "title_heatmap_overdue": "各单位各大类逾期问题",
        "title_warning_by_unit": "各单位红黄绿灯预警",
        "title_ageing": "未销号问题账龄",
        "title_on_time_by_month": "各月按期整改率",
        "title_workload_by_owner": "责任人未销号与逾期问题",
        "title_focus_progress": "五大关注点整改进度",
        "title_cause_ranking": "问题根源排行",
        "status.not_started": "未启动",
        "status.in_progress": "整改中",
        "status.submitted": "待验收",
        "status.closed": "已销号",
        "status.ended": "特殊原因终结",
        "warning.red": "红灯",
        "warning.amber": "黄灯",
        "warning.green": "绿灯",
        "warning.none": "无预警",
        "days_first": "{lo}–{hi}天",
        "days_last": "{lo}天以上",
        "date_format": "%Y年%-m月%-d日",
        "axis_date_format": "%-m月%-d日",
    }),
    "en": MappingProxyType({
        "no_data": "No data",
        "count": "Issues",
        "status": "Status",
        "warning": "Warning",
        "category": "Category",
        "stream": "Work stream",
        "unit": "Unit",
        "owner": "Owner",
        "focus": "Focus point",
        "cause": "Root cause",
        "bucket": "Age",
        "month": "Month",
        "week": "Week",
        "issues": "Issues",
        "series": "Series",
        "in_scope": "In scope",
        "closed": "Closed",
        "open": "Open",
        "overdue": "Overdue",
        "total": "Total",
        "rate": "On-time rate",
        "on_time": "Closed on time",
        "due": "Due",
        "amount": "Amount (yuan)",
        "open_issues": "Open issues",
        "closure_rate": "Closure rate",
        "deadline": "Deadline",
        "projected": "Projected completion",
        "range": "Range",
        "earliest": "Earliest",
        "latest": "Latest",
        "no_latest": "no latest date at the slow pace",
        "not_at_this_rate": "Not at this rate",
        "all_closed": "All closed",
        "overall": "Overall",
        "title_burnup": "Burn-up: issues in scope and closed",
        "title_status_by_category": "Status by category",
        "title_status_by_stream": "Status by work stream",
        "title_heatmap_open": "Open issues by unit and category",
        "title_heatmap_overdue": "Overdue issues by unit and category",
        "title_warning_by_unit": "Warnings by unit",
        "title_ageing": "Age of open issues",
        "title_on_time_by_month": "On-time rate by month",
        "title_workload_by_owner": "Open and overdue issues by owner",
        "title_focus_progress": "Progress on the five focus points",
        "title_cause_ranking": "Root causes ranked",
        "status.not_started": "Not started",
        "status.in_progress": "In progress",
        "status.submitted": "Submitted",
        "status.closed": "Closed",
        "status.ended": "Ended (special)",
        "warning.red": "Red",
        "warning.amber": "Amber",
        "warning.green": "Green",
        "warning.none": "No warning",
        "days_first": "{lo}–{hi} days",
        "days_last": "over {lo} days",
        "date_format": "%Y-%m-%d",
        "axis_date_format": "%-d %b",
    }),
})

# Upper bounds (inclusive, days) of the ageing buckets; the last bucket is open-ended.
AGEING_BOUNDS: tuple[int, ...] = (30, 60, 90, 180)

_BAR_STEP = 26          # px per bar on horizontal bar charts: readable on a projector
_DIM = 0.35             # opacity of the bars/cells not selected


# --- helpers ----------------------------------------------------------------------------------

def labels(lang: str = "zh") -> Mapping[str, str]:
    """The label dictionary for a language. Raises ValueError for a language other than zh/en."""
    try:
        return _LABELS[lang]
    except KeyError:
        raise ValueError(f"unsupported chart language {lang!r}; use 'zh' or 'en'") from None


def status_label(status: str, lang: str = "zh") -> str:
    """The display name of a status code (the code itself when unknown)."""
    return labels(lang).get(f"status.{status}", status)


def warning_label(warning: str, lang: str = "zh") -> str:
    """The display name of a warning colour code (the code itself when unknown)."""
    return labels(lang).get(f"warning.{warning}", warning)


def configure(chart: alt.TopLevelMixin) -> alt.TopLevelMixin:
    """Apply the product look: CJK font, projector-sized text, white background."""
    return (
        chart.configure(font=FONT, background="white")
        .configure_title(fontSize=16, anchor="start", offset=8)
        .configure_axis(labelFontSize=12, titleFontSize=13, labelLimit=220, titlePadding=8)
        # Rotated Chinese is hard to read: y titles sit horizontally above the axis instead.
        .configure_axisY(titleAngle=0, titleAlign="right", titleBaseline="bottom", titleX=0,
                         titleY=-10)
        .configure_legend(labelFontSize=12, titleFontSize=12, orient="bottom",
                          direction="horizontal", labelLimit=200)
        .configure_view(strokeWidth=0)
    )


def for_print(chart: alt.TopLevelMixin, width: int = 640, height: int | None = None
              ) -> alt.TopLevelMixin:
    """The chart at a fixed pixel size, for PNG rendering (`width='container'` has no size there).
    Without `height` the chart keeps its own (a fixed height or a step per bar)."""
    if height is None:
        return chart.properties(width=width)
    return chart.properties(width=width, height=height)


def _rows(rows: Iterable[Any] | None) -> list[dict[str, Any]]:
    """Plain, JSON-ready dict copies of the input rows (dataclasses and mappings accepted)."""
    out: list[dict[str, Any]] = []
    for row in rows or ():
        if dataclasses.is_dataclass(row) and not isinstance(row, type):
            d = dataclasses.asdict(row)
        else:
            d = dict(row)
        out.append({k: _jsonable(v) for k, v in d.items()})
    return out


def _jsonable(value: Any) -> Any:
    """Dates become ISO strings; enums their value; everything else passes through."""
    if isinstance(value, (dt.date, dt.datetime)):
        return value.isoformat()
    if isinstance(value, Enum):
        return value.value
    return value


def _iso(value: Any) -> str:
    """An ISO date string from a date, datetime or string."""
    if isinstance(value, dt.datetime):
        return value.date().isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    return str(value)[:10]


def _first_seen(rows: list[dict[str, Any]], field: str) -> list[Any]:
    """Distinct values of a field in input order (the SQL's ORDER BY is the display order)."""
    seen: dict[Any, None] = {}
    for r in rows:
        seen.setdefault(r.get(field), None)
    return list(seen)


def _select(builder: str) -> alt.Parameter:
    """A fresh point selection for a builder (fresh each call: no shared mutable chart state)."""
    sel = SELECTIONS[builder]
    return alt.selection_point(name=sel.name, fields=list(sel.fields))


def _no_data(title: str, lang: str, selection: alt.Parameter | None = None,
             height: int = 120) -> alt.TopLevelMixin:
    """A chart that says there is no data; keeps the builder's selection for the page."""
    chart = (
        alt.Chart(alt.Data(values=[{"text": labels(lang)["no_data"]}]), title=title)
        .mark_text(fontSize=16, color="#666666")
        .encode(text="text:N")
        .properties(width="container", height=height)
    )
    if selection is not None:
        chart = chart.add_params(selection)
    return configure(chart)


def _count_axis() -> alt.Axis:
    """An axis for counts of issues: whole-number ticks only."""
    return alt.Axis(tickMinStep=1, format="d")


def _opacity(selection: alt.Parameter) -> alt.ConditionalValueDefnumberExprRef:
    """Dim what is not selected, so the drill-down target is visible."""
    return alt.condition(selection, alt.value(1.0), alt.value(_DIM))


# --- burn-up and projection -------------------------------------------------------------------

def project_completion(weeks: Iterable[Any], as_of: dt.date | str, window_weeks: int = 6
                       ) -> dict[str, Any]:
    """Projected completion date from the recent weekly closing rate.

    `weeks`: rows {week: date|ISO str, in_scope: int, closed: int}, cumulative counts at the end
    of each week (the burn-up rows). Only weeks on or before `as_of` count. The rate is taken
    over the last `window_weeks` intervals, each normalised to a 7-day week (net of reopened
    items, since `closed` is cumulative); the mean gives `date`, mean ± sample standard
    deviation give `low` (earliest) and `high` (latest, None when the slow pace is zero or less).
    Dates are counted from the last week on record, when `remaining` was measured.

    Returns one of:
    - {'at_this_rate': True, 'done': False, 'date', 'low', 'high', 'rate', 'rate_sd',
       'remaining', 'from'} (dates ISO strings, rate in issues/week),
    - {'at_this_rate': True, 'done': True, 'date'=='low'=='high'=last week, 'remaining': 0, ...},
    - {'at_this_rate': False, 'reason': 'no_data'|'too_few_weeks'|'no_progress', 'remaining', ...}.
    """
    as_of_iso = _iso(as_of)
    points = sorted(
        (_iso(w["week"]), int(w["in_scope"]), int(w["closed"]))
        for w in _rows(weeks) if _iso(w["week"]) <= as_of_iso
    )
    if not points:
        return {"at_this_rate": False, "done": False, "reason": "no_data", "remaining": None}
    last_week, scope, closed = points[-1]
    remaining = max(scope - closed, 0)
    if remaining == 0:
        return {"at_this_rate": True, "done": True, "date": last_week, "low": last_week,
                "high": last_week, "remaining": 0, "rate": None, "rate_sd": None,
                "from": last_week}
    recent = points[-(window_weeks + 1):]
    rates: list[Fraction] = []
    for (w0, _, c0), (w1, _, c1) in zip(recent, recent[1:]):
        days = (dt.date.fromisoformat(w1) - dt.date.fromisoformat(w0)).days
        if days > 0:
            rates.append(Fraction(c1 - c0) * 7 / days)
    if not rates:
        return {"at_this_rate": False, "done": False, "reason": "too_few_weeks",
                "remaining": remaining, "rate": None, "rate_sd": None, "from": last_week}
    mean = sum(rates, Fraction(0)) / len(rates)
    sd = statistics.stdev(float(r) for r in rates) if len(rates) >= 2 else 0.0
    if mean <= 0:
        return {"at_this_rate": False, "done": False, "reason": "no_progress",
                "remaining": remaining, "rate": float(mean), "rate_sd": sd, "from": last_week}
    start = dt.date.fromisoformat(last_week)

    def after(rate: float | Fraction) -> str:
        # Round before ceil so that float noise (41.9999999) does not add a day.
        days = math.ceil(round(float(Fraction(remaining * 7) / Fraction(rate)), 6))
        return (start + dt.timedelta(days=days)).isoformat()

    slow = float(mean) - sd
    return {
        "at_this_rate": True,
        "done": False,
        "date": after(mean),
        "low": after(float(mean) + sd),
        "high": after(slow) if slow > 1e-9 else None,
        "rate": float(mean),
        "rate_sd": sd,
        "remaining": remaining,
        "from": last_week,
    }


def burnup(weeks: Iterable[Any], deadline: dt.date | str | None = None,
           projection: Mapping[str, Any] | None = None, lang: str = "zh") -> alt.TopLevelMixin:
    """Burn-up: issues in scope and closed (cumulative) per week, with the deadline and projection.

    `weeks`: rows {week: date|ISO str (the week's end), in_scope: int, closed: int}, cumulative.
    `deadline`: the programme deadline, drawn as a vertical rule.
    `projection`: the dict `project_completion` returns (or any {date, low, high} with
    high possibly None); when it has at_this_rate=False a "not at this rate" note is drawn.
    """
    t = labels(lang)
    title = t["title_burnup"]
    rows = _rows(weeks)
    if not rows:
        return _no_data(title, lang)
    for r in rows:
        r["week"] = _iso(r["week"])
    rows.sort(key=lambda r: r["week"])
    series = [t["in_scope"], t["closed"]]
    utc = alt.Scale(type="utc")  # ISO dates are parsed as UTC midnight; show them as such
    x_axis = alt.Axis(format=t["axis_date_format"], labelAngle=0, title=None)
    lines = (
        alt.Chart(alt.Data(values=rows))
        .transform_fold(["in_scope", "closed"], as_=["key", "value"])
        .transform_calculate(series=f"datum.key == 'in_scope' ? '{series[0]}' : '{series[1]}'")
        .mark_line(point=True, strokeWidth=2.5)
        .encode(
            x=alt.X("week:T", scale=utc, axis=x_axis),
            y=alt.Y("value:Q", title=t["issues"], scale=alt.Scale(zero=True),
                    axis=_count_axis()),
            color=alt.Color("series:N", title=None,
                            scale=alt.Scale(domain=series, range=[SCOPE_COLOUR, CLOSED_COLOUR])),
            tooltip=[
                alt.Tooltip("week:N", title=t["week"]),
                alt.Tooltip("in_scope:Q", title=t["in_scope"]),
                alt.Tooltip("closed:Q", title=t["closed"]),
            ],
        )
    )
    layers: list[alt.Chart] = [lines]
    last = rows[-1]
    if deadline is not None:
        d = [{"deadline": _iso(deadline), "label": f"{t['deadline']} {_iso(deadline)}"}]
        layers.append(
            alt.Chart(alt.Data(values=d)).mark_rule(color=DEADLINE_COLOUR, strokeDash=[6, 4],
                                                   strokeWidth=2)
            .encode(x=alt.X("deadline:T", scale=utc),
                    tooltip=[alt.Tooltip("label:N", title=t["deadline"])]))
        layers.append(
            alt.Chart(alt.Data(values=d)).mark_text(color=DEADLINE_COLOUR, align="right", dx=-4,
                                                   baseline="top", y=4, fontSize=12)
            .encode(x=alt.X("deadline:T", scale=utc), text="label:N"))
    if projection:
        late = bool(deadline is not None and projection.get("date")
                    and _iso(projection["date"]) > _iso(deadline))
        layers.extend(_projection_layers(projection, last, t, utc, late))
    chart = alt.layer(*layers, title=title).properties(width="container", height=320)
    return configure(chart)


def _projection_layers(projection: Mapping[str, Any], last: Mapping[str, Any],
                       t: Mapping[str, str], utc: alt.Scale, late: bool) -> list[alt.Chart]:
    """Layers for the projected completion: band low–high, point, dashed path, and a note;
    in the warning colour when the projected date is after the deadline (`late`)."""
    if projection.get("done"):
        note = [{"week": last["week"], "y": last["in_scope"], "text": t["all_closed"]}]
        return [alt.Chart(alt.Data(values=note))
                .mark_text(align="right", dx=-6, dy=-12, fontSize=13, color=CLOSED_COLOUR)
                .encode(x=alt.X("week:T", scale=utc), y="y:Q", text="text:N")]
    if not projection.get("at_this_rate", True) or not projection.get("date"):
        # In the gap between the two lines, right of the last week: where the eye looks for
        # the projection.
        middle = (last["in_scope"] + last["closed"]) / 2
        note = [{"week": last["week"], "y": middle, "text": t["not_at_this_rate"]}]
        return [alt.Chart(alt.Data(values=note))
                .mark_text(align="left", dx=10, fontSize=15, fontWeight="bold",
                           color=OVERDUE_COLOUR)
                .encode(x=alt.X("week:T", scale=utc), y="y:Q", text="text:N")]
    colour = OVERDUE_COLOUR if late else CLOSED_COLOUR
    date, low, high = (_iso(projection["date"]), _iso(projection.get("low") or projection["date"]),
                       projection.get("high"))
    high_iso = _iso(high) if high else date
    scope = last["in_scope"]
    point = {"date": date, "low": low, "high": high_iso, "y": scope,
             "range": f"{low} – {_iso(high) if high else t['no_latest']}",
             "text": f"{t['projected']} {date}"}
    path = [{"week": last["week"], "value": last["closed"]}, {"week": date, "value": scope}]
    tip = [alt.Tooltip("date:N", title=t["projected"]), alt.Tooltip("range:N", title=t["range"])]
    layers = [
        alt.Chart(alt.Data(values=path))
        .mark_line(strokeDash=[4, 4], color=colour, strokeWidth=1.5)
        .encode(x=alt.X("week:T", scale=utc), y="value:Q"),
        alt.Chart(alt.Data(values=[point]))
        .mark_rule(strokeWidth=10, opacity=0.3, color=colour)
        .encode(x=alt.X("low:T", scale=utc), x2="high:T", y="y:Q", tooltip=tip),
        alt.Chart(alt.Data(values=[point]))
        .mark_point(shape="diamond", size=140, filled=True, color=colour)
        .encode(x=alt.X("date:T", scale=utc), y="y:Q", tooltip=tip),
        alt.Chart(alt.Data(values=[point]))
        .mark_text(align="center", dy=-16, fontSize=12, color=colour)
        .encode(x=alt.X("date:T", scale=utc), y="y:Q", text="text:N"),
    ]
    if not high:
        layers.append(
            alt.Chart(alt.Data(values=[point]))
            .mark_text(align="center", dy=18, fontSize=11, color="#666666")
            .encode(x=alt.X("date:T", scale=utc), y="y:Q", text=alt.value(t["no_latest"])))
    return layers


# --- status -----------------------------------------------------------------------------------

def status_by_category(rows: Iterable[Any], lang: str = "zh") -> alt.TopLevelMixin:
    """Stacked horizontal bars of issue counts per category and status.

    `rows`: {category: str (code or name, shown as given, in input order), status: str (a
    Status value), count: int}. Selection `SELECTIONS['status_by_category']`: category, status.
    """
    return _status_bars(rows, "category", "status_by_category", lang)


def status_by_stream(rows: Iterable[Any], lang: str = "zh") -> alt.TopLevelMixin:
    """Stacked horizontal bars of issue counts per work stream and status.

    `rows`: {stream: str (name or code, in input order), status: str, count: int}; an issue in
    both streams counts in both. Selection `SELECTIONS['status_by_stream']`: stream, status.
    """
    return _status_bars(rows, "stream", "status_by_stream", lang)


def _status_bars(rows: Iterable[Any], group: str, builder: str, lang: str) -> alt.TopLevelMixin:
    """Stacked status bars per group, statuses in workflow order with the product colours."""
    t = labels(lang)
    title = t[f"title_{builder}"]
    selection = _select(builder)
    data = _rows(rows)
    if not data:
        return _no_data(title, lang, selection)
    rank = {s: i for i, s in enumerate(STATUS_ORDER)}
    for r in data:
        r["status_label"] = status_label(r["status"], lang)
        r["status_rank"] = rank.get(r["status"], len(rank))
    domain = [status_label(s, lang) for s in STATUS_ORDER]
    chart = (
        alt.Chart(alt.Data(values=data), title=title)
        .mark_bar()
        .encode(
            y=alt.Y(f"{group}:N", title=t[group], sort=_first_seen(data, group),
                    axis=alt.Axis(labelAngle=0)),
            x=alt.X("count:Q", title=t["count"], stack="zero", axis=_count_axis()),
            color=alt.Color("status_label:N", title=t["status"],
                            scale=alt.Scale(domain=domain, range=list(STATUS_COLOURS.values())),
                            sort=domain),
            order=alt.Order("status_rank:Q", sort="ascending"),
            opacity=_opacity(selection),
            tooltip=[alt.Tooltip(f"{group}:N", title=t[group]),
                     alt.Tooltip("status_label:N", title=t["status"]),
                     alt.Tooltip("count:Q", title=t["count"])],
        )
        .add_params(selection)
        .properties(width="container", height=alt.Step(_BAR_STEP))
    )
    return configure(chart)


# --- units ------------------------------------------------------------------------------------

def heatmap_unit_category(rows: Iterable[Any], measure: str = "open", lang: str = "zh"
                          ) -> alt.TopLevelMixin:
    """Heatmap of open or overdue issues, units down, categories across, counts in the cells.

    `rows`: {unit: str, category: str, open: int, overdue: int}, one per (unit, category) pair
    that has issues; both keep input order. `measure`: 'open' or 'overdue' (ValueError
    otherwise). Selection `SELECTIONS['heatmap_unit_category']`: unit, category.
    """
    if measure not in ("open", "overdue"):
        raise ValueError(f"measure must be 'open' or 'overdue', not {measure!r}")
    t = labels(lang)
    title = t[f"title_heatmap_{measure}"]
    selection = _select("heatmap_unit_category")
    data = _rows(rows)
    if not data:
        return _no_data(title, lang, selection)
    top = max((r.get(measure) or 0) for r in data)
    scheme = "blues" if measure == "open" else "oranges"
    # Long category names wrap onto two lines instead of turning vertical.
    wrap = ("length(datum.label) > 7 ? [substring(datum.label, 0, 7), substring(datum.label, 7)]"
            " : datum.label")
    base = alt.Chart(alt.Data(values=data)).encode(
        x=alt.X("category:N", title=t["category"], sort=_first_seen(data, "category"),
                axis=alt.Axis(labelAngle=0, labelExpr=wrap)),
        y=alt.Y("unit:N", title=t["unit"], sort=_first_seen(data, "unit"),
                axis=alt.Axis(labelAngle=0)),
    )
    tooltip = [alt.Tooltip("unit:N", title=t["unit"]),
               alt.Tooltip("category:N", title=t["category"]),
               alt.Tooltip("open:Q", title=t["open"]),
               alt.Tooltip("overdue:Q", title=t["overdue"])]
    cells = base.mark_rect(stroke="white", strokeWidth=1).encode(
        color=alt.Color(f"{measure}:Q", title=t[measure],
                        scale=alt.Scale(scheme=scheme, domainMin=0)),
        opacity=_opacity(selection),
        tooltip=tooltip,
    ).add_params(selection)
    # Dark cells get white text so the count stays readable.
    text = base.mark_text(fontSize=13).encode(
        text=alt.Text(f"{measure}:Q"),
        color=alt.condition(f"datum['{measure}'] > {top * 0.55}", alt.value("white"),
                            alt.value("#222222")),
        tooltip=tooltip,
    )
    chart = alt.layer(cells, text, title=title).properties(width="container",
                                                          height=alt.Step(30))
    return configure(chart)


def warning_by_unit(rows: Iterable[Any], lang: str = "zh") -> alt.TopLevelMixin:
    """Stacked horizontal bars of red/amber/green open issues per unit.

    `rows`: {unit: str (input order), warning: 'red'|'amber'|'green'|'none', count: int}.
    Selection `SELECTIONS['warning_by_unit']`: unit, warning.
    """
    t = labels(lang)
    title = t["title_warning_by_unit"]
    selection = _select("warning_by_unit")
    data = _rows(rows)
    if not data:
        return _no_data(title, lang, selection)
    rank = {w: i for i, w in enumerate(WARNING_ORDER)}
    for r in data:
        r["warning_label"] = warning_label(r["warning"], lang)
        r["warning_rank"] = rank.get(r["warning"], len(rank))
    # 'none' (closed items) only appears in the legend when the caller sent it.
    shown = [w for w in WARNING_ORDER if w != "none" or any(r["warning"] == "none" for r in data)]
    domain = [warning_label(w, lang) for w in shown]
    chart = (
        alt.Chart(alt.Data(values=data), title=title)
        .mark_bar()
        .encode(
            y=alt.Y("unit:N", title=t["unit"], sort=_first_seen(data, "unit"),
                    axis=alt.Axis(labelAngle=0)),
            x=alt.X("count:Q", title=t["count"], stack="zero", axis=_count_axis()),
            color=alt.Color("warning_label:N", title=t["warning"], sort=domain,
                            scale=alt.Scale(domain=domain,
                                            range=[WARNING_COLOURS[w] for w in shown])),
            order=alt.Order("warning_rank:Q", sort="ascending"),
            opacity=_opacity(selection),
            tooltip=[alt.Tooltip("unit:N", title=t["unit"]),
                     alt.Tooltip("warning_label:N", title=t["warning"]),
                     alt.Tooltip("count:Q", title=t["count"])],
        )
        .add_params(selection)
        .properties(width="container", height=alt.Step(_BAR_STEP))
    )
    return configure(chart)


# --- ageing -----------------------------------------------------------------------------------

def ageing_buckets(ages_days: Iterable[int], lang: str = "zh") -> list[dict[str, Any]]:
    """Counts of ages (days) per bucket 0–30, 31–60, 61–90, 91–180, over 180, all buckets
    present even when empty, in order: rows {bucket: str, count: int} for `ageing`.
    Raises ValueError for a negative age (an item created after the as-of date)."""
    t = labels(lang)
    names: list[str] = []
    lo = 0
    for hi in AGEING_BOUNDS:
        names.append(t["days_first"].format(lo=lo, hi=hi))
        lo = hi + 1
    names.append(t["days_last"].format(lo=AGEING_BOUNDS[-1]))
    counts = [0] * len(names)
    for age in ages_days:
        if age < 0:
            raise ValueError(f"negative age {age}: filter out items created after the as-of date")
        index = next((i for i, hi in enumerate(AGEING_BOUNDS) if age <= hi), len(AGEING_BOUNDS))
        counts[index] += 1
    return [{"bucket": n, "count": c} for n, c in zip(names, counts)]


def ageing(rows: Iterable[Any], lang: str = "zh") -> alt.TopLevelMixin:
    """Bars of open issues per age bucket, buckets in input order.

    `rows`: {bucket: str (e.g. '0–30天'; see `ageing_buckets`), count: int}.
    Selection `SELECTIONS['ageing']`: bucket.
    """
    t = labels(lang)
    title = t["title_ageing"]
    selection = _select("ageing")
    data = _rows(rows)
    if not data:
        return _no_data(title, lang, selection)
    base = alt.Chart(alt.Data(values=data)).encode(
        x=alt.X("bucket:N", title=t["bucket"], sort=_first_seen(data, "bucket"),
                axis=alt.Axis(labelAngle=0)),
        y=alt.Y("count:Q", title=t["count"], axis=_count_axis()),
        tooltip=[alt.Tooltip("bucket:N", title=t["bucket"]),
                 alt.Tooltip("count:Q", title=t["count"])],
    )
    bars = base.mark_bar(color=OPEN_COLOUR).encode(opacity=_opacity(selection)) \
        .add_params(selection)
    text = base.mark_text(dy=-8, fontSize=12).encode(text="count:Q")
    chart = alt.layer(bars, text, title=title).properties(width="container", height=280)
    return configure(chart)


# --- on-time rate -----------------------------------------------------------------------------

def on_time_by_month(rows: Iterable[Any], lang: str = "zh") -> alt.TopLevelMixin:
    """Bars of the on-time rate per month (on_time / due), labelled, with the overall rate.

    `rows`: {month: 'YYYY-MM', on_time: int, due: int}, where due counts the issues that were
    closed or whose original deadline passed in that month (按期整改率's denominator). Months
    with due = 0 get no bar. Selection `SELECTIONS['on_time_by_month']`: month.
    """
    t = labels(lang)
    title = t["title_on_time_by_month"]
    selection = _select("on_time_by_month")
    data = _rows(rows)
    if not data:
        return _no_data(title, lang, selection)
    for r in data:
        r["rate"] = r["on_time"] / r["due"] if r["due"] else None
    due = sum(r["due"] or 0 for r in data)
    overall = sum(r["on_time"] or 0 for r in data) / due if due else None
    base = alt.Chart(alt.Data(values=data)).encode(
        x=alt.X("month:O", title=t["month"], sort=sorted(_first_seen(data, "month")),
                axis=alt.Axis(labelAngle=0)),
        y=alt.Y("rate:Q", title=t["rate"], scale=alt.Scale(domain=[0, 1]),
                axis=alt.Axis(format="%")),
        tooltip=[alt.Tooltip("month:O", title=t["month"]),
                 alt.Tooltip("on_time:Q", title=t["on_time"]),
                 alt.Tooltip("due:Q", title=t["due"]),
                 alt.Tooltip("rate:Q", title=t["rate"], format=".1%")],
    )
    layers: list[alt.Chart] = [
        base.mark_bar(color=STATUS_COLOURS["in_progress"])
        .encode(opacity=_opacity(selection)).add_params(selection),
        base.mark_text(dy=-8, fontSize=12).encode(text=alt.Text("rate:Q", format=".0%")),
    ]
    if overall is not None:
        o = [{"rate": overall, "text": f"{t['overall']} {overall:.0%}"}]
        layers.append(alt.Chart(alt.Data(values=o))
                      .mark_rule(color=SCOPE_COLOUR, strokeDash=[6, 4]).encode(y="rate:Q"))
        layers.append(alt.Chart(alt.Data(values=o))
                      .mark_text(align="left", x=4, dy=-8, fontSize=12, color=SCOPE_COLOUR)
                      .encode(y="rate:Q", text="text:N"))
    chart = alt.layer(*layers, title=title).properties(width="container", height=280)
    return configure(chart)


# --- people, focus points, causes -------------------------------------------------------------

def _overlay_bars(data: list[dict[str, Any]], group: str, back: str, front: str,
                  colours: tuple[str, str], selection: alt.Parameter, title: str,
                  t: Mapping[str, str], sort: list[Any], extra_tips: list[alt.Tooltip],
                  text: alt.Chart | None = None) -> alt.TopLevelMixin:
    """Horizontal bars of `back` with `front` (a part of it) drawn over, from zero, with legend."""
    names = [t[back], t[front]]
    bars = (
        alt.Chart(alt.Data(values=data))
        .transform_fold([back, front], as_=["key", "value"])
        .transform_calculate(series=f"datum.key == '{back}' ? '{names[0]}' : '{names[1]}'")
        .mark_bar()
        .encode(
            y=alt.Y(f"{group}:N", title=t[group], sort=sort, axis=alt.Axis(labelAngle=0)),
            x=alt.X("value:Q", title=t["issues"], stack=None, axis=_count_axis()),
            color=alt.Color("series:N", title=None,
                            scale=alt.Scale(domain=names, range=list(colours))),
            # The part is drawn after (over) the whole.
            order=alt.Order("key:N", sort="ascending" if back < front else "descending"),
            opacity=_opacity(selection),
            tooltip=[alt.Tooltip(f"{group}:N", title=t[group]),
                     alt.Tooltip(f"{back}:Q", title=t[back]),
                     alt.Tooltip(f"{front}:Q", title=t[front]), *extra_tips],
        )
        .add_params(selection)
    )
    layers = [bars] if text is None else [bars, text]
    chart = alt.layer(*layers, title=title).properties(width="container",
                                                       height=alt.Step(_BAR_STEP))
    return configure(chart)


def workload_by_owner(rows: Iterable[Any], top: int = 15, lang: str = "zh") -> alt.TopLevelMixin:
    """Horizontal bars of open issues per owner with the overdue part over them, top N by open.

    `rows`: {owner: str (display-unique, e.g. '张伟（包头）'), open: int, overdue: int}; sorted
    here by open then overdue, descending, and cut to `top`.
    Selection `SELECTIONS['workload_by_owner']`: owner.
    """
    t = labels(lang)
    title = t["title_workload_by_owner"]
    selection = _select("workload_by_owner")
    # SUM() over no rows is NULL in SQL: count it as 0.
    data = sorted(_rows(rows), key=lambda r: (-(r["open"] or 0), -(r["overdue"] or 0)))[:top]
    if not data:
        return _no_data(title, lang, selection)
    return _overlay_bars(data, "owner", "open", "overdue", (OPEN_COLOUR, OVERDUE_COLOUR),
                         selection, title, t, [r["owner"] for r in data], [])


def focus_progress(rows: Iterable[Any], lang: str = "zh") -> alt.TopLevelMixin:
    """Horizontal bars of issues per focus point with the closed part over them and the rate.

    `rows`: {focus: str (name, input order), closed: int, total: int}.
    Selection `SELECTIONS['focus_progress']`: focus.
    """
    t = labels(lang)
    title = t["title_focus_progress"]
    selection = _select("focus_progress")
    data = _rows(rows)
    if not data:
        return _no_data(title, lang, selection)
    for r in data:
        r["rate"] = r["closed"] / r["total"] if r["total"] else None
        rate = f"{r['rate']:.0%}" if r["rate"] is not None else "–"
        r["label"] = f"{r['closed']}/{r['total']}（{rate}）" if lang == "zh" \
            else f"{r['closed']}/{r['total']} ({rate})"
    sort = _first_seen(data, "focus")
    text = (alt.Chart(alt.Data(values=data))
            .mark_text(align="left", dx=4, fontSize=12)
            .encode(y=alt.Y("focus:N", sort=sort), x="total:Q", text="label:N"))
    tips = [alt.Tooltip("rate:Q", title=t["closure_rate"], format=".1%")]
    return _overlay_bars(data, "focus", "total", "closed", (TRACK_COLOUR, CLOSED_COLOUR),
                         selection, title, t, sort, tips, text)


def cause_ranking(rows: Iterable[Any], top: int = 10, lang: str = "zh") -> alt.TopLevelMixin:
    """Horizontal bars of open issues per root cause with the overdue part, top N, amounts noted.

    `rows`: {cause: str, open_issues: int, amount: float (yuan, summed over its issues),
    overdue: int}; sorted here by open_issues then amount, descending, and cut to `top`.
    Amounts are shown in 万元 (zh) or thousands of yuan (en).
    Selection `SELECTIONS['cause_ranking']`: cause.
    """
    t = labels(lang)
    title = t["title_cause_ranking"]
    selection = _select("cause_ranking")
    data = sorted(_rows(rows), key=lambda r: (-(r["open_issues"] or 0), -(r["amount"] or 0))
                  )[:top]
    if not data:
        return _no_data(title, lang, selection)
    # Chinese readers count money in 万元; English readers in thousands of yuan.
    for r in data:
        amount = r["amount"] or 0
        r["amount_10k"] = round(amount / 10_000, 2)
        r["label"] = f"{amount / 10_000:,.1f}万元" if lang == "zh" else f"¥{amount / 1000:,.0f}k"
    sort = [r["cause"] for r in data]
    text = (alt.Chart(alt.Data(values=data))
            .mark_text(align="left", dx=4, fontSize=11, color="#555555")
            .encode(y=alt.Y("cause:N", sort=sort), x="open_issues:Q", text="label:N"))
    tips = [alt.Tooltip("amount_10k:Q", title=t["amount"], format=",.2f") if lang == "zh"
            else alt.Tooltip("amount:Q", title=t["amount"], format=",.0f")]
    return _overlay_bars(data, "cause", "open_issues", "overdue", (OPEN_COLOUR, OVERDUE_COLOUR),
                         selection, title, t, sort, tips, text)
