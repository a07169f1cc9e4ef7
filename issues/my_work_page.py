"""我的任务: the signed-in person's own issues (as responsible person) and measures (as owner),
red first, with quick updates (progress note, measure status with completion date), submit for
verification where allowed, links to the issue pages, and "what I must chase" (escalations
addressed to this person). A lead also sees how many items wait in the verification queue.

Writes run in widget callbacks, which still see the version of the row the user was looking at
(kept in session_state when the page was drawn) and pass it to the service: a change saved
meanwhile by someone else is refused as StaleEdit (who and when) and the typed input stays."""
from __future__ import annotations

from datetime import date
from typing import Any, Callable

import streamlit as st

from audit import ui
from audit.charts import WARNING_COLOURS
from audit.messages import join_list, label
from audit.model import Actor, AuditError, Role, Status, can
from issues import batch_service, batch_ui, graph_views, issue_views, model, service, work_views
from issues.batch_service import EvidenceFile
from issues.model import Move

K = "mywork"
FLASH = f"{K}.flash"
KEEP_MEASURE = f"{K}.keep_measure"   # the measure to show after a write re-sorted the list
TABLE_ROUND = f"{K}.measures.round"  # renewed with it, so the table's old pick is dropped
ISSUE_URL_PATH = "issue"
BI, BM = f"{K}.batch.i", f"{K}.batch.m"   # the batch pickers of issues and of measures
PER_FILE = 10   # picked measures that get an uploader each (beyond: the shared file only)


# --- data, cached on the data version ---------------------------------------------------------

@st.cache_resource(show_spinner=False, max_entries=32, ttl=3600)
def _load(_db, _actor: Actor, db_file: str, version: int, who: tuple, as_of: date) -> dict:
    """Everything the page lists, for one person and the data version of their scope."""
    return {"issues": work_views.my_issues(_db, _actor, as_of),
            "measures": work_views.my_measures(_db, _actor, as_of),
            "chase": graph_views.chase_list_for(_db, _actor, as_of),
            "queue": work_views.submitted_count(_db, _actor)
            if _actor.role == Role.LEAD else None}


# --- callbacks --------------------------------------------------------------------------------

def _version_key(kind: str, row_id: int) -> str:
    return f"{K}.{kind}{row_id}.version"


def _on_progress(issue_id: int, code: str) -> None:
    key = f"{K}.i{issue_id}.progress"
    ui.act(FLASH, lambda db, actor: (service.update_progress(
        db, actor, issue_id,
        version=ui.edited_version((key,), st.session_state.get(_version_key("i", issue_id))),
        progress=st.session_state.get(key) or "", at=ui.now_at())
        or ui.text("mywork.progress_saved", code=code)), (key,))


def _on_submit(issue_id: int, code: str) -> None:
    lang = ui.lang()

    def write(db, actor) -> str:
        status = service.move_issue(db, actor, issue_id, Move.SUBMIT,
                                    version=st.session_state.get(_version_key("i", issue_id)),
                                    at=ui.now_at())
        return ui.text("issue.moved", code=code, move=label("move", Move.SUBMIT, lang),
                            status=label("status", status, lang))

    ui.act(FLASH, write)


def _on_measure(measure_id: int) -> None:
    skey, ckey = f"{K}.m{measure_id}.status", f"{K}.m{measure_id}.completed_on"
    status = st.session_state.get(skey)
    completed = st.session_state.get(ckey)
    lang = ui.lang()
    ui.act(FLASH, lambda db, actor: service.set_measure_status(
        db, actor, measure_id, version=ui.edited_version(
            (skey, ckey), st.session_state.get(_version_key("m", measure_id))),
        status=status, completed_on=completed.isoformat() if (completed and status == "done")
        else None, at=ui.now_at()) or ui.text(
        "mywork.measure_saved", id=measure_id, status=label("measure_status", status, lang)),
        (skey, ckey))


def _uploader_key(measure_id: int) -> str:
    """The evidence uploader's key, renewed after each completion: a browser keeps showing the
    file it sent until the widget is replaced, and a second press would attach it twice."""
    return f'{K}.m{measure_id}.file.{st.session_state.get(f"{K}.m{measure_id}.uploads", 0)}'


def _on_complete(measure_id: int, token: str) -> None:
    """完成并上传佐证: the measure done on its completion date, with the file chosen (if any),
    in one service call."""
    fkey, ckey = _uploader_key(measure_id), f"{K}.m{measure_id}.completed_on"
    uploaded = st.session_state.get(fkey)
    completed = st.session_state.get(ckey)

    def write(db, actor) -> str:
        issue_views.complete_measure(
            db, actor, measure_id,
            version=ui.edited_version((ckey,), st.session_state.get(_version_key("m", measure_id))),
            completed_on=completed.isoformat() if completed else None,
            filename=uploaded.name if uploaded is not None else None,
            data=uploaded.getvalue() if uploaded is not None else None, at=ui.now_at(),
            form_token=token)
        counter = f"{K}.m{measure_id}.uploads"
        st.session_state[counter] = st.session_state.get(counter, 0) + 1
        # The list is re-sorted (a done measure goes down): keep this one open, not whichever
        # measure now sits in the row that was picked.
        st.session_state[KEEP_MEASURE] = measure_id
        st.session_state[TABLE_ROUND] = st.session_state.get(TABLE_ROUND, 0) + 1
        return ui.text("mywork.measure_completed", id=measure_id,
                       name=uploaded.name if uploaded is not None else "—")

    ui.act(FLASH, write, (ckey, f"{K}.m{measure_id}.status"),
           token_form=f"{K}.complete.{measure_id}")


def _on_batch_extend() -> None:
    """A lead extends at once; a rectifier asks (a lead decides each request)."""
    dkey, rkey = f"{BI}.new_deadline", f"{BI}.reason"
    new, reason = st.session_state.get(dkey), st.session_state.get(rkey) or ""

    def write(db, actor, items):
        how = (batch_service.extend if can("deadline.extend", actor.role)
               else batch_service.request_extension)
        return how(db, actor, items, new_deadline=new.isoformat() if new else "",
                   reason=reason, at=ui.now_at())

    batch_ui.run(BI, FLASH, write, (rkey,))


def _file_key(measure_id: int | str) -> str:
    """An uploader's key, renewed after each batch (a browser keeps showing a sent file)."""
    return f"{BM}.file.{measure_id}.{st.session_state.get(f'{BM}.round', 0)}"


def _on_batch_done() -> None:
    completed = st.session_state.get(f"{BM}.completed_on")
    shared = st.session_state.get(_file_key("all"))
    files: dict[int, EvidenceFile] = {}
    for p in batch_ui.picked_now(BM):
        up = st.session_state.get(_file_key(p.id)) or shared
        if up is not None:
            files[p.id] = EvidenceFile(up.name, up.getvalue())
    batch_ui.run(BM, FLASH, lambda db, actor, items: batch_service.mark_measures_done(
        db, actor, items, completed_on=completed.isoformat() if completed else None,
        evidence=files, at=ui.now_at()))
    st.session_state[f"{BM}.round"] = st.session_state.get(f"{BM}.round", 0) + 1


# --- drawing ---------------------------------------------------------------------------------

def _metrics(data: dict, actor: Actor) -> None:
    text = ui.text
    issues, measures = data["issues"], data["measures"]
    cols = st.columns(4)
    cols[0].metric(text("mywork.metric.issues"), len(issues))
    cols[1].metric(text("mywork.metric.red"), sum(r["warning"] == "red" for r in issues))
    cols[2].metric(text("mywork.metric.measures"), sum(m["mine"] and m["status"] != "done"
                                                         for m in measures))
    if data["queue"] is not None:
        cols[3].metric(text("mywork.metric.queue"), data["queue"])
        st.page_link(st.Page(_stub, url_path="verify"), label=text("mywork.queue_link"),
                     icon=":material/fact_check:")
    else:
        cols[3].metric(text("mywork.metric.chase"), len(data["chase"]))


def _stub() -> None:
    """Stand-in callable: a page link needs only the url_path of a registered page."""


WARNINGS = ("red", "amber", "green")


def _warning(r: dict) -> list[str]:
    """A row's warning as the pill column's value (none: no pill)."""
    return [r["warning"]] if r["warning"] in WARNINGS else []


def _pick(rows: list[dict], key: str, columns: dict[str, Callable[[dict], Any]],
          long: tuple[str, ...] = (), pills: tuple[str, ...] = ()) -> dict | None:
    """A table whose selected row is returned (one), first row when none is selected. The
    `long` columns wrap on two lines and end with "…" when cut (ui.clip); the `pills` columns
    hold a warning (_warning) drawn as a pill in the dashboard's colours, as 问题台账 does."""
    data = [{name: get(r) for name, get in columns.items()} for r in rows]
    row = ui.WRAP_ROW_HEIGHT if long else 35
    config: dict[str, Any] = {c: ui.long_text_column() for c in long}
    for c in pills:
        config[c] = st.column_config.MultiselectColumn(
            options=list(WARNINGS), color=[WARNING_COLOURS[w] for w in WARNINGS],
            format_func=lambda w: ui.text(f"catalogue.col.{w}"), width="small")
    event = st.dataframe(data, hide_index=True, width="stretch", key=key, on_select="rerun",
                         selection_mode="single-row", row_height=row if long else None,
                         column_config=config, height=min(38 + row * max(len(data), 1), 420))
    picked = event.selection.rows if event is not None and event.selection else []
    return rows[picked[0]] if picked and picked[0] < len(rows) else None


def _filters(lang: str) -> dict:
    """The list filters, folded away (the work comes first on a phone)."""
    text = ui.text
    with st.expander(text("mywork.filters"), icon=":material/filter_list:"):
        return {"text": st.text_input(text("catalogue.search"), key=f"{K}.f.text"),
                "status": st.multiselect(text("field.status"), list(work_views.OPEN),
                                         key=f"{K}.f.status",
                                         format_func=lambda s: label("status", s, lang),
                                         placeholder=text("common.all")),
                "warning": st.multiselect(text("catalogue.warning"), ("red", "amber", "green"),
                                          key=f"{K}.f.warning",
                                          format_func=lambda w: label("warning", w, lang),
                                          placeholder=text("common.all"))}


def _keep(row: dict, f: dict, status_field: str = "status") -> bool:
    words = (f["text"] or "").strip().lower()
    return ((not f["status"] or row[status_field] in f["status"])
            and (not f["warning"] or row["warning"] in f["warning"])
            and (not words or words in f'{row["code"]} {row["title"]}'.lower()))


def _issue_label(r: dict) -> str:
    return f'{r["code"]} {_short(r["title"], 24)}'


def _batch_issues(actor: Actor, issues: list[dict], lang: str) -> None:
    """Many issues at once: one progress note, submit, and (a lead) an extension."""
    text = ui.text
    with st.expander(text("batch.issues_title"), icon=":material/checklist:"):
        st.caption(text("batch.hint"))
        picked = batch_ui.pick(BI, issues, _issue_label)
        with st.form(f"{BI}.form.progress"):
            st.text_area(text("batch.note"), key=f"{BI}.progress", height=80)
            st.form_submit_button(text("batch.save_note", n=len(picked)),
                                  key=f"{BI}.save.progress", on_click=batch_ui.on_progress,
                                  args=(BI, FLASH))
        st.button(text("batch.submit", n=len(picked)), key=f"{BI}.submit",
                  on_click=batch_ui.on_submit, args=(BI, FLASH), icon=":material/send:")
        lead = can("deadline.extend", actor.role)
        if lead or can("deadline.request", actor.role):
            with st.form(f"{BI}.form.extend"):
                c1, c2 = st.columns(2)
                c1.date_input(text("batch.new_deadline"), key=f"{BI}.new_deadline", value=None)
                c2.text_input(text("batch.extend_reason" if lead else "batch.request_reason"),
                              key=f"{BI}.reason")
                st.form_submit_button(text("batch.extend" if lead else "batch.request",
                                           n=len(picked)),
                                      key=f"{BI}.save.extend", on_click=_on_batch_extend)
        batch_ui.results(BI)


def _batch_measures(measures: list[dict]) -> None:
    """Many measures marked done at once, each with its evidence file."""
    text = ui.text
    open_ones = [m for m in measures if m["status"] != "done"]
    with st.expander(text("batch.measures_title"), icon=":material/task_alt:"):
        st.caption(text("batch.measures_hint"))
        picked = batch_ui.pick(BM, open_ones,
                               lambda m: f'M{m["id"]} {m["code"]} {_short(m["title"], 20)}')
        limit = issue_views.upload_limit()
        types = issue_views.upload_types()
        size = max(1, limit // (1024 * 1024))
        with st.form(f"{BM}.form"):
            ui.form_value(f"{BM}.completed_on", ui.today())
            st.date_input(text("issue.completed_on"), key=f"{BM}.completed_on",
                          max_value=ui.today())
            st.file_uploader(text("batch.shared_file", types=", ".join(types),
                                  limit=issue_views.file_size_text(limit)),
                             type=types, key=_file_key("all"), max_upload_size=size)
            for p in picked[:PER_FILE]:
                st.file_uploader(text("batch.own_file", item=p.label), type=types,
                                 key=_file_key(p.id), max_upload_size=size)
            if len(picked) > PER_FILE:
                st.caption(text("batch.more_files", n=PER_FILE))
            st.form_submit_button(text("batch.mark_done", n=len(picked)),
                                  key=f"{BM}.save", on_click=_on_batch_done)
        batch_ui.results(BM)


def _issues(actor: Actor, issues: list[dict], lang: str) -> None:
    text = ui.text
    st.subheader(text("mywork.issues"))
    if not issues:
        st.info(text("mywork.none_issues"))
        return
    _batch_issues(actor, issues, lang)
    st.caption(text("mywork.select_hint"))
    # The warning right after the code: on a phone (390 px) the table shows its first columns
    # only, and which items are red is the first thing to see.
    picked = _pick(issues, f"{K}.issues", {
        text("field.code"): lambda r: r["code"],
        text("issue.field.warning"): _warning,
        text("field.title"): lambda r: r["title"],
        text("field.status"): lambda r: label("status", r["status"], lang),
        text("field.deadline"): lambda r: r["deadline"] or "",
        text("mywork.col.measures"): lambda r: f'{r["measures_done"]}/{r["measures"]}',
        text("issue.progress"): lambda r: ui.clip(r["progress"]),
    }, long=(text("issue.progress"),), pills=(text("issue.field.warning"),)) or issues[0]
    _issue_panel(actor, picked, lang)


def _short(value: str, n: int) -> str:
    return value if len(value) <= n else value[:n] + "…"


def _issue_panel(actor: Actor, r: dict, lang: str) -> None:
    """Quick update of one issue: progress note, submit for verification, link to its page."""
    text = ui.text
    iid = r["id"]
    st.session_state[_version_key("i", iid)] = r["version"]
    with st.container(border=True):
        st.markdown(f'**{text("mywork.update_issue", code=ui.md_escape(r["code"]))}** '
                    + ui.warning_text(r["warning"], lang))
        ui.issue_link(iid, r["code"], text("mywork.open_issue"))
        key = f"{K}.i{iid}.progress"
        ui.form_value(key, r["progress"], r["version"])
        if ui.changed_meanwhile(key, r["progress"]):
            ui.offer_newer((key,), f"{K}.i{iid}")
        if r["status"] in model.EDITABLE_STATUSES:
            with st.form(f"{K}.form.progress.{iid}"):
                st.text_area(text("issue.progress"), key=key, height=90)
                st.form_submit_button(text("common.save"), key=f"{K}.save.progress",
                                      on_click=_on_progress, args=(iid, r["code"]))
        _submit(actor, r, lang)


def _submit(actor: Actor, r: dict, lang: str) -> None:
    """The submit button where the service allows it; otherwise why not, in words."""
    text = ui.text
    try:
        moves = service.allowed_moves(ui.database(), actor, r["id"])
    except AuditError as exc:
        ui.show_error(exc)
        return
    if Move.SUBMIT in moves:
        _submit_button(r["id"], r["code"], r.get("closure_missing", []), lang, f"{K}.submit")
    elif r["status"] == Status.SUBMITTED.value:
        st.caption(text("mywork.waiting_verification"))
    else:
        st.caption(text("mywork.cannot_submit", status=label("status", r["status"], lang)))


def _submit_button(issue_id: int, code: str, missing: list[str], lang: str, key: str) -> None:
    """提交验收: the main button once 三不放过 is met; before that, what is still missing comes
    first and the button is a plain one (a lead would return the item)."""
    if missing:
        st.warning(ui.text("mywork.submit_missing", code=code, missing=join_list(
            (label("missing", m, lang) for m in missing), lang)), icon=":material/pending:")
    st.button(label("move", Move.SUBMIT, lang), key=key,
              type="secondary" if missing else "primary",
              on_click=_on_submit, args=(issue_id, code), icon=":material/send:")


def _measures(measures: list[dict], lang: str) -> None:
    text = ui.text
    st.subheader(text("mywork.measures"))
    if not measures:
        st.info(text("mywork.none_measures"))
        return
    _batch_measures(measures)
    st.caption(text("mywork.select_hint"))
    keep = st.session_state.get(KEEP_MEASURE)
    picked = _pick(measures, f"{K}.measures.{st.session_state.get(TABLE_ROUND, 0)}", {
        text("mywork.col.measure"): lambda m: f'M{m["id"]}',
        text("issue.field.warning"): _warning,
        text("issue.col.measure"): lambda m: _short(m["title"], 40),
        text("mywork.col.issue"): lambda m: m["code"],
        text("issue.col.owner"): lambda m: m["owner_name"],
        text("issue.col.status"): lambda m: label("measure_status", m["status"], lang),
        text("issue.col.deadline"): lambda m: m["deadline"] or "",
        text("mywork.col.evidence"): lambda m: m["evidence"],
    }, pills=(text("issue.field.warning"),))
    if picked is not None:
        st.session_state.pop(KEEP_MEASURE, None)
    else:
        picked = next((m for m in measures if m["id"] == keep), measures[0])
    _measure_panel(picked, lang)


def _measure_panel(m: dict, lang: str) -> None:
    """One measure: completed with its evidence in one step (the file, the date, one button),
    or its status set; then its issue's 提交验收 once nothing else is missing, or what still is."""
    text = ui.text
    mid = m["id"]
    st.session_state[_version_key("m", mid)] = m["version"]
    p = f"{K}.m{mid}"
    ui.form_value(f"{p}.status", m["status"], m["version"])
    ui.form_value(f"{p}.completed_on", date.fromisoformat(m["completed_on"]) if m["completed_on"]
                  else ui.today(), m["version"])
    with st.container(border=True):
        st.markdown(f'**{text("mywork.update_measure", id=mid)}** ' + ui.md_escape(m["title"]))
        ui.issue_link(m["issue_id"], m["code"], m["issue_title"])
        if m["waiting_for"]:
            st.warning(text("mywork.measure_waiting", on=join_list(m["waiting_for"], lang)),
                       icon=":material/hourglass_top:")
        if m["issue_status"] not in model.EDITABLE_STATUSES:
            st.caption(text("mywork.measure_locked",
                            status=label("status", m["issue_status"], lang)))
            return
        if not m["mine"]:
            st.caption(text("mywork.measure_colleague", name=m["owner_name"] or "—"))
            return
        with st.form(f"{K}.form.measure.{mid}"):
            if m["status"] != "done" or not m["evidence"]:
                st.file_uploader(text("mywork.evidence_file",
                                      types=", ".join(issue_views.upload_types()),
                                      limit=issue_views.file_size_text(
                                          issue_views.upload_limit())),
                                 type=issue_views.upload_types(), key=_uploader_key(mid),
                                 max_upload_size=max(1, issue_views.upload_limit() // 2 ** 20))
            c1, c2 = st.columns(2)
            c1.date_input(text("issue.completed_on"), key=f"{p}.completed_on",
                          max_value=ui.today(), help=text("mywork.completed_help"))
            c2.selectbox(text("issue.measure_status"), model.MEASURE_STATUSES,
                         key=f"{p}.status", format_func=lambda s: label("measure_status", s, lang))
            b1, b2 = st.columns(2)
            if m["status"] != "done" or not m["evidence"]:
                b1.form_submit_button(text("mywork.complete"), key=f"{K}.done.measure",
                                      type="primary", on_click=_on_complete,
                                      args=(mid, ui.form_token(f"{K}.complete.{mid}")),
                                      icon=":material/task_alt:", width="stretch")
            b2.form_submit_button(text("mywork.save_status"), key=f"{K}.save.measure",
                                  on_click=_on_measure, args=(mid,), width="stretch")
    _measure_issue_next(m, lang)


def _measure_issue_next(m: dict, lang: str) -> None:
    """After the measure: its issue's submission, where this user may submit it."""
    if m["issue_status"] != Status.IN_PROGRESS.value or \
            m["responsible_person_id"] != ui.require_actor().person_id:
        return
    st.session_state[_version_key("i", m["issue_id"])] = m["issue_version"]
    _submit_button(m["issue_id"], m["code"], m["closure_missing"], lang,
                   f'{K}.submit.m{m["id"]}')


def _chase(chase: list[dict], lang: str) -> None:
    text = ui.text
    st.subheader(text("mywork.chase"))
    if not chase:
        st.info(text("mywork.chase_none"))
        return
    st.caption(text("mywork.chase_caption"))
    st.dataframe([{
        text("field.code"): d["code"],
        text("field.unit"): d["unit"] or "",
        text("mywork.col.step"): label("escalation", d["step"], lang),
        text("field.deadline"): d["deadline"] or "",
        text("mywork.col.overdue_days"): d["overdue_working_days"],
    } for d in chase], hide_index=True, width="stretch",
        height=min(38 + 35 * len(chase), 420))
    for d in chase[:10]:
        ui.issue_link(d["issue_id"], d["code"])


def render() -> None:
    """Draw the my-work page."""
    db = ui.database()
    actor = ui.require_actor()
    lang = ui.lang()
    text = ui.text
    st.title(text("page.my_work"))
    as_of = ui.today()
    ui.show_flash(FLASH)
    st.caption(text("mywork.caption", date=as_of.isoformat()))
    # Keyed on the version of the actor's scope: a write in another unit leaves it warm.
    data = _load(db, actor, *ui.data_key(db, actor.scope_unit_ids),
                 (actor.user_id, actor.person_id, actor.unit_id), as_of)
    if actor.person_id is None:
        st.info(text("mywork.no_person"))
    # The work first (a phone shows one column): the lists, then the figures.
    f = _filters(lang)
    _issues(actor, [r for r in data["issues"] if _keep(r, f)], lang)
    _measures([m for m in data["measures"] if _keep(m, f, "issue_status")], lang)
    _metrics(data, actor)
    _chase(data["chase"], lang)
