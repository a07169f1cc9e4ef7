"""The issue page's part on its rectification type (docs/RULES.md): an immediate item's default
deadline, a staged item's milestones, a continuous item's stage goal and report dates (each with
its own warning colour, forms to add one and to mark one done), the item's red meetings, and the
reason a lead gives to go past a rule warning (the cap, deadlines that fit)."""
from __future__ import annotations

from datetime import date

import streamlit as st

from audit import rules_views, ui
from audit.messages import label
from audit.model import Actor
from issues import issue_views, rectify_service

K = "issue.rules"


def accept_key(issue_id: int) -> str:
    """The session key of the reason typed to go past a rule warning on this issue."""
    return f"{K}.{issue_id}.accept"


def accept_reason(issue_id: int) -> str | None:
    """The reason typed for this issue, or None."""
    return (st.session_state.get(accept_key(issue_id)) or "").strip() or None


def default_deadline(rectification_type: str) -> date | None:
    """The deadline the assignment form offers an item without one (立行立改 only)."""
    return rectify_service.default_deadline(ui.database(), rectification_type, ui.today())


def _on_add(issue_id: int, kind: str, flash) -> None:
    p = f"{K}.{issue_id}.{kind}"
    due, what = st.session_state.get(f"{p}.due"), st.session_state.get(f"{p}.what") or ""

    def write(db, actor) -> str:
        rectify_service.add_milestone(db, actor, issue_id, due_on=due, deliverable=what,
                                      kind=kind, at=ui.now_at())
        return ui.text("common.saved")

    flash(write, (f"{p}.what",))


def _on_complete(issue_id: int, versions: dict[int, int], flash) -> None:
    p = f"{K}.{issue_id}.done"
    mid = st.session_state.get(f"{p}.pick")
    evidence = st.session_state.get(f"{p}.evidence") or ""
    done_on = st.session_state.get(f"{p}.on")

    def write(db, actor) -> str:
        rectify_service.complete_milestone(db, actor, mid, version=versions.get(mid),
                                           evidence=evidence, done_on=done_on, at=ui.now_at())
        return ui.text("common.saved")

    flash(write, (f"{p}.evidence",))


def section(db, actor: Actor, d: dict, lang: str, flash) -> None:
    """Draw the part; `flash(write, forget_keys)` runs a write as the page's other forms do."""
    text = ui.text
    iid, rtype = d["id"], d["rectification_type"]
    today = ui.today()
    st.markdown(f'**{ui.md_escape(text("issue.rules.section"))}** · '
                f'{ui.md_escape(label("rectification_type", rtype, lang))}')
    counts = rules_views.red_counts(db, today, [iid]).get(iid)
    if counts is not None:
        st.caption(text("issue.rules.reds", meetings=counts.meetings, reds=counts.reds,
                        consecutive=counts.consecutive))
    if rtype == "immediate":
        days = rectify_service.default_deadline(db, rtype, today)
        st.caption(text("issue.rules.immediate", days=rules_views.immediate_days(db),
                        date=days.isoformat() if days else ""))
    else:
        _milestones(db, actor, d, lang, flash, today)
    if issue_views.may(actor, "rule.accept"):
        st.text_input(text("issue.rules.accept_reason"), key=accept_key(iid), max_chars=5000)


def _milestones(db, actor: Actor, d: dict, lang: str, flash, today: date) -> None:
    text = ui.text
    iid = d["id"]
    kinds = ("milestone",) if d["rectification_type"] == "staged" else ("goal", "report")
    st.markdown(ui.md_escape(text("issue.rules.milestones" if kinds == ("milestone",)
                                  else "issue.rules.goal_reports")))
    ms = rules_views.milestones_of(db, iid, today)
    if not ms:
        st.caption(text("issue.rules.none"))
    else:
        st.dataframe([{
            text("issue.rules.col.kind"): text(f"issue.rules.kind.{m['kind']}"),
            text("issue.rules.col.due_on"): m["due_on"],
            text("issue.rules.col.deliverable"): m["deliverable"],
            text("issue.rules.col.done_on"): m["done_on"] or "",
            text("issue.rules.col.evidence"): m["evidence"],
            text("issue.rules.col.warning"): label("warning", m["warning"], lang)
            if m["warning"] != "none" else "",
        } for m in ms], hide_index=True, width="stretch")
    if not issue_views.may_edit(actor, "milestone.edit", d) or \
            d["status"] not in ("not_started", "in_progress"):
        return
    for kind in kinds:
        p = f"{K}.{iid}.{kind}"
        with st.expander(f'{text("issue.rules.add")} · {text("issue.rules.kind." + kind)}',
                         icon=":material/flag:"):
            with st.form(f"{p}.form"):
                c1, c2 = st.columns([1, 3])
                c1.date_input(text("issue.rules.col.due_on"), key=f"{p}.due", value=today)
                c2.text_input(text("issue.rules.col.deliverable"), key=f"{p}.what",
                              max_chars=2000)
                st.form_submit_button(text("common.save"), key=f"{p}.save",
                                      on_click=_on_add, args=(iid, kind, flash))
    open_ms = [m for m in ms if not m["done_on"]]
    if open_ms:
        p = f"{K}.{iid}.done"
        versions = {m["id"]: m["version"] for m in open_ms}
        names = {m["id"]: f'{m["due_on"]} {m["deliverable"][:30]}' for m in open_ms}
        with st.expander(text("issue.rules.complete"), icon=":material/check:"):
            with st.form(f"{p}.form"):
                c1, c2 = st.columns([2, 1])
                c1.selectbox(text("issue.rules.pick"), list(names), key=f"{p}.pick",
                             format_func=lambda i: names[i])
                c2.date_input(text("issue.rules.col.done_on"), key=f"{p}.on", value=today,
                              max_value=today)
                st.text_input(text("issue.rules.col.evidence"), key=f"{p}.evidence",
                              max_chars=2000)
                st.form_submit_button(text("common.save"), key=f"{p}.save",
                                      on_click=_on_complete, args=(iid, versions, flash))
