"""台账回收, the returned ledger: a rectifier uploads the unit's ledger with the progress filled
in → the preview shows item by item what will change and every cell that may not → confirm →
written all or nothing. Streamlit only: the work is done by issues.return_service."""
from __future__ import annotations

import hashlib

import pandas as pd
import streamlit as st

from audit import ui
from audit.model import AuditError
from issues import import_service, return_service

K = "issues.return"
_PREVIEW = f"{K}.preview"     # (file digest, ReturnPreview | AuditError)
_DONE = f"{K}.done"           # the message of the last finished return
MAX_ROWS = 500                # more rows are counted, not drawn


def _t(key: str, **params) -> str:
    return ui.text(key, **params)


def _preview(data: bytes, name: str) -> return_service.ReturnPreview | AuditError:
    """Read and compare the upload (or take the cached result for the same bytes)."""
    digest = hashlib.sha256(data).hexdigest()
    cached = st.session_state.get(_PREVIEW)
    if cached and cached[0] == digest:
        return cached[1]
    try:
        result: return_service.ReturnPreview | AuditError = return_service.preview_return(
            ui.database(), ui.require_actor(), data, name, at=ui.now_at())
    except AuditError as exc:
        result = exc
    st.session_state[_PREVIEW] = (digest, result)
    return result


def _value(v) -> str:
    text = "" if v is None else str(v)
    return text if len(text) <= 200 else text[:200] + "…"


def _change_value(kind: str, v, completed_on: str | None = None) -> str:
    if kind in ("progress", "measure_date"):
        return _value(v)
    if v == "done" and completed_on:
        return _t("ret.measure.done_on", date=completed_on)   # the date that will be recorded
    return _t(f"ret.measure.{v}")


def _changes(preview: return_service.ReturnPreview) -> None:
    st.subheader(_t("ret.changes"))
    st.dataframe(pd.DataFrame([{
        _t("ret.col.row"): c.row, _t("ret.col.code"): c.code, _t("ret.col.column"): c.column,
        _t("ret.col.what"): _t(f"ret.kind.{c.kind}", measure=c.measure_title),
        _t("ret.col.old"): _change_value(c.kind, c.old),
        _t("ret.col.new"): _change_value(c.kind, c.new, c.completed_on)}
        for c in preview.diff.changes[:MAX_ROWS]]), hide_index=True, width="stretch")


def _refusals(preview: return_service.ReturnPreview) -> None:
    st.subheader(_t("ret.refusals"))
    st.error(_t("ret.refused", n=len(preview.diff.refusals)))
    st.dataframe(pd.DataFrame([{
        _t("ret.col.row"): r.row, _t("ret.col.column"): r.column,
        _t("ret.col.why"): _t(f"return.why.{r.why}"),
        _t("ret.col.file"): _value(r.file_value), _t("ret.col.now"): _value(r.value_now),
        _t("ret.col.who"): r.who, _t("ret.col.when"): r.when[:16]}
        for r in preview.diff.refusals[:MAX_ROWS]]), hide_index=True, width="stretch")


def render() -> None:
    """The 台账回收 page."""
    actor = ui.require_actor()
    st.title(_t("page.return"))
    st.caption(_t("ret.help"))
    done = st.session_state.pop(_DONE, None)
    if done:
        st.success(ui.md_escape(done))
    limit = import_service.upload_limit()
    upload = st.file_uploader(_t("ret.upload", limit=f"{limit // (1024 * 1024)} MB"),
                              type=["xlsx"], key=f"{K}.file",
                              max_upload_size=max(1, limit // (1024 * 1024)))
    if upload is None:
        return
    preview = _preview(upload.getvalue(), upload.name)
    if isinstance(preview, AuditError):
        ui.show_error(preview)
        return
    diff = preview.diff
    cols = st.columns(3)
    cols[0].metric(_t("ret.metric_rows"), diff.rows)
    cols[1].metric(_t("ret.metric_changes"), len(diff.changes))
    cols[2].metric(_t("ret.metric_refusals"), len(diff.refusals))
    if diff.refusals:
        _refusals(preview)
    if diff.changes:
        _changes(preview)
    if diff.refusals:
        return
    if not diff.changes:
        st.info(_t("ret.nothing"))
        return
    if st.button(_t("ret.confirm"), key=f"{K}.confirm", type="primary",
                 icon=":material/upload:"):
        try:
            result = return_service.apply_return(ui.database(), actor, preview,
                                                 at=ui.now_at())
        except AuditError as exc:
            st.session_state.pop(_PREVIEW, None)
            ui.show_error(exc)
            return
        st.cache_data.clear()
        st.session_state.pop(_PREVIEW, None)
        st.session_state[_DONE] = _t("ret.done", n=len(result.changes),
                                     records=result.history_records)
        st.rerun()
