"""提醒与通知 (administrators): the channels (the mail server, a robot per group chat; secrets
are typed in, never shown back), which unit posts to which robot and how each person is reached,
the reminder settings, and the runs: when the last one ran and what it sent, failures with
their error, unconfirmed messages to send again, and a preview of what today's run would send.
Calls exports.remind_service and exports.remind_run_service only."""
from __future__ import annotations

import streamlit as st

from audit import ui as session
from audit.model import AuditError
from exports import remind_run_service as run_service
from exports import remind_service as service

K = "remind"
FLASH = f"{K}.flash"
RESET = f"{K}.reset"  # widget keys to empty before the next drawing
KINDS = ("wecom", "dingtalk", "feishu")
SECURITIES = ("starttls", "ssl", "none")
DIGESTS = ("daily", "weekly", "off")
LANGS = ("zh", "en")


def _apply(action, done: str | None = None, *, forget: tuple[str, ...] = ()) -> bool:
    """Run a service call: show its refusal, or flash the confirmation and redraw. `forget`:
    widget keys (the secret fields) emptied after a save, so that what was typed is not sent
    back with the next drawing of the page."""
    try:
        action()
    except AuditError as exc:
        session.show_error(exc)
        return False
    st.session_state[RESET] = list(forget)
    session.flash(FLASH, "success", done or session.text("remind.saved"))
    st.rerun()
    return True


def _secret_state(channel: dict | None, name: str) -> str:
    text = session.text
    if channel and name in channel["secrets_set"]:
        return text("remind.secret.set")
    return text("remind.secret.unset")


def _secret_label(label_key: str, channel: dict | None, name: str) -> str:
    """A secret's field label with whether one is stored: "登录密码（已设置）"."""
    return session.text("remind.secret.label", label=session.text(label_key),
                        state=_secret_state(channel, name))


# --- channels --------------------------------------------------------------------------------


def _smtp(db, actor, smtp: dict | None) -> None:
    text = session.text
    st.subheader(text("remind.smtp.title"))
    if smtp is None:
        st.caption(text("remind.smtp.none"))
    cfg = smtp["config"] if smtp else {}
    with st.form(f"{K}.smtp"):
        c1, c2, c3 = st.columns([3, 1, 2])
        host = c1.text_input(text("field.host"), value=cfg.get("host", ""), max_chars=200)
        port = c2.number_input(text("field.port"), min_value=1, max_value=65535, step=1,
                               value=int(cfg.get("port", 587)))
        security = c3.selectbox(text("field.security"), SECURITIES,
                                index=SECURITIES.index(cfg.get("security", "starttls")),
                                format_func=lambda s: text(f"remind.security.{s}"))
        c1, c2 = st.columns(2)
        username = c1.text_input(text("field.smtp_username"), value=cfg.get("username", ""),
                                 max_chars=200)
        password = c2.text_input(
            _secret_label("field.smtp_password", smtp, "password"),
            type="password", placeholder=text("remind.secret.keep_hint"), max_chars=500,
            autocomplete="new-password", key=f"{K}.smtp.password")
        c1, c2 = st.columns(2)
        sender = c1.text_input(text("field.sender"), value=cfg.get("sender", ""), max_chars=200)
        sender_name = c2.text_input(text("field.sender_name"),
                                    value=cfg.get("sender_name", ""), max_chars=200)
        c1, c2 = st.columns([3, 1])
        ca_file = c1.text_input(text("field.ca_file"), value=cfg.get("ca_file", ""),
                                max_chars=500)
        active = c2.checkbox(text("remind.active"), value=bool(smtp["active"]) if smtp else True)
        save = st.form_submit_button(text("remind.smtp.save"), type="primary")
    if save:
        _apply(lambda: service.save_smtp(
            db, actor, host=host, port=int(port), security=security, username=username,
            password=password or None, sender=sender, sender_name=sender_name,
            ca_file=ca_file, active=active, version=smtp["version"] if smtp else None,
            at=session.now_at()), forget=(f"{K}.smtp.password",))


def _robot_table(robots: list[dict]) -> None:
    text = session.text
    if not robots:
        st.caption(text("remind.robots.none"))
        return
    st.dataframe([{
        text("field.channel_name"): r["name"],
        text("field.kind"): text(f"remind.kind.{r['kind']}"),
        text("field.webhook"): _secret_state(r, "webhook"),
        text("field.sign_secret"): _secret_state(r, "sign_secret"),
        text("field.lang"): text(f"remind.lang.{r['config'].get('lang', 'zh')}"),
        text("remind.active"): text("common.yes") if r["active"] else text("common.no"),
        text("remind.robots.units"): text("remind.list_sep").join(r["units"]),
    } for r in robots], hide_index=True, width="stretch")


def _add_robot(db, actor) -> None:
    text = session.text
    with st.form(f"{K}.robot.add", clear_on_submit=False):
        st.markdown(f"**{text('remind.robots.add')}**")
        c1, c2, c3 = st.columns([2, 1, 1])
        name = c1.text_input(text("field.channel_name"), max_chars=60,
                             key=f"{K}.robot.add.name")
        kind = c2.selectbox(text("field.kind"), KINDS,
                            format_func=lambda k: text(f"remind.kind.{k}"))
        lang = c3.selectbox(text("field.lang"), LANGS,
                            format_func=lambda k: text(f"remind.lang.{k}"))
        c1, c2 = st.columns(2)
        webhook = c1.text_input(text("field.webhook"), type="password", max_chars=1000,
                                autocomplete="off", key=f"{K}.robot.add.webhook")
        secret = c2.text_input(text("field.sign_secret"), type="password", max_chars=500,
                               autocomplete="off", key=f"{K}.robot.add.secret")
        add = st.form_submit_button(text("remind.robots.add"), type="primary")
    if add:
        _apply(lambda: service.add_robot(db, actor, name=name, kind=kind, webhook=webhook,
                                         sign_secret=secret, lang=lang, at=session.now_at()),
               forget=(f"{K}.robot.add.webhook", f"{K}.robot.add.secret",
                       f"{K}.robot.add.name"))


def _edit_robot(db, actor, robots: list[dict]) -> None:
    text = session.text
    if not robots:
        return
    by_id = {r["id"]: r for r in robots}
    st.markdown(f"**{text('remind.robots.edit')}**")
    # The language is part of the key: a select box keyed alone keeps showing the option text
    # of the language it was first drawn in.
    rid = st.selectbox(text("remind.robots.pick"), list(by_id),
                       key=f"{K}.robot.pick.{session.lang()}",
                       format_func=lambda i: text("remind.robots.option", name=by_id[i]["name"],
                                                  kind=text("remind.kind." + by_id[i]["kind"])))
    r = by_id[rid]
    with st.form(f"{K}.robot.edit.{rid}"):
        c1, c2, c3 = st.columns([2, 1, 1])
        name = c1.text_input(text("field.channel_name"), value=r["name"], max_chars=60)
        lang_now = r["config"].get("lang", "zh")
        lang = c2.selectbox(text("field.lang"), LANGS, index=LANGS.index(lang_now),
                            format_func=lambda k: text(f"remind.lang.{k}"))
        active = c3.checkbox(text("remind.active"), value=bool(r["active"]))
        c1, c2 = st.columns(2)
        webhook = c1.text_input(_secret_label("field.webhook", r, "webhook"),
                                type="password", placeholder=text("remind.secret.keep_hint"),
                                max_chars=1000, autocomplete="off",
                                key=f"{K}.robot.edit.{rid}.webhook")
        secret = c2.text_input(
            _secret_label("field.sign_secret", r, "sign_secret"),
            type="password", placeholder=text("remind.secret.keep_hint"), max_chars=500,
            autocomplete="off", key=f"{K}.robot.edit.{rid}.secret")
        clear = st.checkbox(text("remind.robots.clear_secret"), value=False)
        save = st.form_submit_button(text("common.save"), type="primary")
    if save:
        _apply(lambda: service.update_robot(
            db, actor, rid, version=r["version"], name=name, lang=lang, active=active,
            webhook=webhook or None, sign_secret=secret or None, clear_sign_secret=clear,
            at=session.now_at()),
            forget=(f"{K}.robot.edit.{rid}.webhook", f"{K}.robot.edit.{rid}.secret"))


def _settings(db, actor) -> None:
    text = session.text
    st.subheader(text("remind.settings.title"))
    values = service.settings_view(db, actor)
    with st.form(f"{K}.settings"):
        base = st.text_input(text("field.remind.base_url"), value=values["remind.base_url"],
                             placeholder="https://tracker.example.cn", max_chars=300)
        c1, c2, c3 = st.columns(3)
        numbers = {}
        for col, key in zip((c1, c2, c3), ("remind.due_days", "remind.reply_days",
                                           "remind.max_attempts")):
            current = values[key]
            numbers[key] = col.number_input(text(f"field.{key}"), min_value=0, max_value=365,
                                            step=1, value=int(current) if current.isdigit()
                                            else 0)
        office = st.text_input(text("field.remind.issuing_office"),
                               value=values["remind.issuing_office"], max_chars=100)
        save = st.form_submit_button(text("remind.settings.save"), type="primary")
    if save:
        _apply(lambda: service.save_settings(
            db, actor, {"remind.base_url": base, "remind.issuing_office": office,
                        **{k: str(int(v)) for k, v in numbers.items()}}, at=session.now_at()))


# --- units and people ------------------------------------------------------------------------


def _units(db, actor, data: dict, robots: list[dict]) -> None:
    text = session.text
    st.subheader(text("remind.units.title"))
    st.caption(text("remind.units.caption"))
    names = {r["id"]: r["name"] for r in robots}
    none = text("remind.units.none")
    st.dataframe([{
        text("remind.units.col.unit"): f"{u['code']} {u['name']}",
        text("remind.units.col.own"): names.get(u["robot_channel_id"], none),
        text("remind.units.col.used"): (names.get(u["used_robot_id"], none)
                                        + ("" if u["robot_channel_id"] is not None
                                           or u["used_robot_id"] is None
                                           else text("remind.units.inherit"))),
    } for u in data["units"]], hide_index=True, width="stretch")
    units = {u["id"]: u for u in data["units"]}
    if not units:
        return
    with st.form(f"{K}.unit_robot"):
        c1, c2 = st.columns(2)
        uid = c1.selectbox(text("remind.units.pick"), list(units),
                           format_func=lambda i: f"{units[i]['code']} {units[i]['name']}")
        choices = [None, *names]
        rid = c2.selectbox(text("field.robot_channel_id"), choices,
                           format_func=lambda i: names[i] if i is not None
                           else text("remind.units.inherit"))
        save = st.form_submit_button(text("remind.units.save"), type="primary")
    if save:
        _apply(lambda: service.set_unit_robot(db, actor, uid, rid, at=session.now_at()))


def _people(db, actor, data: dict) -> None:
    text = session.text
    st.subheader(text("remind.people.title"))
    people = {p["id"]: p for p in data["people"]}
    st.dataframe([{
        text("remind.people.col.name"): p["name"],
        text("remind.people.col.unit"): p["unit_name"],
        text("field.email"): p["email"],
        text("field.mobile"): p["mobile"],
        text("field.digest"): text(f"remind.digest.{p['digest']}"),
        text("field.lang"): text(f"remind.lang.{p['lang']}"),
    } for p in people.values()], hide_index=True, width="stretch",
        height=min(38 + 35 * len(people), 420))
    if not people:
        return
    pid = st.selectbox(text("remind.people.pick"), list(people),
                       key=f"{K}.person.pick.{session.lang()}",
                       format_func=lambda i: text("remind.people.option", name=people[i]["name"],
                                                  unit=people[i]["unit_name"]))
    p = people[pid]
    with st.form(f"{K}.person.{pid}"):
        c1, c2, c3, c4 = st.columns([3, 2, 1, 1])
        email = c1.text_input(text("field.email"), value=p["email"], max_chars=200)
        mobile = c2.text_input(text("field.mobile"), value=p["mobile"], max_chars=20)
        digest = c3.selectbox(text("field.digest"), DIGESTS, index=DIGESTS.index(p["digest"]),
                              format_func=lambda d: text(f"remind.digest.{d}"))
        lang = c4.selectbox(text("field.lang"), LANGS, index=LANGS.index(p["lang"]),
                            format_func=lambda k: text(f"remind.lang.{k}"))
        save = st.form_submit_button(text("remind.people.save"), type="primary")
    if save:
        _apply(lambda: service.set_contact(db, actor, pid, email=email, mobile=mobile,
                                           digest=digest, lang=lang, at=session.now_at()))


# --- runs --------------------------------------------------------------------------------------


def _message_rows(rows: list[dict], *, errors: bool = False) -> list[dict]:
    text = session.text
    out = []
    for r in rows:
        row = {
            text("remind.col.at"): (r["sent_at"] or r["created_at"] or "")[:16].replace("T", " "),
            text("remind.col.kind"): text(f"remind.msgkind.{r['kind']}"),
            text("remind.col.channel"): (text(f"remind.kind.{r['channel_kind']}")
                                         if r["channel_kind"] else ""),
            text("remind.col.recipient"): r["recipient"],
            text("remind.col.subject"): r["subject"],
            text("remind.col.status"): text(f"remind.status.{r['status']}"),
        }
        if errors:
            row[text("remind.col.attempts")] = r["attempts"]
            row[text("remind.col.error")] = r["last_error"]
            row[text("remind.col.next")] = (r["next_attempt_at"][:16].replace("T", " ")
                                            if r["status"] == "pending" else "")
        out.append(row)
    return out


def _last_run(run: dict | None) -> None:
    text = session.text
    st.subheader(text("remind.runs.last"))
    if run is None:
        st.info(text("remind.runs.never"))
        return
    # The two dates get a row of their own: six metrics in a row cut "2026-11-23 08:30" off.
    when = st.columns(2)
    when[0].metric(text("remind.runs.started"), run["started_at"][:16].replace("T", " "))
    when[1].metric(text("remind.runs.as_of"), run["as_of"])
    counts = st.columns(4)
    counts[0].metric(text("remind.runs.planned"), run["planned"])
    counts[1].metric(text("remind.runs.sent"), run["sent"])
    counts[2].metric(text("remind.runs.failed"), run["failed"])
    counts[3].metric(text("remind.runs.unconfirmed"), run["unconfirmed"])
    if not run["working_day"]:
        st.caption(text("remind.runs.holiday"))
    elif run["finished_at"] is None:
        st.warning(text("remind.runs.not_finished"))


def _runs(db, actor) -> None:
    text = session.text
    data = service.run_overview(db, actor)
    _last_run(data["last"])
    if data["last"] is not None:
        st.markdown(f"**{text('remind.runs.sent_list')}**")
        if data["sent"]:
            st.dataframe(_message_rows(data["sent"]), hide_index=True, width="stretch")
        else:
            st.caption(text("remind.runs.nothing_sent"))
    st.subheader(text("remind.runs.failures"))
    if data["failures"]:
        st.dataframe(_message_rows(data["failures"], errors=True), hide_index=True,
                     width="stretch")
    else:
        st.caption(text("remind.runs.no_failures"))
    if data["unconfirmed"]:
        st.subheader(text("remind.runs.unconfirmed_list"))
        st.caption(text("remind.runs.unconfirmed_caption"))
        st.dataframe(_message_rows(data["unconfirmed"], errors=True), hide_index=True,
                     width="stretch")
        by_id = {m["id"]: m for m in data["unconfirmed"]}
        c1, c2 = st.columns([3, 1])
        mid = c1.selectbox(text("remind.col.subject"), list(by_id),
                           key=f"{K}.resend.pick.{session.lang()}",
                           format_func=lambda i: f"{by_id[i]['recipient']} · "
                                                 f"{by_id[i]['subject']}")
        if c2.button(text("remind.runs.resend"), key=f"{K}.resend"):
            _apply(lambda: service.resend(db, actor, mid, at=session.now_at()),
                   text("remind.runs.resent"))
    if st.button(text("remind.runs.preview"), key=f"{K}.preview", icon=":material/preview:"):
        _preview(db, actor)


def _preview(db, actor) -> None:
    text = session.text
    today = session.today()
    result = run_service.run_reminders(db, actor, today, at=session.now_at(), now_ms=lambda: 0,
                                   dry_run=True)
    if not result["working_day"]:
        st.info(text("remind.runs.preview_holiday", date=today.isoformat()))
        return
    if not result["messages"]:
        st.info(text("remind.runs.preview_empty"))
        return
    st.dataframe([{
        text("remind.col.kind"): text(f"remind.msgkind.{m['kind']}"),
        text("remind.col.channel"): text(f"remind.kind.{m['channel']}") if m["channel"] else "",
        text("remind.col.recipient"): m["recipient"],
        text("remind.col.subject"): m["subject"],
    } for m in result["messages"]], hide_index=True, width="stretch")


def render() -> None:
    """Draw the page."""
    db = session.database()
    actor = session.require_actor()
    text = session.text
    # A widget is emptied by setting its state before it is drawn (deleting the state would
    # leave the browser showing the old value).
    for key in st.session_state.pop(RESET, []):
        st.session_state[key] = ""
    st.title(text("page.remind"))
    st.caption(text("remind.caption"))
    session.show_flash(FLASH)
    try:
        channels = service.channel_overview(db, actor)
        recipients = service.recipients_overview(db, actor)
    except AuditError as exc:
        session.show_error(exc)
        return
    tab_channels, tab_recipients, tab_runs = st.tabs(
        [text("remind.tab.channels"), text("remind.tab.recipients"), text("remind.tab.runs")])
    with tab_channels:
        _smtp(db, actor, channels["smtp"])
        st.subheader(text("remind.robots.title"))
        _robot_table(channels["robots"])
        _add_robot(db, actor)
        _edit_robot(db, actor, channels["robots"])
        _settings(db, actor)
    with tab_recipients:
        _units(db, actor, recipients, channels["robots"])
        _people(db, actor, recipients)
    with tab_runs:
        _runs(db, actor)
