"""根源与督办: root causes ranked (with the causes to fix first and the 屡审屡犯 flags), the
issue↔cause graph, issues blocked by what they wait for, the escalation list (leads record the
due steps) and what the signed-in user must chase. Streamlit only: the data comes from
issues.graph_service."""
from __future__ import annotations

from datetime import date

import streamlit as st

from audit import charts, ui
from audit.messages import label
from audit.model import Actor, AuditError, can
from audit.views import Scope, scope_for
from issues import graph_views, stored_views
from issues import escalation_service

MAX_ROWS = 500  # rows drawn in a table: more is unreadable, and slow in the browser
# Causes the graph may draw (the "top" input's maximum) and issues per cause: the stored cause
# inputs keep the issue rows these can draw.
GRAPH_ISSUES_PER_CAUSE = stored_views.GRAPH_ISSUES_PER_CAUSE
MAX_TOP = stored_views.MAX_TOP
ISSUE_URL_PATH = "issue"  # the issue page reads st.query_params['id']
LINK_COLUMNS = 6


# --- reads, cached per database file, data version (every write moves it), scope and date ----
# cache_resource rather than cache_data: the results are read-only and pickling 40,000 issue
# rows on every rerun would cost as much as computing them. Keys hold no user-specific data
# beyond the scope, which is the only thing the results depend on.


def _key(db, scope: Scope, as_of: date) -> tuple:
    """(database file, data version of the scope's units, scope, as-of): what a cached read
    depends on. The version moves with every write touching the scope's units (or
    everything), so a write in another unit leaves these entries warm."""
    units = None if scope.unit_ids is None else tuple(sorted(scope.unit_ids))
    return (*ui.data_key(db, scope.unit_ids), units, scope.category_codes,
            scope.stream, scope.focus, as_of)


@st.cache_resource(show_spinner=False, max_entries=16, ttl=900)
def _cause_inputs(_db, _scope: Scope, key: tuple) -> tuple:
    """The cause inputs and their ranking. Of the issues' state rows only those the graph can
    draw are kept (the cover needs the issue nodes, not the rows): all of them were most of an
    entry's memory on 40,000 issues."""
    return stored_views.cause_inputs(_db, _scope, key[-1], at=ui.now_at())


@st.cache_resource(show_spinner=False, max_entries=16, ttl=900)
def _blocked(_db, _scope: Scope, key: tuple) -> list[dict]:
    """The blocked issues."""
    return stored_views.blocked(_db, _scope, key[-1], at=ui.now_at())


@st.cache_resource(show_spinner=False, max_entries=16, ttl=900)
def _dues(_db, _scope: Scope, key: tuple) -> list[dict]:
    """The escalation steps due."""
    return stored_views.escalations_due(_db, _scope, key[-1], at=ui.now_at())


@st.cache_resource(show_spinner=False, max_entries=64, ttl=900)
def _chase(_db, _actor: Actor, key: tuple, person_id: int) -> list[dict]:
    """What this person must chase."""
    return graph_views.chase_list_for(_db, _actor, key[-1])


def _issue_links(issues: list[tuple[int, str]], lang: str) -> None:
    """One link per issue, in columns."""
    cols = st.columns(LINK_COLUMNS)
    page = ui.page("issue")
    for n, (issue_id, code) in enumerate(issues):
        cols[n % LINK_COLUMNS].page_link(page, label=code, icon=":material/description:",
                                         query_params={"id": str(issue_id), "lang": lang})


def _table_opening_issues(rows: list[dict], issue_ids: list[int], key: str, lang: str,
                          **kwargs) -> None:
    """A table whose selected row opens that issue's page (in this session)."""
    event = st.dataframe(rows, hide_index=True, use_container_width=True, key=key,
                         on_select="rerun", selection_mode="single-row", **kwargs)
    picked = event.selection.rows if event is not None and hasattr(event, "selection") else []
    if picked:
        st.switch_page(ui.page("issue"), query_params={"id": str(issue_ids[picked[0]]),
                                                    "lang": lang})
    st.caption(ui.text("graphs.open_row"))


def _filters(db, actor: Actor) -> tuple[date, str | None, int]:
    """As-of date, unit (within the actor's scope) and how many causes the graph shows."""
    text = ui.text
    units = graph_views.units_in_scope(db, actor)
    codes = [None] + [u["code"] for u in units]
    names = {u["code"]: ui.with_note(u["name"], u["code"]) for u in units}
    c1, c2, c3 = st.columns([1, 2, 1])
    as_of = c1.date_input(text("graphs.as_of"), value=ui.today(), key="graphs.as_of")
    unit = c2.selectbox(text("graphs.unit"), codes, key="graphs.unit",
                        format_func=lambda c: text("graphs.unit_all") if c is None else names[c])
    top = c3.number_input(text("graphs.top"), min_value=1, max_value=MAX_TOP, value=6,
                          key="graphs.top")
    return as_of, unit, int(top)


def _ranking_section(ranking: list[dict], lang: str) -> None:
    """The ranked table and the bar chart."""
    text = ui.text
    st.subheader(text("graphs.causes.header"))
    st.caption(text("graphs.causes.caption"))
    shown = [r for r in ranking if r["total_issues"]]
    if not shown:
        st.info(text("graphs.causes.empty"))
        return
    yes = text("graphs.yes")
    # The description last: when the table is wider than the page, it is what scrolls.
    st.dataframe([{
        text("graphs.col.cause"): r["code"],
        text("graphs.col.open"): r["open_issues"], text("graphs.col.total"): r["total_issues"],
        text("graphs.col.amount"): round(r["amount_open"] / 1e4, 2),
        text("graphs.col.overdue"): r["overdue"],
        text("graphs.col.recurring"): yes if r["recurring"] else "",
        text("graphs.col.source"): (f'{r["source_measures_done"]}/{r["source_measures_total"]}'
                                    if r["source_measures_total"] else ""),
        text("graphs.col.years"): text("graphs.list_sep").join(str(y) for y in r["audit_years"]),
        text("graphs.col.title"): r["title"],
    } for r in shown[:MAX_ROWS]], hide_index=True, use_container_width=True)
    chart_rows = [{"cause": f'{r["code"]} {r["title"][:9]}', "open_issues": r["open_issues"],
                   "amount": r["amount_open"], "overdue": r["overdue"]} for r in shown]
    st.altair_chart(charts.cause_ranking(chart_rows, top=10, lang=lang),
                    use_container_width=True)


def _cover_section(db, scope: Scope, as_of: date, inputs, ranking: list[dict]) -> None:
    """The greedy cover: which k causes to fix first, and the share of open issues reached."""
    text = ui.text
    st.subheader(text("graphs.cover.header"))
    n_causes = max(1, sum(1 for r in ranking if r["open_issues"]))
    k = st.slider(text("graphs.cover.k"), min_value=1, max_value=max(2, min(n_causes, 20)),
                  value=min(3, n_causes), key="graphs.k")
    res = graph_views.cover(db, scope, as_of, k, inputs=inputs)
    if not res["open_total"]:
        st.info(text("graphs.cover.none"))
        return
    result = text("graphs.cover.result", k=len(res["chosen"]), covered=res["covered"],
                  total=res["open_total"], share=f'{res["share"]:.1%}')
    st.markdown(f"**{result}**")
    st.dataframe([{text("graphs.col.cause"): s["code"], text("graphs.col.title"): s["title"],
                   text("graphs.col.gain"): s["gain"],
                   text("graphs.col.covered_after"): s["covered_after"]}
                  for s in res["chosen"]], hide_index=True, use_container_width=True)
    st.caption(text("graphs.cover.note"))


def _graph_section(ranking: list[dict], states: dict[int, dict], top: int, lang: str) -> None:
    """The issue↔cause graph, and the same issues as links below it."""
    text = ui.text
    st.subheader(text("graphs.graph.header"))
    if not any(r["open_issues"] for r in ranking):
        st.info(text("graphs.graph.empty"))
        return
    st.caption(text("graphs.graph.caption", n=GRAPH_ISSUES_PER_CAUSE))
    dot = graph_views.cause_dot(
        ranking, states, top=top, max_issues_per_cause=GRAPH_ISSUES_PER_CAUSE, lang=lang,
        links=False,
        more_label=text("graphs.graph.more", n="{n}"),
        open_label=text("graphs.graph.open", n="{n}"),
        recurring_label=text("graphs.graph.recurring"), fixed_label=text("graphs.graph.fixed"))
    st.graphviz_chart(dot, use_container_width=False)
    drawn = graph_views.dot_issue_ids(ranking, top, GRAPH_ISSUES_PER_CAUSE)
    if drawn:
        st.caption(text("graphs.graph.links"))
        _issue_links([(i, states[i]["code"]) for i in drawn if i in states], lang)


def _blocked_section(found: list[dict], lang: str) -> None:
    """Issues that what they wait for will make late."""
    text = ui.text
    st.subheader(text("graphs.blocked.header"))
    st.caption(text("graphs.blocked.caption"))
    if not found:
        st.success(text("graphs.blocked.none"))
        return
    shown = found[:MAX_ROWS]
    c = _columns("issue", "deadline", "earliest", "days_late", "chain")
    _table_opening_issues([{
        c["issue"]: b["code"], c["deadline"]: b["deadline"],
        c["earliest"]: b["earliest_finish"], c["days_late"]: b["days_late"],
        c["chain"]: " → ".join(b["chain"]) + (" …" if b["truncated"] else ""),
    } for b in shown], [b["issue_id"] for b in shown], "graphs.blocked_table", lang)


def _columns(*names: str) -> dict[str, str]:
    """Column headers looked up once per table: each session.text call reads session_state,
    and per cell that cost about a second a run on 40,000 issues."""
    return {n: ui.text(f"graphs.col.{n}") for n in names}


def _due_table(dues: list[dict], lang: str, key: str) -> None:
    """Escalation steps, most overdue first; a selected row opens the issue."""
    text = ui.text
    shown = dues[:MAX_ROWS]
    c = _columns("issue", "step", "overdue_days", "deadline", "target_person", "target_unit",
                 "unit")
    steps = {s: label("escalation", s, lang) for s in {d["step"] for d in shown}}
    nobody = text("graphs.esc.nobody")
    _table_opening_issues([{
        c["issue"]: d["code"], c["step"]: steps[d["step"]],
        c["overdue_days"]: d["overdue_working_days"], c["deadline"]: d["deadline"],
        c["target_person"]: d["target_person"] or nobody,
        c["target_unit"]: d["target_unit"], c["unit"]: d["unit"],
    } for d in shown], [d["issue_id"] for d in shown], key, lang)
    if len(dues) > MAX_ROWS:
        st.caption(text("graphs.esc.shown", shown=MAX_ROWS, n=len(dues)))


def _escalation_section(db, actor: Actor, scope: Scope, as_of: date, lang: str) -> None:
    """Due steps, the lead's button to record them, and the steps already recorded."""
    text = ui.text
    st.subheader(text("graphs.esc.header"))
    th = graph_views.thresholds(db)
    st.caption(text("graphs.esc.caption", reminder=th.reminder, letter=th.letter,
                    summons=th.summons))
    notice = st.session_state.pop("graphs.recorded", None)
    if notice is not None:
        st.success(text("graphs.esc.recorded", n=notice) if notice
                   else text("graphs.esc.nothing"))
    dues = _dues(db, scope, _key(db, scope, as_of))
    if not dues:
        st.success(text("graphs.esc.none"))
    else:
        st.write(text("graphs.esc.count", n=len(dues)))
        _due_table(dues, lang, "graphs.due_table")
    if can("escalation.record", actor.role) and dues:
        today = ui.today()
        if st.button(text("graphs.esc.record"), key="graphs.record", type="primary",
                     disabled=as_of != today, help=text("graphs.esc.only_today")):
            try:
                written = escalation_service.record_escalations(db, actor, as_of, ui.now_at(),
                                                           dues)
            except AuditError as exc:
                ui.show_error(exc)
            else:
                # The write moved the data version, so the cached reads are not reused.
                st.session_state["graphs.recorded"] = len(written)
                st.rerun()
    recorded = graph_views.escalation_history(db, scope)
    if recorded:
        with st.expander(ui.with_note(text("graphs.esc.history"), len(recorded))):
            st.dataframe([{
                text("graphs.col.issue"): r["code"],
                text("graphs.col.step"): label("escalation", r["step"], lang),
                text("graphs.col.as_of"): r["as_of"],
                text("graphs.col.target_person"): r["target_person"] or "",
                text("graphs.col.target_unit"): r["target_unit"] or "",
                text("graphs.col.recorded_by"): r["recorded_by"],
                text("graphs.col.at"): r["at"][:16].replace("T", " "),
            } for r in recorded[:MAX_ROWS]], hide_index=True, use_container_width=True)


def _chase_section(db, actor: Actor, as_of: date, lang: str) -> None:
    """What the signed-in user must chase."""
    text = ui.text
    st.subheader(text("graphs.chase.header"))
    if actor.person_id is None:
        st.info(text("graphs.chase.no_person"))
        return
    mine = _chase(db, actor, _key(db, scope_for(db, actor), as_of), actor.person_id)
    if not mine:
        st.success(text("graphs.chase.none"))
        return
    _due_table(mine, lang, "graphs.chase_table")


def render() -> None:
    """Draw the page."""
    db = ui.database()
    actor = ui.require_actor()
    lang = ui.lang()
    st.title(ui.text("page.graphs"))
    st.caption(ui.text("graphs.caption"))
    as_of, unit, top = _filters(db, actor)
    try:
        scope = scope_for(db, actor, unit_code=unit)
    except AuditError as exc:
        ui.show_error(exc)
        return
    key = _key(db, scope, as_of)
    inputs, ranking = _cause_inputs(db, scope, key)
    _ranking_section(ranking, lang)
    _cover_section(db, scope, as_of, inputs, ranking)
    _graph_section(ranking, inputs.states, top, lang)
    _blocked_section(_blocked(db, scope, key), lang)
    _escalation_section(db, actor, scope, as_of, lang)
    _chase_section(db, actor, as_of, lang)
