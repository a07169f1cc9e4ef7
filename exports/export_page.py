"""导出, the export page: the Word review pack and the Excel ledger, with the same choices as
`python -m audit report` / `export`, built step by step under st.status with a progress bar."""
from __future__ import annotations

import datetime as dt
import re
import tempfile
from dataclasses import dataclass
from pathlib import Path

import streamlit as st

from audit import messages, ui
from audit.model import AuditError
from audit.views import scope_for
from issues.catalogue_views import filter_choices, stream_names

_RESULT = "exports.io.result"           # session key: the last built file, offered for download
_STEPS = {"report": ("gather", "charts", "sections", "save"),
          "export": ("gather", "writing", "save")}
_MIME = {"report": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
         "export": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"}


@dataclass(frozen=True)
class Choices:
    """What the user asked for: the CLI's --as-of, --since, --unit, --category, --stream, --lang."""

    as_of: dt.date
    since: dt.date
    unit_code: str | None
    category: str | None
    stream: str | None
    lang: str
    attachments: str = "auto"


def _choices(db, actor) -> Choices:
    """The export form: dates, unit (only those in the actor's scope), category, stream, lang."""
    t = ui.text
    offered = filter_choices(db, actor)  # units already limited to the actor's scope
    units = offered["units"]
    categories = [(c["code"], c["name"]) for c in offered["categories"]]
    left, right = st.columns(2)
    as_of = left.date_input(t("io.as_of"), value=ui.today(), key="exports.io.as_of")
    from exports.pack_service import default_since
    since = right.date_input(t("io.since"), value=default_since(db, as_of),
                             key="exports.io.since")
    unit = left.selectbox(t("io.unit"), [None] + [u["code"] for u in units],
                          format_func=lambda c: t("io.unit_all") if c is None else
                          next(u["name"] for u in units if u["code"] == c),
                          key="exports.io.unit")
    category = right.selectbox(t("io.category"), [None] + [c for c, _ in categories],
                               format_func=lambda c: t("io.category_all") if c is None else
                               f"{c} {dict(categories)[c]}", key="exports.io.category")
    streams = stream_names(ui.database(), ui.lang())
    stream = left.selectbox(t("io.stream"), [None, *streams],
                            format_func=lambda s: t("io.stream_all") if s is None else
                            streams[s], key="exports.io.stream")
    lang = right.selectbox(t("io.lang"), list(messages.LANGS),
                           index=messages.LANGS.index(ui.lang()),
                           format_func=lambda c: messages.LANG_NAMES[c], key="exports.io.lang")
    attachments = left.selectbox(t("io.attachments"), ["auto", "none", "open", "overdue", "all"],
                                 format_func=lambda k: t(f"io.attachments.{k}"),
                                 key="exports.io.attachments")
    return Choices(as_of, since, unit, category, stream, lang, attachments)


def _file_name(kind: str, choices: Choices, db, actor) -> str:
    """A download name naming the scope and the date, safe on every file system."""
    unit = choices.unit_code
    if unit is None and actor.scope_unit_ids is not None and actor.unit_id is not None:
        unit = next((u["code"] for u in filter_choices(db, actor)["units"]
                     if u["id"] == actor.unit_id), None)
    scope = "-".join(x for x in (unit, choices.category, choices.stream) if x) \
        or ui.text("io.file_scope_all")
    name = ui.text("io.report_file" if kind == "report" else "io.ledger_file",
                        scope=scope, date=choices.as_of.isoformat())
    return re.sub(r'[\\/:*?"<>|\s]+', "_", name)


def _build(kind: str, db, actor, choices: Choices) -> None:
    """Build one file step by step under st.status; keep it in the session for download."""
    from audit import messages
    from exports.export_job_service import WorkerRefused, run_export
    t = ui.text
    steps = _STEPS[kind]
    st.session_state.pop(_RESULT, None)
    with st.status(t("io.working"), expanded=True) as status:
        bar = st.progress(0.0)

        shown = [0.0]

        def on_progress(step: str, done: int, total: int) -> None:
            # One bar over all steps, each an equal share. The pack's charts finish after its
            # sections (they render meanwhile), so the bar never moves back.
            index = steps.index(step) if step in steps else 0
            share = (index + min(done / max(total, 1), 1.0)) / len(steps)
            shown[0] = max(shown[0], min(share, 1.0))
            bar.progress(shown[0])
            status.update(label=t("io.step_running", step=t(f"{kind}.step.{step}")
                                  if messages.has(f"{kind}.step.{step}") else step))
        try:
            categories = [choices.category] if choices.category else []
            scope_for(db, actor, unit_code=choices.unit_code, category_codes=categories,
                      stream=choices.stream)   # a bad choice is refused here, at once
            # Built in a worker process (exports.export_worker): this process neither stalls
            # nor keeps the build's memory.
            with tempfile.TemporaryDirectory(prefix="io-export-") as work:
                out = Path(work) / ("pack.docx" if kind == "report" else "ledger.xlsx")
                run_export({"db": ui.database_file_of(db), "kind": kind, "user_id": actor.user_id,
                            "as_of": choices.as_of.isoformat(),
                            "since": choices.since.isoformat(),
                            "unit_code": choices.unit_code, "category": choices.category,
                            "stream": choices.stream, "lang": choices.lang,
                            "attachments": choices.attachments, "out": str(out)},
                           on_progress=on_progress)
                data = out.read_bytes()
        except WorkerRefused as exc:
            shown = exc.texts.get(ui.lang()) or str(exc)
            status.update(label=shown, state="error")
            st.error(ui.md_escape(shown))
            return
        except AuditError as exc:
            status.update(label=messages.error_text(exc, ui.lang()), state="error")
            ui.show_error(exc)
            return
        name = _file_name(kind, choices, db, actor)
        st.session_state[_RESULT] = (kind, name, data)
        bar.progress(1.0)
        status.update(label=t("io.done", name=name, size=f"{len(data) / 1024:,.0f} KB"),
                      state="complete", expanded=False)


def _export_section(db, actor) -> None:
    t = ui.text
    st.subheader(t("io.export_heading"))
    st.caption(t("io.scope_note"))
    choices = _choices(db, actor)
    if choices.since > choices.as_of:
        st.warning(t("io.since_after"))
    left, right = st.columns(2)
    if left.button(t("io.report_button"), key="exports.io.report",
                   disabled=choices.since > choices.as_of, type="primary"):
        _build("report", db, actor, choices)
    if right.button(t("io.ledger_button"), key="exports.io.ledger"):
        _build("export", db, actor, choices)
    right.caption(t("io.ledger_send_out"))
    result = st.session_state.get(_RESULT)
    if result:
        kind, name, data = result
        st.download_button(t("io.report_download" if kind == "report" else "io.ledger_download"),
                           data, file_name=name, mime=_MIME[kind], key="exports.io.download",
                           icon=":material/download:")


def render() -> None:
    """The 导出 page."""
    actor = ui.require_actor()
    db = ui.database()
    st.title(ui.text("page.io"))
    _export_section(db, actor)
