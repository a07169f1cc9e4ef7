"""The sign-in page: language switch, user name and password, and (on a demo database only) the
demo accounts."""
from __future__ import annotations

import sqlite_utils
import streamlit as st

from audit import accounts_service, login_service, ui
from audit.messages import t
from audit.model import LoginFailed


def render(db: sqlite_utils.Database, *, demo_accounts=(), demo_password: str = "") -> None:
    """Draw the sign-in form; on success open the session and rerun into the app. On a demo
    database, `demo_accounts` ((user name, role), …) and `demo_password` are shown."""
    lang = ui.lang()
    left, middle, right = st.columns([1, 2, 1])
    with middle:
        st.title(t("app.title", lang))
        st.caption(t("app.subtitle", lang))
        ui.language_switch(st)
        notice = ui.pop_notice()
        if notice:
            st.info(t(notice, lang))
        with st.form("audit.login_form", clear_on_submit=False):
            st.subheader(t("login.title", lang))
            username = st.text_input(t("login.username", lang), key="audit.login_username",
                                     max_chars=64, autocomplete="username")
            password = st.text_input(t("login.password", lang), type="password",
                                     key="audit.login_password", max_chars=256,
                                     autocomplete="current-password")
            submitted = st.form_submit_button(t("login.submit", lang), type="primary")
        if submitted:
            _attempt(db, username, password, lang)
        if accounts_service.is_demo_database(db):
            _show_demo_accounts(lang, demo_accounts, demo_password)


def _attempt(db: sqlite_utils.Database, username: str, password: str, lang: str) -> None:
    """Try the sign-in; show the one generic message on any failure."""
    if not username.strip() or not password:
        st.warning(t("login.required", lang))
        return
    try:
        result = login_service.login(db, username, password, ui.now_at())
    except LoginFailed as exc:
        ui.show_error(exc)
        return
    ui.start(result)
    # The form is not drawn on the next run, so Streamlit drops the typed password with it.
    st.rerun()


def _show_demo_accounts(lang: str, accounts, password: str) -> None:
    """The demo notice and accounts; only ever called for a database built as a demo."""
    st.info(t("login.demo_created", lang))
    lines = [t("login.demo_accounts", lang, password=f"`{password}`")]
    for username, role, *_ in accounts:
        role = getattr(role, "value", role)
        role_text = t(f"role.{role}", lang) if role else ""
        lines.append("- " + t("login.demo_account_row", lang, username=f"`{username}`",
                                role=role_text))
    st.markdown("\n".join(lines))


