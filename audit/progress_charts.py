"""Chart builders of progress over time, shared by the dashboard page and the Word pack: the
burn-up with its projected completion (`project_completion`, the rule), the age of open issues
and the on-time rate by month. Same conventions as audit/charts.py (plain rows in, `alt.Chart`
out, texts from the catalogue's `chart.*` keys, the product palette)."""
from __future__ import annotations

import datetime as dt
import math
import statistics
from collections.abc import Iterable, Mapping
from fractions import Fraction
from typing import Any

import altair as alt

from audit.charts import (
    CLOSED_COLOUR,
    DEADLINE_COLOUR,
    OPEN_COLOUR,
    OVERDUE_COLOUR,
    SCOPE_COLOUR,
    STATUS_COLOURS,
    configure,
    count_axis,
    dim_unselected,
    first_seen,
    iso_date,
    labels,
    no_data_chart,
    plain_rows,
    point_selection,
)

# Upper bounds (inclusive, days) of the ageing buckets; the last bucket is open-ended.
AGEING_BOUNDS: tuple[int, ...] = (30, 60, 90, 180)


# --- burn-up and projection -------------------------------------------------------------------

def project_completion(weeks: Iterable[Any], as_of: dt.date | str, window_weeks: int = 6,
                       *, settled: int = 0) -> dict[str, Any]:
    """Projected completion date from the recent weekly closing rate.

    `weeks`: rows {week: date|ISO str, in_scope: int, closed: int}, cumulative counts at the end
    of each week (the burn-up rows). Only weeks on or before `as_of` count. The rate is taken
    over the last `window_weeks` intervals, each normalised to a 7-day week (net of reopened
    items, since `closed` is cumulative); the mean gives `date`, mean ± sample standard
    deviation give `low` (earliest) and `high` (latest, None when the slow pace is zero or less).
    Dates are counted from the last week on record, when `remaining` was measured. `settled`:
    issues in scope that will never be closed (特殊原因终结 as of `as_of`): not remaining, or
    the projection would wait for them and say 22 remain where the pack says 21 are open.

    Returns one of:
    - {'at_this_rate': True, 'done': False, 'date', 'low', 'high', 'rate', 'rate_sd',
       'remaining', 'from'} (dates ISO strings, rate in issues/week),
    - {'at_this_rate': True, 'done': True, 'date'=='low'=='high'=last week, 'remaining': 0, ...},
    - {'at_this_rate': False, 'reason': 'no_data'|'too_few_weeks'|'no_progress', 'remaining', ...}.
    """
    as_of_iso = iso_date(as_of)
    points = sorted(
        (iso_date(w["week"]), int(w["in_scope"]), int(w["closed"]))
        for w in plain_rows(weeks) if iso_date(w["week"]) <= as_of_iso
    )
    if not points:
        return {"at_this_rate": False, "done": False, "reason": "no_data", "remaining": None}
    last_week, scope, closed = points[-1]
    remaining = max(scope - closed - settled, 0)
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
    rows = plain_rows(weeks)
    if not rows:
        return no_data_chart(title, lang)
    for r in rows:
        r["week"] = iso_date(r["week"])
    rows.sort(key=lambda r: r["week"])
    series = [t["in_scope"], t["closed"]]
    utc = alt.Scale(type="utc")  # ISO dates are parsed as UTC midnight; show them as such
    # Month ticks, with the year, at most about eight of them whatever the span (a programme of
    # several years would otherwise repeat "1月1日" without saying which year).
    ends = [rows[-1]["week"]] + [iso_date(x) for x in (
        deadline, (projection or {}).get("date"), (projection or {}).get("high")) if x]
    months = _months_between(rows[0]["week"], max(ends))
    x_axis = alt.Axis(format=t["axis_month_format"], labelAngle=0, title=None,
                      tickCount={"interval": "month", "step": max(1, math.ceil(months / 8))})
    lines = (
        alt.Chart(alt.Data(values=rows))
        .transform_fold(["in_scope", "closed"], as_=["key", "value"])
        .transform_calculate(series=f"datum.key == 'in_scope' ? '{series[0]}' : '{series[1]}'")
        .mark_line(point=True, strokeWidth=2.5)
        .encode(
            x=alt.X("week:T", scale=utc, axis=x_axis),
            y=alt.Y("value:Q", title=t["issues"], scale=alt.Scale(zero=True),
                    axis=count_axis(max(max(r["in_scope"], r["closed"]) for r in rows))),
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
        d = [{"deadline": iso_date(deadline), "label": f"{t['deadline']} {iso_date(deadline)}"}]
        layers.append(
            alt.Chart(alt.Data(values=d)).mark_rule(color=DEADLINE_COLOUR, strokeDash=[6, 4],
                                                   strokeWidth=2)
            .encode(x=alt.X("deadline:T", scale=utc),
                    tooltip=[alt.Tooltip("label:N", title=t["deadline"])]))
        layers.append(
            alt.Chart(alt.Data(values=d)).mark_text(color=DEADLINE_COLOUR, align="right", dx=-4,
                                                   baseline="bottom", y="height", dy=-4,
                                                   fontSize=12)
            .encode(x=alt.X("deadline:T", scale=utc), text="label:N"))
    if projection:
        late = bool(deadline is not None and projection.get("date")
                    and iso_date(projection["date"]) > iso_date(deadline))
        layers.extend(_projection_layers(projection, last, t, utc, late))
    # "No latest date at the slow pace" is said under the title, not beside the projection:
    # there it ran into the deadline's label and off the plot's right edge.
    slow = bool(projection and projection.get("date") and projection.get("at_this_rate", True)
                and not projection.get("done") and not projection.get("high"))
    heading = alt.Title(title, subtitle=[t["no_latest"]]) if slow else title
    chart = alt.layer(*layers, title=heading).properties(width="container", height=320)
    return configure(chart)


def _months_between(first: str, last: str) -> int:
    """Whole months from one ISO date to another (at least 1)."""
    a, b = dt.date.fromisoformat(first[:10]), dt.date.fromisoformat(last[:10])
    return max(1, (b.year - a.year) * 12 + b.month - a.month + 1)


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
    date, low, high = (iso_date(projection["date"]), iso_date(projection.get("low") or projection["date"]),
                       projection.get("high"))
    high_iso = iso_date(high) if high else date
    scope = last["in_scope"]
    point = {"date": date, "low": low, "high": high_iso, "y": scope,
             "range": f"{low} – {iso_date(high) if high else t['no_latest']}",
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
        # Ends at the point, above the band: the projection is the right end of the x axis,
        # so a label centred on it would run off the plot.
        alt.Chart(alt.Data(values=[point]))
        .mark_text(align="right", dx=6, dy=-16, fontSize=12, color=colour)
        .encode(x=alt.X("date:T", scale=utc), y="y:Q", text="text:N"),
    ]
    return layers



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
    selection = point_selection("ageing")
    data = plain_rows(rows)
    if not data:
        return no_data_chart(title, lang, selection)
    base = alt.Chart(alt.Data(values=data)).encode(
        x=alt.X("bucket:N", title=t["bucket"], sort=first_seen(data, "bucket"),
                axis=alt.Axis(labelAngle=0)),
        y=alt.Y("count:Q", title=t["count"],
                axis=count_axis(max((r.get("count") or 0) for r in data))),
        tooltip=[alt.Tooltip("bucket:N", title=t["bucket"]),
                 alt.Tooltip("count:Q", title=t["count"])],
    )
    bars = base.mark_bar(color=OPEN_COLOUR).encode(opacity=dim_unselected(selection)) \
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
    selection = point_selection("on_time_by_month")
    data = plain_rows(rows)
    if not data:
        return no_data_chart(title, lang, selection)
    for r in data:
        r["rate"] = r["on_time"] / r["due"] if r["due"] else None
    due = sum(r["due"] or 0 for r in data)
    overall = sum(r["on_time"] or 0 for r in data) / due if due else None
    base = alt.Chart(alt.Data(values=data)).encode(
        x=alt.X("month:O", title=t["month"], sort=sorted(first_seen(data, "month")),
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
        .encode(opacity=dim_unselected(selection)).add_params(selection),
        base.mark_text(dy=-8, fontSize=12).encode(text=alt.Text("rate:Q", format=".0%")),
    ]
    if overall is not None:
        o = [{"rate": overall, "text": f"{t['overall']} {overall:.0%}"}]
        layers.append(alt.Chart(alt.Data(values=o))
                      .mark_rule(color=SCOPE_COLOUR, strokeDash=[6, 4]).encode(y="rate:Q"))
        layers.append(alt.Chart(alt.Data(values=o))
                      # right of the plot, clear of the bars and their labels
                      .mark_text(align="left", x="width", dx=6, fontSize=12,
                                 color=SCOPE_COLOUR)
                      .encode(y="rate:Q", text="text:N"))
    chart = alt.layer(*layers, title=title).properties(width="container", height=280)
    return configure(chart)
