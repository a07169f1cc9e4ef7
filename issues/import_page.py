"""台账导入, the ledger import page: upload → preview with the column mapping editable → what
will be created, updated and asked → confirm → import with progress. Streamlit only: the work is
done by issues.import_service."""
from __future__ import annotations

import hashlib

import pandas as pd
import streamlit as st

from audit import ui
from audit.messages import join_list, label
from audit.model import AuditError, can
from issues import import_profile_service, import_service, vocabulary_service
from issues.catalogue_views import stream_names
from issues.import_model import FieldChange, ImportPlan
from issues.ledger_format import MAPPABLE_FIELDS, ParsedLedger

K = "issues.import"
_PARSED = f"{K}.parsed"       # (file digest, mapping, ParsedLedger | AuditError)
_ANSWERS = f"{K}.answers"     # ambiguity key → chosen id
_DONE = f"{K}.done"           # the message of the last finished import
_VALUES = f"{K}.values"       # local word key → programme value (the user's answers)
_PROFILE = f"{K}.profile"     # the name of the mapping profile the reading used
MAX_PREVIEW_ROWS = 500        # more rows are summarised, not drawn
_CREATE = "\x00create"       # the choice "create this word as a new value" (no code looks so)


def _t(key: str, **params) -> str:
    return ui.text(key, **params)


# --- import --------------------------------------------------------------------------------------

def _row(parsed: ParsedLedger, row: int) -> str:
    """A row as the office finds it: its sheet and that sheet's Excel row when sheets were
    joined, else the Excel row."""
    sheet, own = parsed.where(row)
    return _t("imp.sheet_row", sheet=sheet, row=own) if sheet else str(own)


def _rows(parsed: ParsedLedger, rows) -> str:
    return ", ".join(_row(parsed, r) for r in list(rows)[:8])



def _parse(data: bytes, name: str, mapping: dict[str, str], bar,
           values: dict[str, str] | None = None) -> ParsedLedger | AuditError:
    """Read the upload (or take the cached result for the same bytes, mapping and answers),
    with the mapping profile saved for its header signature when there is one."""
    digest = hashlib.sha256(data).hexdigest()
    values = dict(values or {})
    cached = st.session_state.get(_PARSED)
    if cached and cached[0] == digest and cached[1] == (mapping, values):
        return cached[2]

    def progress(stage: str, done: int, total: int) -> None:
        share = 0.0 if not total else min(done / total, 1.0)
        bar.progress(0.5 * share if stage == "reading" else 0.5 + 0.5 * share,
                     text=_t("imp.reading" if stage == "reading" else "imp.checking"))

    db = ui.database()
    try:
        result: ParsedLedger | AuditError = import_service.read_file(
            db, data, name, mapping=mapping or None, on_progress=progress, values=values)
        found = import_profile_service.find_profile(db, signature=result.signature)
        if found:
            result = import_service.read_file(
                db, data, name, mapping=mapping or None, on_progress=progress,
                values={**found["value_answers"], **values}, profile=found["mapping"])
        st.session_state[_PROFILE] = found["name"] if found else None
    except AuditError as exc:
        result = exc
    st.session_state[_PARSED] = (digest, (dict(mapping), values), result)
    st.session_state[_ANSWERS] = {}
    return result


def _mapping_editor(parsed: ParsedLedger) -> dict[str, str] | None:
    """The column mapping as an editable table; returns a new mapping when the user applies
    one, else None."""
    ignore = _t("imp.mapping_ignore")
    # The fields by their ledger column names in the page's language, not their code names.
    names = {f: _t(f"ledger.col.{f}") for f in MAPPABLE_FIELDS}
    fields = {n: f for f, n in names.items()}
    rows = [{"header": m.header,
             "field": names.get(m.field, m.field) if m.field and not m.asked else ignore,
             "confidence": m.confidence, "reason": _reason(m)} for m in parsed.mappings]
    with st.expander(_t("imp.mapping"), expanded=bool(parsed.unmapped_headers)):
        st.caption(_t("imp.mapping_help"))
        edited = st.data_editor(
            pd.DataFrame(rows), key=f"{K}.mapping", hide_index=True, width="stretch",
            disabled=["header", "confidence", "reason"],
            column_config={
                "header": st.column_config.TextColumn(_t("imp.mapping_header")),
                "confidence": st.column_config.ProgressColumn(
                    _t("imp.mapping_confidence"), min_value=0.0, max_value=1.0, format="%.2f"),
                "reason": st.column_config.TextColumn(_t("imp.mapping_reason")),
                "field": st.column_config.SelectboxColumn(
                    _t("imp.mapping_field"), options=[ignore, *names.values()],
                    required=True)})
        if st.button(_t("imp.mapping_apply"), key=f"{K}.mapping.apply"):
            return {r["header"]: ("" if r["field"] == ignore else fields.get(r["field"],
                                                                             r["field"]))
                    for r in edited.to_dict("records")}
    return None


def _reason(m) -> str:
    """A column mapping's reason as the preview shows it."""
    text = _t(f"imp.reason.{m.reason}", detail=m.detail or "")
    return _t("imp.reason.asked", text=text) if m.asked else text


def _reading_questions(parsed: ParsedLedger, actor) -> tuple[dict[str, str], dict[str, str]] | None:
    """A choice per column or local word the reader would not guess (the nearest proposed;
    for an audit lead, a focus point or work stream may also be created under the word);
    returns (mapping, value answers) to read again with once all are answered, else None."""
    st.subheader(_t("imp.reading_questions"))
    mapping: dict[str, str] = {}
    values: dict[str, str] = {}
    create: list[tuple[str, str, str]] = []     # (question key, field, word)
    may_create = can("vocabulary.create", actor.role)
    complete = True
    for q in parsed.questions:
        options = [c for c, _ in q.choices]
        labels = {c: (lbl if q.kind == "value" else (c or _t("imp.mapping_ignore")))
                  for c, lbl in q.choices}
        if q.kind == "value" and vocabulary_service.can_create(q.field):
            if may_create:
                options.append(_CREATE)
                labels[_CREATE] = _t(f"imp.create_value.{q.field}", value=q.value)
            else:
                st.caption(_t("imp.create_value_lead_only", value=q.value))
        label = _t("imp.reading_question." + q.kind, column=q.column, value=q.value,
                   proposal=labels.get(q.proposal or "", q.proposal or ""),
                   rows=_rows(parsed, q.rows))
        picked = st.selectbox(label, [None, *options], format_func=lambda c, lb=labels:
                              _t("imp.choose") if c is None else lb[c],
                              key=f"{K}.rq.{hashlib.md5(q.key.encode()).hexdigest()[:12]}")
        if picked is None:
            complete = False
        elif q.kind == "column":
            mapping[q.column] = picked
        elif picked == _CREATE:
            create.append((q.key, q.field, q.value))
        else:
            values[q.key] = picked
    if complete and st.button(_t("imp.reading_apply"), key=f"{K}.rq.apply"):
        for key, fld, word in create:
            try:
                values[key] = vocabulary_service.create_value(ui.database(), actor, fld, word,
                                                              at=ui.now_at())
            except AuditError as exc:
                ui.show_error(exc)
                return None
            st.cache_data.clear()
        return mapping, values
    return None


def _offer_new_value(err: AuditError, actor) -> None:
    """A focus point or work stream word the programme has nothing near: an audit lead may
    create it (then the ledger is read again)."""
    fld, word = err.params.get("word_field"), err.params.get("word")
    if not (fld and word and vocabulary_service.can_create(fld)):
        return
    if not can("vocabulary.create", actor.role):
        st.caption(_t("imp.create_value_lead_only", value=word))
        return
    if st.button(_t(f"imp.create_value.{fld}", value=word), key=f"{K}.create_value"):
        try:
            vocabulary_service.create_value(ui.database(), actor, fld, word, at=ui.now_at())
        except AuditError as exc:
            ui.show_error(exc)
            return
        st.cache_data.clear()
        st.session_state.pop(_PARSED, None)
        st.rerun()


def _understood(parsed: ParsedLedger) -> None:
    """What the reading matched or inferred by itself: local words, years and levels from
    audit names, the sheets read and skipped, the profile used."""
    name = st.session_state.get(_PROFILE)
    if name:
        st.caption(_t("imp.profile_used", name=name))
    for sheet, why in parsed.sheets:
        st.caption(_t(f"imp.sheet.{why}", sheet=sheet))
    for key, (target, confidence) in parsed.value_matches.items():
        fld, _, word = key.partition(":")
        st.caption(_t("imp.value_matched", field=_field_name(fld), word=word, target=target,
                      confidence=f"{confidence:.2f}"))
    for what, n in parsed.inferred.items():
        st.caption(_t(f"imp.inferred.{what}", n=n))


def _profile_saver(parsed: ParsedLedger, actor) -> None:
    """Save the mapping and the answers of this reading under a name."""
    with st.expander(_t("imp.profile_save")):
        name = st.text_input(_t("imp.profile_name"), key=f"{K}.profile.name")
        if st.button(_t("imp.profile_save_button"), key=f"{K}.profile.save"):
            try:
                import_profile_service.save_profile(ui.database(), actor, name, parsed,
                                                    st.session_state.get(_VALUES, {}),
                                                    ui.now_at())
            except AuditError as exc:
                ui.show_error(exc)
                return
            st.success(_t("imp.profile_saved", name=name.strip()))


def _questions(plan: ImportPlan) -> None:
    """A selectbox per open question; answers go to session state."""
    answers = st.session_state.setdefault(_ANSWERS, {})
    st.subheader(_t("imp.questions"))
    for q in plan.ambiguities:
        if q.kind in ("column", "value"):
            continue   # asked by _reading_questions, answered by reading again
        choices = [c for c, _ in q.choices]
        labels = dict(q.choices)
        current = answers.get(q.key)
        picked = st.selectbox(
            _t("imp.question", rows=_rows(plan.parsed, q.rows), column=q.column,
               value=q.value, reason=q.reason),
            [None, *choices], index=(choices.index(current) + 1) if current in choices else 0,
            format_func=lambda c: _t("imp.choose") if c is None else labels[c],
            key=f"{K}.q.{hashlib.md5(q.key.encode()).hexdigest()[:12]}")
        if picked is None:
            answers.pop(q.key, None)
        else:
            answers[q.key] = picked


def _conflict_choices(plan: ImportPlan) -> dict[int, str]:
    """The cells changed in the app since the file was exported, and a choice per row: keep
    the newer values (the default) or take the file's."""
    st.subheader(_t("imp.conflicts"))
    st.caption(_t("imp.conflicts_help"))
    st.dataframe(pd.DataFrame([{
        _t("imp.col.row"): _row(plan.parsed, c.row), _t("imp.col.column"): c.column,
        _t("imp.col.file_value"): "" if c.file_value is None else str(c.file_value)[:200],
        _t("imp.col.value_now"): "" if c.value_now is None else str(c.value_now)[:200],
        _t("imp.col.changed_by"): c.changed_by, _t("imp.col.changed_at"): c.changed_at[:16]}
        for c in plan.conflicts]), hide_index=True, width="stretch")
    options = ("keep", "file")
    choices: dict[int, str] = {}
    for row in sorted({c.row for c in plan.conflicts}):
        choices[row] = st.radio(_t("imp.conflict_row", row=_row(plan.parsed, row)), options,
                                horizontal=True,
                                format_func=lambda o: _t(f"imp.choice.{o}"),
                                key=f"{K}.conflict.{row}")
    return choices


def _field_name(fld: str) -> str:
    key = {"issue": "imp.col.title", "measure": "imp.field.measure", "causes": "imp.kind.cause",
           "sources": "imp.kind.audit", "responsible_person_id": "imp.field.responsible",
           "supervisor_person_id": "imp.field.supervisor", "amount_involved": "imp.field.amount",
           "progress": "imp.field.progress", "streams": "imp.field.streams",
           "focus": "imp.field.focus", "aspect": "imp.kind.aspect"}.get(fld, f"field.{fld}")
    text = _t(key)
    return fld if text == key else text


def _change_text(changes: list[FieldChange]) -> str:
    lang = ui.lang()
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


def _preview(plan: ImportPlan) -> None:
    """Counts, what will be created, the rows, and the status shortfalls."""
    lang = ui.lang()
    counts = plan.counts()
    cols = st.columns(4)
    cols[0].metric(_t("imp.metric_create"), counts["create"])
    cols[1].metric(_t("imp.metric_update"), counts["update"])
    cols[2].metric(_t("imp.metric_unchanged"), counts["unchanged"])
    cols[3].metric(_t("imp.metric_short"), counts["status_short"])
    st.caption(_t("imp.summary", **counts))
    if "four_met" in counts:
        lacking = plan.four_shortfalls()
        st.caption(_t("imp.four", met=counts["four_met"], of=counts["create"]) + (
            _t("imp.four_missing", parts="、".join(
                f"{label('missing', m, lang)} {n}" for m, n in lacking.items()))
            if lacking else ""))
    if plan.skipped:
        st.caption(_t("imp.skipped", n=len(plan.skipped)))
    for w in plan.warnings:
        st.caption(_t("imp.warning", text=w))
    if plan.new:
        st.markdown(f"**{_t('imp.new_entities')}**")
        st.dataframe(pd.DataFrame([{
            _t("imp.col.kind"): _t(f"imp.kind.{n.kind}"), _t("imp.col.name"): n.label,
            _t("imp.col.row"): ", ".join(_row(plan.parsed, x) for x in n.rows[:6])
            + ("…" if len(n.rows) > 6 else "")}
            for n in plan.new]), hide_index=True, width="stretch")
    shown = [r for r in plan.rows if r.action != "unchanged"][:MAX_PREVIEW_ROWS]
    if shown:
        st.markdown(f"**{_t('imp.rows')}**")
        st.dataframe(pd.DataFrame([{
            _t("imp.col.row"): _row(plan.parsed, r.excel_row),
            _t("imp.col.action"): _t(f"imp.action.{r.action}"),
            _t("imp.col.code"): r.code, _t("imp.col.title"): r.title,
            _t("imp.col.unit"): r.unit_label,
            _t("imp.col.changes"): ui.clip(_change_text(r.changes), 2 * ui.WRAP_CHARS),
            _t("imp.col.ledger_status"): label("status", r.ledger_status, lang)
            if r.ledger_status else "",
            _t("imp.col.status"): label("status", r.status_after, lang)
            if r.status_after else ""} for r in shown]),
            hide_index=True, width="stretch", row_height=ui.WRAP_ROW_HEIGHT,
            column_config={_t("imp.col.changes"): ui.long_text_column("imp.clipped_help")})
    short = list(import_service.iter_status_shortfalls(plan))
    if short:
        st.markdown(f"**{_t('imp.short')}**")
        st.caption(_t("imp.short_help"))
        st.dataframe(pd.DataFrame([{
            _t("imp.col.row"): _row(plan.parsed, r.excel_row), _t("imp.col.code"): r.code,
            _t("imp.col.title"): r.title,
            _t("imp.col.ledger_status"): label("status", r.ledger_status, lang),
            _t("imp.col.status"): label("status", r.status_after, lang),
            _t("imp.col.missing"): join_list((label("missing", m, lang) for m in r.missing),
                                           lang),
            _t("imp.col.notes"): ui.clip("；".join(r.notes), 2 * ui.WRAP_CHARS)}
            for r in short[:MAX_PREVIEW_ROWS]]),
            hide_index=True, width="stretch", row_height=ui.WRAP_ROW_HEIGHT,
            column_config={_t("imp.col.missing"): ui.long_text_column("imp.clipped_help"),
                           _t("imp.col.notes"): ui.long_text_column("imp.clipped_help")})


def _deadline_misfits(plan: ImportPlan) -> None:
    """Deadlines that fit: the measures the import leaves due after their issue's deadline,
    warned before it is applied (applying accepts them, the ledger row as the reason)."""
    late = plan.deadline_misfits()
    if not late:
        return
    st.warning(_t("imp.deadline_misfits", n=len(late)))
    st.dataframe(pd.DataFrame([{
        _t("imp.col.row"): _row(plan.parsed, row), _t("imp.col.code"): code,
        _t("imp.col.measure"): title, _t("imp.col.measure_deadline"): day,
        _t("imp.col.issue_deadline"): due} for row, code, title, day, due in late]),
        hide_index=True, width="stretch")


def _cap_reason(plan: ImportPlan) -> str | None:
    """The cap warning of the whole import with its figures, and the lead's reason to go past
    it (None when the import stays within the cap)."""
    if plan.cap is None:
        return None
    before, after = plan.cap
    st.warning(_t("imp.cap_warning", before_long=before.long, before_total=before.total,
                  before_share=f"{before.share:.0%}", long=after.long, total=after.total,
                  share=f"{after.share:.0%}", cap=f"{float(after.cap):.0%}"))
    return st.text_input(_t("imp.cap_reason"), key=f"{K}.cap_reason", max_chars=5000) or None


def render_import_section() -> None:
    """Upload → preview (mapping editable) → answers → confirm → import with progress."""
    actor = ui.require_actor()
    if not can("ledger.import", actor.role):
        st.info(_t("imp.not_allowed"))
        return
    db = ui.database()
    done = st.session_state.pop(_DONE, None)
    if done:
        st.success(ui.md_escape(done))
    limit = import_service.upload_limit()
    # A new uploader after each import (the key counts imports): the browser would keep showing
    # the imported file, and the page would redraw its now empty preview.
    upload = st.file_uploader(_t("imp.upload", limit=f"{limit // (1024 * 1024)} MB"),
                              type=["xlsx", "xlsm", "xls", "ods", "et", "csv"],
                              key=f"{K}.file.{st.session_state.get(f'{K}.imports', 0)}",
                              max_upload_size=max(1, limit // (1024 * 1024)))
    streams = stream_names(db, ui.lang())
    stream = st.selectbox(_t("imp.stream"), [None, *streams], key=f"{K}.stream",
                          format_func=lambda s: _t("imp.stream_none") if s is None
                          else streams[s])
    if upload is None:
        return
    data = upload.getvalue()
    bar = st.progress(0.0, text=_t("imp.reading"))
    mapping = st.session_state.get(f"{K}.mapping_applied", {})
    parsed = _parse(data, upload.name, mapping, bar, st.session_state.get(_VALUES, {}))
    bar.empty()  # read and checked: a bar left at 100 % would still say 检查数据
    if isinstance(parsed, AuditError):
        ui.show_error(parsed)
        _offer_new_value(parsed, actor)
        return
    new_mapping = _mapping_editor(parsed)
    if new_mapping is not None:
        st.session_state[f"{K}.mapping_applied"] = new_mapping
        st.rerun()
    _understood(parsed)
    if parsed.questions:
        answered = _reading_questions(parsed, actor)
        if answered is not None:
            st.session_state[f"{K}.mapping_applied"] = {**mapping, **answered[0]}
            st.session_state[_VALUES] = {**st.session_state.get(_VALUES, {}), **answered[1]}
            st.rerun()
        st.warning(_t("imp.answer_first"))
        return
    _profile_saver(parsed, actor)
    answers = st.session_state.setdefault(_ANSWERS, {})
    try:
        plan = import_service.plan_import(db, actor, parsed, stream, filename=upload.name,
                                    resolutions=answers)
    except AuditError as exc:
        ui.show_error(exc)
        return
    if plan.ambiguities:
        _questions(plan)
        answers = st.session_state[_ANSWERS]
        if any(q.key not in answers for q in plan.ambiguities):
            plan_open = True
        else:
            plan = import_service.plan_import(db, actor, parsed, stream, filename=upload.name,
                                        resolutions=answers)
            plan_open = bool(plan.unresolved())
    else:
        plan_open = False
    if plan.conflicts and not plan_open:
        choices = _conflict_choices(plan)
        try:
            plan = import_service.plan_import(db, actor, parsed, stream, filename=upload.name,
                                              resolutions=answers, choices=choices)
        except AuditError as exc:
            ui.show_error(exc)
            return
    if plan.anchor_note:
        st.caption(_t(f"imp.anchor_{plan.anchor_note}"))
    _preview(plan)
    if plan_open:
        st.warning(_t("imp.answer_first"))
        return
    if not plan.changes_anything:
        st.info(_t("imp.nothing"))
        return
    _deadline_misfits(plan)
    accept_cap = _cap_reason(plan)
    if st.button(_t("imp.confirm"), key=f"{K}.confirm", type="primary",
                 icon=":material/upload:"):
        write_bar = st.progress(0.0, text=_t("imp.writing"))

        def progress(stage: str, done: int, total: int) -> None:
            write_bar.progress(min(done / max(total, 1), 1.0), text=_t("imp.writing"))

        try:
            result = import_service.apply_import(db, actor, plan, ui.now_at(), answers,
                                                 on_progress=progress, accept_cap=accept_cap)
        except AuditError as exc:
            ui.show_error(exc)
            return
        st.cache_data.clear()
        st.session_state.pop(_PARSED, None)
        st.session_state.pop(f"{K}.mapping_applied", None)
        st.session_state[f"{K}.imports"] = st.session_state.get(f"{K}.imports", 0) + 1
        st.session_state[_DONE] = _t("imp.done", create=result.counts["create"],
                                     update=result.counts["update"],
                                     records=result.history_records) + (
            _t("imp.done_recurrences", n=len(result.recurrences)) if result.recurrences else "")
        st.rerun()


def render() -> None:
    """The 台账导入 page."""
    ui.require_actor()
    st.title(_t("page.import"))
    render_import_section()
