"""推进会 (review meetings): the lead records a meeting (date, scope, attendees, decisions); the
tracker keeps every in-scope item's warning colour as of its date. Below: the meetings recorded
and the items red at several of them (红灯次数, 连续红灯). Calls issues.meeting_service and
audit.rules_views only."""
from __future__ import annotations

import streamlit as st

from audit import rules_views, ui
from audit.dashboard_views import units_in_scope
from audit.views import scope_for
from issues import meeting_service

K = "meetings"
FLASH = f"{K}.flash"


def _on_record(token: str) -> None:
    s = st.session_state
    held_on, unit = s.get(f"{K}.held_on"), s.get(f"{K}.unit") or None

    def write(db, actor) -> str:
        out = meeting_service.record_meeting(
            db, actor, held_on=held_on, title=s.get(f"{K}.title") or "",
            attendees=s.get(f"{K}.attendees") or "", decisions=s.get(f"{K}.decisions") or "",
            unit_code=unit, at=ui.now_at(), form_token=token)
        return ui.text("meeting.recorded", items=out["items"], reds=out["reds"])

    ui.act(FLASH, write, (f"{K}.attendees", f"{K}.decisions"), token_form=f"{K}.form",
           blank={f"{K}.attendees": "", f"{K}.decisions": ""})


def render() -> None:
    """Draw the page."""
    db = ui.database()
    actor = ui.require_actor()
    text = ui.text
    today = ui.today()
    st.title(text("page.meetings"))
    st.caption(text("meeting.caption"))
    ui.show_flash(FLASH)
    units = units_in_scope(db, actor.scope_unit_ids)
    names = {u["code"]: u["name"] for u in units}
    with st.form(f"{K}.form"):
        st.subheader(text("meeting.form"))
        c1, c2, c3 = st.columns([1, 2, 2])
        c1.date_input(text("meeting.held_on"), value=today, max_value=today,
                      key=f"{K}.held_on")
        c2.text_input(text("meeting.title"), value=text("meeting.title_default"),
                      key=f"{K}.title", max_chars=500)
        c3.selectbox(text("meeting.unit"), [""] + list(names), key=f"{K}.unit",
                     format_func=lambda c: names.get(c, text("meeting.unit_all")))
        st.text_area(text("meeting.attendees"), key=f"{K}.attendees", max_chars=5000,
                     height=80)
        st.text_area(text("meeting.decisions"), key=f"{K}.decisions", max_chars=20000,
                     height=120)
        st.form_submit_button(text("meeting.record"), type="primary", on_click=_on_record,
                              args=(ui.form_token(f"{K}.form"),))
    st.subheader(text("meeting.list"))
    held = rules_views.meetings(db)
    if not held:
        st.info(text("meeting.none"))
    else:
        unit_names = {u["id"]: u["name"] for u in units}
        st.dataframe([{
            text("meeting.col.held_on"): m["held_on"],
            text("meeting.col.title"): m["title"],
            text("meeting.col.scope"): unit_names.get(m["scope_unit_id"], "")
            if m["scope_unit_id"] else text("meeting.unit_all"),
            text("meeting.col.items"): m["items"],
            text("meeting.col.reds"): m["reds"],
            text("meeting.col.attendees"): m["attendees"],
            text("meeting.col.decisions"): m["decisions"],
        } for m in held], hide_index=True, width="stretch")
    st.subheader(text("meeting.repeated", date=today.isoformat()))
    repeated = rules_views.repeated_reds(db, scope_for(db, actor), today)
    if not repeated:
        st.caption(text("meeting.repeated_none"))
        return
    st.dataframe([{
        text("rules.col.code"): r["code"], text("rules.col.title"): r["title"],
        text("rules.col.reds"): r["reds"], text("rules.col.consecutive"): r["consecutive"],
        text("rules.col.meetings"): r["meetings"],
    } for r in repeated], hide_index=True, width="stretch")
