"""Reminders, one function per intent of the administrator: the channels (the mail server, a
robot per group chat), who is reached how (a unit's robot; a person's e-mail, mobile, digest
and language), the settings, the reads the 提醒与通知 page shows (secrets never among them),
and sending a message again. The run itself, its dry run and the digest preview:
exports.remind_run_service.

Secrets are stored in `remind_channels.secrets` and leave it only to be sent: history records
that a secret was set, changed or removed, never its value, and reads for display leave them
out (they say which secrets are set).
"""
from __future__ import annotations

import urllib.parse
from typing import Mapping

import sqlite_utils

from audit.model import Actor, NotFound, ValidationFailed
from audit.service import check_version, require
from audit.store.db import write_transaction
from audit.store.history import Recorder
from exports import remind_model as m
from exports import remind_store as store
from owners.escalation_model import UnitNode, unit_chains

SETTING_KEYS: tuple[str, ...] = ("remind.base_url", "remind.due_days", "remind.reply_days",
                                 "remind.issuing_office", "remind.max_attempts")
_NUMBER_SETTINGS = {"remind.due_days": 0, "remind.reply_days": 1, "remind.max_attempts": 1}
SMTP_NAME = "e-mail"


# --- validation --------------------------------------------------------------------------------


def _text(value: object, field: str, *, required: bool = False, max_len: int = 200) -> str:
    s = "" if value is None else str(value).strip()
    if required and not s:
        raise ValidationFailed(field, "required", rule="required")
    if len(s) > max_len:
        raise ValidationFailed(field, f"longer than {max_len}", rule="too_long", max=max_len)
    return s


def _choice(value: str, field: str, choices: tuple[str, ...]) -> str:
    if value not in choices:
        raise ValidationFailed(field, f"{value!r} is not one of {choices}", rule="bad_choice")
    return value


def _webhook(url: str, field: str = "webhook") -> str:
    url = _text(url, field, required=True, max_len=1000)
    parts = urllib.parse.urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc or any(c.isspace() for c in url):
        raise ValidationFailed(field, "not an http(s) address", rule="bad_url")
    return url


def _require(actor: Actor | None) -> None:
    if actor is None:
        return  # the system itself (set-up scripts)
    require(actor, "remind.configure")


def _secret_changes(rec: Recorder, channel_id: int, old: Mapping[str, str],
                    new: Mapping[str, str]) -> None:
    """History learns that a secret was set, changed or removed; never what it is."""
    for name in sorted(set(old) | set(new)):
        before, after = old.get(name, ""), new.get(name, "")
        if before == after:
            continue
        rec.add("remind_channel", channel_id, f"secret.{name}",
                "set" if before else None,
                "removed" if not after else ("changed" if before else "set"))


def _config_changes(rec: Recorder, channel_id: int, old: Mapping, new: Mapping) -> None:
    for key in sorted(set(old) | set(new)):
        if old.get(key) != new.get(key):
            rec.add("remind_channel", channel_id, f"config.{key}", old.get(key), new.get(key))


# --- channels ----------------------------------------------------------------------------------


def save_smtp(db: sqlite_utils.Database, actor: Actor | None, *, host: str, port: int | str,
              security: str, sender: str, username: str = "", password: str | None = None,
              sender_name: str = "", ca_file: str = "", active: bool = True,
              version: int | None = None, at: str) -> int:
    """Create or change the mail server. `password` None or '' keeps the stored one. Returns
    the channel id. Raises ValidationFailed, StaleEdit, NotPermitted."""
    _require(actor)
    host = _text(host, "host", required=True)
    if any(c.isspace() for c in host):
        raise ValidationFailed("host", "spaces in a host name", rule="bad_url")
    try:
        port_n = int(port)
    except (TypeError, ValueError):
        raise ValidationFailed("port", f"{port!r}", rule="bad_port") from None
    if not 1 <= port_n <= 65535:
        raise ValidationFailed("port", f"{port_n}", rule="bad_port")
    security = _choice(security, "security", m.SECURITY_CHOICES)
    sender = _text(sender, "sender", required=True)
    if not m.valid_email(sender):
        raise ValidationFailed("sender", sender, rule="bad_email")
    config = {"host": host, "port": port_n, "security": security,
              "username": _text(username, "smtp_username"), "sender": sender,
              "sender_name": _text(sender_name, "sender_name"),
              "ca_file": _text(ca_file, "ca_file", max_len=500)}
    rec = Recorder(db, actor, at, "remind.channel")
    with write_transaction(db):
        row = store.smtp_channel(db)
        old_secrets = store.channel_secrets(db, row["id"]) if row else {}
        secrets = dict(old_secrets)
        if password:
            secrets["password"] = str(password)
        secrets.setdefault("password", "")
        if row is None:
            cid = store.insert_channel(db, {"kind": m.SMTP, "name": SMTP_NAME, "config": config,
                                            "secrets": secrets, "active": int(active)})
            rec.add("remind_channel", cid, "kind", None, m.SMTP)
            rec.add("remind_channel", cid, "name", None, SMTP_NAME)
            rec.add("remind_channel", cid, "active", None, int(active))
            _config_changes(rec, cid, {}, config)
        else:
            cid = row["id"]
            check_version(db, "remind_channel", row, version)
            if not store.update_channel(db, cid, row["version"], {
                    "name": row["name"], "config": config, "secrets": secrets,
                    "active": int(active)}):
                check_version(db, "remind_channel", store.channel(db, cid), row["version"])
            if int(row["active"]) != int(active):
                rec.add("remind_channel", cid, "active", int(row["active"]), int(active))
            _config_changes(rec, cid, row["config"], config)
        _secret_changes(rec, cid, old_secrets, secrets)
        if rec.changes:
            rec.flush()
    return cid


def add_robot(db: sqlite_utils.Database, actor: Actor | None, *, name: str, kind: str,
              webhook: str, sign_secret: str = "", lang: str = "zh", at: str) -> int:
    """Add a group robot (WeCom, DingTalk or Feishu) with its webhook and, for DingTalk and
    Feishu, its signing secret. Returns its id. Raises ValidationFailed, NotPermitted."""
    _require(actor)
    name = _text(name, "channel_name", required=True, max_len=60)
    kind = _choice(kind, "kind", m.ROBOT_KINDS)
    lang = _choice(lang, "lang", m.LANGS)
    secrets = {"webhook": _webhook(webhook),
               "sign_secret": _text(sign_secret, "sign_secret", max_len=500)}
    rec = Recorder(db, actor, at, "remind.channel")
    with write_transaction(db):
        if store.channel_name_taken(db, name, None):
            raise ValidationFailed("channel_name", name, rule="taken")
        cid = store.insert_channel(db, {"kind": kind, "name": name, "config": {"lang": lang},
                                        "secrets": secrets, "active": 1})
        for fld, value in (("kind", kind), ("name", name), ("active", 1)):
            rec.add("remind_channel", cid, fld, None, value)
        _config_changes(rec, cid, {}, {"lang": lang})
        _secret_changes(rec, cid, {}, secrets)
        rec.flush()
    return cid


def update_robot(db: sqlite_utils.Database, actor: Actor | None, channel_id: int, *,
                 version: int | None, name: str, lang: str, active: bool,
                 webhook: str | None = None, sign_secret: str | None = None,
                 clear_sign_secret: bool = False, at: str) -> None:
    """Change a robot. `webhook` / `sign_secret` None or '' keep the stored ones;
    `clear_sign_secret` removes the signing secret. Raises NotFound, ValidationFailed,
    StaleEdit, NotPermitted."""
    _require(actor)
    name = _text(name, "channel_name", required=True, max_len=60)
    lang = _choice(lang, "lang", m.LANGS)
    new_webhook = _webhook(webhook) if webhook else None
    rec = Recorder(db, actor, at, "remind.channel")
    with write_transaction(db):
        row = store.channel(db, channel_id)
        if row is None or row["kind"] not in m.ROBOT_KINDS:
            raise NotFound(f"robot {channel_id} not found", entity="remind_channel",
                           id=channel_id)
        check_version(db, "remind_channel", row, version)
        if store.channel_name_taken(db, name, channel_id):
            raise ValidationFailed("channel_name", name, rule="taken")
        old_secrets = store.channel_secrets(db, channel_id)
        secrets = dict(old_secrets)
        if new_webhook:
            secrets["webhook"] = new_webhook
        if clear_sign_secret:
            secrets["sign_secret"] = ""
        elif sign_secret:
            secrets["sign_secret"] = _text(sign_secret, "sign_secret", max_len=500)
        config = {**row["config"], "lang": lang}
        if not store.update_channel(db, channel_id, row["version"], {
                "name": name, "config": config, "secrets": secrets, "active": int(active)}):
            check_version(db, "remind_channel", store.channel(db, channel_id), row["version"])
        if row["name"] != name:
            rec.add("remind_channel", channel_id, "name", row["name"], name)
        if int(row["active"]) != int(active):
            rec.add("remind_channel", channel_id, "active", int(row["active"]), int(active))
        _config_changes(rec, channel_id, row["config"], config)
        _secret_changes(rec, channel_id, old_secrets, secrets)
        if rec.changes:
            rec.flush()


# --- who is reached how ---------------------------------------------------------------------


def set_unit_robot(db: sqlite_utils.Database, actor: Actor | None, unit_id: int,
                   channel_id: int | None, *, at: str) -> None:
    """Give a unit its group robot (None: the unit uses the robot of the unit above).
    Raises NotFound, ValidationFailed, NotPermitted."""
    _require(actor)
    rec = Recorder(db, actor, at, "remind.unit_robot")
    with write_transaction(db):
        u = store.unit(db, unit_id)
        if u is None:
            raise NotFound(f"unit {unit_id} not found", entity="unit", id=unit_id)
        if channel_id is not None:
            ch = store.channel(db, channel_id)
            if ch is None or ch["kind"] not in m.ROBOT_KINDS:
                raise ValidationFailed("robot_channel_id", f"no robot {channel_id}",
                                       rule="bad_choice")
        if u["robot_channel_id"] == channel_id:
            return
        store.set_unit_robot(db, unit_id, channel_id)
        rec.add("unit", unit_id, "robot_channel_id", u["robot_channel_id"], channel_id)
        rec.flush()


def set_contact(db: sqlite_utils.Database, actor: Actor | None, person_id: int, *,
                email: str, mobile: str, digest: str, lang: str, at: str) -> dict:
    """A person's e-mail, mobile (for @-mentions), digest (daily / weekly / off) and language.
    Returns the changed fields. Raises NotFound, ValidationFailed, NotPermitted."""
    _require(actor)
    email = _text(email, "email", max_len=200)
    if not m.valid_email(email):
        raise ValidationFailed("email", email, rule="bad_email")
    mobile = _text(mobile, "mobile", max_len=20).replace(" ", "").replace("-", "")
    if not m.valid_mobile(mobile):
        raise ValidationFailed("mobile", mobile, rule="bad_mobile")
    values = {"email": email, "mobile": mobile,
              "digest": _choice(digest, "digest", m.DIGEST_CHOICES),
              "lang": _choice(lang, "lang", m.LANGS)}
    rec = Recorder(db, actor, at, "remind.contact")
    with write_transaction(db):
        p = store.person(db, person_id)
        if p is None:
            raise NotFound(f"person {person_id} not found", entity="person", id=person_id)
        changed = {k: v for k, v in values.items() if p[k] != v}
        if not changed:
            return {}
        store.update_person(db, person_id, changed)
        for k, v in changed.items():
            rec.add("person", person_id, k, p[k], v)
        rec.flush()
    return changed


def save_settings(db: sqlite_utils.Database, actor: Actor | None, values: Mapping[str, object],
                  *, at: str) -> dict:
    """Change reminder settings (remind.base_url, due_days, reply_days, issuing_office,
    max_attempts). Returns the changed ones. Raises ValidationFailed, NotPermitted."""
    _require(actor)
    clean: dict[str, str] = {}
    for key, value in values.items():
        if key not in SETTING_KEYS:
            raise ValidationFailed(key, "unknown setting", rule="bad_choice")
        text = _text(value, key, max_len=300)
        if key == "remind.base_url":
            text = text.rstrip("/")
            if not m.valid_base_url(text):
                raise ValidationFailed(key, text, rule="bad_url")
        elif key in _NUMBER_SETTINGS:
            low = _NUMBER_SETTINGS[key]
            if not text.isdigit() or int(text) < low or int(text) > 365:
                raise ValidationFailed(key, text, rule="bad_number", min=low)
            text = str(int(text))
        elif key == "remind.issuing_office" and not text:
            raise ValidationFailed(key, "required", rule="required")
        clean[key] = text
    rec = Recorder(db, actor, at, "setting.set")
    with write_transaction(db):
        current = store.settings(db)
        changed = {k: v for k, v in clean.items() if current.get(k) != v}
        for k, v in changed.items():
            store.set_setting(db, k, v)
            rec.add("setting", None, k, current.get(k), v)
        if changed:
            rec.flush()
    return changed


# --- reads for the page ------------------------------------------------------------------------


def channel_overview(db: sqlite_utils.Database, actor: Actor) -> dict:
    """{smtp: channel or None, robots: [channel + units (names of units pointing at it)]},
    secrets never included (only which are set). Raises NotPermitted."""
    require(actor, "remind.configure")
    all_units = store.units(db)
    out = {"smtp": None, "robots": []}
    for ch in store.channels(db):
        if ch["kind"] == m.SMTP:
            out["smtp"] = ch
        else:
            ch["units"] = [u["name"] for u in all_units if u["robot_channel_id"] == ch["id"]]
            out["robots"].append(ch)
    return out


def recipients_overview(db: sqlite_utils.Database, actor: Actor) -> dict:
    """{units: [unit + own robot id + used robot id (own or inherited)], people: [...]}.
    Raises NotPermitted."""
    require(actor, "remind.configure")
    all_units = store.units(db)
    chains = unit_chains([UnitNode(u["id"], u["parent_id"]) for u in all_units])
    own = {u["id"]: u["robot_channel_id"] for u in all_units}
    for u in all_units:
        u["used_robot_id"] = next((own[x] for x in chains.get(u["id"], [u["id"]])
                                   if own.get(x) is not None), None)
    return {"units": all_units, "people": store.people(db)}


def settings_view(db: sqlite_utils.Database, actor: Actor) -> dict[str, str]:
    """The reminder settings, key → value. Raises NotPermitted."""
    require(actor, "remind.configure")
    current = store.settings(db)
    return {k: current.get(k, "") for k in SETTING_KEYS}


def run_overview(db: sqlite_utils.Database, actor: Actor) -> dict:
    """The last run and what it sent, the failures (with their errors), the unconfirmed
    messages and the outbox's counts per status. Raises NotPermitted."""
    require(actor, "remind.configure")
    last = store.last_run(db)
    names = {c["id"]: c for c in store.channels(db)}
    def with_channel(rows: list[dict]) -> list[dict]:
        for r in rows:
            ch = names.get(r["channel_id"])
            r["channel_kind"] = ch["kind"] if ch else ""
            r["channel_name"] = ch["name"] if ch else ""
        return rows
    return {"last": last, "sent": with_channel(store.sent_in_run(db, last["id"])) if last else [],
            "failures": with_channel(store.failures(db)),
            "unconfirmed": with_channel(store.messages_with_status(db, m.UNCONFIRMED)),
            "counts": store.status_counts(db)}


def resend(db: sqlite_utils.Database, actor: Actor, message_id: int, *, at: str) -> None:
    """Put an unconfirmed or failed message back in the queue (a person decided it did not
    arrive). Raises NotFound, ValidationFailed, NotPermitted."""
    require(actor, "remind.run")
    rec = Recorder(db, actor, at, "remind.resend")
    with write_transaction(db):
        msg = store.message(db, message_id)
        if msg is None:
            raise NotFound(f"message {message_id} not found", entity="remind_message",
                           id=message_id)
        if msg["status"] not in (m.UNCONFIRMED, m.FAILED):
            raise ValidationFailed("status", msg["status"], rule="bad_choice")
        store.set_message(db, message_id, {"status": m.PENDING, "next_attempt_at": at,
                                           "attempts": 0})
        rec.add("remind_message", message_id, "status", msg["status"], m.PENDING)
        rec.add("remind_message", message_id, "attempts", msg["attempts"], 0)
        rec.flush()


