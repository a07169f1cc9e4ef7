"""Chart builders shared by the dashboard page and the Word review pack.

Each builder takes plain rows (dicts, mappings or dataclasses, the shape an SQL aggregation
returns) and a language, and returns an Altair chart: no Streamlit, no database, no clock.
The screen shows a chart as it comes (`width='container'`); the Word export passes it through
`for_print` and `exports.chart_format.chart_png`. Progress over time (burn-up and projection,
ageing, on-time rate) is in audit/progress_charts.py; the texts are the catalogue's `chart.*`
keys (`labels`).

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
import functools
import json
import math
from collections.abc import Iterable, Mapping
from enum import Enum
from types import MappingProxyType
from typing import Any, NamedTuple

import altair as alt

from audit import messages

from audit.palette_model import (  # noqa: F401  (the builders' palette, used by pages too)
    CLOSED_COLOUR,
    DEADLINE_COLOUR,
    FONT,
    OPEN_COLOUR,
    OVERDUE_COLOUR,
    SCOPE_COLOUR,
    STATUS_COLOURS,
    STATUS_ORDER,
    TRACK_COLOUR,
    WARNING_COLOURS,
    WARNING_ORDER,
)


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



BAR_STEP = 26          # px per bar on horizontal bar charts: readable on a projector
DIM = 0.35             # opacity of the bars/cells not selected


# --- helpers ----------------------------------------------------------------------------------

def labels(lang: str = "zh") -> Mapping[str, str]:
    """The chart texts of a language (the catalogue's `chart.*` keys, without the prefix).
    Raises ValueError for a language other than zh/en."""
    if lang not in messages.LANGS:
        raise ValueError(f"unsupported chart language {lang!r}; use 'zh' or 'en'")
    return _labels(lang)


@functools.cache
def _labels(lang: str) -> Mapping[str, str]:
    prefix = "chart."
    return MappingProxyType({key[len(prefix):]: text for key, text in
                             messages.MESSAGES[lang].items() if key.startswith(prefix)})


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


def plain_rows(rows: Iterable[Any] | None) -> list[dict[str, Any]]:
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


def iso_date(value: Any) -> str:
    """An ISO date string from a date, datetime or string."""
    if isinstance(value, dt.datetime):
        return value.date().isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    return str(value)[:10]


def first_seen(rows: list[dict[str, Any]], field: str) -> list[Any]:
    """Distinct values of a field in input order (the SQL's ORDER BY is the display order)."""
    seen: dict[Any, None] = {}
    for r in rows:
        seen.setdefault(r.get(field), None)
    return list(seen)


def point_selection(builder: str) -> alt.Parameter:
    """A fresh point selection for a builder (fresh each call: no shared mutable chart state)."""
    sel = SELECTIONS[builder]
    return alt.selection_point(name=sel.name, fields=list(sel.fields))


def no_data_chart(title: str, lang: str, selection: alt.Parameter | None = None,
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


def count_axis(top: float | None = None) -> alt.Axis:
    """An axis for counts of issues: whole-number ticks only. With the largest value `top`,
    small ranges get every whole number as a tick (Vega would otherwise place ticks at
    halves and round them: "0 1 1")."""
    if top is not None and top <= 10:
        return alt.Axis(values=list(range(0, int(top) + 2)), format="d")
    return alt.Axis(tickMinStep=1, format="d")


def _stacked_top(data: list[dict[str, Any]], group: str) -> int:
    """The longest stacked bar: the largest sum of counts over one group."""
    sums: dict[Any, int] = {}
    for r in data:
        sums[r.get(group)] = sums.get(r.get(group), 0) + (r.get("count") or 0)
    return max(sums.values(), default=0)


def described(chart: alt.Chart, parts: Iterable[tuple[str, str]]) -> alt.Chart:
    """The chart whose marks a screen reader describes in the catalogue's words: `parts` are
    (title, field) pairs, read as "title: value; …". Vega-Lite's own description names every
    encoded field, the helpers too (warning_rank, series, key), under their code names."""
    expr = " + '; ' + ".join(f"{json.dumps(title + ': ', ensure_ascii=False)} + "
                             f"datum[{json.dumps(field)}]" for title, field in parts)
    return chart.transform_calculate(aria_text=expr).encode(
        description=alt.Description("aria_text:N"))


def dim_unselected(selection: alt.Parameter) -> alt.ConditionalValueDefnumberExprRef:
    """Dim what is not selected, so the drill-down target is visible."""
    return alt.condition(selection, alt.value(1.0), alt.value(DIM))


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
    selection = point_selection(builder)
    data = plain_rows(rows)
    if not data:
        return no_data_chart(title, lang, selection)
    rank = {s: i for i, s in enumerate(STATUS_ORDER)}
    for r in data:
        r["status_label"] = status_label(r["status"], lang)
        r["status_rank"] = rank.get(r["status"], len(rank))
    domain = [status_label(s, lang) for s in STATUS_ORDER]
    chart = (
        alt.Chart(alt.Data(values=data), title=title)
        .mark_bar()
        .encode(
            y=alt.Y(f"{group}:N", title=t[group], sort=first_seen(data, group),
                    axis=alt.Axis(labelAngle=0)),
            x=alt.X("count:Q", title=t["count"], stack="zero",
                    axis=count_axis(_stacked_top(data, group))),
            color=alt.Color("status_label:N", title=t["status"],
                            scale=alt.Scale(domain=domain, range=list(STATUS_COLOURS.values())),
                            sort=domain),
            order=alt.Order("status_rank:Q", sort="ascending"),
            opacity=dim_unselected(selection),
            tooltip=[alt.Tooltip(f"{group}:N", title=t[group]),
                     alt.Tooltip("status_label:N", title=t["status"]),
                     alt.Tooltip("count:Q", title=t["count"])],
        )
        .add_params(selection)
        .properties(width="container", height=alt.Step(BAR_STEP))
    )
    chart = described(chart, ((t[group], group), (t["status"], "status_label"),
                              (t["count"], "count")))
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
    selection = point_selection("heatmap_unit_category")
    data = plain_rows(rows)
    if not data:
        return no_data_chart(title, lang, selection)
    top = max((r.get(measure) or 0) for r in data)
    scheme = "blues" if measure == "open" else "oranges"
    categories = first_seen(data, "category")
    # Category names wrap between words onto as many lines as their column's width needs,
    # instead of running into each other (or turning vertical).
    per_line = max(2, min(7, HEATMAP_LABEL_CHARS // max(1, len(categories))))
    lines = {c: word_lines(str(c), per_line) for c in categories}
    wrap = f"({json.dumps(lines, ensure_ascii=False)})[datum.label] || datum.label"
    base = alt.Chart(alt.Data(values=data)).encode(
        x=alt.X("category:N", title=t["category"], sort=categories,
                axis=alt.Axis(labelAngle=0, labelExpr=wrap, labelLimit=0)),
        y=alt.Y("unit:N", title=t["unit"], sort=first_seen(data, "unit"),
                axis=alt.Axis(labelAngle=0)),
    )
    tooltip = [alt.Tooltip("unit:N", title=t["unit"]),
               alt.Tooltip("category:N", title=t["category"]),
               alt.Tooltip("open:Q", title=t["open"]),
               alt.Tooltip("overdue:Q", title=t["overdue"])]
    cells = base.mark_rect(stroke="white", strokeWidth=1).encode(
        color=alt.Color(f"{measure}:Q", title=t[measure],
                        scale=alt.Scale(scheme=scheme, domainMin=0),
                        # Counts: whole-number steps in the legend, never 0.5.
                        legend=alt.Legend(format="d", tickMinStep=1, **(
                            {"values": list(range(0, int(top) + 1))} if top <= 10 else {}))),
        opacity=dim_unselected(selection),
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
    selection = point_selection("warning_by_unit")
    data = plain_rows(rows)
    if not data:
        return no_data_chart(title, lang, selection)
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
            y=alt.Y("unit:N", title=t["unit"], sort=first_seen(data, "unit"),
                    axis=alt.Axis(labelAngle=0)),
            x=alt.X("count:Q", title=t["count"], stack="zero",
                    axis=count_axis(_stacked_top(data, "unit"))),
            color=alt.Color("warning_label:N", title=t["warning"], sort=domain,
                            scale=alt.Scale(domain=domain,
                                            range=[WARNING_COLOURS[w] for w in shown])),
            order=alt.Order("warning_rank:Q", sort="ascending"),
            opacity=dim_unselected(selection),
            tooltip=[alt.Tooltip("unit:N", title=t["unit"]),
                     alt.Tooltip("warning_label:N", title=t["warning"]),
                     alt.Tooltip("count:Q", title=t["count"])],
        )
        .add_params(selection)
        .properties(width="container", height=alt.Step(BAR_STEP))
    )
    chart = described(chart, ((t["unit"], "unit"), (t["warning"], "warning_label"),
                              (t["count"], "count")))
    return configure(chart)


# --- people, focus points, causes -------------------------------------------------------------

def _overlay_bars(data: list[dict[str, Any]], group: str, back: str, front: str,
                  colours: tuple[str, str], selection: alt.Parameter, title: str,
                  t: Mapping[str, str], sort: list[Any], extra_tips: list[alt.Tooltip],
                  text: alt.Chart | None = None, wrap: int = 0) -> alt.TopLevelMixin:
    """Horizontal bars of `back` with `front` (a part of it) drawn over, from zero, with legend."""
    names = [t[back], t[front]]
    top = max((r.get(back) or 0) for r in data)
    # With text labels right of the bars, the axis runs on by a third so that the longest
    # bar's label stays inside the plot instead of running over its edge (or being cut).
    room = max(top + 1, math.ceil(top * 4 / 3))
    bars = (
        alt.Chart(alt.Data(values=data))
        .transform_fold([back, front], as_=["key", "value"])
        .transform_calculate(series=f"datum.key == '{back}' ? '{names[0]}' : '{names[1]}'")
        .mark_bar()
        .encode(
            y=alt.Y(f"{group}:N", title=t[group], sort=sort, axis=_wrapped(wrap)),
            x=alt.X("value:Q", title=t["issues"], stack=None,
                    axis=count_axis(room if text else top),
                    scale=alt.Scale(domain=[0, room]) if text else alt.Scale()),
            color=alt.Color("series:N", title=None,
                            scale=alt.Scale(domain=names, range=list(colours))),
            # The part is drawn after (over) the whole.
            order=alt.Order("key:N", sort="ascending" if back < front else "descending"),
            opacity=dim_unselected(selection),
            tooltip=[alt.Tooltip(f"{group}:N", title=t[group]),
                     alt.Tooltip(f"{back}:Q", title=t[back]),
                     alt.Tooltip(f"{front}:Q", title=t[front]), *extra_tips],
        )
        .add_params(selection)
    )
    bars = described(bars, ((t[group], group), (t[back], back), (t[front], front)))
    layers = [bars] if text is None else [bars, text]
    step = BAR_STEP if not wrap else BAR_STEP + 16  # two lines of label a bar
    chart = alt.layer(*layers, title=title).properties(width="container",
                                                       height=alt.Step(step))
    return configure(chart)


# Characters of category labels across a heatmap (print width, 12-px type): each column's share.
HEATMAP_LABEL_CHARS = 40


def word_lines(text: str, width: int) -> list[str]:
    """`text` in lines of at most `width` characters, broken between words (jieba's cut;
    a word longer than a line is cut): 外包合同 / 管理, not 外包合 / 同管理."""
    if len(text) <= width:
        return [text]
    import rjieba  # the word cutter the duplicate finder uses
    lines, line = [], ""
    for word in rjieba.cut(text):
        while len(word) > width:
            if line:
                lines.append(line)
                line = ""
            lines.append(word[:width])
            word = word[width:]
        if len(line) + len(word) > width:
            lines.append(line)
            line = word
        else:
            line += word
    if line:
        lines.append(line)
    return lines


def _wrapped(width: int) -> alt.Axis:
    """A y axis whose long labels run onto a second (and third) line of `width` characters
    instead of being cut with '…'; 0: one line."""
    if not width:
        return alt.Axis(labelAngle=0)
    w = width
    expr = (f"length(datum.label) > {w} ? [substring(datum.label, 0, {w}), "
            f"substring(datum.label, {w}, {2 * w}), substring(datum.label, {2 * w}, {3 * w})]"
            " : datum.label")
    return alt.Axis(labelAngle=0, labelExpr=expr, labelLimit=0)


def workload_by_owner(rows: Iterable[Any], top: int = 15, lang: str = "zh") -> alt.TopLevelMixin:
    """Horizontal bars of open issues per owner with the overdue part over them, top N by open.

    `rows`: {owner: str (display-unique, e.g. '张伟（包头）'), open: int, overdue: int}; sorted
    here by open then overdue, descending, and cut to `top`.
    Selection `SELECTIONS['workload_by_owner']`: owner.
    """
    t = labels(lang)
    title = t["title_workload_by_owner"]
    selection = point_selection("workload_by_owner")
    # SUM() over no rows is NULL in SQL: count it as 0.
    data = sorted(plain_rows(rows), key=lambda r: (-(r["open"] or 0), -(r["overdue"] or 0)))[:top]
    if not data:
        return no_data_chart(title, lang, selection)
    return _overlay_bars(data, "owner", "open", "overdue", (OPEN_COLOUR, OVERDUE_COLOUR),
                         selection, title, t, [r["owner"] for r in data], [])


def focus_progress(rows: Iterable[Any], lang: str = "zh") -> alt.TopLevelMixin:
    """Horizontal bars of issues per focus point with the closed part over them and the rate.

    `rows`: {focus: str (name, input order), closed: int, total: int}.
    Selection `SELECTIONS['focus_progress']`: focus.
    """
    t = labels(lang)
    title = t["title_focus_progress"]
    selection = point_selection("focus_progress")
    data = plain_rows(rows)
    if not data:
        return no_data_chart(title, lang, selection)
    for r in data:
        r["rate"] = r["closed"] / r["total"] if r["total"] else None
        rate = f"{r['rate']:.0%}" if r["rate"] is not None else "–"
        r["label"] = t["focus_label"].format(closed=r["closed"], total=r["total"], rate=rate)
    sort = first_seen(data, "focus")
    text = (alt.Chart(alt.Data(values=data))
            # The label repeats what the bar's description says: not read out twice.
            .mark_text(align="left", dx=4, fontSize=12, aria=False)
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
    selection = point_selection("cause_ranking")
    data = sorted(plain_rows(rows), key=lambda r: (-(r["open_issues"] or 0), -(r["amount"] or 0))
                  )[:top]
    if not data:
        return no_data_chart(title, lang, selection)
    # Chinese readers count money in 万元; English readers in thousands of yuan.
    for r in data:
        amount = r["amount"] or 0
        r["amount_10k"] = round(amount / 10_000, 2)
        r["label"] = t["amount_label"].format(amount=amount / float(t["amount_label_divisor"]))
    sort = [r["cause"] for r in data]
    text = (alt.Chart(alt.Data(values=data))
            .mark_text(align="left", dx=4, fontSize=11, color="#555555", aria=False)
            .encode(y=alt.Y("cause:N", sort=sort), x="open_issues:Q", text="label:N"))
    tips = [alt.Tooltip("label:N", title=t["amount"])]
    return _overlay_bars(data, "cause", "open_issues", "overdue", (OPEN_COLOUR, OVERDUE_COLOUR),
                         selection, title, t, sort, tips, text, wrap=14)

