"""验收: the verification queue of an audit lead. Items submitted for verification (待验收) in
scope, oldest first, each with what 三不放过 still misses and whether this lead may strike it off;
the picked item with its evidence (downloads), measures and their completion, root causes and
accountability; then strike off (销号, Move.CLOSE) or return with a reason (Move.RETURN).

The service decides: segregation of duties (the submitter and the owners of its measures may not
strike it off) and 三不放过 are enforced by move_issue; this page only shows the reason in words
before and after the attempt."""
from __future__ import annotations

from datetime import date

import streamlit as st

from audit import ui
from audit.messages import join_list, label
from audit.model import Actor, AuditError
from issues import (batch_service, batch_ui, evidence_ui, issue_views, recheck_ui, service,
                    work_views)
from issues.model import Move

K = "verify"
FLASH = f"{K}.flash"
DONE = f"{K}.done"          # the item just struck off or returned, held until "next" is pressed
ROUND = f"{K}.round"        # renews the queue table (and its selection) for each next item
MAX_ROWS = 500  # queue rows drawn: the rest are counted, and reached by the filters
B = f"{K}.batch"
VIEWED = f"{K}.viewed"   # the items whose detail (evidence) this session has shown


@st.cache_resource(show_spinner=False, max_entries=16, ttl=3600)
def _queue(_db, _actor: Actor, db_file: str, version: int, who: tuple, as_of: date
           ) -> list[dict]:
    """The queue for one lead and data version (a write touching its scope changes the version)."""
    return work_views.verify_queue(_db, _actor, as_of)


def _on_move(issue_id: int, code: str, move: str, version: int) -> None:
    """Strike off or return the item this drawing showed: its id and version are bound to the
    button when it is drawn, so a second click lands on that item again (refused as stale),
    never on the next one."""
    reason_key = f"{K}.{issue_id}.reason"
    reason = (st.session_state.get(reason_key) or "").strip()
    if move == Move.RETURN.value and not reason:
        st.session_state[FLASH] = ("warning", ui.text("verify.reason_needed"))
        return
    lang = ui.lang()

    def write(db, actor) -> str:
        status = service.move_issue(db, actor, issue_id, move, version=version,
                                    reason=reason if move == Move.RETURN.value else "",
                                    at=ui.now_at())
        return ui.text("issue.moved", code=code, move=label("move", move, lang),
                            status=label("status", status, lang))

    if ui.act(FLASH, write, (reason_key,) if move == Move.RETURN.value else ()):
        st.session_state[DONE] = {"id": issue_id, "code": code, "move": move}


def _on_next() -> None:
    st.session_state.pop(DONE, None)
    st.session_state.pop(FLASH, None)
    st.session_state[ROUND] = st.session_state.get(ROUND, 0) + 1


def _held(done: dict) -> None:
    """After 销号 or 退回: the result stays on screen and the next item opens only on an
    explicit click, so a double click cannot strike off the item that would open next."""
    with st.container(border=True):
        st.success(ui.text(f"verify.done.{done['move']}", code=done["code"]),
                   icon=":material/check_circle:")
        c1, c2 = st.columns([1, 3])
        with c1:
            ui.issue_link(done["id"], done["code"], ui.text("mywork.open_issue"))
        c2.button(ui.text("verify.next"), key=f"{K}.next", on_click=_on_next,
                  icon=":material/arrow_forward:")


def _on_batch_close() -> None:
    checked = bool(st.session_state.get(f"{B}.checked"))
    batch_ui.run(B, FLASH, lambda db, actor, items: batch_service.strike_off(
        db, actor, items, checked=checked, at=ui.now_at()), (f"{B}.checked",))


def _on_batch_return() -> None:
    reason = (st.session_state.get(f"{B}.reason") or "").strip()
    if not reason:
        ui.flash(FLASH, "warning", ui.text("verify.reason_needed"))
        return
    batch_ui.run(B, FLASH, lambda db, actor, items: batch_service.return_items(
        db, actor, items, reason=reason, at=ui.now_at()), (f"{B}.reason",))


def _batch(queue: list[dict], lang: str) -> None:
    """Strike off or return many at once, after their evidence was looked at: the picker marks
    the items whose detail this session has shown; the lead confirms the check (对账)."""
    text = ui.text
    viewed = st.session_state.get(VIEWED, set())
    with st.expander(text("verify.batch"), icon=":material/done_all:"):
        st.caption(text("verify.batch_hint"))
        picked = batch_ui.pick(B, queue[:MAX_ROWS], lambda r: (
            f'{r["code"]} {r["title"][:24]}'
            + (text("verify.viewed") if r["id"] in viewed else "")))
        n = len(picked)
        with st.form(f"{B}.form.close"):
            st.checkbox(text("batch.checked"), key=f"{B}.checked")
            levels = bool(queue) and queue[0].get("level") != "single"
            st.form_submit_button(text("batch.verify_levels" if levels else "batch.strike_off",
                                       n=n), key=f"{B}.save.close",
                                  type="primary", on_click=_on_batch_close,
                                  icon=":material/verified:")
        with st.form(f"{B}.form.return"):
            st.text_input(text("batch.return_reason"), key=f"{B}.reason")
            st.form_submit_button(text("batch.return", n=n), key=f"{B}.save.return",
                                  on_click=_on_batch_return, icon=":material/undo:")
        batch_ui.results(B)


def _missing_text(missing: list[str], lang: str) -> str:
    if not missing:
        return ui.text("verify.ready")
    return ui.text("issue.check_missing", missing=join_list(
        (label("missing", m, lang) for m in missing), lang))


_SOD_KEYS = {"submitted": "verify.sod_submitted", "owner": "verify.sod_owner",
             "checked": "verify.sod_checked", "not_regional": "verify.not_regional"}


def _sod_text(r: dict) -> str:
    """Why this lead may not do the level the item waits at (segregation of duties, or 复核销号
    by a regional lead), or ''."""
    if r["may_strike_off"]:
        return ""
    return ui.text(_SOD_KEYS.get(r.get("sod_reason") or "", "verify.sod_owner"))


def _table(queue: list[dict], lang: str) -> dict:
    """The queue as a table; returns the picked row (the first when none is picked)."""
    text = ui.text
    shown = queue[:MAX_ROWS]
    # Headers and repeated cell texts are looked up once: each session.text call reads
    # session_state, which costs more than the rest of a row.
    col = {k: text(v) for k, v in (
        ("code", "field.code"), ("title", "field.title"), ("unit", "field.unit"),
        ("submitted", "verify.col.submitted"), ("by", "verify.col.submitted_by"),
        ("measures", "mywork.col.measures"), ("evidence", "issue.col.evidence"),
        ("closure", "verify.col.closure"), ("may", "verify.col.may"),
        ("level", "verify.col.level"))}
    levels = {k: text(f"verify.level.{k}") for k in ("single", "first", "second")}
    yes, no = text("common.yes"), text("common.no")
    missing_texts: dict[tuple, str] = {}
    data = []
    for r in shown:
        missing = tuple(r["closure_missing"])
        if missing not in missing_texts:
            missing_texts[missing] = _missing_text(list(missing), lang)
        data.append({
            col["code"]: r["code"], col["title"]: r["title"], col["unit"]: r["unit_name"],
            col["submitted"]: (r["submitted_at"] or "")[:16].replace("T", " "),
            col["by"]: r["submitted_by_name"],
            col["measures"]: f'{r["measures_done"]}/{r["measures"]}',
            col["evidence"]: r["evidence"], col["closure"]: missing_texts[missing],
            col["level"]: levels[r.get("level", "single")],
            col["may"]: yes if r["may_strike_off"] else no})
    event = st.dataframe(data, hide_index=True, width="stretch",
                         key=f"{K}.queue.{st.session_state.get(ROUND, 0)}",
                         on_select="rerun", selection_mode="single-row",
                         height=min(38 + 35 * len(data), 420))
    if len(queue) > MAX_ROWS:
        st.caption(text("catalogue.truncated", shown=MAX_ROWS, total=len(queue)))
    picked = event.selection.rows if event is not None and event.selection else []
    return shown[picked[0]] if picked and picked[0] < len(shown) else shown[0]


def _detail(db, actor: Actor, r: dict, lang: str) -> None:
    """One item: the checks, evidence, measures, causes, accountability, and the two actions."""
    text = ui.text
    iid = r["id"]
    try:
        d = issue_views.issue_page_data(db, actor, iid)
    except AuditError as exc:
        ui.show_error(exc)
        return
    st.session_state.setdefault(VIEWED, set()).add(iid)
    with st.container(border=True):
        st.subheader(f'{ui.md_escape(d["code"])} {ui.md_escape(d["title"])}', anchor=False)
        st.markdown(" · ".join(bit for bit in (
            f'**{ui.md_escape(text("field.status"))}**: {ui.md_escape(label("status", d["status"], lang))}',
            ui.warning_text(r["warning"], lang),
            f'**{ui.md_escape(text("field.unit"))}**: {ui.md_escape(d["unit_name"])}',
            f'**{ui.md_escape(text("issue.field.responsible"))}**: '
            f'{ui.md_escape(d["responsible_name"] or text("issue.not_set"))}',
            f'**{ui.md_escape(text("issue.field.submitted"))}**: ' + ui.md_escape(text(
                "issue.by_at", who=d["submitted_by_name"] or "",
                at=(d["submitted_at"] or "")[:16].replace("T", " "))),
        ) if bit))
        ui.issue_link(iid, d["code"], text("mywork.open_issue"))
        missing = d["closure_missing"]
        if missing:
            st.warning(text("issue.closure") + text("common.colon")
                       + _missing_text(missing, lang), icon=":material/pending:")
        else:
            st.success(text("issue.closure") + text("common.colon")
                       + text("issue.check_ok"), icon=":material/check:")
        if d["progress"]:
            st.markdown(f'**{ui.md_escape(text("issue.progress"))}**')
            st.markdown(ui.md_escape(d["progress"]))
        _measures(db, actor, d, lang)
        _causes(d)
        _accountability(d)
        _actions(d, r, lang)


def _measures(db, actor: Actor, d: dict, lang: str) -> None:
    """Each measure with its evidence beside it (a PDF page by page, an image, a document's
    text), then the evidence of the issue as a whole: 对账销号 without a download."""
    text = ui.text
    st.markdown(f'**{ui.md_escape(text("issue.tab.measures"))}**')
    by_measure: dict[int | None, list[dict]] = {}
    for e in d["evidence"]:
        by_measure.setdefault(e["measure_id"], []).append(e)
    if not d["measures"]:
        st.caption(text("issue.measures_none"))
    for m in d["measures"]:
        left, right = st.columns([2, 3])
        with left:
            st.markdown(f'**M{m["id"]}** ' + ui.md_escape(m["title"]))
            st.caption(ui.md_escape(" · ".join(bit for bit in (
                label("measure_status", m["status"], lang),
                m["owner_name"] or "",
                text("issue.col.deadline") + text("common.colon") + (m["deadline"] or "—"),
                (text("issue.col.completed_on") + text("common.colon") + m["completed_on"])
                if m["completed_on"] else "") if bit)))
            if m["progress"]:
                st.caption(ui.md_escape(ui.clip(m["progress"])))
        with right:
            files = by_measure.get(m["id"], [])
            if not files:
                st.caption(text("verify.no_evidence_for", measure=f'M{m["id"]}'))
            for e in files:
                evidence_ui.show(db, actor, e, f'{K}.ev.{e["id"]}',
                                 caption=_evidence_caption(e))
    issue_level = by_measure.get(None, [])
    if issue_level:
        st.markdown(f'**{ui.md_escape(text("verify.evidence_issue"))}**')
        for e in issue_level:
            evidence_ui.show(db, actor, e, f'{K}.ev.{e["id"]}', caption=_evidence_caption(e))
    elif not d["evidence"]:
        st.caption(text("issue.evidence_none"))


def _evidence_caption(e: dict) -> str:
    return (f'{issue_views.file_size_text(e["size"])} · {e["uploaded_by_name"] or ""} · '
            f'{(e["uploaded_at"] or "")[:16].replace("T", " ")}')


def _causes(d: dict) -> None:
    text = ui.text
    st.markdown(f'**{ui.md_escape(text("issue.col.cause"))}**')
    if d["causes"]:
        st.dataframe(ui.cause_rows(d["causes"]), hide_index=True, width="stretch")
    else:
        st.caption(text("issue.causes_none"))


def _accountability(d: dict) -> None:
    text = ui.text
    st.markdown(f'**{ui.md_escape(text("issue.accountability"))}**')
    if d["accountability"]:
        st.dataframe([{
            text("issue.col.person"): a["person_name"], text("issue.col.action"): a["action"],
            text("issue.col.reason"): a["reason"] if a["not_applicable"] else "",
            text("issue.col.recorded"): f'{a["recorded_by_name"]} · '
                                        f'{(a["recorded_at"] or "")[:16].replace("T", " ")}',
        } for a in d["accountability"]], hide_index=True, width="stretch")
    else:
        st.caption(text("issue.accountability_none"))


def _actions(d: dict, r: dict, lang: str) -> None:
    """Strike off and return, as the service allows them now; the reason when it does not."""
    text = ui.text
    iid = d["id"]
    moves = d["moves"]
    sod = _sod_text(r)
    if sod:
        st.info(sod, icon=":material/block:")
    if Move.RETURN in moves:
        st.text_area(text("verify.return_reason"), key=f"{K}.{iid}.reason", height=68,
                     placeholder=text("verify.return_hint"))
    if r.get("checked_by_name"):
        st.caption(text("verify.checked_by") + text("common.colon") + text(
            "issue.by_at", who=r["checked_by_name"],
            at=(r["checked_at"] or "")[:16].replace("T", " ")))
    buttons = [m for m in (Move.CHECK, Move.CLOSE, Move.RETURN) if m in moves]
    for col, move in zip(st.columns([1, 1, 3]), buttons):
        closing = move in (Move.CLOSE, Move.CHECK)
        col.button(label("move", move, lang), key=f"{K}.{move.value}",
                   type="primary" if closing else "secondary", on_click=_on_move,
                   args=(iid, d["code"], move.value, d["version"]), width="stretch",
                   icon=":material/verified:" if closing else ":material/undo:")
    if not moves:
        st.caption(text("issue.no_moves"))


def render() -> None:
    """Draw the verification page."""
    db = ui.database()
    actor = ui.require_actor()
    lang = ui.lang()
    text = ui.text
    st.title(text("page.verify"))
    as_of = ui.today()
    done = st.session_state.get(DONE)
    if done is None:
        ui.show_flash(FLASH)
    st.caption(text("verify.caption", date=as_of.isoformat()))
    # Keyed on the version of the actor's scope: a write in another unit leaves it warm.
    queue = _queue(db, actor, *ui.data_key(db, actor.scope_unit_ids),
                   (actor.user_id, actor.person_id, actor.unit_id), as_of)
    cols = st.columns(4)
    cols[0].metric(text("verify.metric.queue"), len(queue))
    cols[1].metric(text("verify.metric.ready"),
                   sum(not r["closure_missing"] and r["may_strike_off"] for r in queue))
    cols[2].metric(text("verify.metric.blocked"), sum(bool(r["closure_missing"]) for r in queue))
    cols[3].metric(text("verify.metric.not_mine"), sum(not r["may_strike_off"] for r in queue))
    if done is not None:
        st.session_state.pop(FLASH, None)
        _held(done)
        return
    if queue and queue[0].get("level") != "single":
        st.info(text("verify.two_level"), icon=":material/stacks:")
    if not queue:
        st.info(text("verify.empty"))
    else:
        st.caption(text("verify.select_hint"))
        picked = _table(queue, lang)
        _detail(db, actor, picked, lang)
        _batch(queue, lang)
    recheck_ui.render_section(db, actor, as_of, lang)
