"""提醒与通知 and 督办函 under AppTest: only administrators open the reminder page (and the
services refuse everyone else), secrets are never drawn, saving the forms goes through the
services, the last-run panel and the failures show what happened, English labels; letters are
listed and downloaded within the viewer's scope only."""
from __future__ import annotations

import pytest

from audit.model import NotPermitted
from exports import letter_service, remind_run_service
from exports import remind_service as rs
from tests import programme
from tests import remind_programme as rp
from tests.conftest import open_page, shown, sign_in
from tests.remind_servers import DING_SECRET, robot_endpoints, smtp_server
from issues import escalation_service


@pytest.fixture
def p(tmp_path):
    prog = rp.build(tmp_path)
    prog.db.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    yield prog
    prog.db.conn.close()


def _open(make_app, p, who: str, url: str, lang: str | None = None):
    app = make_app(p.path)
    if lang:
        app.query_params["lang"] = lang
    sign_in(app, who, programme.PASSWORD)
    return open_page(app, url)


def _all_text(app) -> str:
    parts = []
    for kind in ("markdown", "caption", "title", "subheader", "info", "warning", "success",
                 "error", "metric"):
        for el in getattr(app, kind):
            parts.append(str(getattr(el, "value", "")) + " " + str(getattr(el, "label", "")))
    for el in app.text_input:
        parts += [str(el.value), str(el.label), str(el.placeholder)]
    for df in app.dataframe:
        parts.append(df.value.to_csv())
    return "\n".join(parts)


@pytest.mark.parametrize("who", ["lead", "manager", "rect"])
def test_only_administrators_have_the_reminder_page_and_the_services_refuse_the_others(
        make_app, p, who):
    app = make_app(p.path)
    sign_in(app, who, programme.PASSWORD)
    with pytest.raises(ValueError):
        open_page(app, "reminders")
    with pytest.raises(NotPermitted):
        rs.channel_overview(p.db, p.actors[who])
    with pytest.raises(NotPermitted):
        rs.add_robot(p.db, p.actors[who], name="x", kind="wecom", webhook="https://x.cn/h",
                     at=rp.AT)
    with pytest.raises(NotPermitted):
        remind_run_service.run_reminders(p.db, p.actors[who], rp.AS_OF, at=rp.AT, now_ms=lambda: 0)


def test_the_page_shows_which_secrets_are_set_and_never_a_secret(make_app, p):
    with robot_endpoints() as robots:
        rp.configure_channels(p, smtp_port=2525, robots=robots.urls(), security="starttls")
    app = _open(make_app, p, "admin", "reminders")
    assert not app.exception
    shown = _all_text(app)
    for secret in ("mail-secret-1", DING_SECRET, "ding-token-456", "wecom-key-123",
                   "feishu-hook-789"):
        assert secret not in shown
    assert "登录密码（已设置）" in shown
    robots_table = app.dataframe[0].value
    assert list(robots_table["机器人名称"]) == ["乙市整改群", "区分公司整改群", "甲市整改群"]
    assert list(robots_table["加签密钥"]) == ["未设置", "已设置", "已设置"]
    assert all(w.value == "" for w in app.text_input if w.label.startswith(
        ("登录密码", "Webhook", "加签密钥")))


def test_saving_the_mail_form_keeps_the_stored_password_when_the_field_is_left_empty(
        make_app, p):
    rp.configure_channels(p, smtp_port=2525, robots=None, security="starttls")
    app = _open(make_app, p, "admin", "reminders")
    form = "remind.smtp"
    host = next(w for w in app.text_input if w.form_id == form and w.label == "邮件服务器")
    host.input("smtp.mail.example.cn")
    next(b for b in app.button if b.form_id == form).click()
    app.run()
    assert not app.exception and not app.error
    smtp = rs.channel_overview(p.db, p.actors["admin"])["smtp"]
    assert smtp["config"]["host"] == "smtp.mail.example.cn"
    assert smtp["secrets_set"] == ["password"]
    assert [s.value for s in app.success] == ["已保存。"]


def test_a_refused_value_is_shown_in_words_and_nothing_is_saved(make_app, p):
    app = _open(make_app, p, "admin", "reminders")
    form = "remind.robot.add"
    fields = {w.label: w for w in app.text_input if w.form_id == form}
    fields["机器人名称"].input("新群")
    fields["Webhook 地址"].input("ftp://not-a-webhook")
    next(b for b in app.button if b.form_id == form).click()
    app.run()
    assert [shown(e.value) for e in app.error] == [
        "“Webhook 地址”填写有误：应为 http:// 或 https:// 开头的地址"]
    assert rs.channel_overview(p.db, p.actors["admin"])["robots"] == []


def test_the_last_run_panel_shows_the_run_what_it_sent_and_the_failures(make_app, p):
    with smtp_server() as (box, port), robot_endpoints() as robots:
        rp.configure_channels(p, smtp_port=port, robots=robots.urls())
        robots.fail_next = [(502, {})]
        rp.run(p)
    p.db.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    app = _open(make_app, p, "admin", "reminders")
    metrics = {m.label: m.value for m in app.metric}
    assert metrics["截至日期"] == "2026-11-23"
    assert (metrics["新生成"], metrics["已发送"], metrics["失败"]) == ("8", "7", "1")
    sent = app.dataframe[-2].value
    assert len(sent) == 7 and set(sent["状态"]) == {"已发送"}
    failures = app.dataframe[-1].value
    assert list(failures["错误"]) == ["HTTP 502 Bad Gateway"]
    assert list(failures["状态"]) == ["待发送"]


def test_the_page_in_english_has_english_labels(make_app, p):
    with smtp_server() as (box, port):
        rp.configure_channels(p, smtp_port=port, robots=None)
        rp.run(p)
    p.db.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    app = _open(make_app, p, "admin", "reminders", lang="en")
    assert not app.exception
    assert app.title[0].value == "Reminders"
    assert [t.label for t in app.tabs] == ["Channels", "Units and people", "Runs"]
    labels = {m.label for m in app.metric}
    assert {"Started", "As of", "New", "Sent", "Failed", "Unconfirmed"} <= labels
    interface = _all_text(app)
    for subject in p.db.conn.execute("SELECT subject FROM remind_outbox"):  # messages' own
        interface = interface.replace(subject[0], "")
    # 中文 is the name of a language choice, written in that language (as English is on the
    # Chinese screen); the rest is user data.
    for user_text in ("中文", "甲市分公司", "乙市分公司", "甲县分公司", "自治区分公司", "张三", "李四",
                      "王五", "赵审计", "钱审计", "孙经理", "周总", "整改台账", "审计整改工作办公室"):
        interface = interface.replace(user_text, "")
    assert not [c for c in interface if "\u4e00" <= c <= "\u9fff"]


def test_letters_are_listed_and_downloaded_in_the_viewers_scope_only(make_app, p):
    steps = escalation_service.record_escalations(p.db, p.actors["lead"], rp.AS_OF, rp.AT)
    letter_id = next(s["id"] for s in steps if s["step"] == "letter")
    p.db.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    app = make_app(p.path)
    app.query_params["escalation"] = str(letter_id)
    sign_in(app, "rect", programme.PASSWORD)
    app = open_page(app, "letter")
    assert not app.exception
    assert list(app.dataframe[0].value["问题"]) == ["C2.1.1 结算单据审核签字不全"]
    assert [b.label for b in app.get("download_button")] == ["下载督办函"]
    assert letter_service.letters_for(p.db, p.actors["rect_b"], "zh") == []
    with pytest.raises(NotPermitted):
        letter_service.letter_document(p.db, p.actors["rect_b"], letter_id, "zh")
    name, data = letter_service.letter_document(p.db, p.actors["rect"], letter_id, "zh")
    assert name == "督办函-C2.1.1.docx" and data[:2] == b"PK"
