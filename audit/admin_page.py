"""管理, the administrator's page: user accounts (list, add, role and scope, enable/disable,
unlock, reset password) and the administrator's own password; the working-day calendar (a year's
holidays and make-up working days 调休, corrections, publication, warnings about deadlines in
years without a published schedule); the settings (escalation thresholds, amber window); backups
(an online backup into `backups/` beside the database, the chain verified now, the anchor).
Restoring is done at the command line only (`python -m audit restore`): it replaces the live
file, which a web page serving other users must not do. The services refuse anyone but an
administrator."""
from __future__ import annotations

import json
from datetime import date

import pandas as pd
import streamlit as st

from audit import (
    accounts_service,
    admin_views,
    backup_service,
    calendar_service,
    login_service,
    ui,
)
from audit.messages import error_text, label
from audit.model import Actor, AuditError, Role

_NOTICE = "audit.admin.notice"


def render() -> None:
    """Draw the administration page."""
    db = ui.database()
    actor = ui.require_actor()
    tr = ui.text
    st.title(tr("page.admin"))
    notice = st.session_state.pop(_NOTICE, None)
    if notice:
        st.success(ui.md_escape(notice))
    try:
        accounts = accounts_service.list_users(db, actor)
    except AuditError as exc:
        ui.show_error(exc)
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
        ui.password_form(db, actor, "admin")
    with tab_cal:
        _calendar_section()
    with tab_set:
        _settings_section()
        _verification_settings_section()
        _report_settings_section()
    with tab_backup:
        _backup_section()


def _user_table(accounts: list[dict]) -> None:
    """The accounts as a read-only table (never a hash)."""
    tr, lang = ui.text, ui.lang()
    locked_at = ui.now_at()
    table = pd.DataFrame([{
        tr("field.username"): a["username"],
        tr("field.display_name"): a["display_name"],
        tr("field.role"): label("role", a["role"], lang),
        tr("field.unit"): a["unit_name"] or tr("admin.no_unit"),
        tr("field.person"): a["person_name"] or "",
        tr("field.active"): tr("common.yes") if a["active"] else tr("common.no"),
        tr("admin.locked"): (a["locked_until"] if login_service.is_locked(a["locked_until"], locked_at)
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
        options[None] = ui.text("admin.no_unit")
    for u in accounts_service.unit_choices(db, actor):
        options[u["id"]] = f"{u['code']} {u['name']}"
    return options


def _person_options(db, actor: Actor) -> dict[int | None, str]:
    """Person choices for a form: id → 'name (unit)'; None links nobody."""
    options: dict[int | None, str] = {None: ui.text("admin.no_person")}
    for p in accounts_service.person_choices(db, actor):
        options[p["id"]] = ui.with_note(p["name"], p["unit_name"])
    return options


ADD = "audit.admin.add"      # prefix of the add-user form's session-state keys
ADD_FLASH = f"{ADD}.flash"
ADD_BLANK = {f"{ADD}.username": "", f"{ADD}.display_name": "", f"{ADD}.password": ""}


def _on_add_user(token: str) -> None:
    """Create the account the form describes (a callback: runs before the page is redrawn);
    the token binds the submit to the drawing, so a double click records one account."""
    s = st.session_state
    username = s.get(f"{ADD}.username") or ""

    def write(db, actor) -> str:
        accounts_service.create_user(
            db, actor, username, s.get(f"{ADD}.password") or "", s.get(f"{ADD}.role"),
            unit_id=s.get(f"{ADD}.unit"), person_id=s.get(f"{ADD}.person"),
            display_name=s.get(f"{ADD}.display_name") or "", at=ui.now_at(), form_token=token)
        return ui.text("admin.created", username=username.strip())

    ui.act(ADD_FLASH, write, token_form=ADD, blank=ADD_BLANK)


def _add_user_form(db, actor: Actor) -> None:
    """The form that creates an account."""
    tr, lang = ui.text, ui.lang()
    units = _unit_options(db, actor)
    people = _person_options(db, actor)
    ui.show_flash(ADD_FLASH)
    with st.form("audit.admin.add_user", clear_on_submit=False):
        st.text_input(tr("field.username"), max_chars=accounts_service.USERNAME_MAX,
                      key=f"{ADD}.username")
        st.text_input(tr("field.display_name"), max_chars=accounts_service.DISPLAY_NAME_MAX,
                      key=f"{ADD}.display_name")
        st.selectbox(tr("field.role"), [r.value for r in Role], key=f"{ADD}.role",
                     format_func=lambda r: label("role", r, lang))
        st.selectbox(tr("field.unit"), list(units), format_func=units.get, key=f"{ADD}.unit")
        st.selectbox(tr("field.person"), list(people), format_func=people.get,
                     key=f"{ADD}.person")
        st.text_input(tr("field.password"), type="password",
                      max_chars=accounts_service.MAX_PASSWORD_LENGTH,
                      autocomplete="new-password", key=f"{ADD}.password")
        st.form_submit_button(tr("admin.add_user"), type="primary", on_click=_on_add_user,
                              args=(ui.form_token(ADD),))


def _edit_user(db, actor: Actor, accounts: list[dict]) -> None:
    """Pick an account, then change role/scope/person, enable/disable, unlock, reset password."""
    tr, lang = ui.text, ui.lang()
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
                                     max_chars=accounts_service.DISPLAY_NAME_MAX)
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
        _apply(lambda: accounts_service.update_user(
            db, actor, user_id, role=role, unit_id=unit_id, person_id=person_id,
            display_name=display_name, at=ui.now_at(),
            expected_version=account["version"]), tr("common.saved"))

    left, middle, right = st.columns(3)
    with left:
        if account["active"]:
            if st.button(tr("admin.disable"), key=f"audit.admin.disable.{user_id}"):
                _apply(lambda: accounts_service.set_active(db, actor, user_id, False, at=ui.now_at(),
                                                expected_version=account["version"]),
                       tr("admin.disabled_done", username=account["username"]))
        elif st.button(tr("admin.enable"), key=f"audit.admin.enable.{user_id}"):
            _apply(lambda: accounts_service.set_active(db, actor, user_id, True, at=ui.now_at(),
                                            expected_version=account["version"]),
                   tr("admin.enabled_done", username=account["username"]))
    with middle:
        if account["failed_logins"] or account["locked_until"]:
            if st.button(tr("admin.unlock"), key=f"audit.admin.unlock.{user_id}"):
                _apply(lambda: accounts_service.unlock(db, actor, user_id, at=ui.now_at()),
                       tr("admin.unlocked_done", username=account["username"]))
    with right:
        with st.form(f"audit.admin.reset.{user_id}", clear_on_submit=True):
            new_password = st.text_input(tr("field.new_password"), type="password",
                                         max_chars=accounts_service.MAX_PASSWORD_LENGTH,
                                         autocomplete="new-password")
            reset = st.form_submit_button(tr("admin.reset_password"))
        if reset:
            _apply(lambda: accounts_service.reset_password(db, actor, user_id, new_password,
                                                at=ui.now_at()),
                   tr("admin.password_reset_done", username=account["username"]))


def _apply(action, done_text: str) -> None:
    """Run a service call; show its refusal, or confirm and redraw with fresh data."""
    try:
        action()
    except AuditError as exc:
        ui.show_error(exc)
        return
    # Shown after the rerun, which redraws the forms with the new version numbers.
    st.session_state[_NOTICE] = done_text
    st.rerun()


# --- the working-day calendar and the settings --------------------------------------------

CAL = "calendar"
CAL_FLASH = f"{CAL}.flash"
KINDS = ("holiday", "make_up", "normal")


@st.cache_data(show_spinner=False, max_entries=8, ttl=3600)
def _late(_db, db_file: str, version: int) -> dict[int, int]:
    """unpublished_deadlines cached on the data version: it scans every open deadline (0.2 s
    on 40,000 issues), and the admin page reruns at every click."""
    return admin_views.unpublished_deadlines(_db)


def _weekday(day: str) -> str:
    return ui.text(f"calendar.weekday.{date.fromisoformat(day).weekday()}")


def _flash() -> None:
    kind, message = st.session_state.pop(CAL_FLASH, (None, None))
    if kind:
        getattr(st, kind)(ui.md_escape(message))


def _run(write, done: str) -> None:
    """One service write from a callback; the refusal or the confirmation for the rerun."""
    actor = ui.current_actor()
    if actor is None:
        return
    try:
        write(ui.database(), actor)
    except AuditError as exc:
        st.session_state[CAL_FLASH] = ("error", error_text(exc, ui.lang()))
        return
    st.session_state[CAL_FLASH] = ("success", done)


def _on_day() -> None:
    s = st.session_state
    day: date | None = s.get(f"{CAL}.day")
    kind = s.get(f"{CAL}.kind")
    if day is None:
        s[CAL_FLASH] = ("warning", ui.text("calendar.day_needed"))
        return
    # "normal" means the Monday–Friday rule again: the service then drops the stored row.
    working = {"holiday": False, "make_up": True, "normal": day.weekday() < 5}[kind]
    _run(lambda db, actor: calendar_service.set_calendar_day(
        db, actor, day, is_working=working, name=s.get(f"{CAL}.name") or "",
        at=ui.now_at()),
        ui.text("calendar.day_saved", day=day.isoformat(),
                     kind=ui.text(f"calendar.kind.{kind}")))


def _on_publish(year: int, published: bool) -> None:
    _run(lambda db, actor: calendar_service.set_year_published(db, actor, year, published,
                                                       at=ui.now_at()),
         ui.text("calendar.published_done" if published else "calendar.withdrawn_done",
                      year=year))


def _on_settings() -> None:
    s = st.session_state
    db_values = admin_views.settings(ui.database())
    changed = {k: str(int(s.get(f"{CAL}.setting.{k}")))
               for k in admin_views.SETTING_KEYS
               if s.get(f"{CAL}.setting.{k}") is not None
               and str(int(s.get(f"{CAL}.setting.{k}"))) != db_values.get(k)}
    if not changed:
        s[CAL_FLASH] = ("info", ui.text("rule.unchanged"))
        return
    merged = {**db_values, **changed}
    steps = [int(merged[f"escalation.{k}_days"]) for k in ("reminder", "letter", "summons")]
    reds = [int(merged.get(f"escalation.{k}_reds") or 0) for k in ("letter", "summons")]
    if steps != sorted(steps) or (all(reds) and reds != sorted(reds)):
        # The escalation ladder would refuse to load: every page that counts escalations fails.
        s[CAL_FLASH] = ("warning", ui.text("settings.order"))
        return

    def write(db, actor) -> None:
        for key, value in changed.items():
            calendar_service.set_setting(db, actor, key, value, at=ui.now_at())

    _run(write, ui.text("common.saved"))


def _calendar_section() -> None:
    """The working-day calendar: one year's exceptions, corrections, publication, warnings."""
    db = ui.database()
    ui.require_actor()
    text = ui.text
    st.subheader(text("calendar.title"))
    st.caption(text("calendar.caption"))
    _flash()
    late = _late(db, *ui.data_key(db))
    for year, n in late.items():
        st.warning(text("calendar.unpublished_warning", year=year, n=n),
                   icon=":material/event_busy:")
    this_year = ui.today().year
    known = admin_views.calendar_year(db, this_year)["known_years"]
    years = sorted(set(known) | {this_year - 1, this_year, this_year + 1} | set(late))
    year = st.selectbox(text("calendar.year"), years, index=years.index(this_year),
                        key=f"{CAL}.year")
    data = admin_views.calendar_year(db, year)
    c1, c2 = st.columns([3, 2])
    if data["published"]:
        c1.success(text("calendar.is_published", year=year), icon=":material/event_available:")
        c2.button(text("calendar.withdraw", year=year), key=f"{CAL}.withdraw",
                  on_click=_on_publish, args=(year, False))
    else:
        c1.warning(text("calendar.not_published", year=year), icon=":material/event_busy:")
        c2.button(text("calendar.publish", year=year), key=f"{CAL}.publish", type="primary",
                  on_click=_on_publish, args=(year, True))
    if data["days"]:
        st.dataframe([{
            text("calendar.col.day"): d["day"],
            text("calendar.col.weekday"): _weekday(d["day"]),
            text("calendar.col.kind"): text("calendar.kind.make_up" if d["is_working"]
                                            else "calendar.kind.holiday"),
            text("calendar.col.name"): d["name"],
            text("calendar.col.source"): text(f'calendar.source.{d["source"]}'),
        } for d in data["days"]], hide_index=True, width="stretch",
            height=min(38 + 35 * len(data["days"]), 420))
    else:
        st.info(text("calendar.no_days", year=year))
    with st.form(f"{CAL}.form.day"):
        st.markdown(f'**{text("calendar.edit_day")}**')
        c1, c2, c3 = st.columns(3)
        c1.date_input(text("calendar.col.day"), key=f"{CAL}.day", value=None)
        c2.selectbox(text("calendar.col.kind"), KINDS, key=f"{CAL}.kind",
                     format_func=lambda k: text(f"calendar.kind.{k}"))
        c3.text_input(text("calendar.col.name"), key=f"{CAL}.name", max_chars=50)
        st.form_submit_button(text("common.save"), key=f"{CAL}.save.day", on_click=_on_day)


def _settings_section() -> None:
    """Escalation thresholds (working days overdue) and the amber window (working days)."""
    db = ui.database()
    ui.require_actor()
    text = ui.text
    st.subheader(text("settings.title"))
    st.caption(text("settings.caption"))
    _flash()
    values = admin_views.settings(db)
    with st.form(f"{CAL}.form.settings"):
        keys = admin_views.SETTING_KEYS
        for start in range(0, len(keys), 5):
            for col, key in zip(st.columns(5), keys[start:start + 5]):
                current = int(values[key]) if values[key].isdigit() else 0
                col.number_input(text(f"settings.{key}"), min_value=0,
                                 max_value=100 if key.endswith("_percent") else 365, step=1,
                                 value=current, key=f"{CAL}.setting.{key}")
        st.form_submit_button(text("common.save"), key=f"{CAL}.save.settings",
                              on_click=_on_settings, type="primary")


def _on_verification_settings() -> None:
    s = st.session_state
    db_values = admin_views.verification_settings(ui.database())
    wanted = {"verification.two_level": "1" if s.get(f"{CAL}.vset.two_level") else "0"}
    for kind in ("immediate", "staged", "continuous"):
        value = s.get(f"{CAL}.vset.months.{kind}")
        if value is not None:
            wanted[f"recheck.months.{kind}"] = str(int(value))
    changed = {k: v for k, v in wanted.items() if db_values.get(k) != v}
    if not changed:
        s[CAL_FLASH] = ("info", ui.text("rule.unchanged"))
        return

    def write(db, actor) -> None:
        for key, value in changed.items():
            calendar_service.set_setting(db, actor, key, value, at=ui.now_at())

    _run(write, ui.text("common.saved"))


def _verification_settings_section() -> None:
    """Two-level verification (逐级审核) on or off, and the months from 销号 to the check after
    closure (回头看) per rectification type."""
    db = ui.database()
    text = ui.text
    st.subheader(text("settings.verification.title"))
    st.caption(text("settings.verification.caption"))
    values = admin_views.verification_settings(db)
    with st.form(f"{CAL}.form.vsettings"):
        st.toggle(text("settings.verification.two_level"),
                  value=values["verification.two_level"] == "1", key=f"{CAL}.vset.two_level")
        cols = st.columns(3)
        for col, kind in zip(cols, ("immediate", "staged", "continuous")):
            raw = values[f"recheck.months.{kind}"]
            col.number_input(text("settings.verification.months",
                                  type=label("rectification_type", kind, ui.lang())),
                             min_value=1, max_value=60, step=1,
                             value=int(raw) if raw.isdigit() else 6,
                             key=f"{CAL}.vset.months.{kind}")
        st.form_submit_button(text("common.save"), key=f"{CAL}.save.vsettings",
                              on_click=_on_verification_settings, type="primary")


def _report_settings_section() -> None:
    """The review pack's cover, closing block, house style, 密级 and 基本情况 text."""
    from audit.report_settings_service import CLASSIFICATIONS, HOUSE_STYLES
    db = ui.database()
    text = ui.text
    st.subheader(text("report_settings.title"))
    st.caption(text("report_settings.caption"))
    values = admin_views.report_settings(db)
    with st.form(f"{CAL}.form.report"):
        left, right = st.columns(2)
        for i, key in enumerate(admin_views.REPORT_SETTING_KEYS):
            col = left if i % 2 == 0 else right
            widget_key = f"{CAL}.report.{key}"
            if key == "report.house_style":
                col.selectbox(text(f"report_settings.{key}"), HOUSE_STYLES, key=widget_key,
                              index=HOUSE_STYLES.index(values[key])
                              if values[key] in HOUSE_STYLES else 0,
                              format_func=lambda v: text(f"report_settings.style.{v}"))
            elif key == "report.classification":
                col.selectbox(text(f"report_settings.{key}"), CLASSIFICATIONS, key=widget_key,
                              index=CLASSIFICATIONS.index(values[key])
                              if values[key] in CLASSIFICATIONS else 0,
                              format_func=lambda v: text(f"report_settings.level.{v or 'none'}"))
            elif key == "report.background":
                st.text_area(text(f"report_settings.{key}"), value=values[key], key=widget_key,
                             height=160)
            else:
                col.text_input(text(f"report_settings.{key}"), value=values[key], key=widget_key)
        st.form_submit_button(text("common.save"), key=f"{CAL}.save.report",
                              on_click=_on_report_settings, type="primary")


def _on_report_settings() -> None:
    from audit.report_settings_service import save_report_settings
    s = st.session_state
    values = {k: s.get(f"{CAL}.report.{k}") for k in admin_views.REPORT_SETTING_KEYS
              if s.get(f"{CAL}.report.{k}") is not None}

    def write(db, actor) -> None:
        save_report_settings(db, actor, values, at=ui.now_at())
    _run(write, ui.text("report_settings.saved"))


# --- backups and the chain ----------------------------------------------------------------

BACKUP = "backup"
BACKUP_RESULT = f"{BACKUP}.result"


def _on_backup() -> None:
    actor = ui.current_actor()
    if actor is None:
        return
    try:
        out, manifest = backup_service.backup_beside(ui.database(), actor, at=ui.now_at())
    except AuditError as exc:
        st.session_state[BACKUP_RESULT] = ("error", error_text(exc, ui.lang()), None)
        return
    st.session_state[BACKUP_RESULT] = ("success", ui.text("backup.done", path=str(out)),
                                manifest)


def _on_verify() -> None:
    if ui.current_actor() is None:
        return
    result = admin_views.verify_chain(ui.database())
    if result.ok:
        st.session_state[BACKUP_RESULT] = ("success", ui.text(
            "backup.verify_ok", records=result.records,
            anchor=f"{result.anchor[0]}:{result.anchor[1]}"), None)
    else:
        st.session_state[BACKUP_RESULT] = ("error", ui.text(
            "backup.verify_bad", seq=result.first_bad_seq or "?", problem=result.problem), None)


def _backup_section() -> None:
    """Backup now, verify the chain now, the anchor, and how to restore."""
    db = ui.database()
    ui.require_actor()
    text = ui.text
    st.subheader(text("backup.title"))
    st.caption(text("backup.caption", folder=str(backup_service.backup_dir(db))))
    kind, message, manifest = st.session_state.pop(BACKUP_RESULT, (None, None, None))
    if kind:
        getattr(st, kind)(ui.md_escape(message))
    if manifest:
        st.markdown(f'**{text("backup.manifest")}**')
        st.code(json.dumps(manifest, ensure_ascii=False, indent=2), language="json")
    seq, digest = admin_views.chain_anchor(db)
    st.markdown(f'**{text("backup.anchor")}**')
    st.code(f"{seq}:{digest}", language=None)
    st.caption(text("backup.anchor_help"))
    c1, c2, _ = st.columns([1, 1, 2])
    c1.button(text("backup.run"), key=f"{BACKUP}.run", type="primary", on_click=_on_backup,
              icon=":material/backup:", width="stretch")
    c2.button(text("backup.verify"), key=f"{BACKUP}.verify", on_click=_on_verify,
              icon=":material/verified_user:", width="stretch", help=text("backup.verify_help"))
    st.info(text("backup.restore_cli"), icon=":material/terminal:")
