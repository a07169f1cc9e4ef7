"""问题台账: the catalogue of issues in the signed-in user's scope, with filters, search, sort,
the category → aspect tree with counts and warning dots, the issue list (each row opens its issue
page) and the filtered list as an Excel ledger. Streamlit only: data from issues.catalogue."""
from __future__ import annotations

from datetime import date

import pandas as pd
import streamlit as st

from audit import ui
from audit.charts import STATUS_COLOURS, WARNING_COLOURS
from audit.messages import label, name_of
from audit.model import Actor, AuditError, can
from issues import (batch_service, batch_ui, catalogue_views, issue_views, recurrence_views,
                    work_views)
from issues.batch_service import EvidenceFile, Picked

B = "catalogue.batch"
FLASH = f"{B}.flash"

PER_FILE = 10    # measures of the picked issues that get an uploader each (beyond: the shared)
MAX_ROWS = 2000  # rows drawn in the list: more is slow in the browser and unreadable anyway
# The flag badges' colours: the palette's red for findings that came back, amber for one
# waiting to be confirmed, blue for a finding shared by units.
BADGE_COLOURS = {"recurring": WARNING_COLOURS["red"], "common": STATUS_COLOURS["submitted"],
                 "recurrence_pending": WARNING_COLOURS["amber"],
                 "reopened": STATUS_COLOURS["ended"]}
DOT = "●"  # coloured by the palette through the table's style (no emoji font is assumed)
ISSUE_URL_PATH = "issue"


def issue_url(issue_id: int, code: str, lang: str) -> str:
    """The issue page's address (relative, so it works under any base path); the code rides
    along only so that the link column can show it."""
    return f"{ISSUE_URL_PATH}?id={issue_id}&lang={lang}&code={code}"


# cache_resource, not cache_data: cache_data would unpickle a fresh copy on every rerun; the
# summary is never modified, so sharing it is safe. A summary holds the rows drawn, not all
# 40,000 (those took 100 MB an entry).
@st.cache_resource(show_spinner=False, max_entries=8, ttl=3600)
def _search(_db, _actor: Actor, db_file: str, version: int, who: tuple, as_of: date,
            filters: tuple) -> catalogue_views.SearchSummary:
    """search_summary cached per database file, data version of the actor's scope (a write
    touching one of its units, or everything, changes it), scope and filters."""
    return catalogue_views.search_summary(_db, _actor, as_of=as_of, shown=MAX_ROWS, **dict(filters))


@st.cache_data(show_spinner=False, max_entries=16, ttl=3600)
def _choices(_db, _actor: Actor, db_file: str, version: int, who: tuple) -> dict:
    """filter_choices, cached like _search."""
    return catalogue_views.filter_choices(_db, _actor)


def _filters(choices: dict, lang: str) -> dict:
    """The filter widgets; returns search_issues keyword arguments (unset ones left out)."""
    text = ui.text
    units = {u["code"]: text("common.name_in_unit", name=u["name"], unit=u["code"])
             for u in choices["units"]}
    cats = {c["code"]: f'{c["code"]} {c["name"]}' for c in choices["categories"]}
    streams = {s["code"]: name_of(s, lang) for s in choices["streams"]}
    focus = {f["code"]: f'{f["code"]} {name_of(f, lang)}' for f in choices["focus"]}
    audits = {a["id"]: f'{a["year"]} {a["name"]}' for a in choices["audits"]}
    people = {p["id"]: text("common.name_in_unit", name=p["name"], unit=p["unit_name"])
              for p in choices["people"]}
    everything = text("common.all")

    search_col, sort_col, dir_col = st.columns([3, 1, 1])
    out: dict = {"text": search_col.text_input(text("catalogue.search"), key="catalogue.text",
                                               placeholder=text("catalogue.search_hint"))}
    out["sort"] = sort_col.selectbox(text("catalogue.sort"), catalogue_views.SORTS,
                                     key="catalogue.sort",
                                     format_func=lambda s: text(f"catalogue.sort.{s}"))
    out["descending"] = dir_col.toggle(text("catalogue.descending"), key="catalogue.desc")
    with st.expander(text("catalogue.filters"), expanded=True, icon=":material/filter_list:"):
        c1, c2, c3 = st.columns(3)
        out["unit_code"] = c1.selectbox(text("field.unit"), [None, *units], key="catalogue.unit",
                                        format_func=lambda c: everything if c is None
                                        else units[c], help=text("catalogue.unit_help"))
        out["category"] = c2.selectbox(text("catalogue.category"), [None, *cats],
                                       key="catalogue.category",
                                       format_func=lambda c: everything if c is None
                                       else cats[c])
        out["stream"] = c3.selectbox(text("catalogue.stream"), [None, *streams],
                                     key="catalogue.stream",
                                     format_func=lambda c: everything if c is None
                                     else streams[c])
        c4, c5, c6 = st.columns(3)
        out["focus"] = c4.selectbox(text("catalogue.focus"), [None, *focus],
                                    key="catalogue.focus",
                                    format_func=lambda c: everything if c is None else focus[c])
        out["status"] = c5.multiselect(text("field.status"), catalogue_views.STATUSES,
                                       key="catalogue.status",
                                       format_func=lambda s: label("status", s, lang),
                                       placeholder=everything)
        out["warning"] = c6.multiselect(text("catalogue.warning"), ("red", "amber", "green"),
                                        key="catalogue.warning",
                                        format_func=lambda w: label("warning", w, lang),
                                        placeholder=everything)
        c7, c8, c9 = st.columns(3)
        out["owner_person_id"] = c7.selectbox(text("catalogue.owner"), [None, *people],
                                              key="catalogue.owner",
                                              format_func=lambda p: everything if p is None
                                              else people[p])
        out["audit_id"] = c8.selectbox(text("catalogue.audit"), [None, *audits],
                                       key="catalogue.audit",
                                       format_func=lambda a: everything if a is None
                                       else audits[a])
        out["year"] = c9.selectbox(text("catalogue.year"), [None, *choices["years"]],
                                   key="catalogue.year",
                                   format_func=lambda y: everything if y is None else str(y))
        c10, _c11, _c12 = st.columns(3)
        out["flag"] = c10.selectbox(text("field.flag"), [None, *recurrence_views.FLAGS],
                                    key="catalogue.flag",
                                    format_func=lambda f: everything if f is None
                                    else text(f"flag.{f}"))
    return {k: v for k, v in out.items() if v not in (None, "", [])}


def _tree(tree: list[dict], lang: str) -> None:
    """Category → aspect as one hierarchical table: a category row, then its aspects indented;
    counts by status, and the red/amber/green counts in the dashboard's colours."""
    text = ui.text
    st.subheader(text("catalogue.tree"))
    name_col = text("catalogue.col.node")
    status_cols = {s: label("status", s, lang) for s in catalogue_views.STATUSES}
    warning_cols = {w: f'{DOT} {text("catalogue.col." + w)}' for w in ("red", "amber", "green")}
    data, is_category = [], []
    for cat in tree:
        for node, depth in [(cat, 0)] + [(a, 1) for a in cat["aspects"]]:
            row = {name_col: ("　└ " if depth else "") + f'{node["code"]} {node["name"]}',
                   text("catalogue.col.issues"): node["issues"]}
            row.update({status_cols[s]: node[f"status_{s}"] for s in catalogue_views.STATUSES})
            row.update({warning_cols[w]: node[f"warning_{w}"] for w in warning_cols})
            data.append(row)
            is_category.append(depth == 0)
    frame = pd.DataFrame(data)

    def row_style(row: pd.Series) -> list[str]:
        base = "font-weight: 700; background-color: #F2F2F2" if is_category[row.name] else ""
        return [base] * len(row)

    styled = frame.style.apply(row_style, axis=1)
    for w, col in warning_cols.items():
        styled = styled.map(lambda v, c=WARNING_COLOURS[w]: f"color: {c}; font-weight: 700"
                            if v else "color: #BBBBBB", subset=[col])
    for s, col in status_cols.items():
        styled = styled.map(lambda v, c=STATUS_COLOURS[s]: f"color: {c}" if v
                            else "color: #BBBBBB", subset=[col])
    st.dataframe(styled, hide_index=True, width="stretch", key="catalogue.tree",
                 height=min(38 + 35 * len(data), 720),
                 column_config={name_col: st.column_config.TextColumn(width="medium")})


def _list(found: catalogue_views.SearchSummary, lang: str) -> dict | None:
    """The issue list; returns the selected row (one), if any."""
    text = ui.text
    shown = found.rows[:MAX_ROWS]
    col = {k: text(f"catalogue.col.{k}") for k in (
        "link", "title", "unit", "status", "warning", "flags", "deadline", "responsible",
        "amount", "measures")}
    data = [{
        col["link"]: issue_url(r["id"], r["code"], lang),
        col["title"]: r["title"],
        col["status"]: [r["status"]],
        col["warning"]: [r["warning"]] if r["warning"] != "none" else [],
        col["flags"]: found.badges.get(r["id"], []),
        col["deadline"]: r["deadline"] or "",
        col["unit"]: r["unit_name"],
        col["responsible"]: r["responsible_name"] or "",
        col["measures"]: f'{r["measures_done"]}/{r["measures"]}',
        col["amount"]: round(r["amount"] or 0.0, 2),
    } for r in shown]
    config = {
        col["link"]: st.column_config.LinkColumn(col["link"], display_text=r"code=(.+)$",
                                                 width="small", help=text("catalogue.link_help")),
        col["title"]: st.column_config.TextColumn(width="medium"),
        col["amount"]: st.column_config.NumberColumn(format="localized"),
        col["deadline"]: st.column_config.TextColumn(width="small"),
    }
    warnings = ("red", "amber", "green")
    # Pills in the dashboard's palette (a Styler does the same but costs a second at 2,000 rows).
    config[col["status"]] = st.column_config.MultiselectColumn(
        options=list(catalogue_views.STATUSES), color=[STATUS_COLOURS[s] for s in catalogue_views.STATUSES],
        format_func=lambda s: label("status", s, lang), width="small")
    config[col["warning"]] = st.column_config.MultiselectColumn(
        options=list(warnings), color=[WARNING_COLOURS[w] for w in warnings],
        format_func=lambda w: text(f"catalogue.col.{w}"), width="small")
    badges = recurrence_views.BADGES
    config[col["flags"]] = st.column_config.MultiselectColumn(
        options=list(badges), color=[BADGE_COLOURS[b] for b in badges],
        format_func=lambda b: text(f"flag.{b}"), width="small",
        help=text("catalogue.flags_help"))
    if found.flags and any(found.flags.values()):
        st.caption(text("catalogue.flag_counts", items=text("catalogue.list_sep").join(
            f"{text('flag.' + b)} {n:,}" for b, n in found.flags.items() if n)))
    event = st.dataframe(pd.DataFrame(data), hide_index=True, width="stretch",
                         column_config=config, on_select="rerun",
                         selection_mode="single-row", key="catalogue.list",
                         height=min(38 + 35 * max(len(data), 1), 600))
    if found.total > MAX_ROWS:
        st.caption(text("catalogue.truncated", shown=MAX_ROWS, total=found.total))
    picked = event.selection.rows if event and event.selection else []
    return shown[picked[0]] if picked else None


# --- many at once ---------------------------------------------------------------------------


def _on_assign() -> None:
    get = st.session_state.get
    deadline = get(f"{B}.deadline")
    batch_ui.run(B, FLASH, lambda db, actor, items: batch_service.assign(
        db, actor, items, responsible_person_id=get(f"{B}.responsible"),
        supervisor_person_id=get(f"{B}.supervisor"),
        deadline=deadline.isoformat() if deadline else None,
        accept_reason=(get(f"{B}.accept_reason") or "").strip() or None, at=ui.now_at()),
        (f"{B}.accept_reason",))


def _on_extend() -> None:
    """A lead extends at once; a rectifier asks (a lead decides each request)."""
    new, reason = st.session_state.get(f"{B}.new_deadline"), st.session_state.get(f"{B}.reason")

    def write(db, actor, items):
        how = (batch_service.extend if can("deadline.extend", actor.role)
               else batch_service.request_extension)
        return how(db, actor, items, new_deadline=new.isoformat() if new else "",
                   reason=reason or "", at=ui.now_at())

    batch_ui.run(B, FLASH, write, (f"{B}.reason",))


def _on_decide(approve: bool) -> None:
    note = st.session_state.get(f"{B}.decision_note") or ""
    batch_ui.run(B, FLASH, lambda db, actor, items: batch_service.decide_extension_requests(
        db, actor, items, approve=approve, note=note, at=ui.now_at()), (f"{B}.decision_note",))


def _on_return() -> None:
    reason = st.session_state.get(f"{B}.return_reason") or ""
    batch_ui.run(B, FLASH, lambda db, actor, items: batch_service.return_items(
        db, actor, items, reason=reason, at=ui.now_at()), (f"{B}.return_reason",))


def _on_strike_off() -> None:
    checked = bool(st.session_state.get(f"{B}.checked"))
    batch_ui.run(B, FLASH, lambda db, actor, items: batch_service.strike_off(
        db, actor, items, checked=checked, at=ui.now_at()), (f"{B}.checked",))


def _file_key(measure_id: int | str) -> str:
    """An uploader's key, renewed after each batch (a browser keeps showing a sent file)."""
    return f"{B}.file.{measure_id}.{st.session_state.get(f'{B}.file_round', 0)}"


def _on_measures_done() -> None:
    """The open measures of the picked issues (as the tab listed them, with the versions they
    had then) marked done, each with its own file or the shared one."""
    get = st.session_state.get
    completed = get(f"{B}.completed_on")
    shared = get(_file_key("all"))
    items = [Picked(mid, v, lab) for mid, (v, lab) in get(f"{B}.measures", {}).items()]
    if not items:
        ui.flash(FLASH, "warning", ui.text("batch.no_measures"))
        return
    files: dict[int, EvidenceFile] = {}
    for m in items:
        up = get(_file_key(m.id)) or shared
        if up is not None:
            files[m.id] = EvidenceFile(up.name, up.getvalue())
    batch_ui.run(B, FLASH, lambda db, actor, _issues: batch_service.mark_measures_done(
        db, actor, items, completed_on=completed.isoformat() if completed else None,
        evidence=files, at=ui.now_at()), clear_done=False)
    st.session_state[f"{B}.file_round"] = get(f"{B}.file_round", 0) + 1


def _measures_tab(db, actor: Actor, picked: list[Picked]) -> None:
    """措施完成: the picked issues' measures not yet done that this user may mark done, each
    with its evidence (its own file, or one shared), through the single completion's service."""
    text = ui.text
    measures = work_views.open_measures_of(db, actor, [p.id for p in picked])
    # What the button will mark, with the versions shown now: a measure changed meanwhile is
    # refused as stale by itself.
    st.session_state[f"{B}.measures"] = {
        m["id"]: (m["version"], f'M{m["id"]} {m["code"]} {m["title"][:20]}') for m in measures}
    st.caption(text("batch.measures_of_picked", n=len(measures)))
    limit, types = issue_views.upload_limit(), issue_views.upload_types()
    size = max(1, limit // (1024 * 1024))
    with st.form(f"{B}.form.measures"):
        ui.form_value(f"{B}.completed_on", ui.today())
        st.date_input(text("issue.completed_on"), key=f"{B}.completed_on", max_value=ui.today())
        st.file_uploader(text("batch.shared_file", types=", ".join(types),
                              limit=issue_views.file_size_text(limit)),
                         type=types, key=_file_key("all"), max_upload_size=size)
        for m in measures[:PER_FILE]:
            st.file_uploader(text("batch.own_file", item=f'M{m["id"]} {m["code"]}'), type=types,
                             key=_file_key(m["id"]), max_upload_size=size)
        if len(measures) > PER_FILE:
            st.caption(text("batch.more_files", n=PER_FILE))
        st.form_submit_button(text("batch.mark_done", n=len(measures)),
                              key=f"{B}.save.measures", on_click=_on_measures_done)


def _progress_tab(n: int) -> None:
    with st.form(f"{B}.form.progress"):
        st.text_area(ui.text("batch.note"), key=f"{B}.progress", height=80)
        st.form_submit_button(ui.text("batch.save_note", n=n), key=f"{B}.save.progress",
                              on_click=batch_ui.on_progress, args=(B, FLASH))


def _submit_tab(n: int) -> None:
    st.button(ui.text("batch.submit", n=n), key=f"{B}.submit", on_click=batch_ui.on_submit,
              args=(B, FLASH), icon=":material/send:")


def _assign_tab(db, actor: Actor, n: int) -> None:
    text = ui.text
    people = {p["id"]: text("common.name_in_unit", name=p["name"], unit=p["unit_name"])
              for p in issue_views.people_choices(db, actor)}
    unchanged = text("batch.unchanged")
    with st.form(f"{B}.form.assign"):
        c1, c2, c3 = st.columns(3)
        c1.selectbox(text("batch.responsible"), [None, *people], key=f"{B}.responsible",
                     format_func=lambda p: unchanged if p is None else people[p])
        c2.selectbox(text("batch.supervisor"), [None, *people], key=f"{B}.supervisor",
                     format_func=lambda p: unchanged if p is None else people[p])
        c3.date_input(text("batch.deadline"), key=f"{B}.deadline", value=None)
        if can("rule.accept", actor.role):
            st.text_input(text("batch.accept_reason"), key=f"{B}.accept_reason",
                          max_chars=5000)
        st.form_submit_button(text("batch.assign", n=n), on_click=_on_assign,
                              key=f"{B}.save.assign")


def _extend_tab(actor: Actor, n: int) -> None:
    """A lead extends and decides requests; a rectifier requests."""
    text = ui.text
    lead = can("deadline.extend", actor.role)
    with st.form(f"{B}.form.extend"):
        c1, c2 = st.columns(2)
        c1.date_input(text("batch.new_deadline"), key=f"{B}.new_deadline", value=None)
        c2.text_input(text("batch.extend_reason" if lead else "batch.request_reason"),
                      key=f"{B}.reason")
        st.form_submit_button(text("batch.extend" if lead else "batch.request", n=n),
                              on_click=_on_extend, key=f"{B}.save.extend")
    if not lead:
        return
    with st.form(f"{B}.form.decide"):
        st.caption(text("batch.requests_hint"))
        st.text_input(text("batch.decision_note"), key=f"{B}.decision_note")
        c1, c2 = st.columns(2)
        c1.form_submit_button(text("batch.approve", n=n), on_click=_on_decide, args=(True,),
                              key=f"{B}.save.approve")
        c2.form_submit_button(text("batch.refuse", n=n), on_click=_on_decide, args=(False,),
                              key=f"{B}.save.refuse")


def _return_tab(n: int) -> None:
    with st.form(f"{B}.form.return"):
        st.text_input(ui.text("batch.return_reason"), key=f"{B}.return_reason")
        st.form_submit_button(ui.text("batch.return", n=n), on_click=_on_return,
                              key=f"{B}.save.return")


def _strike_tab(n: int) -> None:
    with st.form(f"{B}.form.strike"):
        st.checkbox(ui.text("batch.checked"), key=f"{B}.checked")
        st.form_submit_button(ui.text("batch.strike_off", n=n), on_click=_on_strike_off,
                              key=f"{B}.save.strike", type="primary")


def _batch(db, actor: Actor, found: catalogue_views.SearchSummary) -> None:
    """The issues shown, many at once: each action this role may take (progress note, their
    measures done with evidence, submission, assignment, extension or its request, return,
    strike-off) on its own tab. Each item through its own service call; the result table says
    item by item what was done or refused and why."""
    text = ui.text
    lang = ui.lang()
    role = actor.role
    # (permission, tab label, drawer): tab labels stay the same whatever is picked (a label
    # that changed would reset the open tab).
    offered = [t for t in (
        ("issue.progress", text("issue.progress"), lambda ps: _progress_tab(len(ps))),
        ("measure.edit", text("batch.tab.measures"), lambda ps: _measures_tab(db, actor, ps)),
        ("workflow.submit", label("move", "submit", lang), lambda ps: _submit_tab(len(ps))),
        ("issue.assign", text("batch.tab.assign"), lambda ps: _assign_tab(db, actor, len(ps))),
        ("deadline.request", text("batch.tab.extend"), lambda ps: _extend_tab(actor, len(ps))),
        ("workflow.return", label("move", "return", lang), lambda ps: _return_tab(len(ps))),
        ("workflow.close", label("move", "close", lang), lambda ps: _strike_tab(len(ps))),
    ) if can(t[0], role)]
    if not offered:
        return
    with st.expander(text("batch.lead_title") if can("issue.assign", role)
                     else text("batch.issues_title"), icon=":material/checklist:"):
        ui.show_flash(FLASH)
        st.caption(text("batch.hint"))
        picked = batch_ui.pick(B, found.rows[:MAX_ROWS],
                               lambda r: f'{r["code"]} {r["title"][:24]}',
                               versions=lambda ids: work_views.issue_versions(db, ids))
        for tab, (_, _, draw) in zip(st.tabs([t[1] for t in offered]), offered):
            with tab:
                draw(picked)
        batch_ui.results(B)


def _legend() -> None:
    """What the warning colours mean."""
    st.caption(ui.text("catalogue.legend"))


def _download(db, actor: Actor, found: catalogue_views.SearchSummary, filters: dict, as_of: date,
              lang: str) -> None:
    """The filtered list as the 整改台账 workbook, built when the button is pressed."""
    text = ui.text
    ids = found.ids
    scope_args = {k: filters.get(k) for k in ("unit_code", "category", "stream", "focus")}

    def build() -> bytes:
        return catalogue_views.ledger_workbook(db, actor, ids, as_of=as_of, lang=lang,
                                         title=text("catalogue.ledger_title"), **scope_args)

    st.download_button(text("catalogue.download", count=len(ids)), data=build,
                       file_name=text("catalogue.ledger_file", date=as_of.isoformat()),
                       mime="application/vnd.openxmlformats-officedocument."
                            "spreadsheetml.sheet",
                       icon=":material/download:", disabled=not ids, on_click="ignore",
                       key="catalogue.download")


def render() -> None:
    """Draw the catalogue page."""
    db = ui.database()
    actor = ui.require_actor()
    lang = ui.lang()
    text = ui.text
    st.title(text("page.catalogue"))
    as_of = ui.today()
    db_file, version = ui.data_key(db, actor.scope_unit_ids)
    # Results depend only on the scope, which follows from the unit: users who share a scope
    # share the cache.
    who = (actor.unit_id,)
    st.caption(text("catalogue.caption", date=as_of.isoformat()))
    choices = _choices(db, actor, db_file, version, who)
    filters = _filters(choices, lang)
    try:
        frozen = tuple(sorted((k, tuple(v) if isinstance(v, list) else v)
                              for k, v in filters.items()))
        found = _search(db, actor, db_file, version, who, as_of, frozen)
    except AuditError as exc:
        ui.show_error(exc)
        return
    totals = found.tree
    m1, m2, m3, m4 = st.columns(4)
    m1.metric(text("catalogue.metric.issues"), found.total)
    m2.metric(text("catalogue.metric.red"), sum(c["warning_red"] for c in totals))
    m3.metric(text("catalogue.metric.amber"), sum(c["warning_amber"] for c in totals))
    m4.metric(text("catalogue.metric.closed"), sum(c["status_closed"] for c in totals))
    if not found.total:
        st.info(text("catalogue.empty"))
        return
    _tree(totals, lang)
    st.subheader(text("catalogue.list"))
    _legend()
    _download(db, actor, found, filters, as_of, lang)
    _batch(db, actor, found)
    picked = _list(found, lang)
    if picked is not None:
        ui.goto_issue(picked["id"], lang)

