"""The pure rules of reminders: user text kept from becoming markup, secrets cut out of error
texts, keys, the digest schedule, back-off, what an attempt's outcome means, events read from
history records, and which robot a unit posts to."""
from __future__ import annotations

from datetime import date

import pytest
from hypothesis import given
from hypothesis import strategies as st

from audit.time_model import Calendar
from exports import remind_model as m
from exports import remind_plan_model as pm
from owners.escalation_model import UnitNode, unit_chains

MARKUP = set("[]()<>*_#`~|@!\\&")


@given(st.text())
def test_robot_text_never_holds_a_character_that_starts_markup_or_a_line(text):
    out = m.robot_text(text)
    assert not (set(out) & MARKUP)
    assert "\n" not in out and "\r" not in out
    assert "://" not in out.lower()


def test_robot_text_keeps_the_words_and_shows_the_markup_as_full_width_text():
    assert m.robot_text("[点我](http://x.cn) **粗** @13800000000 <at id=all>") == \
        "［点我］（http：//x.cn） ＊＊粗＊＊ ＠13800000000 ＜at id=all＞"
    assert m.robot_text("见 www.evil.cn\n第二行") == "见 www．evil.cn 第二行"
    assert m.robot_text("C1.2.3 合同") == "C1.2.3 合同"


def test_an_error_text_loses_every_secret_and_every_query_string():
    text = ("HTTP 400 for https://oapi.dingtalk.com/robot/send?access_token=abc123&sign=x "
            "with password hunter22")
    assert m.redact(text, ["hunter22", ""]) == \
        "HTTP 400 for https://oapi.dingtalk.com/robot/send?*** with password ***"


def test_keys_name_the_fact_the_day_and_the_place():
    assert m.digest_key("2026-11-23", 7) == "digest:2026-11-23:person:7:email"
    assert m.group_digest_key(date(2026, 11, 23), 3) == "digest:2026-11-23:robot:3"
    assert m.event_key(41, "returned", person_id=7) == "event:41:returned:person:7:email"
    assert m.event_key(41, "returned", channel_id=3) == "event:41:returned:robot:3"
    assert m.step_key(5, person_id=7) == "step:5:person:7:email"


WEEKDAYS = Calendar()
# 2026-10-01 … 10-07 off, Saturday 10-10 worked (the stored calendar's make-up day).
NATIONAL_DAY = Calendar(holidays=frozenset(date(2026, 10, d) for d in (1, 2, 5, 6, 7)),
                        make_up_days=frozenset({date(2026, 10, 10)}))


@pytest.mark.parametrize("preference, day, expected", [
    ("daily", date(2026, 11, 23), "2026-11-23"),
    ("daily", date(2026, 11, 22), None),                # Sunday
    ("weekly", date(2026, 11, 23), "2026-W48"),         # Monday: the week's first working day
    ("weekly", date(2026, 11, 24), None),
    ("off", date(2026, 11, 23), None),
])
def test_a_digest_goes_out_on_working_days_weekly_ones_on_the_first_of_the_week(
        preference, day, expected):
    assert m.digest_period(preference, day, WEEKDAYS) == expected


def test_after_a_holiday_the_weekly_digest_goes_on_the_first_day_back():
    assert m.digest_period("weekly", date(2026, 10, 5), NATIONAL_DAY) is None
    assert m.digest_period("weekly", date(2026, 10, 8), NATIONAL_DAY) == "2026-W41"
    assert m.digest_period("weekly", date(2026, 10, 9), NATIONAL_DAY) is None
    assert m.digest_period("daily", date(2026, 10, 10), NATIONAL_DAY) == "2026-10-10"


def test_back_off_doubles_from_five_minutes_up_to_a_day_and_gives_up_at_the_maximum():
    assert [m.backoff_minutes(n) for n in range(1, 11)] == \
        [5, 10, 20, 40, 80, 160, 320, 640, 1280, 1440]
    assert not m.gives_up(5, 6) and m.gives_up(6, 6) and m.gives_up(1, 0)


@pytest.mark.parametrize("channel, final, code, robot_error, expected", [
    ("smtp", True, 250, None, "sent"),
    ("smtp", False, 550, None, "give_up"),
    ("smtp", False, 451, None, "retry"),
    ("smtp", True, 452, None, "retry"),
    ("smtp", True, None, None, "unconfirmed"),
    ("smtp", False, None, None, "unreachable"),
    ("dingtalk", True, 200, None, "sent"),
    ("dingtalk", True, 200, "dingtalk refused: 310000 sign not match", "retry"),
    ("feishu", True, 429, None, "retry"),
    ("wecom", True, 404, None, "give_up"),
    ("wecom", True, 503, None, "retry"),
    ("wecom", True, None, None, "unconfirmed"),
])
def test_what_an_attempt_means_for_the_message(channel, final, code, robot_error, expected):
    assert m.verdict(channel, final, code, robot_error) == expected


def _r(seq, op, action, entity, entity_id, field, new, old=None, actor_id=1):
    return m.HistoryRecord(seq, "2026-11-23T10:00:00+08:00", op, action, entity, entity_id,
                           field, old, new, actor_id)


ISSUES = {1: m.Issue(1, "C1.1.1", "题一", 10, "in_progress", responsible_person_id=7),
          2: m.Issue(2, "C1.1.2", "题二", 10, "closed", responsible_person_id=8)}


def test_events_come_from_the_records_of_each_operation_and_skip_the_one_who_acted():
    records = [
        _r(1, "a", "workflow.return", "issue", 1, "status", "in_progress", "submitted"),
        _r(2, "a", "workflow.return", "issue", 1, "status_reason", "缺佐证"),
        _r(3, "b", "workflow.close", "issue", 2, "status", "closed", "submitted"),
        _r(4, "c", "deadline.extend", "extension", 9, "reason", "协调"),
        _r(5, "c", "deadline.extend", "issue", 1, "deadline", "2026-12-31", "2026-11-30"),
        _r(6, "d", "issue.assign", "issue", 1, "responsible_person_id", "9", "7"),
        _r(7, "e", "measure.add", "measure", 20, "owner_person_id", "8"),
        _r(8, "e", "measure.add", "measure", 20, "deadline", "2026-12-01"),
        _r(9, "f", "issue.assign", "issue", 2, "responsible_person_id", "5", actor_id=55),
        _r(10, "g", "issue.progress", "issue", 1, "progress", "x"),
    ]
    got = m.derive_events(records, ISSUES, {20: (1, "补签")}, user_person={55: 5})
    assert [(e.seq, e.kind, e.issue_id, e.person_id, e.reason, e.deadline, e.measure)
            for e in got] == [
        (1, "returned", 1, 7, "缺佐证", None, ""),
        (3, "struck_off", 2, 8, "", None, ""),
        (5, "extended", 1, 7, "协调", date(2026, 12, 31), ""),
        (6, "assigned", 1, 9, "", None, ""),
        (7, "measure_assigned", 1, 8, "", date(2026, 12, 1), "补签"),
    ]  # record 9: person 5 assigned themselves; record 10 is no event


def test_a_unit_without_a_robot_uses_the_nearest_one_above():
    units = [UnitNode(1, None), UnitNode(2, 1), UnitNode(3, 2), UnitNode(4, 1)]
    reach = pm.Reach(None, {100: pm.Robot(100, "dingtalk"), 200: pm.Robot(200, "wecom")},
                     {1: 200, 2: 100, 3: None, 4: None})
    chains = unit_chains(units)
    assert [pm.robot_of(u, chains, reach).id for u in (1, 2, 3, 4)] == [200, 100, 100, 200]
    assert pm.robot_of(None, chains, reach) is None


def test_links_lead_to_the_issue_page_in_the_readers_language():
    assert pm.issue_link("https://t.example.cn/", 5, "en") == \
        "https://t.example.cn/issue?id=5&lang=en"
    assert pm.page_link("https://t.example.cn", "letter", "zh", escalation=3) == \
        "https://t.example.cn/letter?escalation=3&lang=zh"
    assert pm.issue_link("", 5, "zh") == ""


@pytest.mark.parametrize("url, ok", [("https://tracker.example.cn", True),
                                     ("http://10.0.0.5:8501/audit", True), ("", True),
                                     ("javascript:alert(1)", False),
                                     ("https://x.cn/a)(b", False), ("https://x.cn/?q=1", False)])
def test_a_base_url_cannot_break_out_of_a_link(url, ok):
    assert m.valid_base_url(url) is ok


def test_contacts_are_checked_as_typed():
    assert m.valid_email("zhang.san@a.example.cn") and m.valid_email("")
    assert not m.valid_email("张三@例子.cn") and not m.valid_email("a@b")
    assert m.valid_mobile("13900000001") and not m.valid_mobile("1390000000")
