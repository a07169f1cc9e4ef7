"""Sections of the verification page for audit leads: the checks after closure that are due
(整改成效回头看: confirm the fix held, or reopen the item with the reason, counted as a
recurrence) and the possible recurrences an import flagged (屡审屡犯: confirm or reject). The
services decide; this page shows and calls them."""
from __future__ import annotations

from datetime import date

import streamlit as st

from audit import ui
from audit.messages import label
from audit.model import Actor, can
from issues import recurrence_service, recurrence_views, service

K = "recheck"
FLASH = f"{K}.flash"
MAX_ROWS = 200


def _on_recheck(issue_id: int, code: str, version: int, outcome: str) -> None:
    reason_key = f"{K}.{issue_id}.reason"
    reason = (st.session_state.get(reason_key) or "").strip()
    if outcome == "reopened" and not reason:
        st.session_state[FLASH] = ("warning", ui.text("recheck.reason_needed"))
        return

    def write(db, actor) -> str:
        service.record_recheck(db, actor, issue_id, version=version, outcome=outcome,
                               reason=reason, at=ui.now_at())
        return ui.text(f"recheck.done_{outcome}", code=code)

    ui.act(FLASH, write, (reason_key,))


def _on_decide(issue_id: int, code: str, version: int, decision: str) -> None:
    def write(db, actor) -> str:
        recurrence_service.decide_recurrence(db, actor, issue_id, version=version,
                                             decision=decision, at=ui.now_at())
        return ui.text(f"recurrence.done_{decision}", code=code)

    ui.act(FLASH, write)


def _on_schedule_missing() -> None:
    def write(db, actor) -> str:
        codes = service.schedule_missing_rechecks(db, actor, at=ui.now_at())
        return ui.text("recheck.scheduled_missing", n=len(codes))

    ui.act(FLASH, write)


def _unscheduled(db, actor: Actor) -> None:
    """Items struck off before the check after closure existed have no check date: offered
    their dates from their 销号 day, so that none is never looked at again."""
    missing = recurrence_views.unscheduled_rechecks(db, actor)
    if not missing:
        return
    st.info(ui.text("recheck.unscheduled", n=len(missing)), icon=":material/event_upcoming:")
    st.button(ui.text("recheck.schedule_missing", n=len(missing)), key=f"{K}.schedule_missing",
              on_click=_on_schedule_missing, icon=":material/event:")


def _rechecks(db, actor: Actor, as_of: date, lang: str) -> None:
    text = ui.text
    st.subheader(text("recheck.title"), anchor=False)
    st.caption(text("recheck.caption", date=as_of.isoformat()))
    _unscheduled(db, actor)
    due = recurrence_views.rechecks(db, actor, as_of)
    if not due:
        st.caption(text("recheck.empty"))
        return
    st.dataframe([{
        text("field.code"): r["code"], text("field.title"): r["title"],
        text("field.unit"): r["unit_name"],
        text("field.rectification_type"): label("rectification_type",
                                                r["rectification_type"], lang),
        text("recheck.col.closed"): (r["closed_at"] or "")[:10],
        text("recheck.col.due"): r["recheck_due"],
    } for r in due[:MAX_ROWS]], hide_index=True, width="stretch")
    codes = {r["code"]: r for r in due[:MAX_ROWS]}
    code = st.selectbox(text("field.code"), list(codes), key=f"{K}.pick")
    r = codes[code]
    st.text_area(text("recheck.reason"), key=f"{K}.{r['id']}.reason", height=68)
    c1, c2, _ = st.columns([1, 1, 3])
    c1.button(text("recheck.held"), key=f"{K}.held", type="primary", width="stretch",
              on_click=_on_recheck, args=(r["id"], r["code"], r["version"], "held"))
    c2.button(text("recheck.reopen"), key=f"{K}.reopen", width="stretch",
              on_click=_on_recheck, args=(r["id"], r["code"], r["version"], "reopened"))


def _recurrences(db, actor: Actor) -> None:
    text = ui.text
    st.subheader(text("recurrence.title"), anchor=False)
    st.caption(text("recurrence.caption"))
    pending = recurrence_views.pending_recurrences(db, actor)
    if not pending:
        st.caption(text("recurrence.empty"))
        return
    for r in pending[:MAX_ROWS]:
        with st.container(border=True):
            st.markdown(f'**{ui.md_escape(r["code"])}** {ui.md_escape(r["title"])} · '
                        f'{ui.md_escape(r["unit_name"])}')
            st.markdown(f'{ui.md_escape(text("recurrence.col.earlier"))}'
                        f'{ui.md_escape(text("common.colon"))}'
                        f'{ui.md_escape(r["earlier_code"])} {ui.md_escape(r["earlier_title"])}'
                        f' · {ui.md_escape(r["earlier_unit"])} · '
                        f'{ui.md_escape(label("status", r["earlier_status"], ui.lang()))} · '
                        f'{ui.md_escape(text("recurrence.col.score"))} '
                        f'{(r["score"] or 0):.2f}')
            c1, c2, _ = st.columns([1, 1, 3])
            c1.button(text("recurrence.confirm"), key=f"{K}.confirm.{r['id']}",
                      width="stretch", on_click=_on_decide,
                      args=(r["id"], r["code"], r["version"], "confirmed"))
            c2.button(text("recurrence.reject"), key=f"{K}.reject.{r['id']}",
                      width="stretch", on_click=_on_decide,
                      args=(r["id"], r["code"], r["version"], "rejected"))


def render_section(db, actor: Actor, as_of: date, lang: str) -> None:
    """Both sections, for those who may record checks (audit leads)."""
    if not can("workflow.reopen", actor.role):
        return
    st.divider()
    ui.show_flash(FLASH)
    _rechecks(db, actor, as_of, lang)
    _recurrences(db, actor)
