"""Administration section for backups and the history chain, drawn by audit/admin_page.py:
take an online backup (safe while others write) into `backups/` beside the database
(data/backups/ for the default data/tracker.db) and show its manifest; verify the whole
hash chain now and name the first bad record; show the current anchor. Restoring is done at the
command line only (`python -m audit restore`): it replaces the live file, which a web page
serving other users must not do."""
from __future__ import annotations

import json
from pathlib import Path

import streamlit as st

from audit import backup, history, session
from audit.errors import AuditError
from audit.i18n import error_text
from issues import catalogue, issue_view

K = "backup"
RESULT = f"{K}.result"


def backup_dir(db) -> Path:
    """Where backups go: `backups/` in the database's folder."""
    return Path(catalogue.database_file(db)).resolve().parent / "backups"


def _on_backup() -> None:
    actor = session.current_actor()
    if actor is None:
        return
    db = session.database()
    at = session.now_at()
    stem = Path(catalogue.database_file(db)).stem
    out = backup_dir(db) / f"{stem}-{at[:19].replace(':', '').replace('-', '')}.db"
    try:
        manifest = backup.online_backup(db, actor, out, evidence_root=issue_view.evidence_root(db),
                                        at=at)
    except AuditError as exc:
        st.session_state[RESULT] = ("error", error_text(exc, session.lang()), None)
        return
    st.session_state[RESULT] = ("success", session.text("backup.done", path=str(out)),
                                manifest)


def _on_verify() -> None:
    if session.current_actor() is None:
        return
    result = history.verify(session.database())
    if result.ok:
        st.session_state[RESULT] = ("success", session.text(
            "backup.verify_ok", records=result.records,
            anchor=f"{result.anchor[0]}:{result.anchor[1]}"), None)
    else:
        st.session_state[RESULT] = ("error", session.text(
            "backup.verify_bad", seq=result.first_bad_seq or "?", problem=result.problem), None)


def render_section() -> None:
    """Backup now, verify the chain now, the anchor, and how to restore."""
    db = session.database()
    session.require_actor()
    text = session.text
    st.subheader(text("backup.title"))
    st.caption(text("backup.caption", folder=str(backup_dir(db))))
    kind, message, manifest = st.session_state.pop(RESULT, (None, None, None))
    if kind:
        getattr(st, kind)(message)
    if manifest:
        st.markdown(f'**{text("backup.manifest")}**')
        st.code(json.dumps(manifest, ensure_ascii=False, indent=2), language="json")
    seq, digest = history.anchor(db)
    st.markdown(f'**{text("backup.anchor")}**')
    st.code(f"{seq}:{digest}", language=None)
    st.caption(text("backup.anchor_help"))
    c1, c2, _ = st.columns([1, 1, 2])
    c1.button(text("backup.run"), key=f"{K}.run", type="primary", on_click=_on_backup,
              icon=":material/backup:", width="stretch")
    c2.button(text("backup.verify"), key=f"{K}.verify", on_click=_on_verify,
              icon=":material/verified_user:", width="stretch", help=text("backup.verify_help"))
    st.info(text("backup.restore_cli"), icon=":material/terminal:")
