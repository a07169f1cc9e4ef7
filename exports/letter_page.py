"""督办函: the supervision letters issued for issues in the viewer's scope, each to download as
a Word document. The robot messages of a 督办函 link here with ?escalation=ID (a group chat
cannot carry the attachment); signing in and the scope check come first, as everywhere.
Calls exports.letter_service only."""
from __future__ import annotations

import streamlit as st

from audit import ui as session
from audit.model import AuditError
from exports import letter_service

K = "letter"


def _picked() -> int | None | str:
    """The ?escalation= of the address: an int, None when absent, 'bad' when not a number."""
    raw = st.query_params.get("escalation")
    if raw is None or raw == "":
        return None
    return int(raw) if str(raw).isdigit() else "bad"


def render() -> None:
    """Draw the page."""
    db = session.database()
    actor = session.require_actor()
    text, lang = session.text, session.lang()
    st.title(text("page.letter"))
    st.caption(text("letter.page.caption"))
    picked = _picked()
    if picked == "bad":
        st.error(text("letter.page.bad_id"))
        picked = None
    letters = letter_service.letters_for(db, actor, lang)
    if not letters:
        st.info(text("letter.page.none"))
        return
    st.dataframe([{
        text("letter.page.col.number"): r["number"],
        text("letter.page.col.issue"): f"{r['code']} {r['title']}",
        text("letter.page.col.unit"): r["target_unit_name"] or "",
        text("letter.page.col.as_of"): r["as_of"],
    } for r in letters], hide_index=True, width="stretch")
    by_id = {r["id"]: r for r in letters}
    ids = list(by_id)
    index = ids.index(picked) if picked in by_id else 0
    chosen = st.selectbox(text("letter.page.col.number"), ids, index=index, key=f"{K}.pick.{lang}",
                          format_func=lambda i: by_id[i]["number"] + " · " + by_id[i]["code"])

    def build() -> bytes:
        try:
            return letter_service.letter_document(db, actor, chosen, lang)[1]
        except AuditError as exc:  # the letter left the viewer's scope since the list was drawn
            session.show_error(exc)
            return b""

    st.download_button(text("letter.page.download"), data=build,
                       file_name=by_id[chosen]["filename"],
                       mime="application/vnd.openxmlformats-officedocument."
                            "wordprocessingml.document", key=f"{K}.download",
                       icon=":material/download:")
