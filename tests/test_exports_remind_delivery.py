"""Delivery against a real SMTP server on localhost (aiosmtpd: plain, STARTTLS and SSL, with
login) and a local HTTP server standing in for the WeCom, DingTalk and Feishu robots: the exact
payloads each vendor documents, the DingTalk and Feishu signatures recomputed here with the
vendors' algorithm, the 督办函 attached as a Word letter, events since the last run, retries
with back-off, failures with their error, history of every message, and no secret anywhere it
should not be."""
from __future__ import annotations

import io
import json
import re
import sqlite3
import urllib.parse

import docx
import pytest

from audit.store import history
from exports import remind_format as fmt
from exports import remind_service as rs
from issues import service as issues
from issues.model import Move
from owners import service as owners
from tests import remind_programme as rp
from tests.remind_servers import (
    DING_SECRET,
    FEISHU_SECRET,
    SMTP_PASSWORD,
    dingtalk_expected_sign,
    feishu_expected_sign,
    free_port,
    make_certificate,
    robot_endpoints,
    smtp_server,
)
from issues import escalation_service

BASE = "https://tracker.example.cn"
SECRETS = (SMTP_PASSWORD, DING_SECRET, FEISHU_SECRET, "wecom-key-123", "ding-token-456",
           "feishu-hook-789")


@pytest.fixture
def p(tmp_path):
    prog = rp.build(tmp_path)
    yield prog
    prog.db.conn.close()


def _statuses(p) -> dict[str, str]:
    return dict(p.db.conn.execute("SELECT key, status FROM remind_outbox"))


# --- the vendors' formats and signatures --------------------------------------------------------


def test_dingtalk_gets_the_documented_markdown_at_mobiles_and_a_signature_that_verifies(p):
    with robot_endpoints() as robots:
        rp.configure_channels(p, smtp_port=None, robots=robots.urls())
        rp.run(p)
        late = p.ids["late"]
        issues.move_issue(p.db, p.actors["rect"], late, Move.SUBMIT, version=p.version(late),
                          at="2026-11-23T10:00:00+08:00")
        issues.move_issue(p.db, p.actors["lead"], late, Move.RETURN, version=p.version(late),
                          reason="措施未落实", at="2026-11-23T11:00:00+08:00")
        rp.run(p, at="2026-11-23T11:30:00+08:00")
    post = robots.of("dingtalk")[-1]
    assert post.path == "/dingtalk/robot/send"
    assert post.query["access_token"] == "ding-token-456"
    assert post.query["timestamp"] == str(rp.NOW_MS)
    assert post.query["sign"] == dingtalk_expected_sign(DING_SECRET, str(rp.NOW_MS))
    title = "【验收退回】C1.1.1 外包合同未经法律审核"
    assert post.json == {
        "msgtype": "markdown",
        "markdown": {"title": title, "text": (
            f"#### {title}\n\n"
            "张三：您负责的问题 C1.1.1 外包合同未经法律审核 未通过验收，已退回整改。退回原因：措施未落实"
            f"\n\n[查看问题]({BASE}/issue?id={late}&lang=zh)\n\n@13900000001")},
        "at": {"atMobiles": ["13900000001"], "isAtAll": False}}
    assert post.headers["Content-Type"] == "application/json; charset=utf-8"


def test_feishu_gets_the_documented_interactive_card_signed_in_the_body(p):
    with robot_endpoints() as robots:
        rp.configure_channels(p, smtp_port=None, robots=robots.urls())
        rp.run(p)
    (post,) = robots.of("feishu")
    body = post.json
    ts = str(rp.NOW_MS // 1000)
    assert body.pop("timestamp") == ts
    assert body.pop("sign") == feishu_expected_sign(FEISHU_SECRET, ts)
    assert body == {"msg_type": "interactive", "card": {
        "config": {"wide_screen_mode": True},
        "header": {"title": {"tag": "plain_text", "content": "整改工作提醒（2026-11-23）"},
                   "template": "orange"},
        "elements": [
            {"tag": "div", "text": {"tag": "lark_md",
                                    "content": "以下同事有需要关注的整改事项，请及时办理："}},
            {"tag": "div", "text": {"tag": "lark_md", "content":
                                    "**待办人员（2 人）**\n- 赵审计：待验收 1 项\n- 钱审计：待验收 1 项"}},
            {"tag": "action", "actions": [{"tag": "button",
                                           "text": {"tag": "plain_text", "content": "打开我的任务"},
                                           "type": "primary", "url": f"{BASE}/my-work?lang=zh"}]},
            {"tag": "note", "elements": [{"tag": "plain_text",
                                          "content": "审计整改台账系统自动提醒"}]}]}}


def test_wecom_mentions_by_mobile_in_a_text_message_and_uses_markdown_otherwise(p):
    with robot_endpoints() as robots:
        rp.configure_channels(p, smtp_port=None, robots=robots.urls())
        rp.run(p)
        rs.set_contact(p.db, p.actors["admin"], p.people["rect_b"], email="", mobile="",
                       digest="daily", lang="zh", at=rp.SETUP_AT)
        rp.run(p, as_of=rp.AS_OF.replace(day=24), at="2026-11-24T08:30:00+08:00")
    first, second = [x.json for x in robots.of("wecom")]
    assert robots.of("wecom")[0].query == {"key": "wecom-key-123"}
    assert first == {"msgtype": "text", "text": {
        "content": "整改工作提醒（2026-11-23）\n以下同事有需要关注的整改事项，请及时办理：\n"
                   "【待办人员（1 人）】\n· 王五：临期 1 项\n"
                   f"打开我的任务: {BASE}/my-work?lang=zh",
        "mentioned_mobile_list": ["13900000003"]}}
    assert second == {"msgtype": "markdown", "markdown": {
        "content": "**整改工作提醒（2026-11-24）**\n以下同事有需要关注的整改事项，请及时办理：\n"
                   "**待办人员（1 人）**\n> 王五：临期 1 项\n"
                   f"[打开我的任务]({BASE}/my-work?lang=zh)"}}


def test_a_wrong_signing_secret_is_refused_by_the_vendor_and_the_message_retried(p):
    with robot_endpoints() as robots:
        ids = rp.configure_channels(p, smtp_port=None, robots=robots.urls())
        rs.update_robot(p.db, p.actors["admin"], ids["dingtalk"], version=None, name="甲市整改群",
                        lang="zh", active=True, sign_secret="SECwrong", at=rp.SETUP_AT)
        result = rp.run(p)
    assert robots.of("dingtalk") == []
    row = p.db.conn.execute("SELECT status, attempts, last_error, next_attempt_at FROM "
                            "remind_outbox WHERE channel_id = ?", (ids["dingtalk"],)).fetchone()
    assert row == ("pending", 1, "dingtalk refused: 310000 sign not match",
                   "2026-11-23T08:35:00+08:00")
    assert result["retry"] == 1


def test_signatures_follow_the_vendors_worked_examples():
    # docs.rs `dingding` crate's test vector: timestamp 1700000000000, secret "secret".
    assert urllib.parse.quote(fmt.dingtalk_sign("secret", 1700000000000), safe="") == \
        "OuzzJR5%2BxZ4%2FEYwqtNt6sMYZQMTa%2FHEGvc9miJe7XzY%3D"
    assert fmt.feishu_sign(FEISHU_SECRET, 1599360473) == \
        feishu_expected_sign(FEISHU_SECRET, "1599360473")
    url, body = fmt.signed_request("dingtalk", "https://oapi.dingtalk.com/robot/send?"
                                   "access_token=T", "secret", b"{}", 1700000000000)
    assert url == ("https://oapi.dingtalk.com/robot/send?access_token=T&timestamp=1700000000000"
                   "&sign=OuzzJR5%2BxZ4%2FEYwqtNt6sMYZQMTa%2FHEGvc9miJe7XzY%3D") and body == b"{}"


def test_long_user_text_is_cut_to_fit_each_robots_limit():
    reason = "佐证材料不全" * 900  # 5,400 characters
    card = fmt.Card("【验收退回】C1.1.1 " + "长" * 300, "zh", "张三：退回原因：" + reason,
                    (fmt.Block("待办", tuple(fmt.Entry("条目" * 200, f"{BASE}/issue?id={i}")
                                             for i in range(30))),), "页脚", "查看",
                    f"{BASE}/my-work")
    text = json.loads(fmt.robot_body("wecom", card, ["13900000001"]))["text"]["content"]
    markdown = json.loads(fmt.robot_body("wecom", card))["markdown"]["content"]
    assert len(text.encode()) <= 2048 and len(markdown.encode()) <= 4096
    assert "…" in text and "另有" in markdown
    for kind in ("dingtalk", "feishu"):
        assert len(fmt.robot_body(kind, card, ["13900000001"])) <= fmt.ROBOT_BODY_BYTES


# --- e-mail: transport security and the letter ------------------------------------------------


# aiosmtpd warns that implicit TLS does not count as "TLS required": it is TLS all the same.
@pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")
@pytest.mark.parametrize("security", ["starttls", "ssl"])
def test_email_goes_over_tls_with_a_login(p, tmp_path, security):
    cert = make_certificate(tmp_path)
    with smtp_server(security=security, cert=cert) as (box, port):
        rp.configure_channels(p, smtp_port=port, robots=None, security=security,
                              ca_file=str(cert[0]))
        result = rp.run(p)
    assert result["sent"] == 5 and len(box.received) == 5
    assert {r.mail_from for r in box.received} == {"noreply@tracker.example.cn"}


def test_a_mail_server_that_rejects_the_login_leaves_everything_pending_after_one_try(
        p, tmp_path):
    cert = make_certificate(tmp_path)
    with smtp_server(security="starttls", cert=cert) as (box, port):
        rp.configure_channels(p, smtp_port=port, robots=None, security="starttls",
                              ca_file=str(cert[0]))
        rs.save_smtp(p.db, p.actors["admin"], host="localhost", port=port, security="starttls",
                     username="tracker", password="wrong", sender="noreply@tracker.example.cn",
                     ca_file=str(cert[0]), at=rp.SETUP_AT)
        rp.run(p)
    rows = p.db.conn.execute("SELECT status, attempts FROM remind_outbox").fetchall()
    assert box.received == []
    assert sorted(rows) == [("pending", 0)] * 4 + [("pending", 1)]
    error = p.db.conn.execute("SELECT last_error FROM remind_outbox WHERE attempts = 1"
                              ).fetchone()[0]
    assert "535" in error and "wrong" not in error


def test_the_letter_goes_to_the_unit_head_as_a_word_attachment_with_the_facts(p):
    with smtp_server() as (box, port), robot_endpoints() as robots:
        rp.configure_channels(p, smtp_port=port, robots=robots.urls())
        rp.run(p)
        steps = escalation_service.record_escalations(p.db, p.actors["lead"], rp.AS_OF,
                                                 "2026-11-23T09:00:00+08:00")
        rp.run(p, at="2026-11-23T09:30:00+08:00")
    letter_id = next(s["id"] for s in steps if s["step"] == "letter")
    mail = next(r.message for r in box.received if r.key.startswith("step:") and
                r.rcpt_tos == ["sun@a.example.cn"])
    assert mail["Subject"] == "【督办函】C2.1.1 结算单据审核签字不全"
    body = mail.get_body(("plain",)).get_content()
    assert f"整改督〔2026〕{letter_id} 号" in body and "督办函见附件。" in body
    (attachment,) = list(mail.iter_attachments())
    assert attachment.get_filename() == "督办函-C2.1.1.docx"
    assert attachment.get_content_type() == fmt.DOCX_MIME
    text = "\n".join(par.text for par in docx.Document(io.BytesIO(
        attachment.get_content())).paragraphs)
    for line in ("督　办　函", f"整改督〔2026〕{letter_id} 号", "甲市分公司孙经理同志：",
                 "经核查，甲市分公司负责整改的问题“C2.1.1 结算单据审核签字不全”，整改期限为 2026年11月6日，"
                 "截至 2026年11月23日 仍未完成整改，已逾期 11 个工作日。",
                 "原定整改期限：2026年11月6日", "当前整改期限：2026年11月6日", "整改责任人：张三",
                 "问题来源：2025 成本费用审计",
                 "按照“三不放过”要求，尚缺：问题根源（原因未查清）、责任追究记录（责任未处理）、"
                 "每项措施的佐证材料。",
                 "整改措施“补齐签字”（责任人：张三，期限：2026年11月27日）尚未完成。",
                 "于 2026年11月30日 前将整改情况", "审计整改工作办公室", "2026年11月23日"):
        assert line in text, line
    reminder = next(r.message for r in box.received if r.key.startswith("step:")
                    and r.rcpt_tos == ["zhangsan@a.example.cn"])
    assert reminder["Subject"] == "【逾期提醒】C1.1.1 外包合同未经法律审核"
    robot = [x.json["markdown"]["text"] for x in robots.of("dingtalk")
             if "督办函" in x.json["markdown"]["title"]]
    assert len(robot) == 1
    assert f"[查看督办函]({BASE}/letter?escalation={letter_id}&lang=zh)" in robot[0]
    assert "@13900000004" in robot[0]


def test_an_extended_deadline_shows_both_dates_in_the_letter(p):
    owners.extend_deadline(p.db, p.actors["lead"], p.ids["letter"], version=None,
                           new_deadline="2026-11-09", reason="跨部门协调",
                           at="2026-11-07T10:00:00+08:00")
    steps = escalation_service.record_escalations(p.db, p.actors["lead"], rp.AS_OF,
                                             "2026-11-23T09:00:00+08:00")
    from exports import letter_service
    letter_id = next(s["id"] for s in steps if s["step"] == "letter")
    facts = letter_service.letter_facts(p.db, letter_id, "en")
    assert (facts.original_deadline.isoformat(), facts.deadline.isoformat()) == \
        ("2026-11-06", "2026-11-09")
    _, data = letter_service.letter_bytes(p.db, letter_id, "en")
    text = "\n".join(par.text for par in docx.Document(io.BytesIO(data)).paragraphs)
    assert "had the original deadline 6 November 2026, extended with approval to " \
           "9 November 2026" in text
    assert not re.search("[\u4e00-\u9fff]", text.replace("结算单据审核签字不全", "")
                         .replace("甲市分公司", "").replace("张三", "").replace("孙经理", "")
                         .replace("补齐签字", "").replace("成本费用审计", "")
                         .replace("审计整改工作办公室", ""))


# --- events since the last run ----------------------------------------------------------------


def test_what_happened_since_the_last_run_reaches_the_people_concerned(p):
    with smtp_server() as (box, port), robot_endpoints() as robots:
        rp.configure_channels(p, smtp_port=port, robots=robots.urls())
        rp.run(p)
        lead, ids = p.actors["lead"], p.ids
        late = ids["late"]
        issues.move_issue(p.db, p.actors["rect"], late, Move.SUBMIT, version=p.version(late),
                          at="2026-11-23T10:00:00+08:00")
        issues.move_issue(p.db, lead, late, Move.RETURN, version=p.version(late),
                          reason="措施未落实", at="2026-11-23T10:05:00+08:00")
        issues.move_issue(p.db, lead, ids["verify"], Move.CLOSE,
                          version=p.version(ids["verify"]), at="2026-11-23T11:00:00+08:00")
        owners.extend_deadline(p.db, lead, ids["letter"], version=p.version(ids["letter"]),
                               new_deadline="2026-12-15", reason="跨部门协调",
                               at="2026-11-23T11:10:00+08:00")
        new = p.new_issue("外包人员未签保密协议", unit="B", day="2026-11-23")
        p.assign(new, deadline="2026-12-31", responsible="rect_b", day="2026-11-23")
        p.measure(new, deadline="2026-12-20", owner="owner_a", day="2026-11-23",
                  title="补签协议")
        before, robots_before = len(box.received), len(robots.posts)
        result = rp.run(p, at="2026-11-23T16:00:00+08:00")
    got = sorted((r.rcpt_tos[0], r.message["Subject"]) for r in box.received[before:])
    assert got == [
        ("wangwu@b.example.cn", "[New assignment] C1.1.2 外包人员未签保密协议"),
        ("wangwu@b.example.cn", "[Struck off] C1.2.1 外包商资质未年审"),
        ("zhangsan@a.example.cn", "【延期已批准】C2.1.1 结算单据审核签字不全"),
        ("zhangsan@a.example.cn", "【验收退回】C1.1.1 外包合同未经法律审核"),
    ]
    ext = next(r.message for r in box.received[before:] if "延期" in r.message["Subject"])
    assert "整改期限已延至 2026-12-15。延期原因：跨部门协调" in ext.get_body(("plain",)).get_content()
    # 李四 has no e-mail: his new measure reaches him in unit B's group chat, @-mentioned.
    texts = [x.json.get("text", {}).get("content", "") for x in robots.of("wecom")]
    assert any("补签协议" in t_ and "李四" in t_ for t_ in texts)
    # Robots: returned and extended in A's group, struck off, assigned and the measure in B's.
    new_posts = robots.posts[robots_before:]
    assert sorted(x.vendor for x in new_posts) == ["dingtalk"] * 2 + ["wecom"] * 3
    assert result["sent"] == 4 + 5


def test_the_person_who_acted_is_not_told_about_it(p):
    with smtp_server() as (box, port):
        rp.configure_channels(p, smtp_port=port, robots=None)
        rp.run(p)
        # 赵审计 (lead) makes himself responsible for a new issue: no notice to himself.
        new = p.new_issue("外包费用超合同列支", unit="A", day="2026-11-23")
        p.assign(new, deadline="2026-12-31", responsible="lead_p", day="2026-11-23")
        before = len(box.received)
        rp.run(p, at="2026-11-23T16:00:00+08:00")
    assert box.received[before:] == []


# --- retries, failures, history -----------------------------------------------------------------


def test_a_refused_message_is_retried_after_5_then_10_minutes_and_then_sent(p):
    with robot_endpoints() as robots:
        ids = rp.configure_channels(p, smtp_port=None, robots=robots.urls())
        robots.fail_next = [(500, {})] * 3 + [(200, {"errcode": 130101, "errmsg": "send too fast"})]
        rp.run(p)  # three robots, all refused (HTTP 500)
        rows = p.db.conn.execute("SELECT status, attempts, next_attempt_at, last_error FROM "
                                 "remind_outbox ORDER BY id").fetchall()
        assert rows == [("pending", 1, "2026-11-23T08:35:00+08:00",
                         "HTTP 500 Internal Server Error")] * 3
        assert rp.run(p, at="2026-11-23T08:34:00+08:00")["sent"] == 0  # not due yet
        rp.run(p, at="2026-11-23T08:35:00+08:00")  # first retried one refused by errcode
        ding = p.db.conn.execute("SELECT status, attempts, next_attempt_at, last_error FROM "
                                 "remind_outbox WHERE channel_id = ?", (ids["dingtalk"],)
                                 ).fetchone()
        assert ding == ("pending", 2, "2026-11-23T08:45:00+08:00",
                        "dingtalk refused: 130101 send too fast")
        rp.run(p, at="2026-11-23T08:45:00+08:00")
    assert set(_statuses(p).values()) == {"sent"}
    assert len(robots.posts) == 3


def test_after_the_last_attempt_a_message_fails_and_the_page_lists_it_with_its_error(p):
    with robot_endpoints() as robots:
        rp.configure_channels(p, smtp_port=None, robots=robots.urls())
        rs.save_settings(p.db, p.actors["admin"], {"remind.max_attempts": "2"}, at=rp.SETUP_AT)
        robots.fail_next = [(502, {})] * 6
        rp.run(p)
        rp.run(p, at="2026-11-23T09:00:00+08:00")
    overview = rs.run_overview(p.db, p.actors["admin"])
    assert [(f["status"], f["attempts"], f["last_error"]) for f in overview["failures"]] == \
        [("failed", 2, "HTTP 502 Bad Gateway")] * 3
    assert overview["last"]["failed"] == 3
    rs.resend(p.db, p.actors["admin"], overview["failures"][0]["id"],
              at="2026-11-23T10:00:00+08:00")
    assert p.db.conn.execute("SELECT COUNT(*) FROM remind_outbox WHERE status = 'pending'"
                             ).fetchone()[0] == 1


def test_a_mailbox_refused_for_good_is_not_tried_again_and_a_busy_one_is(p):
    with smtp_server() as (box, port):
        rp.configure_channels(p, smtp_port=port, robots=None)
        box.refuse = ["550 5.1.1 mailbox unavailable", "451 4.3.0 try again later"]
        result = rp.run(p)
    rows = p.db.conn.execute("SELECT status, attempts, last_error FROM remind_outbox "
                             "WHERE status <> 'sent' ORDER BY id").fetchall()
    assert rows == [("failed", 1, "SMTP 550 5.1.1 mailbox unavailable"),
                    ("pending", 1, "SMTP 451 4.3.0 try again later")]
    assert result["sent"] == 3 and len(box.received) == 3


def test_an_unreachable_mail_server_costs_one_attempt_not_one_per_message(p):
    rp.configure_channels(p, smtp_port=free_port(), robots=None)
    rp.run(p)
    attempts = sorted(r[0] for r in p.db.conn.execute("SELECT attempts FROM remind_outbox"))
    assert attempts == [0, 0, 0, 0, 1]
    assert set(_statuses(p).values()) == {"pending"}


def test_every_message_sent_is_in_history_to_whom_by_which_channel_what_and_the_outcome(p):
    with smtp_server() as (box, port), robot_endpoints() as robots:
        rp.configure_channels(p, smtp_port=port, robots=robots.urls())
        rp.run(p)
    sent = p.db.conn.execute("SELECT id, key, recipient, subject FROM remind_outbox "
                             "WHERE status = 'sent'").fetchall()
    assert len(sent) == len(box.received) + len(robots.posts) == 8
    for mid, key, recipient, subject in sent:
        records = history.entity_history(p.db, "remind_message", mid)
        created = json.loads(records[0]["new"])
        assert (created["key"], created["recipient"], created["subject"]) == \
            (key, recipient, subject)
        assert created["channel"] in ("smtp", "dingtalk", "wecom", "feishu")
        moves = [(r["old"], r["new"]) for r in records if r["field"] == "status"]
        assert moves == [("pending", "sending"), ("sending", "sent")]
    assert history.verify(p.db).ok


def test_no_secret_is_ever_in_history_in_a_payload_or_in_what_the_page_reads(p):
    with smtp_server() as (box, port), robot_endpoints() as robots:
        ids = rp.configure_channels(p, smtp_port=port, robots=robots.urls())
        rs.update_robot(p.db, p.actors["admin"], ids["feishu"], version=None,
                        name="区分公司整改群", lang="zh", active=True,
                        webhook=robots.urls()["feishu"] + "-new", sign_secret="another-secret",
                        at=rp.SETUP_AT)
        rp.run(p)
    rs.save_smtp(p.db, p.actors["admin"], host="localhost", port=port, security="starttls",
                 username="tracker", password=SMTP_PASSWORD, sender="noreply@tracker.example.cn",
                 at="2026-11-23T12:00:00+08:00")
    p.db.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn = sqlite3.connect(str(p.path))
    for table, in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'"):
        cols = [c[1] for c in conn.execute(f'PRAGMA table_info("{table}")')]
        for col in cols:
            if (table, col) == ("remind_channels", "secrets"):
                continue
            for (value,) in conn.execute(f'SELECT "{col}" FROM "{table}"'):
                text = value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)
                for secret in (*SECRETS, "another-secret"):
                    assert secret not in text, (table, col, secret)
    changes = [(r["field"], r["old"], r["new"]) for r in
               history.entity_history(p.db, "remind_channel", ids["feishu"])
               if r["field"].startswith("secret.")]
    assert changes == [("secret.sign_secret", None, "set"), ("secret.webhook", None, "set"),
                       ("secret.sign_secret", "set", "changed"),
                       ("secret.webhook", "set", "changed")]
    overview = rs.channel_overview(p.db, p.actors["admin"])
    shown = json.dumps(overview, ensure_ascii=False, default=str)
    for secret in SECRETS:
        assert secret not in shown
    assert overview["smtp"]["secrets_set"] == ["password"]
    conn.close()


# --- user text stays text -----------------------------------------------------------------------

HOSTILE = ('**加粗** [点我](http://evil.example/x) <a href="http://evil.example">链接</a> '
           '<font color="warning">红</font> @13800000000 <@all> <at user_id="all">所有人</at> '
           '# 标题 `代码` www.evil.cn')


def test_a_title_with_markdown_html_and_mentions_stays_text_in_every_channel(p):
    hostile = {unit: p.new_issue(HOSTILE, unit=unit, day="2026-11-23") for unit in "ABR"}
    with smtp_server() as (box, port), robot_endpoints() as robots:
        rp.configure_channels(p, smtp_port=port, robots=robots.urls())
        rp.run(p)
        # Assignments: e-mails, and the robots of A (DingTalk), B (WeCom text, @王五) and the
        # region (Feishu); then, 王五 without a mobile, an extension: WeCom markdown.
        for unit, who in (("A", "rect_a"), ("B", "rect_b"), ("R", "head_r")):
            p.assign(hostile[unit], deadline="2026-11-25", responsible=who, day="2026-11-23")
        rp.run(p, at="2026-11-23T16:00:00+08:00")
        rs.set_contact(p.db, p.actors["admin"], p.people["rect_b"], email="", mobile="",
                       digest="daily", lang="zh", at="2026-11-23T16:10:00+08:00")
        owners.extend_deadline(p.db, p.actors["lead"], hostile["B"], version=None,
                               new_deadline="2026-12-01", reason=HOSTILE,
                               at="2026-11-23T16:20:00+08:00")
        rp.run(p, at="2026-11-23T16:30:00+08:00")
        rp.run(p, as_of=rp.AS_OF.replace(day=24), at="2026-11-24T08:30:00+08:00")
    mails = [r.message for r in box.received
             if HOSTILE in r.message.get_body(("plain",)).get_content()]
    assert len(mails) >= 4  # three notices, and 张三's digest of the 24th (due soon)
    for mail in mails:
        html = mail.get_body(("html",)).get_content()
        assert "<a href=\"http://evil" not in html and "<font" not in html
        assert "<at " not in html and "<@all>" not in html
        assert "&lt;a href=\"http://evil.example\"&gt;" in html
        assert "\n" not in mail["Subject"]
    posts = [x for x in robots.posts if "加粗" in x.body.decode("utf-8")]
    kinds = sorted({(x.vendor, x.json.get("msgtype", x.json.get("msg_type"))) for x in posts})
    assert kinds == [("dingtalk", "markdown"), ("feishu", "interactive"),
                     ("wecom", "markdown"), ("wecom", "text")]
    for x in posts:
        text = json.dumps(x.json, ensure_ascii=False)
        assert "<" not in text and "**加粗**" not in text and "`" not in text
        assert not re.search(r"\]\((?!https://tracker\.example\.cn/)", text)
        assert "://evil" not in text and "www.evil" not in text
        assert "13800000000" not in text.replace("＠13800000000", "")
        assert all(m.startswith("139") for m in re.findall(r"@(\d+)", text))


def test_an_emailed_digest_carries_the_history_anchor_that_verify_accepts(p):
    # Issue 15: every digest carries an anchor where the file's holder cannot reach it (the
    # recipients' mailboxes); `verify --anchor` checks the database against it later.
    import subprocess
    import sys
    with smtp_server() as (box, port):
        rp.configure_channels(p, smtp_port=port, robots=None)
        rp.run(p)
    anchors = {str(r.message["X-Audit-History-Anchor"]).strip() for r in box.received}
    (anchor,) = anchors
    seq, digest = history.anchor(p.db)
    assert anchor.startswith("anchor:") and int(anchor.split(":")[1]) <= seq
    body = box.received[0].message.get_body(("plain",)).get_content()
    assert anchor.split(":")[2] not in body  # the reader never sees a hash
    p.db.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    run = subprocess.run([sys.executable, "-m", "audit", "verify", "--db", str(p.path),
                          "--quick", "--anchor", anchor], capture_output=True, text=True,
                         timeout=120, check=False)
    assert run.returncode == 0, run.stdout + run.stderr
