"""Ledger import (a section of the 导入导出 page) and the 并轨 page: upload → preview with the
column mapping editable → what will be created, updated and asked → confirm → import with
progress; duplicate clusters with their evidence, confirm or reject each, undo a merge, and
the report. Streamlit only: the work is done by issues.importer and issues.duplicates."""
from __future__ import annotations

import dataclasses
import hashlib
from datetime import date

import pandas as pd
import streamlit as st

from audit import history, session
from audit.config import max_upload_bytes
from audit.errors import AuditError
from audit.figures import scope_for
from audit.i18n import label
from audit.model import Actor, can
from issues import duplicates, importer
from issues.catalogue import database_file
from issues.ledger import MAPPABLE_FIELDS, STREAMS, ParsedLedger, read_ledger

K = "issues.import"
_PARSED = f"{K}.parsed"       # (file digest, mapping, ParsedLedger | AuditError)
_ANSWERS = f"{K}.answers"     # ambiguity key → chosen id
_DONE = f"{K}.done"           # the message of the last finished import
MAX_PREVIEW_ROWS = 500        # more rows are summarised, not drawn
MAX_PAIRS_SHOWN = 40     # strongest pairs of a cluster; a big cluster has hundreds


def _t(key: str, **params) -> str:
    return session.text(key, **params)


def _stream_name(code: str) -> str:
    return STREAMS[code][0 if session.lang() == "zh" else 1]


# --- import --------------------------------------------------------------------------------------


def _parse(data: bytes, name: str, mapping: dict[str, str], bar) -> ParsedLedger | AuditError:
    """Read the upload (or take the cached result for the same bytes and mapping)."""
    digest = hashlib.sha256(data).hexdigest()
    cached = st.session_state.get(_PARSED)
    if cached and cached[0] == digest and cached[1] == mapping:
        return cached[2]

    def progress(stage: str, done: int, total: int) -> None:
        share = 0.0 if not total else min(done / total, 1.0)
        bar.progress(0.5 * share if stage == "reading" else 0.5 + 0.5 * share,
                     text=_t("imp.reading" if stage == "reading" else "imp.checking"))

    try:
        result: ParsedLedger | AuditError = read_ledger(
            data, name, mapping=mapping or None, max_bytes=max_upload_bytes(),
            on_progress=progress)
    except AuditError as exc:
        result = exc
    st.session_state[_PARSED] = (digest, dict(mapping), result)
    st.session_state[_ANSWERS] = {}
    return result


def _mapping_editor(parsed: ParsedLedger) -> dict[str, str] | None:
    """The column mapping as an editable table; returns a new mapping when the user applies
    one, else None."""
    ignore = _t("imp.mapping_ignore")
    rows = [{"header": h, "field": f or ignore} for h, f in parsed.header_map.items()]
    rows += [{"header": h, "field": ignore} for h in parsed.unmapped_headers]
    with st.expander(_t("imp.mapping"), expanded=bool(parsed.unmapped_headers)):
        st.caption(_t("imp.mapping_help"))
        edited = st.data_editor(
            pd.DataFrame(rows), key=f"{K}.mapping", hide_index=True, width="stretch",
            disabled=["header"],
            column_config={
                "header": st.column_config.TextColumn(_t("imp.mapping_header")),
                "field": st.column_config.SelectboxColumn(
                    _t("imp.mapping_field"), options=[ignore, *MAPPABLE_FIELDS],
                    required=True)})
        if st.button(_t("imp.mapping_apply"), key=f"{K}.mapping.apply"):
            return {r["header"]: ("" if r["field"] == ignore else r["field"])
                    for r in edited.to_dict("records")}
    return None


def _questions(plan: importer.ImportPlan) -> None:
    """A selectbox per open question; answers go to session state."""
    answers = st.session_state.setdefault(_ANSWERS, {})
    st.subheader(_t("imp.questions"))
    for q in plan.ambiguities:
        choices = [c for c, _ in q.choices]
        labels = dict(q.choices)
        current = answers.get(q.key)
        picked = st.selectbox(
            _t("imp.question", rows=", ".join(map(str, q.rows[:8])), column=q.column,
               value=q.value, reason=q.reason),
            [None, *choices], index=(choices.index(current) + 1) if current in choices else 0,
            format_func=lambda c: _t("imp.choose") if c is None else labels[c],
            key=f"{K}.q.{hashlib.md5(q.key.encode()).hexdigest()[:12]}")
        if picked is None:
            answers.pop(q.key, None)
        else:
            answers[q.key] = picked


def _field_name(fld: str) -> str:
    key = {"issue": "imp.col.title", "measure": "imp.field.measure", "causes": "imp.kind.cause",
           "sources": "imp.kind.audit", "responsible_person_id": "imp.field.responsible",
           "supervisor_person_id": "imp.field.supervisor", "amount_involved": "imp.field.amount",
           "progress": "imp.field.progress", "streams": "imp.field.streams",
           "focus": "imp.field.focus", "aspect": "imp.kind.aspect"}.get(fld, f"field.{fld}")
    text = _t(key)
    return fld if text == key else text


def _change_text(changes: list[importer.FieldChange]) -> str:
    lang = session.lang()
    parts = []
    for c in changes[:6]:
        old, new = c.old, c.new
        if c.field == "status":
            old, new = label("status", old, lang), label("status", new, lang)
        old = "" if old in (None, "") else str(old)[:24]
        name = _field_name(c.field)
        parts.append(f"{name}：{old} → {str(new)[:40]}" if old else f"{name}：{str(new)[:40]}")
    more = len(changes) - 6
    return "；".join(parts) + (f" …(+{more})" if more > 0 else "")


def _preview(plan: importer.ImportPlan) -> None:
    """Counts, what will be created, the rows, and the status shortfalls."""
    lang = session.lang()
    counts = plan.counts()
    cols = st.columns(4)
    cols[0].metric(_t("imp.metric_create"), counts["create"])
    cols[1].metric(_t("imp.metric_update"), counts["update"])
    cols[2].metric(_t("imp.metric_unchanged"), counts["unchanged"])
    cols[3].metric(_t("imp.metric_short"), counts["status_short"])
    st.caption(_t("imp.summary", **counts))
    if plan.skipped:
        st.caption(_t("imp.skipped", n=len(plan.skipped)))
    for w in plan.warnings:
        st.caption(_t("imp.warning", text=w))
    if plan.new:
        st.markdown(f"**{_t('imp.new_entities')}**")
        st.dataframe(pd.DataFrame([{
            _t("imp.col.kind"): _t(f"imp.kind.{n.kind}"), _t("imp.col.name"): n.label,
            _t("imp.col.row"): ", ".join(map(str, n.rows[:6])) + ("…" if len(n.rows) > 6
                                                                  else "")}
            for n in plan.new]), hide_index=True, width="stretch")
    shown = [r for r in plan.rows if r.action != "unchanged"][:MAX_PREVIEW_ROWS]
    if shown:
        st.markdown(f"**{_t('imp.rows')}**")
        st.dataframe(pd.DataFrame([{
            _t("imp.col.row"): r.excel_row, _t("imp.col.action"): _t(f"imp.action.{r.action}"),
            _t("imp.col.code"): r.code, _t("imp.col.title"): r.title,
            _t("imp.col.unit"): r.unit_label,
            _t("imp.col.changes"): _change_text(r.changes),
            _t("imp.col.ledger_status"): label("status", r.ledger_status, lang)
            if r.ledger_status else "",
            _t("imp.col.status"): label("status", r.status_after, lang)
            if r.status_after else ""} for r in shown]),
            hide_index=True, width="stretch")
    short = list(importer.iter_status_shortfalls(plan))
    if short:
        st.markdown(f"**{_t('imp.short')}**")
        st.caption(_t("imp.short_help"))
        st.dataframe(pd.DataFrame([{
            _t("imp.col.row"): r.excel_row, _t("imp.col.code"): r.code,
            _t("imp.col.title"): r.title,
            _t("imp.col.ledger_status"): label("status", r.ledger_status, lang),
            _t("imp.col.status"): label("status", r.status_after, lang),
            _t("imp.col.missing"): "、".join(label("missing", m, lang) for m in r.missing),
            _t("imp.col.notes"): "；".join(r.notes)} for r in short[:MAX_PREVIEW_ROWS]]),
            hide_index=True, width="stretch")


def render_import_section() -> None:
    """Upload → preview (mapping editable) → answers → confirm → import with progress."""
    actor = session.require_actor()
    if not can("ledger.import", actor.role):
        st.info(_t("imp.not_allowed"))
        return
    db = session.database()
    done = st.session_state.pop(_DONE, None)
    if done:
        st.success(done)
    limit = max_upload_bytes()
    upload = st.file_uploader(_t("imp.upload", limit=f"{limit // (1024 * 1024)} MB"),
                              type=["xlsx", "csv"], key=f"{K}.file",
                              max_upload_size=max(1, limit // (1024 * 1024)))
    stream = st.selectbox(_t("imp.stream"), [None, *STREAMS], key=f"{K}.stream",
                          format_func=lambda s: _t("imp.stream_none") if s is None
                          else _stream_name(s))
    if upload is None:
        return
    data = upload.getvalue()
    bar = st.progress(0.0, text=_t("imp.reading"))
    mapping = st.session_state.get(f"{K}.mapping_applied", {})
    parsed = _parse(data, upload.name, mapping, bar)
    bar.progress(1.0, text=_t("imp.checking"))
    if isinstance(parsed, AuditError):
        session.show_error(parsed)
        return
    new_mapping = _mapping_editor(parsed)
    if new_mapping is not None:
        st.session_state[f"{K}.mapping_applied"] = new_mapping
        st.rerun()
    answers = st.session_state.setdefault(_ANSWERS, {})
    try:
        plan = importer.plan_import(db, actor, parsed, stream, filename=upload.name,
                                    resolutions=answers)
    except AuditError as exc:
        session.show_error(exc)
        return
    if plan.ambiguities:
        _questions(plan)
        answers = st.session_state[_ANSWERS]
        if any(q.key not in answers for q in plan.ambiguities):
            plan_open = True
        else:
            plan = importer.plan_import(db, actor, parsed, stream, filename=upload.name,
                                        resolutions=answers)
            plan_open = bool(plan.unresolved())
    else:
        plan_open = False
    _preview(plan)
    if plan_open:
        st.warning(_t("imp.answer_first"))
        return
    if not plan.changes_anything:
        st.info(_t("imp.nothing"))
        return
    if st.button(_t("imp.confirm"), key=f"{K}.confirm", type="primary",
                 icon=":material/upload:"):
        write_bar = st.progress(0.0, text=_t("imp.writing"))

        def progress(stage: str, done: int, total: int) -> None:
            write_bar.progress(min(done / max(total, 1), 1.0), text=_t("imp.writing"))

        try:
            result = importer.apply_import(db, actor, plan, session.now_at(), answers,
                                           on_progress=progress)
        except AuditError as exc:
            session.show_error(exc)
            return
        st.cache_data.clear()
        st.session_state.pop(_PARSED, None)
        st.session_state[_DONE] = _t("imp.done", create=result.counts["create"],
                                     update=result.counts["update"],
                                     records=result.history_records)
        st.rerun()


# --- merging (并轨) ---------------------------------------------------------------------------


# Few entries, and clusters without their issue rows (read for the one cluster shown): a
# finding of 40,000 issues held per threshold and data version pushed the app past 900 MB.
@st.cache_resource(show_spinner=False, max_entries=3, ttl=900)
def _clusters(_db, key: tuple) -> list[duplicates.Cluster]:
    """Clusters for (database file, data version, across, threshold): any write moves the
    version."""
    return duplicates.find_duplicates(_db, threshold=key[-1], across=key[-2],
                                      with_issues=False)


def _key(db, threshold: float | None, across: bool = False) -> tuple:
    return (database_file(db), history.data_version(db), across, threshold)


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
    lang = session.lang()
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
        stream = {s: _stream_name(s) for s in STREAMS}
        st.dataframe(pd.DataFrame([{
            col["code"]: i["code"], col["title"]: i["title"], col["unit"]: i["unit_name"],
            col["status"]: label("status", i["status"], lang),
            col["streams"]: "、".join(stream.get(s, s) for s in i["streams"]),
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
        survivor = st.radio(_t("mrg.survivor"), ids, index=ids.index(c.suggested_survivor),
                            format_func=lambda i: f"{codes[i]} {titles[i]}",
                            key=f"{K}.survivor.{c.key}", horizontal=True)
        left, right = st.columns(2)
        if left.button(_t("mrg.confirm"), key=f"{K}.merge.{c.key}", type="primary"):
            try:
                duplicates.confirm_cluster(db, actor, c, survivor, session.now_at())
                st.session_state[_DONE] = _t("mrg.merged_ok", code=codes[survivor])
                st.rerun()
            except AuditError as exc:
                session.show_error(exc)
        if right.button(_t("mrg.reject"), key=f"{K}.reject.{c.key}"):
            try:
                n = duplicates.reject_cluster(db, actor, c, session.now_at())
                st.session_state[_DONE] = _t("mrg.rejected_ok", n=n)
                st.rerun()
            except AuditError as exc:
                session.show_error(exc)


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
                duplicates.undo_merge(db, actor, m["id"], session.now_at())
                st.session_state[_DONE] = _t("mrg.undone_ok")
                st.rerun()
            except AuditError as exc:
                session.show_error(exc)


def render_merge_section() -> None:
    """The report, the duplicate clusters with their evidence (confirm or reject each), and
    the recent merges with undo."""
    actor = session.require_actor()
    db = session.database()
    done = st.session_state.pop(_DONE, None)
    if done:
        st.success(done)
    _report(db, actor, session.today())
    threshold = st.slider(_t("mrg.threshold"), 0.3, 0.95, duplicates.DEFAULT_THRESHOLD, 0.05,
                          key=f"{K}.threshold")
    across = st.toggle(_t("mrg.across"), key=f"{K}.across")
    clusters = _clusters(db, _key(db, round(threshold, 2), across))
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
            col["codes"]: "、".join(c.codes[:6]) + ("…" if len(c.codes) > 6 else ""),
            col["flags"]: " · ".join(f for f, on in ((recurring, c.recurring),
                                                     (cross, c.cross_stream)) if on)}
            for c in clusters]), hide_index=True, width="stretch", height=min(
                38 + 35 * len(clusters), 300))
        by_number = {c.number: c for c in clusters}
        # Keyed by language: a keyed widget keeps the option texts it was first drawn with.
        number = st.selectbox(_t("mrg.pick"), list(by_number), key=f"{K}.pick.{session.lang()}",
                              format_func=lambda n: _t("mrg.cluster", number=n,
                                                       best=f"{by_number[n].best:.2f}"))
        picked = by_number[number]
        _cluster(db, actor, dataclasses.replace(
            picked, issues=duplicates.cluster_issues(db, picked.issue_ids)))
    _recent(db, actor)


def render() -> None:
    """The 并轨 page."""
    session.require_actor()
    st.title(_t("page.merge"))
    render_merge_section()
