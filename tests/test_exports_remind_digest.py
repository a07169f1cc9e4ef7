"""Per-person digests on the small programme of tests/remind_programme.py, worked out by hand
for Monday 2026-11-23; what goes out by e-mail and to the group robots; weekly digests; and
nothing at all on weekends and holidays (a make-up working day on a Saturday does send)."""
from __future__ import annotations

from datetime import date

import pytest

from exports import remind_run_service as runs
from tests import remind_programme as rp
from tests.remind_servers import robot_endpoints, smtp_server


@pytest.fixture
def p(tmp_path):
    prog = rp.build(tmp_path)
    yield prog
    prog.db.conn.close()


def _by_key(p, preview: dict) -> dict:
    names = {v: k for k, v in p.people.items()}
    return {names[pid]: {s: [(it["code"], it["measure"], it["deadline"], it["days"],
                              it["reason"], it["step"]) for it in items]
                         for s, items in d["sections"].items()}
            for pid, d in preview.items()}


def test_each_persons_digest_on_monday_23_november_is_the_one_worked_out_by_hand(p):
    # late C1.1.1 (A1, 张三, 11-16): 17,18,19,20,23 → 5 working days overdue; its measure
    # (李四, 11-13): 16 … 23 → 6. letter C2.1.1 (A, 张三, 11-06): 9–13, 16–20, 23 → 11 (≥ 10:
    # the 督办函, to 孙经理, head of A); its measure (张三, 11-27): 24–27 → 4 days left.
    # verify C1.2.1 (B, 王五, 11-30, its measure done, submitted by 王五): 24–27, 30 → 5 left;
    # it waits for both leads. returned C2.1.2: back to 张三 with its reason.
    got = _by_key(p, runs.preview_digests(p.db, p.actors["admin"], rp.AS_OF))
    assert got == {
        "rect_a": {
            "overdue": [("C2.1.1", "", "2026-11-06", 11, "", ""),
                        ("C1.1.1", "", "2026-11-16", 5, "", "")],
            "due_soon": [("C2.1.1", "补齐签字", "2026-11-27", 4, "", "")],
            "returned": [("C2.1.2", "", "2026-12-31", 0, "佐证材料不全", "")],
            "escalation": [("C1.1.1", "", "2026-11-16", 5, "", "reminder")],
        },
        "owner_a": {"overdue": [("C1.1.1", "补签法律审核意见", "2026-11-13", 6, "", "")]},
        "rect_b": {"due_soon": [("C1.2.1", "", "2026-11-30", 5, "", "")]},
        "head_a": {"escalation": [("C2.1.1", "", "2026-11-06", 11, "", "letter")]},
        "lead_p": {"to_verify": [("C1.2.1", "", "2026-11-30", 0, "", "")]},
        "lead2_p": {"to_verify": [("C1.2.1", "", "2026-11-30", 0, "", "")]},
    }


def test_a_day_later_every_count_moves_by_one_working_day(p):
    got = _by_key(p, runs.preview_digests(p.db, p.actors["admin"], date(2026, 11, 24)))
    assert got["rect_a"]["overdue"] == [("C2.1.1", "", "2026-11-06", 12, "", ""),
                                        ("C1.1.1", "", "2026-11-16", 6, "", "")]
    assert got["rect_a"]["due_soon"] == [("C2.1.1", "补齐签字", "2026-11-27", 3, "", "")]
    assert got["owner_a"]["overdue"][0][3] == 7
    assert got["rect_b"]["due_soon"][0][3] == 4


def test_zhang_sans_digest_e_mail_reads_as_worked_out_with_links_to_each_issue(p):
    with smtp_server() as (box, port):
        rp.configure_channels(p, smtp_port=port, robots=None)
        result = rp.run(p)
    ids = p.ids
    mails = {r.rcpt_tos[0]: r.message for r in box.received}
    assert set(mails) == {"zhangsan@a.example.cn", "wangwu@b.example.cn", "sun@a.example.cn",
                          "zhao@r.example.cn", "qian@r.example.cn"}  # 李四 has no e-mail
    assert result["sent"] == 5 and result["planned"] == 5
    zs = mails["zhangsan@a.example.cn"]
    assert zs["Subject"] == "【整改提醒】张三：逾期 2 项，临期 1 项（2026-11-23）"
    assert zs["X-Audit-Reminder-Key"] == f"digest:2026-11-23:person:{p.people['rect_a']}:email"
    text = zs.get_body(("plain",)).get_content().replace("\r\n", "\n")
    base = "https://tracker.example.cn/issue?id="
    assert text == (
        "张三，您好！截至 2026-11-23，您有以下整改事项需要关注：\n\n"
        "■ 逾期事项（2 项）\n"
        "  - C2.1.1 结算单据审核签字不全：期限 2026-11-06，已逾期 11 个工作日\n"
        f"    {base}{ids['letter']}&lang=zh\n"
        "  - C1.1.1 外包合同未经法律审核：期限 2026-11-16，已逾期 5 个工作日\n"
        f"    {base}{ids['late']}&lang=zh\n\n"
        "■ 5 个工作日内到期（1 项）\n"
        "  - C2.1.1 结算单据审核签字不全，整改措施“补齐签字”：期限 2026-11-27，还剩 4 个工作日\n"
        f"    {base}{ids['letter']}&lang=zh\n\n"
        "■ 验收退回、待重新整改（1 项）\n"
        "  - C2.1.2 外包结算价格未经比价：退回原因：佐证材料不全\n"
        f"    {base}{ids['returned']}&lang=zh\n\n"
        "■ 督办事项（1 项）\n"
        "  - C1.1.1 外包合同未经法律审核：整改提醒\n"
        f"    {base}{ids['late']}&lang=zh\n\n"
        "打开我的任务: https://tracker.example.cn/my-work?lang=zh\n\n"
        "本邮件由审计整改台账系统自动发送，请勿直接回复。\n")
    html = zs.get_body(("html",)).get_content()
    assert f'<a href="{base}{ids["late"]}&amp;lang=zh">C1.1.1 外包合同未经法律审核' in html


def test_wang_wu_chose_english_and_his_digest_has_no_chinese_interface_text(p):
    with smtp_server() as (box, port):
        rp.configure_channels(p, smtp_port=port, robots=None)
        rp.run(p)
    ww = next(r.message for r in box.received if r.rcpt_tos == ["wangwu@b.example.cn"])
    assert ww["Subject"] == "[Rectification] 王五: 0 overdue, 1 due soon (2026-11-23)"
    text = ww.get_body(("plain",)).get_content()
    assert "Due within 5 working days (1)" in text
    assert "&lang=en" in text
    user_text = ("王五", "外包商资质未年审")
    leftover = text
    for s in user_text:
        leftover = leftover.replace(s, "")
    assert not any("\u4e00" <= ch <= "\u9fff" for ch in leftover), leftover


def test_each_group_robot_gets_one_digest_naming_the_people_of_its_units(p):
    with robot_endpoints() as robots:
        rp.configure_channels(p, smtp_port=None, robots=robots.urls())
        rp.run(p)
    ding = [x.json for x in robots.of("dingtalk")]
    assert len(ding) == 1
    text = ding[0]["markdown"]["text"]
    # Unit A's robot also serves county A1; 张三, 李四 and 孙经理 are in A.
    assert "- 张三：逾期 2 项、临期 1 项、退回 1 项、督办 1 项 @13900000001" in text
    assert "- 李四：逾期 1 项 @13900000002" in text
    assert "- 孙经理：督办 1 项 @13900000004" in text
    assert ding[0]["at"] == {"atMobiles": ["13900000001", "13900000002", "13900000004"],
                             "isAtAll": False}
    wecom = [x.json for x in robots.of("wecom")]
    assert [w["text"]["mentioned_mobile_list"] for w in wecom] == [["13900000003"]]
    feishu = [x.json for x in robots.of("feishu")]
    assert len(feishu) == 1
    content = feishu[0]["card"]["elements"][1]["text"]["content"]
    assert "赵审计：待验收 1 项" in content and "钱审计：待验收 1 项" in content


def test_a_weekly_digest_goes_out_on_the_first_working_day_of_the_week_only(p):
    with smtp_server() as (box, port):
        rp.configure_channels(p, smtp_port=port, robots=None)
        rp.run(p)
        rp.run(p, as_of=date(2026, 11, 24), at="2026-11-24T08:30:00+08:00")
    monday = [r.rcpt_tos[0] for r in box.received if r.key.startswith("digest:2026-11-23")]
    tuesday = [r.rcpt_tos[0] for r in box.received if r.key.startswith("digest:2026-11-24")]
    weekly = [r for r in box.received if r.key.startswith("digest:2026-W48")]
    assert [r.rcpt_tos[0] for r in weekly] == ["qian@r.example.cn"]
    assert "qian@r.example.cn" not in monday + tuesday
    assert sorted(tuesday) == sorted(m for m in monday)


def test_a_second_run_the_same_day_sends_no_digest_again(p):
    with smtp_server() as (box, port):
        rp.configure_channels(p, smtp_port=port, robots=None)
        first = rp.run(p)
        second = rp.run(p, at="2026-11-23T08:45:00+08:00")
    assert first["sent"] == 5
    assert second["planned"] == 0 and second["sent"] == 0
    assert len(box.received) == 5


@pytest.mark.parametrize("day", [date(2026, 11, 21), date(2026, 11, 22), date(2026, 10, 1),
                                 date(2026, 10, 6)],
                         ids=["saturday", "sunday", "national-day", "day-off-for-make-up"])
def test_nothing_is_sent_on_a_non_working_day_and_the_run_says_so(p, day):
    with smtp_server() as (box, port), robot_endpoints() as robots:
        rp.configure_channels(p, smtp_port=port, robots=robots.urls())
        at = f"{day.isoformat()}T08:30:00+08:00"
        dry = rp.run(p, as_of=day, at=at, dry_run=True)
        result = rp.run(p, as_of=day, at=at)
    assert dry["working_day"] is False and dry["messages"] == []
    assert result["working_day"] is False and result["sent"] == 0
    assert box.received == [] and robots.posts == []
    assert p.db.conn.execute("SELECT COUNT(*) FROM remind_outbox").fetchone()[0] == 0
    run = p.db.conn.execute("SELECT working_day, note FROM remind_runs").fetchall()
    assert run == [(0, "non-working day")]


def test_a_retry_due_on_a_holiday_waits_for_the_next_working_day(p):
    def pending() -> list[str]:
        return [r[0] for r in p.db.conn.execute(
            "SELECT key FROM remind_outbox WHERE status = 'pending' ORDER BY id")]

    with robot_endpoints() as robots:
        rp.configure_channels(p, smtp_port=None, robots=robots.urls())
        robots.fail_next = [(503, {"errmsg": "busy"})] * 3
        friday = rp.run(p, as_of=date(2026, 11, 20), at="2026-11-20T17:00:00+08:00")
        waiting = pending()
        assert friday["retry"] == 3 and len(waiting) == 3
        before = len(robots.posts)
        rp.run(p, as_of=date(2026, 11, 21), at="2026-11-21T09:00:00+08:00")
        assert len(robots.posts) == before and pending() == waiting
        rp.run(p, at="2026-11-23T08:30:00+08:00")
    assert pending() == []
    sent_keys = [r[0] for r in p.db.conn.execute(
        "SELECT key FROM remind_outbox WHERE status = 'sent' AND sent_at LIKE '2026-11-23%'")]
    assert set(waiting) <= set(sent_keys)


def test_a_make_up_working_day_on_a_saturday_does_send(p):
    make_up = date(2026, 10, 10)  # 调休上班, in the stored calendar
    with smtp_server() as (box, port):
        rp.configure_channels(p, smtp_port=port, robots=None)
        result = rp.run(p, as_of=make_up, at="2026-10-10T08:30:00+08:00")
    assert result["working_day"] is True
    assert result["sent"] == len(box.received) > 0


def test_red_meetings_in_a_row_climb_the_ladder_in_the_digests_as_configured(p):
    """Three review meetings (Fri 11-13, Wed 11-18, Fri 11-20): late C1.1.1 (deadline 11-16)
    is not red at the first and red at the other two; letter C2.1.1 (11-06) is red at all
    three. On 11-23 by working days overdue late has only the reminder (5 < 10) and letter
    only the 督办函 (11 < 20); by meetings, with the defaults (letter at 2 reds running,
    summons at 3), late reaches the 督办函 (to 孙经理, head of A: A1 has no head) and letter the
    约谈 (to 周总, head of the region)."""
    from audit.calendar_service import set_setting
    from audit.rules_views import red_counts
    from issues import meeting_service
    for day in ("2026-11-13", "2026-11-18", "2026-11-20"):
        meeting_service.record_meeting(p.db, p.actors["lead"], held_on=day, title="推进会",
                                       at=f"{day}T17:00:00+08:00")
    counts = red_counts(p.db, rp.AS_OF)
    late, letter = p.ids["late"], p.ids["letter"]
    assert (counts[late].meetings, counts[late].consecutive) == (3, 2)
    assert counts[letter].consecutive == 3
    got = _by_key(p, runs.preview_digests(p.db, p.actors["admin"], rp.AS_OF))
    assert "escalation" not in got["rect_a"]           # the reminder is passed over
    assert got["head_a"]["escalation"] == [("C1.1.1", "", "2026-11-16", 5, "", "letter")]
    assert got["head_r"]["escalation"] == [("C2.1.1", "", "2026-11-06", 11, "", "summons")]
    # Thresholds are settings: letter at 3 reds running, summons at 4.
    for key, value in (("escalation.summons_reds", "4"), ("escalation.letter_reds", "3")):
        set_setting(p.db, p.actors["admin"], key, value, at=rp.AT)
    got = _by_key(p, runs.preview_digests(p.db, p.actors["admin"], rp.AS_OF))
    assert got["rect_a"]["escalation"] == [("C1.1.1", "", "2026-11-16", 5, "", "reminder")]
    assert got["head_a"]["escalation"] == [("C2.1.1", "", "2026-11-06", 11, "", "letter")]
    assert "head_r" not in got


def test_an_item_no_longer_red_is_not_escalated_by_its_past_red_meetings(p):
    from audit.calendar_service import set_setting
    from issues import meeting_service
    from owners import service as owners
    for day in ("2026-11-18", "2026-11-20"):
        meeting_service.record_meeting(p.db, p.actors["lead"], held_on=day, title="推进会",
                                       at=f"{day}T17:00:00+08:00")
    set_setting(p.db, p.actors["admin"], "escalation.letter_reds", "2", at=rp.AT)
    late = p.ids["late"]
    owners.extend_deadline(p.db, p.actors["lead"], late, version=p.version(late),
                           new_deadline="2026-12-18", reason="待上级批复", at=rp.AT)
    got = _by_key(p, runs.preview_digests(p.db, p.actors["admin"], rp.AS_OF))
    assert all(code != "C1.1.1" for d in got.values() for it in d.get("escalation", [])
               for code in it[:1])
