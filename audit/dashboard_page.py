"""The dashboard page (总览): filters kept in the URL, figure tiles with their definitions, the
charts of audit.charts with drill-down to the issues behind a bar or cell. Streamlit only: the
data comes from audit.dashboard, always within the signed-in actor's scope."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta

import streamlit as st

from audit import charts, flags_views, progress_charts, rules_views, ui
from audit.dashboard_views import (
    UnknownSelection,
    amber_days,
    dashboard_data,
    drill_down,
    filter_options,
    unit_name,
    units_in_scope,
)
from audit.messages import label
from audit.model import Actor, AuditError
from audit.views import CURRENT, RECORDED, Scope, classification_note, scope_for

COMPARE_DAYS = 14          # the default comparison: two weeks back (the usual meeting cycle)
DRILL_SHOWN = 30           # issue links listed under a chart; more is a sign to filter
_KEY = "dash."             # widget keys, apart from other pages'

# URL parameter → widget key. The widgets are the state; the URL mirrors them for sharing.
PARAMS = {"as_of": _KEY + "as_of", "compare": _KEY + "compare", "unit": _KEY + "unit",
          "cat": _KEY + "cat", "stream": _KEY + "stream", "focus": _KEY + "focus",
          "class": _KEY + "class"}


@dataclass(frozen=True)
class View:
    """What the user asked to see."""

    as_of: date
    compare_to: date
    unit: str | None = None
    categories: tuple[str, ...] = ()
    stream: str | None = None
    focus: str | None = None
    problems: tuple[str, ...] = field(default=(), compare=False)
    classification: str = RECORDED    # CURRENT: past dates with today's classification


# --- data, cached per database version ------------------------------------------------------------

def _scope_key(scope: Scope) -> tuple:
    ids = None if scope.unit_ids is None else tuple(sorted(scope.unit_ids))
    return (ids, scope.category_codes, scope.stream, scope.focus, scope.classification)


def _scope_of(key: tuple) -> Scope:
    ids, cats, stream, focus, classification = key
    return Scope(None if ids is None else frozenset(ids), cats, stream, focus,
                 classification=classification)


# `version` (ui.data_key of the scope: every write touching the scope's units moves it) is in
# the key so that
# any write shows at once and the next user's sign-in does not make a second copy; `_db` is the
# session's connection and is left out of the key (the path stands for it).
@st.cache_data(show_spinner=False, max_entries=64)
def _load(_db, path: str, version: int, scope_key: tuple, as_of: date, compare_to: date,
          lang: str) -> dict:
    return dashboard_data(_db, _scope_of(scope_key), as_of, compare_to, lang=lang)


@st.cache_data(show_spinner=False, max_entries=128)
def _drill_rows(_db, path: str, version: int, scope_key: tuple, as_of: date,
           selection: tuple, lang: str) -> list[dict]:
    return drill_down(_db, _scope_of(scope_key), as_of, dict(selection), lang=lang)


# Altair builds and validates each chart's spec (~0.8 s for the ten charts): do it once per
# data version, scope, dates, language and heatmap measure, and render the cached specs.
CHART_BUILDERS = {
    "status_by_category": lambda d, lang, m: charts.status_by_category(d["status_by_category"],
                                                                       lang=lang),
    "status_by_stream": lambda d, lang, m: charts.status_by_stream(d["status_by_stream"],
                                                                   lang=lang),
    "heatmap_unit_category": lambda d, lang, m: charts.heatmap_unit_category(
        d["heatmap"], measure=m, lang=lang),
    "warning_by_unit": lambda d, lang, m: charts.warning_by_unit(d["warning_by_unit"],
                                                                 lang=lang),
    "ageing": lambda d, lang, m: progress_charts.ageing(d["ageing"], lang=lang),
    "on_time_by_month": lambda d, lang, m: progress_charts.on_time_by_month(d["on_time_by_month"],
                                                                   lang=lang),
    "workload_by_owner": lambda d, lang, m: charts.workload_by_owner(d["workload_by_owner"],
                                                                     lang=lang),
    "focus_progress": lambda d, lang, m: charts.focus_progress(d["focus_progress"], lang=lang),
    "cause_ranking": lambda d, lang, m: charts.cause_ranking(d["cause_ranking"], lang=lang),
    "burnup": lambda d, lang, m: progress_charts.burnup(d["burnup"]["weeks"], d["burnup"]["deadline"],
                                               d["burnup"]["projection"], lang=lang),
}


@st.cache_data(show_spinner=False, max_entries=64)
def _specs(_data: dict, path: str, version: int, scope_key: tuple, as_of: date,
           compare_to: date, lang: str, measure: str) -> dict[str, dict]:
    # The key arguments are those of _load, which determine `_data`.
    return {name: build(_data, lang, measure).to_dict() for name, build in CHART_BUILDERS.items()}


# --- filters <-> URL --------------------------------------------------------------------------------

def _problem(param: str, value: str, reason_key: str) -> str:
    return ui.text("dashboard.bad_param", param=param, value=value[:40],
                        reason=ui.text(reason_key))


def _seed_widgets(today: date, units: list[dict], categories: dict[str, str],
                  streams: dict[str, str], focus: dict[str, str]) -> list[str]:
    """Give every filter widget its first value from the URL (validated) or its default; a bad
    value is replaced by the default with a message, never an exception. Returns the messages."""
    qp, state, problems = st.query_params, st.session_state, []

    def read_date(param: str, default: date) -> date:
        raw = qp.get(param)
        if raw is None:
            return default
        try:
            value = date.fromisoformat(raw.strip())
        except ValueError:
            problems.append(_problem(param, raw, "dashboard.reason_date"))
            return default
        if value > today:
            problems.append(_problem(param, raw, "dashboard.reason_future"))
            return default
        return value

    def read_choice(param: str, allowed) -> str:
        # "" stands for "all": a None value would show the widget as empty, not as 全部.
        raw = qp.get(param)
        if raw in (None, ""):
            return ""
        if raw not in allowed:
            problems.append(_problem(param, raw, "dashboard.reason_unknown"))
            return ""
        return raw

    if PARAMS["as_of"] not in state:
        state[PARAMS["as_of"]] = read_date("as_of", today)
    if PARAMS["compare"] not in state:
        state[PARAMS["compare"]] = read_date(
            "compare", state[PARAMS["as_of"]] - timedelta(days=COMPARE_DAYS))
    if PARAMS["unit"] not in state:
        state[PARAMS["unit"]] = read_choice("unit", {u["code"] for u in units})
    if PARAMS["cat"] not in state:
        picked = []
        for code in [c for c in (qp.get("cat") or "").split(",") if c.strip()]:
            if code.strip() in categories:
                picked.append(code.strip())
            else:
                problems.append(_problem("cat", code, "dashboard.reason_unknown"))
        state[PARAMS["cat"]] = picked
    if PARAMS["stream"] not in state:
        state[PARAMS["stream"]] = read_choice("stream", streams)
    if PARAMS["focus"] not in state:
        state[PARAMS["focus"]] = read_choice("focus", focus)
    if PARAMS["class"] not in state:
        state[PARAMS["class"]] = read_choice("class", {CURRENT}) == CURRENT
    return problems


def _write_url(view: View) -> None:
    """Mirror the filters in the URL (only what differs, so the page does not churn)."""
    wanted = {"as_of": view.as_of.isoformat(), "compare": view.compare_to.isoformat(),
              "unit": view.unit, "cat": ",".join(view.categories) or None,
              "stream": view.stream, "focus": view.focus,
              "class": CURRENT if view.classification == CURRENT else None}
    qp = st.query_params
    for param, value in wanted.items():
        if value is None:
            if param in qp:
                del qp[param]
        elif qp.get(param) != value:
            qp[param] = value


def _filters(db, actor: Actor, lang: str, today: date) -> View:
    """The filter bar; returns the view it describes."""
    units = units_in_scope(db, actor.scope_unit_ids)
    name_of = {u["code"]: "\u3000" * u["depth"] + u["name"] for u in units}
    options = filter_options(db, lang)
    categories, streams, focus = options["categories"], options["streams"], options["focus"]
    problems = _seed_widgets(today, units, categories, streams, focus)
    everything = ui.text("dashboard.all")
    c1, c2, c3, c4, c5, c6 = st.columns([1.6, 1.6, 2, 2.2, 1.6, 1.8])
    as_of = c1.date_input(ui.text("dashboard.as_of"), key=PARAMS["as_of"],
                          max_value=today, format="YYYY-MM-DD")
    compare_to = c2.date_input(ui.text("dashboard.compare_to"), key=PARAMS["compare"],
                               max_value=today, format="YYYY-MM-DD")
    unit = c3.selectbox(ui.text("dashboard.unit"), ["", *name_of], key=PARAMS["unit"],
                        format_func=lambda c: name_of.get(c, everything))
    cats = c4.multiselect(ui.text("dashboard.category"), list(categories),
                          key=PARAMS["cat"], format_func=lambda c: categories[c],
                          placeholder=everything)
    stream = c5.selectbox(ui.text("dashboard.stream"), ["", *streams],
                          key=PARAMS["stream"], format_func=lambda c: streams.get(c, everything))
    foc = c6.selectbox(ui.text("dashboard.focus"), ["", *focus], key=PARAMS["focus"],
                       format_func=lambda c: focus.get(c, everything))
    today_classes = st.toggle(ui.text("dashboard.classification"), key=PARAMS["class"],
                              help=ui.text("dashboard.classification_help"))
    view = View(as_of or today, compare_to or (today - timedelta(days=COMPARE_DAYS)),
                unit or None, tuple(cats), stream or None, foc or None, tuple(problems),
                CURRENT if today_classes else RECORDED)
    _write_url(view)
    return view


# --- tiles ----------------------------------------------------------------------------------------

def _pct(value: float | None) -> str:
    return ui.text("dashboard.no_rate") if value is None else f"{value:.1%}"


def _tiles(data: dict, amber_days: str) -> None:
    """Eight figures with their change since the comparison date and their definition."""
    f, d = data["figures"], data["deltas"] or {}
    since = ui.text("dashboard.delta_description", date=data["compare_to"] or "")

    def count_delta(key: str) -> str | None:
        return None if d.get(key) is None else ui.text("dashboard.delta_count",
                                                            delta=int(d[key]))

    def rate_delta(key: str) -> str | None:
        return None if d.get(key) is None else ui.text("dashboard.delta_rate",
                                                            delta=d[key] * 100)

    tiles = [
        ("issues", f"{f['issues']:,}", count_delta("issues"), "off"),
        ("closed", f"{f['closed']:,}", count_delta("closed"), "normal"),
        ("closure_rate", _pct(f["closure_rate"]), rate_delta("closure_rate"), "normal"),
        ("on_time_rate", _pct(f["on_time_rate"]), rate_delta("on_time_rate"), "normal"),
        ("overdue", f"{f['overdue']:,}", count_delta("overdue"), "inverse"),
        ("due_soon", f"{f['due_soon']:,}", count_delta("due_soon"), "inverse"),
        ("fully_assigned_rate", _pct(f["fully_assigned_rate"]),
         rate_delta("fully_assigned_rate"), "normal"),
        ("amount", ui.text("dashboard.amount_value",
                                involved=f["amount_involved"] / 10_000,
                                rectified=f["amount_rectified"] / 10_000),
         None if d.get("amount_rectified") is None else ui.text(
             "dashboard.delta_amount", delta=d["amount_rectified"] / 10_000), "normal"),
    ]
    for start in (0, 4):
        for col, (key, value, delta, colour) in zip(st.columns(4), tiles[start:start + 4]):
            # No change is shown without an arrow or a colour: "↑ +0" in green reads as progress.
            unchanged = delta is None or not any(ch in delta for ch in "123456789")
            col.metric(ui.text(f"dashboard.tile.{key}"), value, delta,
                       delta_color="off" if unchanged else colour,
                       delta_arrow="off" if unchanged else "auto",
                       help=ui.text(f"dashboard.help.{key}", days=amber_days) + "\n\n"
                       + since, border=True)


@st.cache_data(show_spinner=False, max_entries=64)
def _flag_counts(_db, _actor: Actor, path: str, version: int, user_id: int, as_of: date
                 ) -> dict:
    # A past date rewinds the flags from history (about 1.4 s on 40,000 issues half a year
    # back): read once per date and data version of the actor's scope.
    return flags_views.flag_counts(_db, _actor, as_of)


def _flag_tiles(db, actor: Actor, as_of: date) -> None:
    """屡审屡犯, 共性问题, recurrences to confirm, checks after closure due: as of the chosen
    date, in the actor's scope (audit.flags_views), on one line below the tiles."""
    counts = _flag_counts(db, actor, *ui.data_key(db, actor.scope_unit_ids), actor.user_id,
                          as_of)
    text = ui.text
    st.caption(text("dash.flags.title") + text("common.colon") + " · ".join(
        f"{text(label_key)} {counts[key]:,}" for key, label_key in (
            ("recurring", "dash.flags.recurring"), ("common", "dash.flags.common"),
            ("recurrence_pending", "dash.flags.pending"),
            ("recheck_due", "dash.flags.recheck_due"),
            ("recurrences", "dash.flags.recurrences"))))


# --- charts and drill-down ------------------------------------------------------------------------

def _picked(event, builder: str) -> dict | None:
    """The field values of the point clicked on a chart, or None."""
    if not event:
        return None
    selection = getattr(event, "selection", None) or (event.get("selection")
                                                       if isinstance(event, dict) else None)
    if not selection:
        return None
    points = selection.get(charts.SELECTIONS[builder].name) or []
    if isinstance(points, dict):
        points = [points]
    fields = charts.SELECTIONS[builder].fields
    for p in points:
        picked = {k: p.get(k) for k in fields if p.get(k) is not None}
        if picked:
            return picked
    return None


def _no_page() -> None:
    """Stand-in callable: st.page_link only needs the url_path of the registered page."""


def _show_drill(db, ctx: dict, selection: dict) -> None:
    """The issues behind a clicked point, each a link to its issue page."""
    lang = ctx["lang"]
    try:
        found = _drill_rows(db, ctx["path"], ctx["version"], ctx["scope_key"], ctx["as_of"],
                       tuple(sorted(selection.items())), lang)
    except UnknownSelection:
        found = []
    if not found:
        st.info(ui.text("dashboard.drill_none"))
        return
    with st.container(border=True):
        st.markdown(f"**{ui.text('dashboard.drill_title', n=len(found))}**")
        page = ui.page("issue")
        for r in found[:DRILL_SHOWN]:
            whole = ui.text("dashboard.drill_row", code=r["code"], title=r["title"])
            # A long title is cut with "…" (a link's label is cut off silently by its box) and
            # read whole in the tooltip.
            st.page_link(page, label=ui.clip(whole, 60),
                         query_params={"id": str(r["id"])}, icon=":material/description:",
                         help=ui.md_escape(whole) + "  \n" + ui.text(
                             "dashboard.drill_help", unit=r["unit"],
                             status=label("status", r["status"], lang),
                             deadline=r["deadline"] or ui.text("dashboard.no_deadline"),
                             warning=charts.warning_label(r["warning"], lang)))
        if len(found) > DRILL_SHOWN:
            st.caption(ui.text("dashboard.drill_more", shown=DRILL_SHOWN, n=len(found)))


def _chart(db, ctx: dict, builder: str, extra: dict | None = None) -> None:
    """Show a chart (its cached spec) with drill-down on click."""
    event = st.vega_lite_chart(spec=ctx["specs"][builder], on_select="rerun",
                               key=f"{_KEY}chart.{builder}", width="stretch")
    picked = _picked(event, builder)
    if picked:
        _show_drill(db, ctx, {**picked, **(extra or {})})


def _burnup(data: dict, ctx: dict) -> None:
    b = data["burnup"]
    st.vega_lite_chart(spec=ctx["specs"]["burnup"], key=f"{_KEY}chart.burnup", width="stretch")
    notes = []
    if b["deadline"]:
        notes.append(ui.text("dashboard.deadline", deadline=b["deadline"]))
    p = b["projection"] or {}
    if p.get("done"):
        notes.append(ui.text("dashboard.projection.done"))
    elif p.get("at_this_rate") and p.get("date"):
        notes.append(ui.text("dashboard.projection.date", date=p["date"], low=p["low"],
                                  high=p.get("high") or ui.text(
                                      "dashboard.projection.no_high")))
    elif b["weeks"]:
        notes.append(ui.text("dashboard.projection.none"))
    if notes:
        st.caption(" · ".join(notes))


def _charts(db, data: dict, ctx: dict) -> None:
    lang = ctx["lang"]
    measure = st.session_state.get(_KEY + "heatmap_measure") or "open"
    ctx["specs"] = _specs(data, ctx["path"], ctx["version"], ctx["scope_key"], ctx["as_of"],
                          ctx["compare_to"], lang, measure)
    st.subheader(ui.text("dashboard.section.progress"))
    _burnup(data, ctx)
    st.caption(ui.text("dashboard.drill_hint"))

    st.subheader(ui.text("dashboard.section.status"))
    # Full width: the five-status legend does not fit under half a page.
    _chart(db, ctx, "status_by_category")
    _chart(db, ctx, "status_by_stream")

    st.subheader(ui.text("dashboard.section.units"))
    measure = st.segmented_control(
        ui.text("dashboard.heatmap_measure"), ["open", "overdue"], default="open",
        key=_KEY + "heatmap_measure", required=True,
        format_func=lambda m: ui.text(f"dashboard.heatmap.{m}")) or "open"
    _chart(db, ctx, "heatmap_unit_category", {"measure": measure})
    left, right = st.columns(2)
    with left:
        _chart(db, ctx, "warning_by_unit")
    with right:
        _chart(db, ctx, "ageing")

    st.subheader(ui.text("dashboard.section.people"))
    left, right = st.columns(2)
    with left:
        _chart(db, ctx, "on_time_by_month")
    with right:
        _chart(db, ctx, "workload_by_owner")

    st.subheader(ui.text("dashboard.section.focus"))
    left, right = st.columns(2)
    with left:
        _chart(db, ctx, "focus_progress")
    with right:
        _chart(db, ctx, "cause_ranking")


# --- the page -------------------------------------------------------------------------------------

def render() -> None:
    """The dashboard: filters, figure tiles, charts and drill-down, within the actor's scope."""
    db = ui.database()
    actor = ui.require_actor()
    lang = ui.lang()
    today = ui.today()
    st.title(ui.text("dashboard.title"))
    view = _filters(db, actor, lang, today)
    for message in view.problems:
        st.warning(message)
    try:
        scope = scope_for(db, actor, unit_code=view.unit, category_codes=view.categories,
                          stream=view.stream, focus=view.focus,
                          classification=view.classification)
    except AuditError as exc:
        ui.show_error(exc)
        return
    # Keyed on the version of the scope's units: a write elsewhere leaves this entry warm.
    path, version = ui.data_key(db, scope.unit_ids)
    ctx = {"lang": lang, "path": path, "version": version,
           "scope_key": _scope_key(scope), "as_of": view.as_of, "compare_to": view.compare_to}
    data = _load(db, ctx["path"], ctx["version"], ctx["scope_key"], view.as_of,
                 view.compare_to, lang)
    chosen = next((u["name"] for u in units_in_scope(db, actor.scope_unit_ids)
                   if u["code"] == view.unit), None)
    scope_name = chosen or (unit_name(db, actor.unit_id) if actor.scope_unit_ids is not None
                            else None) or ui.text("dashboard.scope_all")
    st.caption(ui.text("dashboard.caption", scope=scope_name, as_of=data["as_of"],
                            compare_to=data["compare_to"]) + " · " +
               ui.text("dashboard.share"))
    note = classification_note(scope, lang)
    if note:
        st.info(note, icon=":material/info:")
    _tiles(data, amber_days(db))
    _flag_tiles(db, actor, view.as_of)
    _overdue(db, data, ctx)
    _rules_section(_rules(db, path, version, ctx["scope_key"], view.as_of))
    _charts(db, data, ctx)


def _overdue(db, data: dict, ctx: dict) -> None:
    """The overdue items behind the 逾期 tile, one switch away (the charts drill down too)."""
    n = data["figures"]["overdue"]
    if n and st.toggle(ui.text("dashboard.show_overdue", n=n), key=_KEY + "overdue"):
        _show_drill(db, ctx, {"warning": "red"})


@st.cache_data(show_spinner=False, max_entries=64)
def _rules(_db, path: str, version: int, scope_key: tuple, as_of: date) -> dict:
    scope = _scope_of(scope_key)
    last = rules_views.last_meeting_date(_db, as_of)
    return {"share": rules_views.type_share(_db, scope, as_of),
            "repeated": rules_views.repeated_reds(_db, scope, as_of),
            "last_meeting": last.isoformat() if last else None}


def _rules_section(rules: dict) -> None:
    """The cap on staged + continuous items and the items red at several review meetings
    (docs/RULES.md)."""
    st.subheader(ui.text("dashboard.section.rules"))
    s, repeated = rules["share"], rules["repeated"]
    share, cap = _pct(s["share"]), _pct(s["cap"])
    line = ui.text("dashboard.cap_line", staged=s["staged"], continuous=s["continuous"],
                   share=share, cap=cap)
    if s["over"]:
        # Not st.warning: the page's warnings are about the filters asked for.
        over = ui.text("dashboard.cap_over", share=share, cap=cap)
        st.markdown(f":orange[:material/warning: {ui.md_escape(over)}] "
                    f"{ui.md_escape(line)}")
    else:
        st.caption(line)
    c1, c2, c3 = st.columns(3)
    c1.metric(ui.text("dashboard.tile.last_meeting"),
              rules["last_meeting"] or ui.text("dashboard.no_meeting"), border=True)
    c2.metric(ui.text("dashboard.tile.repeated_reds"), len(repeated), border=True,
              help=ui.text("dashboard.help.repeated_reds"))
    c3.metric(ui.text("dashboard.tile.max_consecutive"),
              max((r["consecutive"] for r in repeated), default=0), border=True)
    if repeated:
        st.dataframe([{
            ui.text("rules.col.code"): r["code"], ui.text("rules.col.title"): r["title"],
            ui.text("rules.col.reds"): r["reds"],
            ui.text("rules.col.consecutive"): r["consecutive"],
            ui.text("rules.col.meetings"): r["meetings"],
        } for r in repeated], hide_index=True, width="stretch", key="dash.repeated_reds")
