"""The sign-in page: language switch, user name and password, and (on a demo database only) the
demo accounts."""
from __future__ import annotations

import sqlite_utils
import streamlit as st

from audit import session, users
from audit.errors import AuditError, LoginFailed, ValidationFailed
from audit.i18n import t
from audit.model import Actor

# What build_demo creates (audit.demo may publish its own DEMO_ACCOUNTS / DEMO_PASSWORD).
_DEMO_ACCOUNTS: tuple[tuple[str, str], ...] = (
    ("admin", "admin"), ("lead", "lead"), ("lead2", "lead"), ("team", "rectifier"),
    ("manager", "manager"))
_DEMO_PASSWORD = "demo1234"


def _demo_accounts() -> tuple[tuple[tuple[str, str], ...], str]:
    """The demo accounts (user name, role) and their password, as the demo builder made them."""
    try:
        import audit.demo as demo
    except ImportError:
        return _DEMO_ACCOUNTS, _DEMO_PASSWORD
    accounts = getattr(demo, "DEMO_ACCOUNTS", _DEMO_ACCOUNTS)
    pairs = tuple((a[0], getattr(a[1], "value", a[1])) if isinstance(a, (tuple, list))
                  else (str(a), "") for a in accounts)
    return pairs, getattr(demo, "DEMO_PASSWORD", _DEMO_PASSWORD)


def render(db: sqlite_utils.Database) -> None:
    """Draw the sign-in form; on success open the session and rerun into the app."""
    lang = session.lang()
    left, middle, right = st.columns([1, 2, 1])
    with middle:
        st.title(t("app.title", lang))
        st.caption(t("app.subtitle", lang))
        session.language_switch(st)
        notice = session.pop_notice()
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
        if users.is_demo_database(db):
            _show_demo_accounts(lang)


def _attempt(db: sqlite_utils.Database, username: str, password: str, lang: str) -> None:
    """Try the sign-in; show the one generic message on any failure."""
    if not username.strip() or not password:
        st.warning(t("login.required", lang))
        return
    try:
        result = users.login(db, username, password, session.now_at())
    except LoginFailed as exc:
        session.show_error(exc)
        return
    session.start(result)
    # The form is not drawn on the next run, so Streamlit drops the typed password with it.
    st.rerun()


def _show_demo_accounts(lang: str) -> None:
    """The demo notice and accounts; only ever called for a database built as a demo."""
    accounts, password = _demo_accounts()
    st.info(t("login.demo_created", lang))
    lines = [t("login.demo_accounts", lang, password=f"`{password}`")]
    for username, role in accounts:
        role_text = t(f"role.{role}", lang) if role else ""
        lines.append("- " + t("login.demo_account_row", lang, username=f"`{username}`",
                                role=role_text))
    st.markdown("\n".join(lines))


def password_form(db: sqlite_utils.Database, actor: Actor, where: str) -> None:
    """The signed-in user changes their own password; this session stays open, others end."""
    tr = session.text
    with st.form(f"audit.own_password.{where}", clear_on_submit=True):
        old = st.text_input(tr("field.old_password"), type="password",
                            max_chars=users.MAX_PASSWORD_LENGTH,
                            autocomplete="current-password")
        new = st.text_input(tr("field.new_password"), type="password",
                            max_chars=users.MAX_PASSWORD_LENGTH, autocomplete="new-password")
        again = st.text_input(tr("field.confirm_password"), type="password",
                              max_chars=users.MAX_PASSWORD_LENGTH, autocomplete="new-password")
        submitted = st.form_submit_button(tr("admin.change_password"), type="primary")
    if not submitted:
        return
    try:
        if new != again:
            raise ValidationFailed("confirm_password", "passwords differ", rule="mismatch")
        stamp = users.change_password(db, actor, old, new, at=session.now_at())
    except AuditError as exc:
        session.show_error(exc)
        return
    session.adopt_password_stamp(stamp)
    st.success(tr("admin.password_changed"))
