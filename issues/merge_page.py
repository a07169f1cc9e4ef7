"""并轨与查重, the merge page: the report, duplicate clusters across the two work streams and
the years with their evidence (confirm or reject each), and the recent merges with undo.
Streamlit only: the work is done by issues.duplicates."""
from __future__ import annotations

import dataclasses
from datetime import date

import pandas as pd
import streamlit as st

from audit import ui
from audit.messages import join_list, label
from audit.model import Actor, AuditError, can
from audit.views import scope_for
from issues import duplicates_views as duplicates
from issues import merge_service, stored_views
from issues.catalogue_views import stream_names

K = "issues.merge"
_PARSED = f"{K}.parsed"       # (file digest, mapping, ParsedLedger | AuditError)
_ANSWERS = f"{K}.answers"     # ambiguity key → chosen id
_DONE = f"{K}.done"           # the message of the last finished import
_HELD = f"{K}.held"           # the merge just made: held on screen until "next" is pressed
_ERROR = f"{K}.error"         # a refused merge or rejection, shown once
MAX_PREVIEW_ROWS = 500        # more rows are summarised, not drawn
MAX_PAIRS_SHOWN = 40     # strongest pairs of a cluster; a big cluster has hundreds


def _t(key: str, **params) -> str:
    return ui.text(key, **params)


# --- merge ---


# Few entries, and clusters without their issue rows (read for the one cluster shown): a
# finding of 40,000 issues held per threshold and data version pushed the app past 900 MB.
@st.cache_resource(show_spinner=False, max_entries=3, ttl=900)
def _clusters(_db, key: tuple) -> list[duplicates.Cluster]:
    """Clusters for (database file, version of the duplicate proposals, across, threshold):
    read from the stored results when current (issues.stored_views)."""
    return stored_views.clusters(_db, threshold=key[-1], across=key[-2], at=ui.now_at())


def _key(db, threshold: float | None, across: bool = False) -> tuple:
    return (*ui.data_key(db), across, threshold)


def _clusters_key(db, threshold: float | None, across: bool = False) -> tuple:
    """The clusters' key: their own version moves only with what they read, not with a
    progress note (audit.store.versions.DUPLICATE_FIELDS)."""
    return (ui.data_key(db)[0], stored_views.duplicates_version(db), across, threshold)


@st.cache_resource(show_spinner=False, max_entries=16, ttl=3600)
def _merge_report(_db, _actor: Actor, key: tuple, as_of: date) -> dict:
    """merge_report cached on the data version and scope: it takes a second on 40,000 issues
    and ran on every rerun (each slider move)."""
    return duplicates.merge_report(_db, scope_for(_db, _actor), as_of)


def _report(db, actor: Actor, as_of: date) -> None:
    r = _merge_report(db, actor, (_key(db, None), actor.unit_id), as_of)
    st.subheader(_t("mrg.report"))
    cols = st.columns(5)
    for col, key in zip(cols, ("findings_in", "from_cleanup", "from_audit", "merged",
                               "recurring")):
        col.metric(_t(f"mrg.{key}"), r[key])
    st.caption(_t("mrg.final", **r))


def _cluster(db, actor: Actor, c: duplicates.Cluster) -> None:
    lang = ui.lang()
    codes = {i["id"]: i["code"] for i in c.issues}
    flags = [_t("mrg.flag_recurring")] if c.recurring else []
    flags += [_t("mrg.flag_cross")] if c.cross_stream else []
    title = _t("mrg.cluster", number=c.number, best=f"{c.best:.2f}")
    with st.expander(title + (" · " + " · ".join(flags) if flags else ""), expanded=True):
        # Headers looked up once: each session.text call reads session_state, and per cell
        # that cost over a second a run on 40,000 issues.
        col = {k: _t(f"mrg.col.{k}") for k in (
            "code", "title", "unit", "status", "streams", "years", "a", "b", "score",
            "text_score", "same_unit", "same_city", "same_category", "shared")}
        stream = stream_names(ui.database(), lang)
        st.dataframe(pd.DataFrame([{
            col["code"]: i["code"], col["title"]: i["title"], col["unit"]: i["unit_name"],
            col["status"]: label("status", i["status"], lang),
            col["streams"]: join_list((stream.get(s, s) for s in i["streams"]), lang),
            col["years"]: ", ".join(map(str, i["years"]))} for i in c.issues]),
            hide_index=True, width="stretch")
        st.markdown(f"**{_t('mrg.evidence')}**")
        st.dataframe(pd.DataFrame([{
            col["a"]: codes[p.a], col["b"]: codes[p.b], col["score"]: round(p.score, 2),
            col["text_score"]: round(p.text_score, 2), col["same_unit"]: p.same_unit,
            col["same_city"]: p.same_city, col["same_category"]: p.same_category,
            col["shared"]: " ".join(p.shared)}
            for p in sorted(c.pairs, key=lambda p: -p.score)[:MAX_PAIRS_SHOWN]]),
            hide_index=True, width="stretch")
        if not can("issue.merge", actor.role):
            return
        ids = c.issue_ids
        titles = {i["id"]: i["title"][:30] for i in c.issues}
        st.radio(_t("mrg.survivor"), ids, index=ids.index(c.suggested_survivor),
                 format_func=lambda i: f"{codes[i]} {titles[i]}",
                 key=f"{K}.survivor.{c.key}", horizontal=True)
        left, right = st.columns(2)
        # The cluster and the versions shown are bound to the buttons as drawn: a second click
        # reaches this cluster again (refused as stale), never the one drawn next.
        versions = {i["id"]: i.get("version") for i in c.issues}
        left.button(_t("mrg.confirm"), key=f"{K}.merge.{c.key}", type="primary",
                    on_click=_on_confirm, args=(ids, f"{K}.survivor.{c.key}", versions, codes))
        right.button(_t("mrg.reject"), key=f"{K}.reject.{c.key}", on_click=_on_reject,
                     args=(ids,))


def _on_confirm(ids: list[int], survivor_key: str, versions: dict, codes: dict) -> None:
    actor = ui.current_actor()
    survivor = st.session_state.get(survivor_key)
    if actor is None or survivor is None:
        return
    try:
        merge_service.confirm_cluster(ui.database(), actor, ids, survivor, ui.now_at(),
                                      versions=versions)
    except AuditError as exc:
        st.session_state[_ERROR] = exc
        return
    st.session_state[_HELD] = _t("mrg.merged_ok", code=codes[survivor])


def _on_reject(ids: list[int]) -> None:
    actor = ui.current_actor()
    if actor is None:
        return
    try:
        n = merge_service.reject_cluster(ui.database(), actor, ids, ui.now_at())
    except AuditError as exc:
        st.session_state[_ERROR] = exc
        return
    st.session_state[_HELD] = _t("mrg.rejected_ok", n=n)


def _held(message: str) -> None:
    """After a merge or a rejection: the result stays on screen and the next cluster is drawn
    only on an explicit click (its 确认合并 would sit where the pressed one was)."""
    with st.container(border=True):
        st.success(ui.md_escape(message), icon=":material/check_circle:")
        st.button(_t("mrg.next"), key=f"{K}.next", on_click=st.session_state.pop,
                  args=(_HELD, None), icon=":material/arrow_forward:")


def _recent(db, actor: Actor) -> None:
    merges = duplicates.recent_merges(db, limit=20)
    if not merges:
        return
    st.subheader(_t("mrg.recent"))
    for m in merges:
        text = _t("mrg.undo", absorbed=m["absorbed_code"], survivor=m["survivor_code"])
        if m["undone_at"]:
            st.caption(f"{text} · {_t('mrg.undone')} {m['undone_at'][:16]}")
            continue
        if st.button(text, key=f"{K}.undo.{m['id']}", disabled=not can("issue.merge",
                                                                         actor.role)):
            try:
                merge_service.undo_merge(db, actor, m["id"], at=ui.now_at())
                st.session_state[_DONE] = _t("mrg.undone_ok")
                st.rerun()
            except AuditError as exc:
                ui.show_error(exc)


def render_merge_section() -> None:
    """The report, the duplicate clusters with their evidence (confirm or reject each), and
    the recent merges with undo."""
    actor = ui.require_actor()
    db = ui.database()
    done = st.session_state.pop(_DONE, None)
    if done:
        st.success(ui.md_escape(done))
    error = st.session_state.pop(_ERROR, None)
    if error is not None:
        ui.show_error(error)
    _report(db, actor, ui.today())
    held = st.session_state.get(_HELD)
    if held:
        _held(held)
        _recent(db, actor)
        return
    threshold = st.slider(_t("mrg.threshold"), 0.3, 0.95, duplicates.DEFAULT_THRESHOLD, 0.05,
                          key=f"{K}.threshold")
    across = st.toggle(_t("mrg.across"), key=f"{K}.across")
    clusters = _clusters(db, _clusters_key(db, round(threshold, 2), across))
    st.subheader(_t("mrg.clusters", n=len(clusters)))
    if not clusters:
        st.info(_t("mrg.none"))
    else:
        # One summary table of every cluster and the details of the one picked: the cost of a
        # rerun no longer grows with the number of clusters (hundreds on a large programme).
        col = {k: _t(f"mrg.col.{k}") for k in ("group", "size", "score", "codes", "flags")}
        recurring, cross = _t("mrg.flag_recurring"), _t("mrg.flag_cross")
        st.dataframe(pd.DataFrame([{
            col["group"]: c.number, col["size"]: len(c.issue_ids),
            col["score"]: round(c.best, 2),
            col["codes"]: join_list(c.codes[:6], ui.lang()) + ("…" if len(c.codes) > 6 else ""),
            col["flags"]: " · ".join(f for f, on in ((recurring, c.recurring),
                                                     (cross, c.cross_stream)) if on)}
            for c in clusters]), hide_index=True, width="stretch", height=min(
                38 + 35 * len(clusters), 300))
        by_number = {c.number: c for c in clusters}
        # Keyed by language: a keyed widget keeps the option texts it was first drawn with.
        number = st.selectbox(_t("mrg.pick"), list(by_number), key=f"{K}.pick.{ui.lang()}",
                              format_func=lambda n: _t("mrg.cluster", number=n,
                                                       best=f"{by_number[n].best:.2f}"))
        picked = by_number[number]
        _cluster(db, actor, dataclasses.replace(
            picked, issues=duplicates.cluster_issues(db, picked.issue_ids)))
    _recent(db, actor)


def render() -> None:
    """The 并轨 page."""
    ui.require_actor()
    st.title(_t("page.merge"))
    render_merge_section()
