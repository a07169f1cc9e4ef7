"""Administration: user accounts (list, add, role and scope, enable/disable, unlock, reset
password) and the administrator's own password. Calls audit.users only."""
from __future__ import annotations

import pandas as pd
import streamlit as st

from audit import login_page, session, users
from audit.errors import AuditError
from audit.i18n import label
from audit.model import Actor, Role

_NOTICE = "audit.admin.notice"


def render() -> None:
    """Draw the administration page."""
    db = session.database()
    actor = session.require_actor()
    tr = session.text
    st.title(tr("page.admin"))
    notice = st.session_state.pop(_NOTICE, None)
    if notice:
        st.success(notice)
    try:
        accounts = users.list_users(db, actor)
    except AuditError as exc:
        session.show_error(exc)
        return
    tab_list, tab_add, tab_edit, tab_own, tab_cal, tab_set, tab_backup = st.tabs(
        [tr("admin.user_list"), tr("admin.add_user"), tr("admin.edit_user"),
         tr("admin.change_password"), tr("admin.tab.calendar"), tr("admin.tab.settings"),
         tr("admin.tab.backup")])
    with tab_list:
        _user_table(accounts)
    with tab_add:
        _add_user_form(db, actor)
    with tab_edit:
        _edit_user(db, actor, accounts)
    with tab_own:
        login_page.password_form(db, actor, "admin")
    # Sections owned by their features (calendar and settings: owners; backups: audit).
    from audit import backup_page
    from owners import calendar_page
    with tab_cal:
        calendar_page.render_section()
    with tab_set:
        calendar_page.render_settings()
    with tab_backup:
        backup_page.render_section()


def _user_table(accounts: list[dict]) -> None:
    """The accounts as a read-only table (never a hash)."""
    tr, lang = session.text, session.lang()
    locked_at = session.now_at()
    table = pd.DataFrame([{
        tr("field.username"): a["username"],
        tr("field.display_name"): a["display_name"],
        tr("field.role"): label("role", a["role"], lang),
        tr("field.unit"): a["unit_name"] or tr("admin.no_unit"),
        tr("field.person"): a["person_name"] or "",
        tr("field.active"): tr("common.yes") if a["active"] else tr("common.no"),
        tr("admin.locked"): (a["locked_until"] if users.is_locked(a["locked_until"], locked_at)
                             else ""),
        tr("field.failed_logins"): a["failed_logins"],
        tr("field.password_changed_at"): a["password_changed_at"],
    } for a in accounts])
    st.dataframe(table, hide_index=True)
    st.caption(tr("common.count", count=len(accounts)))


def _unit_options(db, actor: Actor) -> dict[int | None, str]:
    """Unit choices for a form: id → 'code name'; None is the whole region (if allowed)."""
    options: dict[int | None, str] = {}
    if actor.scope_unit_ids is None:
        options[None] = session.text("admin.no_unit")
    for u in users.unit_choices(db, actor):
        options[u["id"]] = f"{u['code']} {u['name']}"
    return options


def _person_options(db, actor: Actor) -> dict[int | None, str]:
    """Person choices for a form: id → 'name (unit)'; None links nobody."""
    options: dict[int | None, str] = {None: session.text("admin.no_person")}
    for p in users.person_choices(db, actor):
        options[p["id"]] = f"{p['name']}（{p['unit_name']}）"
    return options


def _add_user_form(db, actor: Actor) -> None:
    """The form that creates an account."""
    tr, lang = session.text, session.lang()
    units = _unit_options(db, actor)
    people = _person_options(db, actor)
    with st.form("audit.admin.add_user", clear_on_submit=False):
        username = st.text_input(tr("field.username"), max_chars=users.USERNAME_MAX)
        display_name = st.text_input(tr("field.display_name"), max_chars=users.DISPLAY_NAME_MAX)
        role = st.selectbox(tr("field.role"), [r.value for r in Role],
                            format_func=lambda r: label("role", r, lang))
        unit_id = st.selectbox(tr("field.unit"), list(units), format_func=units.get)
        person_id = st.selectbox(tr("field.person"), list(people), format_func=people.get)
        password = st.text_input(tr("field.password"), type="password",
                                 max_chars=users.MAX_PASSWORD_LENGTH,
                                 autocomplete="new-password")
        submitted = st.form_submit_button(tr("admin.add_user"), type="primary")
    if not submitted:
        return
    try:
        users.create_user(db, actor, username, password, role, unit_id=unit_id,
                          person_id=person_id, display_name=display_name, at=session.now_at())
    except AuditError as exc:
        session.show_error(exc)
        return
    st.success(tr("admin.created", username=username.strip()))


def _edit_user(db, actor: Actor, accounts: list[dict]) -> None:
    """Pick an account, then change role/scope/person, enable/disable, unlock, reset password."""
    tr, lang = session.text, session.lang()
    if not accounts:
        return
    by_id = {a["id"]: a for a in accounts}
    user_id = st.selectbox(tr("admin.select_user"), list(by_id), key="audit.admin.pick",
                           format_func=lambda i: f"{by_id[i]['username']} "
                                                 f"{by_id[i]['display_name']}".strip())
    account = by_id[user_id]
    units = _unit_options(db, actor)
    if account["unit_id"] not in units:
        units[account["unit_id"]] = account["unit_name"] or tr("admin.no_unit")
    people = _person_options(db, actor)
    if account["person_id"] not in people:
        people[account["person_id"]] = account["person_name"] or ""
    roles = [r.value for r in Role]
    with st.form(f"audit.admin.edit.{user_id}"):
        display_name = st.text_input(tr("field.display_name"), value=account["display_name"],
                                     max_chars=users.DISPLAY_NAME_MAX)
        role = st.selectbox(tr("field.role"), roles, index=roles.index(account["role"]),
                            format_func=lambda r: label("role", r, lang))
        unit_keys = list(units)
        unit_id = st.selectbox(tr("field.unit"), unit_keys,
                               index=unit_keys.index(account["unit_id"]), format_func=units.get)
        person_keys = list(people)
        person_id = st.selectbox(tr("field.person"), person_keys,
                                 index=person_keys.index(account["person_id"]),
                                 format_func=people.get)
        save = st.form_submit_button(tr("common.save"), type="primary")
    if save:
        _apply(lambda: users.update_user(
            db, actor, user_id, role=role, unit_id=unit_id, person_id=person_id,
            display_name=display_name, at=session.now_at(),
            expected_version=account["version"]), tr("common.saved"))

    left, middle, right = st.columns(3)
    with left:
        if account["active"]:
            if st.button(tr("admin.disable"), key=f"audit.admin.disable.{user_id}"):
                _apply(lambda: users.set_active(db, actor, user_id, False, at=session.now_at(),
                                                expected_version=account["version"]),
                       tr("admin.disabled_done", username=account["username"]))
        elif st.button(tr("admin.enable"), key=f"audit.admin.enable.{user_id}"):
            _apply(lambda: users.set_active(db, actor, user_id, True, at=session.now_at(),
                                            expected_version=account["version"]),
                   tr("admin.enabled_done", username=account["username"]))
    with middle:
        if account["failed_logins"] or account["locked_until"]:
            if st.button(tr("admin.unlock"), key=f"audit.admin.unlock.{user_id}"):
                _apply(lambda: users.unlock(db, actor, user_id, at=session.now_at()),
                       tr("admin.unlocked_done", username=account["username"]))
    with right:
        with st.form(f"audit.admin.reset.{user_id}", clear_on_submit=True):
            new_password = st.text_input(tr("field.new_password"), type="password",
                                         max_chars=users.MAX_PASSWORD_LENGTH,
                                         autocomplete="new-password")
            reset = st.form_submit_button(tr("admin.reset_password"))
        if reset:
            _apply(lambda: users.reset_password(db, actor, user_id, new_password,
                                                at=session.now_at()),
                   tr("admin.password_reset_done", username=account["username"]))


def _apply(action, done_text: str) -> None:
    """Run a service call; show its refusal, or confirm and redraw with fresh data."""
    try:
        action()
    except AuditError as exc:
        session.show_error(exc)
        return
    # Shown after the rerun, which redraws the forms with the new version numbers.
    st.session_state[_NOTICE] = done_text
    st.rerun()
