"""The small programme the reminder tests share: tests/programme.py's org and people, five
issues with deadlines around Monday 2026-11-23, contacts, and channels pointed at the local
stand-ins of tests/remind_servers.py. Every digest is worked out by hand in
test_exports_remind_digest.py.

November 2026 has no holiday: working days are Monday to Friday. With remind.due_days = 5,
"due soon" on 2026-11-23 runs to Monday 2026-11-30.

| issue | unit | responsible | deadline | state on 2026-11-23 |
| --- | --- | --- | --- | --- |
| late | A1 | 张三 | 2026-11-16 | in progress, 5 working days overdue → reminder (张三); measure of 李四 due 11-13, 6 days overdue |
| letter | A | 张三 | 2026-11-06 | in progress, 11 working days overdue → 督办函 to 孙经理 (head of A); measure of 张三 due 11-27, 4 days left |
| verify | B | 王五 | 2026-11-30 | ready to strike off, submitted by 王五 (waits for the leads), 5 days left |
| returned | A | 张三 | 2026-12-31 | returned on 11-20 with the reason 佐证材料不全 |
| closed | A | 张三 | 2026-06-30 | struck off (nothing to tell) |
"""
from __future__ import annotations

from datetime import date
from pathlib import Path

from exports import remind_run_service
from exports import remind_service as rs
from issues import service as issues
from issues.model import Move
from tests import programme
from tests.remind_servers import DING_SECRET, FEISHU_SECRET, SMTP_PASSWORD, SMTP_USER

AS_OF = date(2026, 11, 23)
AT = "2026-11-23T08:30:00+08:00"
SETUP_AT = "2026-11-20T18:00:00+08:00"

CONTACTS = {  # person key → (email, mobile, digest, lang)
    "rect_a": ("zhangsan@a.example.cn", "13900000001", "daily", "zh"),
    "owner_a": ("", "13900000002", "daily", "zh"),
    "rect_b": ("wangwu@b.example.cn", "13900000003", "daily", "en"),
    "head_a": ("sun@a.example.cn", "13900000004", "daily", "zh"),
    "lead_p": ("zhao@r.example.cn", "", "daily", "zh"),
    "lead2_p": ("qian@r.example.cn", "", "weekly", "zh"),
    "head_r": ("zhou@r.example.cn", "13900000007", "daily", "zh"),
}


def build(tmp_path: Path) -> programme.Programme:
    """The programme with its five issues (ids in p.ids) and the contacts set."""
    p = programme.build(tmp_path)
    p.ids = {}  # type: ignore[attr-defined]
    ids = p.ids  # type: ignore[attr-defined]
    ids["late"] = p.new_issue("外包合同未经法律审核", unit="A1")
    p.assign(ids["late"], deadline="2026-11-16")
    ids["m_late"] = p.measure(ids["late"], deadline="2026-11-13", owner="owner_a",
                              title="补签法律审核意见")
    p.start(ids["late"])
    ids["letter"] = p.new_issue("结算单据审核签字不全", unit="A", aspect="C2.1")
    p.assign(ids["letter"], deadline="2026-11-06")
    ids["m_letter"] = p.measure(ids["letter"], deadline="2026-11-27", title="补齐签字",
                                accept_reason="签字人出差，延后补签")  # after the issue: accepted
    p.start(ids["letter"])
    ids["verify"] = p.new_issue("外包商资质未年审", unit="B", aspect="C1.2")
    p.assign(ids["verify"], deadline="2026-11-30", responsible="rect_b")
    p.measure(ids["verify"], deadline="2026-11-30", owner="rect_b", title="完成年审")
    p.start(ids["verify"])
    p.make_closable(ids["verify"], day="2026-11-18", actor="rect_b")
    p.submit(ids["verify"], "2026-11-18", actor="rect_b")
    ids["returned"] = p.new_issue("外包结算价格未经比价", unit="A", aspect="C2.1")
    p.assign(ids["returned"], deadline="2026-12-31")
    p.measure(ids["returned"], deadline="2026-12-31", title="补做比价")
    p.start(ids["returned"])
    p.submit(ids["returned"], "2026-11-19")
    issues.move_issue(p.db, p.actors["lead"], ids["returned"], Move.RETURN,
                      version=p.version(ids["returned"]), reason="佐证材料不全",
                      at=p.at("2026-11-20", 15))
    ids["closed"] = p.new_issue("外包合同未备案", unit="A", aspect="C1.2")
    p.full_cycle(ids["closed"], deadline="2026-06-30", done="2026-06-10", closed="2026-06-20")
    admin = p.actors["admin"]
    for key, (email, mobile, digest, lang) in CONTACTS.items():
        rs.set_contact(p.db, admin, p.people[key], email=email, mobile=mobile, digest=digest,
                       lang=lang, at=SETUP_AT)
    rs.save_settings(p.db, admin, {"remind.base_url": "https://tracker.example.cn",
                                   "remind.due_days": "5"}, at=SETUP_AT)
    return p


def configure_channels(p: programme.Programme, *, smtp_port: int | None,
                       robots: dict[str, str] | None, security: str = "none",
                       ca_file: str = "") -> dict[str, int]:
    """Point the mail server at localhost and the robots at their stand-ins: DingTalk for
    unit A (and its county A1), WeCom for B, Feishu for the region. Returns channel ids."""
    admin, out = p.actors["admin"], {}
    if smtp_port is not None:
        out["smtp"] = rs.save_smtp(p.db, admin, host="localhost", port=smtp_port,
                                   security=security,
                                   username=SMTP_USER if security != "none" else "",
                                   password=SMTP_PASSWORD if security != "none" else "",
                                   sender="noreply@tracker.example.cn",
                                   sender_name="整改台账", ca_file=ca_file, at=SETUP_AT)
    if robots is not None:
        out["dingtalk"] = rs.add_robot(p.db, admin, name="甲市整改群", kind="dingtalk",
                                       webhook=robots["dingtalk"], sign_secret=DING_SECRET,
                                       at=SETUP_AT)
        out["wecom"] = rs.add_robot(p.db, admin, name="乙市整改群", kind="wecom",
                                    webhook=robots["wecom"], at=SETUP_AT)
        out["feishu"] = rs.add_robot(p.db, admin, name="区分公司整改群", kind="feishu",
                                     webhook=robots["feishu"], sign_secret=FEISHU_SECRET,
                                     at=SETUP_AT)
        rs.set_unit_robot(p.db, admin, p.units["A"], out["dingtalk"], at=SETUP_AT)
        rs.set_unit_robot(p.db, admin, p.units["B"], out["wecom"], at=SETUP_AT)
        rs.set_unit_robot(p.db, admin, p.units["R"], out["feishu"], at=SETUP_AT)
    return out


NOW_MS = 1_795_400_000_000  # the robots' signing clock, fixed


def run(p: programme.Programme, as_of: date = AS_OF, at: str = AT, **kw) -> dict:
    """One reminder run as the administrator."""
    return remind_run_service.run_reminders(p.db, p.actors["admin"], as_of, at=at, now_ms=lambda: NOW_MS, **kw)
