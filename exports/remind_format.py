"""Message formats: what a reminder looks like in each channel, as bytes.

A message is first a `Card` of plain text (built from the catalogue, with user text such as
titles and reasons inside it as typed); each channel's renderer then escapes on the way out:
`html.escape` for the e-mail's HTML part, `remind_model.robot_text` for robot markdown, nothing
for the e-mail's plain-text part. Catalogue templates hold no markup, so the only markup in a
message is what a renderer adds around escaped text.

Robot payloads follow each vendor's documented format:
- WeCom 企业微信群机器人: `{"msgtype": "markdown", "markdown": {"content": …}}`; markdown cannot
  @-mention by mobile, so a message that mentions someone is sent as
  `{"msgtype": "text", "text": {"content": …, "mentioned_mobile_list": [...]}}` instead.
  Limits: markdown 4,096 bytes, text 2,048 bytes.
- DingTalk 钉钉自定义机器人: `{"msgtype": "markdown", "markdown": {"title", "text"},
  "at": {"atMobiles": [...], "isAtAll": false}}` (the text carries "@mobile" for each, or the
  mention is not shown); signed with `timestamp` (ms) and `sign` =
  Base64(HmacSHA256(key=secret, msg=f"{timestamp}\\n{secret}")) in the query string.
- Feishu/Lark 飞书自定义机器人: `{"msg_type": "interactive", "card": {...}}` with `timestamp`
  (s) and `sign` = Base64(HmacSHA256(key=f"{timestamp}\\n{secret}", msg=b"")) in the body. A
  custom bot cannot @-mention by mobile (only by open_id), so Feishu messages name people.
No database, no Streamlit.
"""
from __future__ import annotations

import base64
import hashlib
import hmac
import html
import json
import urllib.parse
from dataclasses import dataclass, replace
from datetime import date, datetime
from email.message import EmailMessage
from email.policy import SMTP as SMTP_POLICY
from email.utils import format_datetime, formataddr
from typing import Callable, Mapping, Sequence

from audit.messages import t
from exports.remind_model import (
    DINGTALK,
    DUE_SOON,
    ESCALATION,
    FEISHU,
    OVERDUE,
    SECTIONS,
    WECOM,
    Digest,
    Event,
    Issue,
    Step,
    one_line,
    robot_text,
)
from exports.remind_plan_model import GroupDigest, issue_link, page_link

DOCX_MIME = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
EMAIL_MAX_ENTRIES = 50
ROBOT_MAX_ENTRIES = 8
WECOM_MARKDOWN_BYTES = 4096
WECOM_TEXT_BYTES = 2048
ROBOT_BODY_BYTES = 18_000  # DingTalk and Feishu refuse bodies over 20 KB


# --- the card: plain text ----------------------------------------------------------------------


@dataclass(frozen=True)
class Entry:
    """One line of a card, plain text; `url` makes it a link; `mention` is a mobile number to
    @-mention at the end of the line (robots that support it)."""

    text: str
    url: str = ""
    mention: str = ""


@dataclass(frozen=True)
class Block:
    """A heading and its lines; `hidden` lines did not fit (shown as "… and N more")."""

    heading: str
    entries: tuple[Entry, ...]
    hidden: int = 0


@dataclass(frozen=True)
class Card:
    """A message before it takes a channel's form: all plain text."""

    title: str
    lang: str
    greeting: str = ""
    blocks: tuple[Block, ...] = ()
    footer: str = ""
    button: str = ""
    url: str = ""
    level: str = "info"   # info | warning | danger (robot colours)


def _date(d: date | None, lang: str) -> str:
    return d.isoformat() if d is not None else t("remind.no_deadline", lang)


def _limit(card: Card, n: int) -> Card:
    """The card with at most `n` lines per block (the rest counted as hidden)."""
    return replace(card, blocks=tuple(
        Block(b.heading, b.entries[:n], b.hidden + max(0, len(b.entries) - n))
        for b in card.blocks))


def _item_text(section: str, it, lang: str) -> str:
    params = dict(code=it.code, title=it.title, deadline=_date(it.deadline, lang),
                  days=it.days, measure=it.measure, reason=it.reason,
                  step=t(f"remind.step.{it.step}", lang) if it.step else "")
    key = f"remind.item.{section}" + ("_measure" if it.measure else "")
    return t(key, lang, **params)


def digest_card(d: Digest, name: str, lang: str, *, base_url: str, as_of: date,
                due_days: int) -> Card:
    """A person's digest: one block per section, each item linked to its issue page."""
    counts = d.counts()
    blocks = []
    for s in SECTIONS:
        items = d.sections.get(s, ())
        if not items:
            continue
        blocks.append(Block(
            t(f"remind.section.{s}", lang, n=len(items), days=due_days),
            tuple(Entry(_item_text(s, it, lang), issue_link(base_url, it.issue_id, lang))
                  for it in items)))
    level = "danger" if counts[OVERDUE] or counts[ESCALATION] else "warning"
    return Card(t("remind.digest.subject", lang, name=name, overdue=counts[OVERDUE],
                  due_soon=counts[DUE_SOON], date=as_of.isoformat()),
                lang, t("remind.digest.greeting", lang, name=name, date=as_of.isoformat()),
                tuple(blocks), t("remind.footer", lang), t("remind.open_my_work", lang),
                page_link(base_url, "my-work", lang), level)


def _count_text(counts: Mapping[str, int], lang: str) -> str:
    parts = [t(f"remind.count.{s}", lang, n=counts[s]) for s in SECTIONS if counts.get(s)]
    return t("remind.list_sep", lang).join(parts)


def group_card(g: GroupDigest, lang: str, *, base_url: str) -> Card:
    """A robot's group digest: a line per person with their counts, @-mentioning them."""
    entries = tuple(Entry(t("remind.group.line", lang, name=line.name,
                            counts=_count_text(line.counts, lang)), mention=line.mobile)
                    for line in g.lines)
    overdue = any(line.counts.get(OVERDUE) for line in g.lines)
    return Card(t("remind.group.title", lang, date=g.day.isoformat()), lang,
                t("remind.group.intro", lang), (Block(t("remind.group.heading", lang,
                                                        n=len(entries)), entries),),
                t("remind.footer_robot", lang), t("remind.open_my_work", lang),
                page_link(base_url, "my-work", lang), "danger" if overdue else "warning")


def event_card(e: Event, issue: Issue, name: str, lang: str, *, base_url: str) -> Card:
    """An event about one issue, to the person concerned."""
    params = dict(name=name, code=issue.code, title=issue.title, reason=e.reason,
                  deadline=_date(e.deadline, lang), measure=e.measure)
    level = "warning" if e.kind == "returned" else "info"
    return Card(t(f"remind.event.{e.kind}.title", lang, **params), lang,
                t(f"remind.event.{e.kind}.body", lang, **params), (),
                t("remind.footer", lang), t("remind.open_issue", lang),
                issue_link(base_url, issue.id, lang), level)


@dataclass(frozen=True)
class StepFacts:
    """The names and dates an escalation step's message needs."""

    recipient: str          # the person written to ('' for a group chat)
    unit: str               # the unit concerned (the letter's addressee unit)
    office: str             # the issuing office
    number: str             # the letter's number
    reply_by: date | None   # reply to the letter by this date
    attached: bool = False  # the letter travels with this message (e-mail)


def step_card(s: Step, issue: Issue, f: StepFacts, lang: str, *, base_url: str) -> Card:
    """An escalation step: the reminder, the 督办函 (attached, or linked to the letter page),
    or the 约谈 notice."""
    params = dict(name=f.recipient or f.unit, code=issue.code, title=issue.title, unit=f.unit,
                  days=s.overdue_working_days, deadline=_date(issue.deadline, lang),
                  office=f.office, number=f.number, reply_by=_date(f.reply_by, lang))
    body = t(f"remind.step.{s.step}.body", lang, **params)
    if s.step == "letter":
        body += t("remind.step.letter.attached" if f.attached else "remind.step.letter.linked",
                  lang)
    url = (page_link(base_url, "letter", lang, escalation=s.escalation_id or 0)
           if s.step == "letter" and not f.attached else issue_link(base_url, issue.id, lang))
    button = t("remind.open_letter" if s.step == "letter" and not f.attached
               else "remind.open_issue", lang)
    return Card(t(f"remind.step.{s.step}.title", lang, **params), lang, body, (),
                t("remind.footer", lang), button, url, "danger")


# --- e-mail ------------------------------------------------------------------------------------


def email_text(card: Card) -> str:
    """The plain-text part: user text exactly as typed."""
    lines = [card.greeting, ""] if card.greeting else []
    for b in card.blocks:
        lines.append(f"■ {b.heading}")
        for e in b.entries:
            lines.append(f"  - {e.text}")
            if e.url:
                lines.append(f"    {e.url}")
        if b.hidden:
            lines.append("  " + t("remind.more", card.lang, n=b.hidden))
        lines.append("")
    if card.url:
        lines += [f"{card.button}: {card.url}", ""]
    if card.footer:
        lines.append(card.footer)
    return "\n".join(lines).rstrip() + "\n"


def _a(text: str, url: str) -> str:
    inner = html.escape(text, quote=False)
    if not url:
        return inner
    return f'<a href="{html.escape(url, quote=True)}">{inner}</a>'


def email_html(card: Card) -> str:
    """The HTML part: every text escaped; the only tags are the ones written here."""
    out = ['<html><body style="font-family: sans-serif; font-size: 14px;">',
           f"<h3>{html.escape(card.title, quote=False)}</h3>"]
    if card.greeting:
        out.append(f"<p>{html.escape(card.greeting, quote=False)}</p>")
    for b in card.blocks:
        out.append(f"<h4>{html.escape(b.heading, quote=False)}</h4><ul>")
        out.extend(f"<li>{_a(e.text, e.url)}</li>" for e in b.entries)
        if b.hidden:
            out.append(f"<li>{html.escape(t('remind.more', card.lang, n=b.hidden))}</li>")
        out.append("</ul>")
    if card.url:
        out.append(f"<p>{_a(card.button, card.url)}</p>")
    if card.footer:
        out.append(f'<p style="color: #888;">{html.escape(card.footer, quote=False)}</p>')
    out.append("</body></html>")
    return "\n".join(out)


def message_id(key: str, sender: str) -> str:
    """A Message-ID made from the message key: the same message always carries the same id."""
    domain = sender.rsplit("@", 1)[-1] if "@" in sender else "audit-tracker.local"
    return f"<{hashlib.sha256(key.encode('utf-8')).hexdigest()[:40]}@{domain}>"


def email_bytes(card: Card, *, key: str, sender: str, sender_name: str, to: str, to_name: str,
                at: str, attachments: Sequence[tuple[str, bytes, str]] = (),
                anchor: str = "") -> bytes:
    """The whole e-mail (RFC 5322, CRLF line ends): text and HTML alternatives, then any
    attachments as (filename, bytes, mime type). `anchor`: the history anchor of the state the
    message describes ('anchor:SEQ:HASH'), carried in a header the reader does not see, so that
    a digest kept by its recipient can later be checked with `verify --anchor`."""
    card = _limit(card, EMAIL_MAX_ENTRIES)
    msg = EmailMessage(policy=SMTP_POLICY)
    msg["From"] = formataddr((one_line(sender_name), sender))
    msg["To"] = formataddr((one_line(to_name), to))
    msg["Subject"] = one_line(card.title)
    msg["Date"] = format_datetime(datetime.fromisoformat(at))
    msg["Message-ID"] = message_id(key, sender)
    msg["Auto-Submitted"] = "auto-generated"
    msg["X-Audit-Reminder-Key"] = key
    if anchor:
        msg["X-Audit-History-Anchor"] = anchor
    msg.set_content(email_text(card), subtype="plain", charset="utf-8")
    msg.add_alternative(email_html(card), subtype="html", charset="utf-8")
    for filename, data, mime in attachments:
        maintype, subtype = mime.split("/", 1)
        msg.add_attachment(data, maintype=maintype, subtype=subtype, filename=filename)
    return msg.as_bytes()


# --- robots ------------------------------------------------------------------------------------


# Robot messages are short by nature, and WeCom refuses text over 2,048 bytes: long user text
# (a title, a return reason) is cut with an ellipsis; the issue page has all of it.
ROBOT_TITLE_CHARS, ROBOT_LINE_CHARS, ROBOT_BODY_CHARS = 120, 200, 400


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _robot(text: str, limit: int = ROBOT_LINE_CHARS) -> str:
    return _clip(robot_text(text), limit)


def _md_link(text: str, url: str) -> str:
    safe = _robot(text)
    return f"[{safe}]({url})" if url else safe


def dingtalk_payload(card: Card, mentions: Sequence[str] = ()) -> dict:
    """DingTalk custom robot, markdown message, @-mentions by mobile."""
    parts = [f"#### {_robot(card.title, ROBOT_TITLE_CHARS)}"]
    if card.greeting:
        parts.append(_robot(card.greeting, ROBOT_BODY_CHARS))
    for b in card.blocks:
        parts.append(f"**{robot_text(b.heading)}**")
        lines = [f"- {_md_link(e.text, e.url)}" + (f" @{e.mention}" if e.mention else "")
                 for e in b.entries]
        if b.hidden:
            lines.append(f"- {robot_text(t('remind.more', card.lang, n=b.hidden))}")
        parts.append("\n".join(lines))
    inline = {e.mention for b in card.blocks for e in b.entries if e.mention}
    rest = [m for m in mentions if m not in inline]
    if card.url:
        parts.append(_md_link(card.button, card.url))
    if rest:
        parts.append(" ".join(f"@{m}" for m in rest))
    return {"msgtype": "markdown",
            "markdown": {"title": _robot(card.title, ROBOT_TITLE_CHARS),
                         "text": "\n\n".join(parts)},
            "at": {"atMobiles": list(dict.fromkeys(mentions)), "isAtAll": False}}


def _wecom_markdown(card: Card) -> dict:
    parts = [f"**{_robot(card.title, ROBOT_TITLE_CHARS)}**"]
    if card.greeting:
        parts.append(_robot(card.greeting, ROBOT_BODY_CHARS))
    for b in card.blocks:
        parts.append(f"**{robot_text(b.heading)}**")
        parts.extend(f"> {_md_link(e.text, e.url)}" for e in b.entries)
        if b.hidden:
            parts.append(f"> {robot_text(t('remind.more', card.lang, n=b.hidden))}")
    if card.url:
        parts.append(_md_link(card.button, card.url))
    return {"msgtype": "markdown", "markdown": {"content": "\n".join(parts)}}


def _wecom_text(card: Card, mentions: Sequence[str]) -> dict:
    lines = [_robot(card.title, ROBOT_TITLE_CHARS)]
    if card.greeting:
        lines.append(_robot(card.greeting, ROBOT_BODY_CHARS))
    for b in card.blocks:
        lines.append(f"【{robot_text(b.heading)}】")
        for e in b.entries:
            lines.append(f"· {_robot(e.text)}" + (f" {e.url}" if e.url else ""))
        if b.hidden:
            lines.append(robot_text(t("remind.more", card.lang, n=b.hidden)))
    if card.url:
        lines.append(f"{robot_text(card.button)}: {card.url}")
    return {"msgtype": "text", "text": {"content": "\n".join(lines),
                                        "mentioned_mobile_list": list(dict.fromkeys(mentions))}}


def wecom_payload(card: Card, mentions: Sequence[str] = ()) -> dict:
    """WeCom group robot: markdown, or text when someone is @-mentioned by mobile."""
    return _wecom_text(card, mentions) if mentions else _wecom_markdown(card)


_FEISHU_TEMPLATE = {"info": "blue", "warning": "orange", "danger": "red"}


def feishu_payload(card: Card, mentions: Sequence[str] = ()) -> dict:
    """Feishu custom bot, interactive card (header, lark_md blocks, a button)."""
    elements: list[dict] = []
    if card.greeting:
        elements.append({"tag": "div", "text": {
            "tag": "lark_md", "content": _robot(card.greeting, ROBOT_BODY_CHARS)}})
    for b in card.blocks:
        lines = [f"**{robot_text(b.heading)}**"]
        lines += [f"- {_md_link(e.text, e.url)}" for e in b.entries]
        if b.hidden:
            lines.append(f"- {robot_text(t('remind.more', card.lang, n=b.hidden))}")
        elements.append({"tag": "div", "text": {"tag": "lark_md", "content": "\n".join(lines)}})
    if card.url:
        elements.append({"tag": "action", "actions": [{
            "tag": "button", "text": {"tag": "plain_text", "content": robot_text(card.button)},
            "type": "primary", "url": card.url}]})
    if card.footer:
        elements.append({"tag": "note", "elements": [
            {"tag": "plain_text", "content": robot_text(card.footer)}]})
    return {"msg_type": "interactive", "card": {
        "config": {"wide_screen_mode": True},
        "header": {"title": {"tag": "plain_text",
                             "content": _robot(card.title, ROBOT_TITLE_CHARS)},
                   "template": _FEISHU_TEMPLATE.get(card.level, "blue")},
        "elements": elements}}


_ROBOT_RENDER: dict[str, Callable[[Card, Sequence[str]], dict]] = {
    WECOM: wecom_payload, DINGTALK: dingtalk_payload, FEISHU: feishu_payload}


def json_bytes(payload: dict) -> bytes:
    """A payload as the UTF-8 JSON body that goes over the wire."""
    return json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def _fits(kind: str, payload: dict) -> bool:
    body = json_bytes(payload)
    if kind == WECOM:
        limit, text = ((WECOM_TEXT_BYTES, payload["text"]["content"])
                       if payload["msgtype"] == "text"
                       else (WECOM_MARKDOWN_BYTES, payload["markdown"]["content"]))
        return len(text.encode("utf-8")) <= limit
    return len(body) <= ROBOT_BODY_BYTES


def robot_body(kind: str, card: Card, mentions: Sequence[str] = ()) -> bytes:
    """The robot's JSON body (unsigned), with as many lines per block as the vendor's size
    limit allows (the rest counted as "… and N more")."""
    render = _ROBOT_RENDER[kind]
    n = ROBOT_MAX_ENTRIES
    while True:
        payload = render(_limit(card, n), mentions)
        if _fits(kind, payload):
            return json_bytes(payload)
        if n == 0:
            return json_bytes(_cut_wecom(payload) if kind == WECOM else payload)
        n -= 1


def _cut_wecom(payload: dict) -> dict:
    """The last resort for WeCom's byte limits: cut the content itself (on a character)."""
    body = payload["text"] if payload["msgtype"] == "text" else payload["markdown"]
    limit = WECOM_TEXT_BYTES if payload["msgtype"] == "text" else WECOM_MARKDOWN_BYTES
    data = body["content"].encode("utf-8")[: limit - 3]
    body["content"] = data.decode("utf-8", "ignore") + "…"
    return payload


# --- signatures and replies ----------------------------------------------------------------


def dingtalk_sign(secret: str, timestamp_ms: int) -> str:
    """DingTalk's signature: Base64(HmacSHA256(key=secret, msg="{timestamp}\\n{secret}"))."""
    digest = hmac.new(secret.encode("utf-8"), f"{timestamp_ms}\n{secret}".encode("utf-8"),
                      hashlib.sha256).digest()
    return base64.b64encode(digest).decode("ascii")


def feishu_sign(secret: str, timestamp_s: int) -> str:
    """Feishu's signature: Base64(HmacSHA256(key="{timestamp}\\n{secret}", msg=empty))."""
    digest = hmac.new(f"{timestamp_s}\n{secret}".encode("utf-8"), b"", hashlib.sha256).digest()
    return base64.b64encode(digest).decode("ascii")


def signed_request(kind: str, webhook: str, secret: str, body: bytes, now_ms: int
                   ) -> tuple[str, bytes]:
    """The URL and body to POST, signed as the vendor requires when a secret is set:
    DingTalk in the query string (milliseconds), Feishu in the body (seconds)."""
    if not secret:
        return webhook, body
    if kind == DINGTALK:
        sep = "&" if "?" in webhook else "?"
        sign = urllib.parse.quote_plus(dingtalk_sign(secret, now_ms))
        return f"{webhook}{sep}timestamp={now_ms}&sign={sign}", body
    if kind == FEISHU:
        ts = now_ms // 1000
        payload = {"timestamp": str(ts), "sign": feishu_sign(secret, ts), **json.loads(body)}
        return webhook, json_bytes(payload)
    return webhook, body


def robot_reply_error(kind: str, body: bytes) -> str | None:
    """None when the vendor's reply says the message was accepted, else its error text.
    WeCom and DingTalk answer {"errcode": 0, …}; Feishu {"code": 0, …} (older bots:
    {"StatusCode": 0, …})."""
    try:
        reply = json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        return f"reply is not JSON: {body[:200]!r}"
    if not isinstance(reply, dict):
        return f"unexpected reply: {str(reply)[:200]}"
    if kind == FEISHU:
        code = reply.get("code", reply.get("StatusCode"))
        text = reply.get("msg", reply.get("StatusMessage", ""))
    else:
        code, text = reply.get("errcode"), reply.get("errmsg", "")
    if code == 0:
        return None
    return f"{kind} refused: {code} {text}".strip()

